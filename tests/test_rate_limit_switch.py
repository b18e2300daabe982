"""Route limits follow ``RATELIMIT_ENABLED``; API calls without a session cookie get none back."""

import pytest

from tests.factories import iccid, make_card


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": False}


def test_with_limits_switched_off_a_limited_route_is_never_refused(client):
    number = iccid(4720)
    make_card(number)

    statuses = {client.get(f"/api/v1/cards/{number}").status_code for _ in range(70)}

    assert statuses == {200}  # the limit is 60 a minute when switched on


def test_an_api_call_without_a_session_cookie_sets_none(client):
    number = iccid(4721)
    make_card(number)

    response = client.get(f"/api/v1/cards/{number}")

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
