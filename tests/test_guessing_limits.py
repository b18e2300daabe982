"""Invariant 8: guessing is bounded, across workers, and never silently unbounded."""

import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop import create_app
from shop.extensions import db
from shop.vouchers.pins import damm_check_digit
from tests.conftest import make_config, redis_url
from tests.factories import iccid, make_card, make_product
from tests.live_server import LiveServer

REDIS_URL = redis_url()  # TEST_REDIS_URL, or a db of its own per xdist worker


def unknown_pin(n: int) -> str:
    body = f"{n:015d}"
    return body + damm_check_digit(body)


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True


@pytest.fixture
def app_config():
    return {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"}


def test_a_dead_limit_store_refuses_redemptions_instead_of_not_limiting(app, client):
    product = make_product()
    card = make_card()
    response = client.post("/api/v1/redemptions", json={"pin": unknown_pin(1), "card": card.number})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert product.id
    page = client.post("/redeem", data={"pin": unknown_pin(1), "card": card.number})
    assert page.status_code == 503


@pytest.fixture
def gunicorn_on_redis(tmp_path):
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: cross-worker limit not tested")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    database = f"sqlite:///{tmp_path / 'shop.db'}"
    app = create_app(make_config(database), instance_path=str(tmp_path))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        make_product()
        card_number = make_card(number=iccid(5150)).number
        db.engine.dispose()
    server = LiveServer(
        database, environment={"RATELIMIT_STORAGE_URI": REDIS_URL}, workers=4, threads=4
    ).start()
    yield server.base_url, card_number
    server.stop()
    redis.Redis.from_url(REDIS_URL).flushdb()


def post_guess(base: str, card_number: str, n: int) -> int:
    request = urllib.request.Request(
        base + "/api/v1/redemptions",
        data=f'{{"pin": "{unknown_pin(n)}", "card": "{card_number}"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_hundred_parallel_guesses_on_four_workers_get_at_most_the_limit_processed(
    gunicorn_on_redis,
):
    base, card_number = gunicorn_on_redis
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda n: post_guess(base, card_number, n), range(1000, 1100)))
    processed = statuses.count(404)
    assert statuses.count(429) + processed == 100, statuses
    assert processed <= 10, f"{processed} guesses were checked, the limit is 10 per client and card"
    assert processed >= 1
