"""Data used on the network shows on the card page and in the API: synced, refreshed, charted."""

from datetime import timedelta

import pytest

from shop.cards import services as card_services
from shop.cards.models import TopUpSource
from shop.extensions import db
from shop.jobs import tasks
from shop.network import status
from shop.timeutil import utcnow
from tests.factories import make_card, make_product
from tests.network_helpers import card_row, empty_network


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(network):
    return network.shop_config()


def card_with_a_pack(network, data_mb=5120):
    card = make_card()
    network.state.add_card(card.number)
    card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=data_mb).id, data_mb, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()  # delivered at commit
    return card


def network_calls(network, operation):
    return sum(1 for called, _ in network.state.calls if called == operation)


def test_usage_on_the_network_shows_on_the_card_page_and_in_the_api_after_a_sync(
    app, client, network
):
    card = card_with_a_pack(network)
    today = utcnow().date()
    network.state.use_data(card.number, 700, today - timedelta(days=2))
    network.state.use_data(card.number, 300, today)

    outcome = tasks.sync_network_cards()
    assert outcome is None
    stored = card_row(card.id)
    assert (stored.data_balance_mb, stored.data_used_mb) == (5120 - 1000, 1000)

    body = client.get(f"/api/v1/cards/{card.number}").get_json()
    assert (body["data_balance_mb"], body["data_used_mb"]) == (4120, 1000)
    assert body["as_of"] == stored.network_as_of.isoformat()

    usage = client.get(f"/api/v1/cards/{card.number}/usage").get_json()
    assert len(usage["days"]) == 30 and usage["days"][-1]["date"] == today.isoformat()
    used = {day["date"]: day["used_mb"] for day in usage["days"]}
    assert used[today.isoformat()] == 300
    assert used[(today - timedelta(days=2)).isoformat()] == 700
    assert sum(used.values()) == 1000

    page = client.get("/card", query_string={"number": card.number}).get_data(as_text=True)
    assert "4 GB" in page or "4.0 GB" in page, "data left, as the network said"
    assert "1000 MB" in page, "data used"
    assert "As the network reported at" in page
    assert page.count('class="usage-bar"') == 30, "the 30-day chart renders a bar a day"
    assert "Data used in the last 30 days" in page


def test_a_person_looking_refreshes_the_card_at_most_once_a_minute(app, client, network):
    card = card_with_a_pack(network)
    network.state.use_data(card.number, 120)
    asked = network_calls(network, "card")

    client.get("/card", query_string={"number": card.number})
    client.get(f"/api/v1/cards/{card.number}")
    client.get("/card", query_string={"number": card.number})

    assert network_calls(network, "card") == asked + 1
    assert card_row(card.id).data_used_mb == 120


def test_a_card_page_shows_the_last_known_figures_when_the_network_is_down(app, client, network):
    card = card_with_a_pack(network, data_mb=2048)
    network.state.down = True

    response = client.get("/card", query_string={"number": card.number})

    assert response.status_code == 200
    assert "2 GB" in response.get_data(as_text=True)


def test_the_sync_asks_only_about_cards_that_can_be_using_data(app, network):
    active = card_with_a_pack(network)
    make_card()  # never topped up: nothing to use
    assert status.cards_to_sync(limit=10) == [active.id]


def test_usage_api_of_an_unknown_card_is_a_404(app, client):
    response = client.get("/api/v1/cards/8944000000000000027/usage")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "card_not_found"
