"""Route limits count a request in one round trip to Redis, headers included.

Flask-Limiter counts a limited route's hit, then reads the counter and its time to live for the
``X-RateLimit-*`` headers. ``shop.throttle.OneTripFixedWindow`` does both with one script on a
plain Redis store; the counts, the headers and the refusal are those of ``limits``' own fixed
window, on Redis and on the in-memory store alike.
"""

import time

import pytest
import redis
from limits import parse
from limits.storage import RedisStorage

from shop.extensions import limiter
from shop.throttle import ONE_TRIP_FIXED_WINDOW, OneTripFixedWindow
from tests.conftest import empty_limit_store, redis_url

REDIS_URL = redis_url()
LIMIT = "3 per minute"


@pytest.fixture
def backend():
    """Limits live in the limit store, not the database: one database kind is enough."""
    return "sqlite"


@pytest.fixture(params=["memory://", REDIS_URL], ids=["memory", "redis"])
def app_config(request):
    return {"RATELIMIT_STORAGE_URI": request.param, "REDEEM_REQUESTS_PER_CLIENT": LIMIT}


@pytest.fixture
def store(app, app_config):
    """The app's limit store, emptied."""
    empty_limit_store(limiter.storage, REDIS_URL)
    return limiter.storage


@pytest.fixture
def redis_commands(monkeypatch):
    """The Redis commands sent from now on, by name."""
    sent = []
    execute = redis.Redis.execute_command

    def counting(self, *args, **options):
        sent.append(str(args[0]).upper())
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


def refused_request(client, address="198.51.100.7"):
    """A redemption refused before any PIN is checked: counted by the route limit only."""
    return client.post("/api/v1/redemptions", json={}, environ_base={"REMOTE_ADDR": address})


def test_the_shop_counts_route_limits_with_its_one_trip_fixed_window(store, app):
    assert app.config["RATELIMIT_STRATEGY"] == ONE_TRIP_FIXED_WINDOW
    assert type(limiter.limiter) is OneTripFixedWindow


def test_each_request_is_counted_and_its_headers_say_what_is_left_until_refused(store, client):
    started = time.time()
    for remaining in (2, 1, 0):
        response = refused_request(client)
        assert response.status_code == 422
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert started + 58 <= int(response.headers["X-RateLimit-Reset"]) <= time.time() + 61

    refused = refused_request(client)

    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused_request(client, address="198.51.100.8").status_code == 422, "per client"


def test_on_redis_a_limited_request_makes_one_round_trip(store, client, app_config, redis_commands):
    if not app_config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        pytest.skip("round trips are Redis's")
    refused_request(client)  # Redis learns the script (a fresh server answers NOSCRIPT once)
    redis_commands.clear()

    response = refused_request(client)

    assert response.headers["X-RateLimit-Remaining"] == "1"
    # The hit and the window's figures for the headers: one script, no GET or TTL after it.
    assert redis_commands == ["EVALSHA"]


def test_the_headers_show_what_the_store_holds(store, client):
    refused_request(client)
    response = refused_request(client)

    # What limits' own fixed window reads for the headers: the counter and its expiry.
    (key,) = [key for key in _stored_keys(store) if "198.51.100.7" in key]
    assert store.get(key) == 2
    assert int(response.headers["X-RateLimit-Remaining"]) == 3 - store.get(key)
    assert abs(int(response.headers["X-RateLimit-Reset"]) - int(store.get_expiry(key) + 1)) <= 1


def test_outside_a_request_the_strategy_is_limits_own(store, app):
    item = parse("2 per minute")
    strategy = limiter.limiter

    assert strategy.hit(item, "job", "scope")
    assert strategy.hit(item, "job", "scope")
    assert not strategy.hit(item, "job", "scope")
    assert strategy.get_window_stats(item, "job", "scope").remaining == 0
    assert store.get(item.key_for("job", "scope")) == 3


def _stored_keys(store) -> list[str]:
    """The counters in the store, as the store's own methods name them (without its prefix)."""
    if isinstance(store, RedisStorage):
        prefix = store.prefixed_key("")
        found = store.get_connection().keys(prefix + "*")
        return [key.decode().removeprefix(prefix) for key in found]
    return list(store.storage)
