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
from weakref import WeakKeyDictionary

from flask import g, has_request_context
from limits import WindowStats, parse
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter

from shop.extensions import limiter

#: Reserve an attempt under several limits in one Redis round trip, exactly as
#: :meth:`FailureLimit.reserve` one key after another would: each counter goes up by one (and gets
#: its window as expiry when it starts, as ``limits``' own increment does); at the first counter
#: over its amount, the counters before it are given back and its index (from 1) and seconds to
#: live are returned; the refusing counter keeps its count, as a refused attempt does. KEYS: the
#: counters; ARGV: amount, window seconds, for each counter in turn.
_RESERVE_ALL = """
for i, key in ipairs(KEYS) do
    local count = redis.call('incrby', key, 1)
    if count == 1 then
        redis.call('expire', key, ARGV[2 * i])
    end
    if count > tonumber(ARGV[2 * i - 1]) then
        for j = 1, i - 1 do
            if tonumber(redis.call('get', KEYS[j]) or '0') > 0 then
                redis.call('decrby', KEYS[j], 1)
            end
        end
        return {i, redis.call('ttl', key)}
    end
end
return {0, 0}
"""

#: Give back a reservation under several limits in one round trip, as :meth:`FailureLimit.release`
#: one key after another would: a counter above zero goes down by one.
_RELEASE_ALL = """
for _, key in ipairs(KEYS) do
    if tonumber(redis.call('get', key) or '0') > 0 then
        redis.call('decrby', key, 1)
    end
end
return 0
"""

#: Count a route's hit in its fixed window and say where the window stands, in one round trip:
#: ``limits``' own increment (the window's expiry set when the window starts), then the seconds
#: the window has left. KEYS: the counter; ARGV: window seconds, cost.
_HIT_AND_READ = """
local amount = tonumber(ARGV[2])
local count = redis.call('incrby', KEYS[1], amount)
if count == amount then
    redis.call('expire', KEYS[1], ARGV[1])
end
return {count, redis.call('ttl', KEYS[1])}
"""

#: Per Redis store, its scripts registered (sent by digest after the first call).
_scripts: WeakKeyDictionary = WeakKeyDictionary()


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


def _redis_scripts(storage):
    """Return the reserve and release scripts of a plain Redis store, or None for another store.

    A Redis cluster is left to the one-key-at-a-time path: its keys may live on different nodes.
    """
    if type(storage) is not RedisStorage:
        return None
    scripts = _scripts.get(storage)
    if scripts is None:
        client = storage.get_connection()
        scripts = _scripts[storage] = (
            client.register_script(_RESERVE_ALL),
            client.register_script(_RELEASE_ALL),
            client.register_script(_HIT_AND_READ),
        )
    return scripts


def _stored_keys(storage, limits_and_keys) -> list[str]:
    return [storage.prefixed_key(limit._key(key)) for limit, key in limits_and_keys]


def reserve_all(limits_and_keys: list[tuple[FailureLimit, str]]) -> None:
    """Reserve an attempt under several limits; if one refuses, give the others back.

    On Redis this is one round trip (a script) instead of one per limit.
    """
    if not limiter.enabled:
        return
    storage = limiter.storage
    scripts = _redis_scripts(storage)
    if scripts is not None:
        windows = []
        for failure_limit, _key in limits_and_keys:
            windows.extend(failure_limit._window())
        try:
            refused, ttl = scripts[0](keys=_stored_keys(storage, limits_and_keys), args=windows)
        except storage.base_exceptions as error:
            raise StorageError(error) from error
        if refused:
            raise Throttled(max(1, math.ceil(max(int(ttl), 0))))
        return
    done: list[tuple[FailureLimit, str]] = []
    try:
        for failure_limit, key in limits_and_keys:
            failure_limit.reserve(key)
            done.append((failure_limit, key))
    except Throttled:
        for failure_limit, key in done:
            failure_limit.release(key)
        raise


def release_all(limits_and_keys: list[tuple[FailureLimit, str]]) -> None:
    """Give back reservations whose attempt succeeded; on Redis in one round trip."""
    if not limiter.enabled:
        return
    storage = limiter.storage
    scripts = _redis_scripts(storage)
    if scripts is None:
        for failure_limit, key in limits_and_keys:
            failure_limit.release(key)
        return
    try:
        scripts[1](keys=_stored_keys(storage, limits_and_keys))
    except storage.base_exceptions as error:
        raise StorageError(error) from error


#: :class:`OneTripFixedWindow` among Flask-Limiter's strategies (``RATELIMIT_STRATEGY``).
ONE_TRIP_FIXED_WINDOW = "fixed-window-one-trip"


class OneTripFixedWindow(FixedWindowRateLimiter):
    """``limits``' fixed window, whose hit also reads the window for the response's headers.

    Flask-Limiter counts a route's hit (one round trip to Redis), then reads the counter and its
    time to live for the ``X-RateLimit-*`` headers (two more). On a plain Redis store, the hit
    here is one script that returns both, kept for the rest of the request, so the headers cost
    no round trip and show the window just after this request's own hit. The counting is
    ``limits``' own, key for key; any other store, or a call outside a request, is left to it.
    """

    def hit(self, item, *identifiers: str, cost: int = 1) -> bool:
        """Count ``cost`` against ``item``; say whether it stayed within the limit."""
        scripts = _redis_scripts(self.storage)
        if scripts is None or not has_request_context():
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        try:
            count, ttl = scripts[2](
                keys=[self.storage.prefixed_key(key)], args=[item.get_expiry(), cost]
            )
        except self.storage.base_exceptions as error:
            raise StorageError(error) from error
        windows = g.setdefault("rate_limit_windows", {})
        windows[key] = WindowStats(max(int(ttl), 0) + time.time(), max(0, item.amount - count))
        return count <= item.amount

    def get_window_stats(self, item, *identifiers: str) -> WindowStats:
        """Return the window as this request's hit left it, or read it from the store."""
        if has_request_context():
            stats = g.get("rate_limit_windows", {}).pop(item.key_for(*identifiers), None)
            if stats is not None:
                return stats
        return super().get_window_stats(item, *identifiers)


def register_strategies() -> None:
    """Make :class:`OneTripFixedWindow` a strategy Flask-Limiter can be configured with."""
    STRATEGIES.setdefault(ONE_TRIP_FIXED_WINDOW, OneTripFixedWindow)
