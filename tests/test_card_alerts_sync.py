"""Alerts follow the network's figures as the periodic sync and a person's look read them."""

import pytest

from shop.cards import services as card_services
from shop.cards.models import TopUpSource
from shop.extensions import db
from shop.jobs import tasks
from shop.mail.models import OutboxMessage
from tests.factories import make_card, make_product, make_user
from tests.network_helpers import empty_network


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(network):
    return {**network.shop_config(), "NETWORK_REFRESH_SECONDS": 0}


def owned_card_with_a_pack(network, data_mb=2048):
    card = make_card(owner=make_user())
    network.state.add_card(card.number)
    card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=data_mb).id, data_mb, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()  # delivered at commit: the pack period begins
    return card


def alert_kinds():
    db.session.rollback()
    return [
        message.kind
        for message in db.session.execute(
            db.select(OutboxMessage)
            .where(OutboxMessage.kind.like("alert_%"))
            .order_by(OutboxMessage.id)
        ).scalars()
    ]


def test_the_periodic_sync_sends_the_alerts_the_new_figures_reach(app, network):
    card = owned_card_with_a_pack(network)
    network.state.use_data(card.number, 1600)  # 78 % used

    tasks.sync_network_cards()
    tasks.sync_network_cards()

    assert alert_kinds() == ["alert_usage_75"], "an e-mail (the account has no phone number)"


def test_looking_a_card_up_refreshes_it_and_sends_its_alert(app, client, network):
    card = owned_card_with_a_pack(network)
    network.state.use_data(card.number, 1990)  # 58 MB left

    page = client.get(f"/card?number={card.number}")

    assert "58 MB" in page.get_data(as_text=True)
    assert alert_kinds() == ["alert_usage_90", "alert_low_data"]
