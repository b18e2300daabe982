"""Full checkout round trips through the real PayPal SDK and the local PayPal simulator.

Guest and registered buyers, PIN vouchers and "top up my card now", with a promotion code; the
buyer approves on the simulator's own approval page and comes back to the shop's return URL.
"""

import io

import pypdf
import pytest

from shop.cards.models import Card, TopUp, TopUpSource
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront.models import OrderStatus, Promotion, PromotionKind, PromotionUse
from shop.vouchers.models import Voucher, VoucherStatus
from simulators.paypal import PayPalSimulator
from tests.factories import make_card, make_product
from tests.storefront_helpers import (
    BUYER,
    add_to_cart,
    buy,
    order_by_path,
    payment_of,
)


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None  # tests deliver webhooks themselves, through the test client
        yield server


@pytest.fixture
def app_config(simulator):
    return {**simulator.shop_config(), "PAYPAL_TIMEOUT_SECONDS": 3.0}


def make_promotion(code="TRAVEL10", **values) -> Promotion:
    data = {"kind": PromotionKind.PERCENT, "percent_bps": 1000, "currency": "USD"}
    data.update(values)
    promotion = Promotion(code=code, **data)
    db.session.add(promotion)
    db.session.commit()
    return promotion


def test_guest_buys_vouchers_with_a_promotion_code(app, client, simulator):
    asia = make_product(price=1500, data_mb=10240, validity_days=30)
    europe = make_product(price=999, data_mb=3072, validity_days=7)
    make_promotion("TRAVEL10", percent_bps=1000)
    add_to_cart(client, asia.sku, 2)
    add_to_cart(client, europe.sku, 1)

    order_path, response = buy(client, promotion="travel10")

    assert response.status_code == 303
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert (order.subtotal, order.discount, order.total) == (3999, 399, 3600)
    assert order.user_id is None and order.email == BUYER
    payment = payment_of(order)
    assert payment.sale_id and payment.amount == 3600
    assert simulator.state.order(payment.provider_payment_id).unit["amount"]["value"] == "36.00"

    vouchers = db.session.execute(db.select(Voucher).order_by(Voucher.serial)).scalars().all()
    assert len(vouchers) == 3
    assert {v.status for v in vouchers} == {VoucherStatus.ACTIVE}
    assert {v.agent_id for v in vouchers} == {None}
    assert sorted(v.product_id for v in vouchers) == sorted([asia.id, asia.id, europe.id])

    page = client.get(order_path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    pins = [_pin_of(v) for v in vouchers]
    for pin in pins:
        assert pin in text
    assert "TRAVEL10" in text

    mail = db.session.execute(db.select(OutboxMessage)).scalars().all()
    assert len(mail) == 1 and mail[0].recipient == BUYER
    for pin in pins:
        assert pin in mail[0].body
    assert order.reference in mail[0].body

    pdf = client.get(order_path.replace("?", "/vouchers.pdf?"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.data))
    assert len(reader.pages) == 1
    pdf_text = "".join(page.extract_text() for page in reader.pages)
    for pin in pins:
        assert pin in pdf_text

    promotion = db.session.execute(db.select(Promotion)).scalar_one()
    assert promotion.uses == 1
    assert db.session.execute(db.select(PromotionUse)).scalar_one().order_id == order.id


def _pin_of(voucher) -> str:
    from shop.vouchers.pins import format_pin
    from shop.vouchers.services import reveal_pin

    return format_pin(reveal_pin(voucher))


def test_registered_customer_tops_up_their_card_with_an_amount_off_code(app, client, login):
    user = login("customer")
    card = make_card()
    pack = make_product(price=2000, data_mb=5120, validity_days=15)
    make_promotion(
        "FIVEOFF", kind=PromotionKind.AMOUNT, amount_off=500, percent_bps=0, min_total=1500
    )
    add_to_cart(client, pack.sku, 2)

    order_path, response = buy(
        client, email=user.email, delivery="topup", card=card.number, promotion="FIVEOFF"
    )

    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert order.user_id == user.id and order.email == user.email
    assert (order.subtotal, order.discount, order.total) == (4000, 500, 3500)
    card = db.session.get(Card, card.id)
    assert card.data_balance_mb == 2 * 5120
    topups = db.session.execute(db.select(TopUp)).scalars().all()
    assert len(topups) == 2
    assert {t.source for t in topups} == {TopUpSource.ORDER}
    assert {t.reference for t in topups} == {order.reference}
    assert (card.expires_at - topups[0].created_at).days in (29, 30)
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 0

    page = client.get(f"/orders/{order.reference}").get_data(as_text=True)  # owner: no key
    assert card.number in page
    history = client.get("/account/orders").get_data(as_text=True)
    assert order.reference in history


def test_guest_tops_up_a_card_and_registered_customer_buys_vouchers(app, client, login):
    card = make_card()
    pack = make_product(price=800)
    add_to_cart(client, pack.sku, 1)
    order_path, _ = buy(client, delivery="topup", card=card.number)
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    assert db.session.get(Card, card.id).data_balance_mb == 1024

    login("customer")
    add_to_cart(client, pack.sku, 3)
    order_path, _ = buy(client)
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 3


def test_a_suspended_card_at_fulfilment_gets_vouchers_instead(app, client):
    card = make_card()
    pack = make_product(price=800)
    add_to_cart(client, pack.sku, 1)
    from tests.storefront_helpers import approve, path_of, place_order, start_payment

    order_path = place_order(client, delivery="topup", card=card.number)
    approval = start_payment(client, order_path)
    db.session.get(Card, card.id).status = "suspended"
    db.session.commit()
    client.get(path_of(approve(approval)))
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert order.status_note == "card_fallback"
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 1
    assert db.session.get(Card, card.id).data_balance_mb == 0


def test_vouchers_carry_the_terms_the_buyer_was_shown_even_if_the_pack_changed_since(app, client):
    from shop.catalog.models import Product
    from tests.storefront_helpers import approve, path_of, place_order, start_payment

    pack = make_product(price=800, data_mb=1024, validity_days=7)
    add_to_cart(client, pack.sku, 2)
    order_path = place_order(client)
    approval = start_payment(client, order_path)
    changed = db.session.get(Product, pack.id)
    changed.price, changed.data_mb, changed.validity_days = 1200, 512, 3  # changed mid-payment
    db.session.commit()
    client.get(path_of(approve(approval)))

    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    vouchers = db.session.execute(db.select(Voucher)).scalars().all()
    assert len(vouchers) == 2
    assert {(v.face_value, v.data_mb, v.validity_days) for v in vouchers} == {(800, 1024, 7)}
