"""Every top-up reaches the operator's network exactly once, against the network simulator.

The tests run with the job queue's immediate mode: a delivery is tried at the commit that
wrote it, a retry when the test lets time pass and runs the sweeper, as the worker would.
"""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, update

from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.cards import services as card_services
from shop.cards.models import DeliveryStatus, TopUp, TopUpDelivery, TopUpSource
from shop.extensions import db
from shop.jobs import tasks
from shop.network import delivery as network_delivery
from shop.timeutil import utcnow
from tests.factories import make_card, make_product
from tests.network_helpers import card_row, delivery_of, empty_network, make_due
from tests.vouchers_helpers import make_vouchers

URL = "/api/v1/redemptions"
ADMIN = Actor(label="admin@test")


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(network):
    return {**network.shop_config(), "NETWORK_TIMEOUT_SECONDS": 1.0}


def redeem(client, pin, number):
    return client.post(URL, json={"pin": pin, "card": number})


def test_network_down_during_a_redemption_delivers_once_when_it_returns(app, client, network):
    card = make_card()
    network.state.add_card(card.number)
    (voucher,) = make_vouchers(make_product(data_mb=2048, validity_days=30))
    network.state.down = True

    response = redeem(client, voucher.pin, card.number)

    assert response.status_code == 201, "the redemption succeeds locally"
    assert response.get_json()["delivery"]["status"] == "pending"
    topup_id = response.get_json()["topup"]["id"]
    delivery = delivery_of(topup_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "503" in delivery.last_error and delivery.next_attempt_at > utcnow()
    assert network.state.packs_of(card.number) == []

    tasks.deliver_due_topups()  # still waiting for its next attempt
    assert delivery_of(topup_id).attempts == 1

    network.state.down = False
    make_due(delivery.id)
    tasks.deliver_due_topups()

    delivery = delivery_of(topup_id)
    (pack,) = network.state.packs_of(card.number)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.network_reference) == (2, pack.reference)
    assert pack.transaction_id == delivery.request_id
    network_card = network.state.card(card.number)
    stored = card_row(card.id)
    assert stored.data_balance_mb == network_card.remaining_mb() == 2048
    assert stored.expires_at == network_card.expires_at and stored.network_as_of is not None

    make_due(delivery.id)
    tasks.deliver_due_topups()
    assert network_delivery.deliver(delivery.id) is None, "a delivered top-up is not sent again"
    assert len(network.state.packs_of(card.number)) == 1


def test_a_top_up_applied_by_any_channel_is_delivered_at_commit(app, network):
    card = make_card()
    network.state.add_card(card.number)
    product = make_product(data_mb=512, validity_days=7)

    applied = card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant.of_product(product),
        source=TopUpSource.COUNTER,
        channel="counter",
    )
    db.session.commit()

    assert delivery_of(applied.id).status == DeliveryStatus.DELIVERED
    assert [pack.data_mb for pack in network.state.packs_of(card.number)] == [512]
    assert card_row(card.id).data_balance_mb == 512


def test_a_rolled_back_top_up_leaves_no_delivery_and_sends_nothing(app, network):
    card = make_card()
    network.state.add_card(card.number)
    card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant.of_product(make_product()),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.rollback()

    assert db.session.execute(db.select(func.count(TopUpDelivery.id))).scalar_one() == 0
    assert network.state.packs_of(card.number) == []


def test_an_answer_lost_after_the_network_applied_the_pack_is_retried_without_a_second_pack(
    app, client, network
):
    card = make_card()
    network.state.add_card(card.number)
    (voucher,) = make_vouchers(make_product(data_mb=1024))
    network.state.add_scenario(
        network_scenario("topup", "timeout_after_apply", seconds=3.0)  # the shop waits 1 s
    )

    topup_id = redeem(client, voucher.pin, card.number).get_json()["topup"]["id"]

    delivery = delivery_of(topup_id)
    assert delivery.status == DeliveryStatus.PENDING and "timed out" in delivery.last_error
    assert len(network.state.packs_of(card.number)) == 1, "the network applied it"
    make_due(delivery.id)
    tasks.deliver_due_topups()
    delivery = delivery_of(topup_id)
    (pack,) = network.state.packs_of(card.number)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.network_reference == pack.reference, "the first result, answered again"
    assert card_row(card.id).data_balance_mb == 1024


