"""Counting failures against limits kept in the rate-limit store (Redis in production).

Route-level limits use Flask-Limiter's decorators; this module serves the limits whose key is
not the client address alone (per account, per card) and that count failures, not requests.
The counters live in the same store as Flask-Limiter's, so they hold across workers and servers.
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
    """A limit such as "5 per 15 minutes" applied to one namespace of keys."""

    namespace: str
    limit: str

    def _item(self):
        return parse(self.limit)

    def _keys(self, key: str) -> tuple[str, str]:
        return ("throttle", f"{self.namespace}:{key}")

    def retry_after(self, key: str) -> int:
        """Return 0 if ``key`` may try again now, else the seconds to wait."""
        if not limiter.enabled:
            return 0
        item = self._item()
        if limiter.limiter.test(item, *self._keys(key)):
            return 0
        stats = limiter.limiter.get_window_stats(item, *self._keys(key))
        return max(1, math.ceil(stats.reset_time - time.time()))

    def ensure_allowed(self, key: str) -> None:
        """Raise :class:`Throttled` if ``key`` has used up its failures."""
        wait = self.retry_after(key)
        if wait:
            raise Throttled(wait)

    def count(self, key: str) -> bool:
        """Count one attempt against ``key``; return False when the limit was already reached."""
        if not limiter.enabled:
            return True
        return limiter.limiter.hit(self._item(), *self._keys(key))

    def reset(self, key: str) -> None:
        """Forget the failures of ``key``."""
        if limiter.enabled:
            limiter.limiter.clear(self._item(), *self._keys(key))
