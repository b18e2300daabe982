"""Payments that go wrong, and webhooks that must not be believed.

Declined, cancelled, unreachable and slow PayPal leave the order unfulfilled with a clear
status and issue nothing. A webhook with a missing or wrong signature, a tampered body, a
certificate on a foreign host, or an amount/currency that is not the order's is refused and
changes nothing; a foreign certificate URL is never even fetched.
"""

import json

import pytest

from shop.extensions import db
from shop.payments import webhooks
from shop.storefront.models import (
    OrderStatus,
    Payment,
    PaymentRecordState,
    Promotion,
    PromotionKind,
    WebhookEvent,
)
from shop.vouchers.models import Voucher, VoucherStatus
from simulators.paypal import PayPalSimulator
from simulators.paypal.signing import sign_event
from tests.factories import make_product
from tests.storefront_helpers import (
    add_to_cart,
    approve,
    buy,
    order_by_path,
    path_of,
    payment_of,
    place_order,
    post_webhook,
    signed_webhook,
    start_payment,
)


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None
        yield server


@pytest.fixture
def app_config(simulator):
    return {**simulator.shop_config(), "PAYPAL_TIMEOUT_SECONDS": 1.0}


@pytest.fixture(autouse=True)
def no_leftover_scenarios(simulator):
    yield
    simulator.state.clear_scenarios()


def scenario(simulator, operation, outcome, **extra):
    import requests

    answer = requests.post(
        f"{simulator.url}/simulator/scenarios",
        json={"operation": operation, "outcome": outcome, **extra},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def counts():
    db.session.rollback()
    vouchers = db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one()
    events = db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one()
    return vouchers, events


def cart_with_promotion(client):
    pack = make_product(price=1000)
    db.session.add(Promotion(code="SAVE2", kind=PromotionKind.AMOUNT, amount_off=200))
    db.session.commit()
    add_to_cart(client, pack.sku, 2)


def promotion_uses() -> int:
    db.session.rollback()
    return db.session.execute(db.select(Promotion.uses)).scalar_one()


def test_a_declined_card_fails_the_order_and_issues_nothing(app, client):
    cart_with_promotion(client)
    order_path, response = buy(client, promotion="SAVE2", choice="decline")
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FAILED
    assert order.status_note == "declined"
    assert payment_of(order).state == PaymentRecordState.FAILED
    assert counts() == (0, 0)
    assert promotion_uses() == 0  # the failed order gave its use back
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The payment was declined" in page
    assert "Try again with the same packs" in page


def test_a_cancelled_payment_cancels_the_order(app, client):
    cart_with_promotion(client)
    order_path, response = buy(client, promotion="SAVE2", choice="cancel")
    order = order_by_path(order_path)
    assert order.status == OrderStatus.CANCELLED
    assert counts() == (0, 0)
    assert promotion_uses() == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You cancelled the payment. Nothing was charged." in page


def test_execute_declined_by_paypal_after_approval(app, client, simulator):
    cart_with_promotion(client)
    scenario(simulator, "capture", "decline")
    order_path, _ = buy(client)
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FAILED
    assert counts() == (0, 0)


def test_paypal_unreachable_leaves_the_order_pending_with_a_message(app, client):
    app.config["PAYPAL_SIMULATOR_URL"] = "http://127.0.0.1:9"  # nothing listens on discard
    app.extensions.pop("payment_gateway", None)
    cart_with_promotion(client)
    order_path = place_order(client, promotion="SAVE2")
    response = client.post(order_path.replace("?", "/pay?"))
    assert response.status_code == 303
    assert path_of(response.headers["Location"]) == order_path
    page = client.get(order_path).get_data(as_text=True)
    assert "PayPal did not answer. Nothing was charged" in page
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING
    assert db.session.execute(db.select(db.func.count(Payment.id))).scalar_one() == 0
    assert counts() == (0, 0)


def test_paypal_timing_out_on_execute_leaves_the_order_pending_until_the_next_return(
    app, client, simulator
):
    cart_with_promotion(client)
    order_path = place_order(client)
    return_path = path_of(approve(start_payment(client, order_path)))
    scenario(simulator, "capture", "delay", seconds=2.5)
    response = client.get(return_path)
    assert response.status_code == 303
    page = client.get(order_path).get_data(as_text=True)
    assert "PayPal did not answer in time" in page
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)
    client.get(return_path)  # the buyer reloads once PayPal answers again
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    assert counts()[0] == 2


def fulfilled_order_and_webhook(client, simulator):
    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 1)
    order_path, _ = buy(client)
    order = order_by_path(order_path)
    payment_id = payment_of(order).provider_payment_id
    headers, body = signed_webhook(simulator, payment_id)
    return order, payment_id, headers, body


def pending_order_and_webhook(client, simulator):
    """An order executed at PayPal whose shop never heard of it, and the signed event."""
    from shop.payments import get_gateway

    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 1)
    order_path = place_order(client)
    approve(start_payment(client, order_path))
    order = order_by_path(order_path)
    payment_id = payment_of(order).provider_payment_id
    payer = simulator.state.order(payment_id).payer_id
    get_gateway().execute_payment(payment_id, payer, order.reference)
    headers, body = signed_webhook(simulator, payment_id)
    return order_path, payment_id, headers, body