def network_scenario(operation, outcome, **kwargs):
    from simulators.scenarios import Scenario

    return Scenario(operation=operation, outcome=outcome, **kwargs)


def test_a_card_unknown_to_the_network_fails_the_delivery_alerts_and_can_be_delivered_again(
    app, client, network, caplog
):
    card = make_card()
    (voucher,) = make_vouchers(make_product())

    with caplog.at_level(logging.ERROR, logger="shop.network.delivery"):
        response = redeem(client, voucher.pin, card.number)

    assert response.status_code == 201, "the voucher is redeemed; the pack is not lost"
    topup_id = response.get_json()["topup"]["id"]
    delivery = delivery_of(topup_id)
    assert delivery.status == DeliveryStatus.FAILED and "card_unknown" in delivery.last_error
    assert "ALERT" in caplog.text
    alerts = db.session.execute(
        db.select(func.count(AuditEvent.id)).filter_by(action="topup.delivery_failed")
    ).scalar_one()
    assert alerts == 1
    assert [d.id for d in network_delivery.failed_deliveries()] == [delivery.id]

    network.state.add_card(card.number)  # the operator fixed the network's side
    network_delivery.deliver_again(delivery.id, ADMIN)

    delivery = delivery_of(topup_id)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(network.state.packs_of(card.number)) == 1
    with pytest.raises(network_delivery.DeliveryNotFailed):
        network_delivery.deliver_again(delivery.id, ADMIN)


def test_a_network_down_for_a_whole_day_fails_the_delivery(app, client, network):
    card = make_card()
    network.state.add_card(card.number)
    (voucher,) = make_vouchers(make_product())
    network.state.down = True
    topup_id = redeem(client, voucher.pin, card.number).get_json()["topup"]["id"]
    delivery = delivery_of(topup_id)
    db.session.execute(
        update(TopUpDelivery)
        .where(TopUpDelivery.id == delivery.id)
        .values(give_up_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()

    make_due(delivery.id)
    tasks.deliver_due_topups()

    delivery = delivery_of(topup_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("network unavailable until giving up")
    assert delivery.attempts == 2


def test_a_delivery_held_by_a_worker_is_not_sent_by_another(app, network):
    card = make_card()
    network.state.add_card(card.number)
    network.state.down = True
    applied = card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant.of_product(make_product()),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()
    delivery = delivery_of(applied.id)
    network.state.down = False
    make_due(delivery.id)
    assert network_delivery._claim(delivery.id, utcnow())  # a worker holds it now

    assert network_delivery.deliver(delivery.id) is None
    assert delivery.id not in network_delivery.due_delivery_ids()
    assert network.state.packs_of(card.number) == []


def test_backoff_grows_and_stays_at_an_hour():
    pauses = [network_delivery.backoff(n).total_seconds() for n in range(1, 13)]
    assert pauses == sorted(pauses) and pauses[0] == 5 and pauses[-1] == 3600


def test_the_card_api_shows_each_top_ups_delivery_status(app, client, network):
    card = make_card()
    network.state.add_card(card.number)
    first, second = make_vouchers(make_product(sku="ASIA-1GB"), 2)
    redeem(client, first.pin, card.number)
    network.state.down = True
    redeem(client, second.pin, card.number)

    body = client.get(f"/api/v1/cards/{card.number}").get_json()

    assert {"number", "status", "data_balance_mb", "expires_at"} <= set(body)
    assert [topup["delivery"]["status"] for topup in body["topups"]] == ["pending", "delivered"]
    assert body["topups"][1]["delivery"]["delivered_at"] is not None
    assert body["topups"][0]["sku"] == "ASIA-1GB"
    # Only the last day's top-ups: the public answer is no history of the card.
    db.session.execute(db.update(TopUp).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    assert client.get(f"/api/v1/cards/{card.number}").get_json()["topups"] == []
    topups = db.session.execute(db.select(func.count(TopUp.id))).scalar_one()
    assert topups == 2


def test_the_redeem_page_says_the_pack_is_being_applied_while_the_network_is_down(
    app, client, network
):
    card = make_card()
    network.state.add_card(card.number)
    (voucher,) = make_vouchers(make_product())
    network.state.down = True

    response = client.post(
        "/redeem", data={"pin": voucher.pin, "card": card.number}, follow_redirects=True
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "being applied on the network" in page and "Being applied" in page
