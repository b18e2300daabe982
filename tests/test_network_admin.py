"""The operator's list of failed deliveries: deliver again, or refund with a replacement voucher."""

import pytest

from shop.audit.services import Actor
from shop.cards.models import DeliveryStatus
from shop.extensions import db
from shop.network import delivery as network_delivery
from shop.vouchers import services as voucher_services
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.replacements import compensate_failed_delivery
from tests.factories import make_agent, make_card, make_product
from tests.network_helpers import delivery_of, empty_network
from tests.vouchers_helpers import make_vouchers


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(network):
    return network.shop_config()


def failed_voucher_top_up(client, card, agent=None):
    """Redeem a voucher onto a card the network does not know: its delivery fails."""
    (voucher,) = make_vouchers(
        make_product(data_mb=3072, validity_days=15), agent_id=agent.id if agent else None
    )
    response = client.post("/api/v1/redemptions", json={"pin": voucher.pin, "card": card.number})
    topup_id = response.get_json()["topup"]["id"]
    assert delivery_of(topup_id).status == DeliveryStatus.FAILED
    return voucher, topup_id


def test_the_admin_delivers_a_failed_top_up_again(app, client, login, network):
    card = make_card()
    _voucher, topup_id = failed_voucher_top_up(client, card)
    login("admin")
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert card.number in page and "card_unknown" in page

    network.state.add_card(card.number)
    delivery_id = delivery_of(topup_id).id
    response = client.post(f"/admin/deliveries/{delivery_id}/retry")

    assert response.status_code == 302
    assert delivery_of(topup_id).status == DeliveryStatus.DELIVERED
    assert len(network.state.packs_of(card.number)) == 1
    assert "Every top-up reached the network." in client.get("/admin/deliveries").get_data(
        as_text=True
    )


def test_refunding_a_voucher_top_up_issues_a_replacement_of_the_same_pack_once(app, client, login):
    agent = make_agent()
    card = make_card()
    voucher, topup_id = failed_voucher_top_up(client, card, agent)
    delivery_id = delivery_of(topup_id).id
    login("admin")

    response = client.post(f"/admin/deliveries/{delivery_id}/refund")

    assert response.status_code == 200
    assert delivery_of(topup_id).status == DeliveryStatus.CANCELLED
    db.session.rollback()
    replacement = db.session.execute(
        db.select(Voucher).where(Voucher.serial != voucher.serial)
    ).scalar_one()
    page = response.get_data(as_text=True)
    assert replacement.serial in page
    assert replacement.status == VoucherStatus.ACTIVE and replacement.agent_id == agent.id
    assert (replacement.data_mb, replacement.validity_days) == (3072, 15)
    assert voucher_services.reveal_pin(replacement) in page, "its PIN, shown this once"

    again = client.post(f"/admin/deliveries/{delivery_id}/refund")
    assert again.status_code == 302, "a cancelled delivery is not refunded twice"
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 2


def test_only_an_admin_sees_failed_deliveries(app, client, login):
    login("customer")
    assert client.get("/admin/deliveries").status_code in (302, 403)


def test_a_pending_delivery_cannot_be_refunded_or_delivered_again(app, client, login, network):
    card = make_card()
    network.state.down = True
    (voucher,) = make_vouchers(make_product())
    response = client.post("/api/v1/redemptions", json={"pin": voucher.pin, "card": card.number})
    delivery = delivery_of(response.get_json()["topup"]["id"])
    assert delivery.status == DeliveryStatus.PENDING
    login("admin")

    assert client.post(f"/admin/deliveries/{delivery.id}/refund").status_code == 302
    assert client.post(f"/admin/deliveries/{delivery.id}/retry").status_code == 302
    assert client.post("/admin/deliveries/999/retry").status_code == 404

    assert delivery_of(delivery.topup_id).status == DeliveryStatus.PENDING
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 1
    with pytest.raises(network_delivery.DeliveryNotFailed):
        compensate_failed_delivery(delivery.id, Actor(label="admin"))