def test_a_genuine_webhook_fulfils_the_order(app, client, simulator):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    response = post_webhook(client, headers, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    assert counts() == (1, 1)


@pytest.mark.parametrize(
    "tamper",
    [
        "missing_signature",
        "missing_cert_url",
        "wrong_signature",
        "tampered_body",
        "wrong_algorithm",
        "signature_not_base64",
    ],
)
def test_webhooks_that_do_not_verify_change_nothing(app, client, simulator, tamper):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    headers = dict(headers)
    if tamper == "missing_signature":
        del headers["PAYPAL-TRANSMISSION-SIG"]
    elif tamper == "missing_cert_url":
        del headers["PAYPAL-CERT-URL"]
    elif tamper == "wrong_signature":
        _, other = signed_webhook(simulator, _)  # a valid signature, but of another request
        headers["PAYPAL-TRANSMISSION-ID"] = "00000000-0000-0000-0000-000000000000"
    elif tamper == "tampered_body":
        body = body.replace(b'"value":"10.00"', b'"value":"01.00"')
        assert b'"01.00"' in body
    elif tamper == "wrong_algorithm":
        headers["PAYPAL-AUTH-ALGO"] = "SHA1withRSA"
    elif tamper == "signature_not_base64":
        headers["PAYPAL-TRANSMISSION-SIG"] = "not base64!"
    response = post_webhook(client, headers, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "webhook_rejected"
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)


def test_a_webhook_paypal_does_not_confirm_changes_nothing(app, client, simulator, monkeypatch):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    # Signed with the right key, but PayPal says it is not for this app's webhook.
    monkeypatch.setitem(simulator.app.config, "WEBHOOK_ID", "WH-ANOTHER-APP")
    response = post_webhook(client, headers, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "webhook_rejected"
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)


def test_a_webhook_paypal_cannot_confirm_now_is_answered_503_and_applied_on_redelivery(
    app, client, simulator
):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    scenario(simulator, "verify", "error")
    response = post_webhook(client, headers, body)
    assert response.status_code == 503
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)
    assert post_webhook(client, headers, body).status_code == 200  # PayPal delivers again
    assert order_by_path(order_path).status == OrderStatus.FULFILLED


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example.com/v1/notifications/certs/CERT-SIM-1",
        "https://api.paypal.com.evil.example/cert.pem",
        "http://127.0.0.2:1/v1/notifications/certs/CERT-SIM-1",
        "file:///etc/passwd",
    ],
)
def test_a_certificate_on_a_foreign_host_is_refused_without_any_fetch(
    app, client, simulator, monkeypatch, cert_url
):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    fetched = []
    monkeypatch.setattr(webhooks, "fetch_certificate_pem", lambda *a: fetched.append(a) or b"")
    response = post_webhook(client, {**headers, "PAYPAL-CERT-URL": cert_url}, body)
    assert response.status_code == 400
    assert fetched == []
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)


def resigned(simulator, headers, body, **changes):
    """Sign, with the simulator's genuine key, an event whose capture says something else."""
    event = json.loads(body)
    event["resource"]["amount"].update(changes)
    return sign_event(
        simulator.app.config["SIGNING_IDENTITY"],
        event,
        simulator.app.config["WEBHOOK_ID"],
        headers["PAYPAL-CERT-URL"],
    )


@pytest.mark.parametrize("changes", [{"value": "0.01"}, {"currency_code": "EUR"}])
def test_a_genuine_webhook_with_another_amount_or_currency_is_refused(
    app, client, simulator, changes
):
    order_path, _, headers, body = pending_order_and_webhook(client, simulator)
    headers, body = resigned(simulator, headers, body, **changes)
    response = post_webhook(client, headers, body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "amount_mismatch"
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert counts() == (0, 0)


def test_a_webhook_for_an_unknown_payment_is_acknowledged_and_ignored(app, client, simulator):
    _, _, headers, body = pending_order_and_webhook(client, simulator)
    db.session.execute(db.delete(Payment))  # as if the payment belonged to another shop
    db.session.commit()
    response = post_webhook(client, headers, body)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "unknown payment"
    assert counts() == (0, 0)


def test_a_refund_voids_the_unredeemed_vouchers(app, client, simulator):
    import requests

    order, payment_id, _, _ = fulfilled_order_and_webhook(client, simulator)
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{payment_id}/refund",
        headers={"Accept": "application/json"},
        json={},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    headers, body = signed_webhook(simulator, payment_id, "refunded")
    response = post_webhook(client, headers, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    order = order_by_path(f"/orders/{order.reference}")
    assert order.status == OrderStatus.REFUNDED
    statuses = db.session.execute(db.select(Voucher.status)).scalars().all()
    assert statuses == [VoucherStatus.VOID]
    again = post_webhook(client, headers, body)
    assert again.status_code == 200
    assert again.get_json()["outcome"] == "duplicate event"


def test_a_pending_capture_then_denied_by_paypal_fails_the_order(app, client, simulator):
    import requests

    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 1)
    order_path = place_order(client)
    scenario(simulator, "capture", "pending")
    client.get(path_of(approve(start_payment(client, order_path))))
    order = order_by_path(order_path)
    assert (order.status, order.status_note) == (OrderStatus.PENDING, "payment_pending")
    payment_id = payment_of(order).provider_payment_id
    denied = requests.post(
        f"{simulator.url}/simulator/orders/{payment_id}/deny", json={}, timeout=5
    )
    assert denied.status_code == 200, denied.text
    headers, body = signed_webhook(simulator, payment_id, "denied")
    response = post_webhook(client, headers, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert order_by_path(order_path).status == OrderStatus.FAILED
    assert counts() == (0, 1)


def test_reconcile_captures_an_order_the_buyer_approved_but_never_came_back_from(
    app, client, runner
):
    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 1)
    order_path = place_order(client)
    approve(start_payment(client, order_path))  # the tab closed before the shop saw the return
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert payment_of(order).sale_id
    assert counts() == (1, 0)
