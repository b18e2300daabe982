"""Guess limits counted several at once: one round trip on Redis, the same counts as one by one."""

import pytest

from shop.extensions import limiter
from shop.throttle import FailureLimit, Throttled, release_all, reserve_all
from tests.conftest import empty_limit_store, redis_url

REDIS_URL = redis_url()  # TEST_REDIS_URL, or a db of its own per xdist worker


@pytest.fixture(params=["memory://", REDIS_URL], ids=["memory", "redis"])
def app_config(request):
    return {"RATELIMIT_STORAGE_URI": request.param}


@pytest.fixture
def store(app, app_config, monkeypatch):
    """The app's limit store, emptied; on Redis, counting one limit at a time is forbidden."""
    if app_config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        empty_limit_store(limiter.storage, REDIS_URL)

        def one_at_a_time(*args):
            raise AssertionError("Redis counts several limits in one script, not one by one")

        monkeypatch.setattr(FailureLimit, "reserve", one_at_a_time)
        monkeypatch.setattr(FailureLimit, "release", one_at_a_time)
    return limiter.storage


def counts(limits):
    return tuple(limit.failures(key) for limit, key in limits)


def test_a_reservation_counts_under_every_limit_and_a_release_gives_each_back(store):
    limits = [
        (FailureLimit("t-client", "3 per minute"), "10.0.0.9"),
        (FailureLimit("t-card", "5 per minute"), "8944"),
    ]
    reserve_all(limits)
    reserve_all(limits)
    assert counts(limits) == (2, 2)
    release_all(limits)
    assert counts(limits) == (1, 1)
    release_all(limits)
    release_all(limits)
    assert counts(limits) == (0, 0), "a counter never goes below zero"


def test_the_first_limit_over_its_amount_refuses_and_those_before_it_are_given_back(store):
    limits = [
        (FailureLimit("t-client", "5 per minute"), "10.0.0.9"),
        (FailureLimit("t-card", "2 per minute"), "8944"),
        (FailureLimit("t-other", "5 per minute"), "x"),
    ]
    reserve_all(limits)
    reserve_all(limits)
    with pytest.raises(Throttled) as refused:
        reserve_all(limits)
    assert 1 <= refused.value.retry_after <= 60
    # The refused attempt counts where it was refused; nothing else changed.
    assert counts(limits) == (2, 3, 2)
    release_all(limits)
    assert counts(limits) == (1, 2, 1)
