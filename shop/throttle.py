"""Attempt counters kept in the rate-limit store (Redis in production), for guessable secrets.

Route-level limits use Flask-Limiter's decorators. This module serves limits keyed by something
other than the request alone (an account, a card) that must hold under concurrency: an attempt is
*reserved* with one atomic increment before the secret is checked, so N parallel guesses cannot
all pass a "test, then count" gap. A successful attempt gives its reservation back, so only
failures use up the limit. The counters share Flask-Limiter's store, so they hold across workers
and servers; a store that is down raises, it never switches limiting off.
"""

import math
import time
from dataclasses import dataclass

from limits import parse

from shop.extensions import limiter


class Throttled(Exception):
    """Too many failures; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many attempts, retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class FailureLimit:
    """At most ``limit`` (e.g. "10 per 10 minutes") failed attempts per key, in fixed windows."""

    namespace: str
    limit: str

    @property
    def amount(self) -> int:
        """Return how many failures the window allows."""
        return parse(self.limit).amount

    def _window(self) -> tuple[int, int]:
        item = parse(self.limit)
        return item.amount, item.get_expiry()

    def _key(self, key: str) -> str:
        return f"attempts/{self.namespace}/{key}"

    def reserve(self, key: str) -> None:
        """Count an attempt now; raise :class:`Throttled` if it is over the limit."""
        if not limiter.enabled:
            return
        amount, seconds = self._window()
        storage_key = self._key(key)
        count = limiter.storage.incr(storage_key, seconds)
        if count > amount:
            wait = limiter.storage.get_expiry(storage_key) - time.time()
            raise Throttled(max(1, math.ceil(wait)))

    def release(self, key: str) -> None:
        """Give back a reservation whose attempt succeeded (it was not a failure)."""
        if not limiter.enabled:
            return
        storage_key = self._key(key)
        if limiter.storage.get(storage_key) > 0:
            limiter.storage.incr(storage_key, self._window()[1], amount=-1)

    def failures(self, key: str) -> int:
        """Return how many attempts of ``key`` count in the current window."""
        return limiter.storage.get(self._key(key)) if limiter.enabled else 0

    def reset(self, key: str) -> None:
        """Forget every counted attempt of ``key``."""
        if limiter.enabled:
            limiter.storage.clear(self._key(key))


def reserve_all(limits_and_keys: list[tuple[FailureLimit, str]]) -> None:
    """Reserve an attempt under several limits; if one refuses, give the others back."""
    done: list[tuple[FailureLimit, str]] = []
    try:
        for failure_limit, key in limits_and_keys:
            failure_limit.reserve(key)
            done.append((failure_limit, key))
    except Throttled:
        for failure_limit, key in done:
            failure_limit.release(key)
        raise
