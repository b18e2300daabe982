"""Paying with WeChat Pay: the real SDK against the simulator, Native QR and H5.

A computer gets the QR code on the shop's page, which moves on once the order is paid; a
phone gets WeChat's H5 cashier. Notifications forged, tampered with, replayed, outside their
five-minute window or for another amount are refused and change nothing; three notifications
and two status polls at once fulfil once; ``orders reconcile`` finishes what a crash left.
"""

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shop.audit.models import AuditEvent
from shop.cards.models import Card
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront.models import OrderStatus, PaymentRecordState, WebhookEvent
from shop.vouchers.models import Voucher
from simulators import keys
from simulators.scenarios import Scenario
from simulators.wechatpay import WeChatPaySimulator
from simulators.wechatpay.signing import platform_headers
from tests.factories import make_card, make_product, make_user
from tests.mobile_pay_helpers import (
    DESKTOP,
    PHONE,
    place_mobile_pay_order,
    post_wechat_notification,
    press_pay,
    wechat_notification,
    wechat_pays,
)
from tests.storefront_helpers import add_to_cart, order_by_path, path_of, with_action


@pytest.fixture(scope="module")
def simulator():
    with WeChatPaySimulator() as server:
        yield server


@pytest.fixture
def app_config(simulator):
    return {
        **simulator.shop_config(),
        "WECHATPAY_TIMEOUT_SECONDS": 5.0,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


@pytest.fixture(autouse=True)
def quiet_simulator(simulator):
    """Send no notification unless a test asks (the test client's host is not reachable)."""
    simulator.state.clear_scenarios()
    simulator.state.add_scenario(Scenario("pay", "silent", count=1000))
    yield
    simulator.state.clear_scenarios()


def cny_order(client, quantity=2, **order_args):
    pack = make_product(price=1230, currency="CNY")
    add_to_cart(client, pack.sku, quantity)
    return place_mobile_pay_order(client, "wechatpay", **order_args)


def fulfilments(reference: str) -> int:
    db.session.rollback()
    return db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(
            action="order.fulfilled", object_id=reference
        )
    ).scalar_one()


def native_order(client):
    """An order whose QR code is on the page; return (order path, QR page path, trade)."""
    order_path = cny_order(client)
    response = press_pay(client, order_path, DESKTOP)
    assert response.status_code == 303, response.get_data(as_text=True)
    qr_path = path_of(response.headers["Location"])
    order = order_by_path(order_path)
    return order_path, qr_path, order.payments[0].provider_payment_id


def status_path(order_path: str) -> str:
    return with_action(order_path, "payment-status")


def test_a_guest_scans_the_qr_code_and_the_page_moves_on_with_pins(app, client, simulator):
    order_path, qr_path, trade = native_order(client)
    page = client.get(qr_path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data:image/svg+xml" in text and "payment-status" in text
    assert simulator.state.orders[trade].total == 2460  # fen, exactly
    assert client.get(status_path(order_path)).get_json()["done"] is False
    wechat_pays(simulator, trade)
    answer = client.get(status_path(order_path)).get_json()
    assert answer["done"] is True and answer["status"] == "fulfilled"
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert order.payments[0].state == PaymentRecordState.COMPLETED
    assert order.payments[0].sale_id == simulator.state.orders[trade].transaction_id
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 2
    assert "WeChat Pay" in client.get(order_path).get_data(as_text=True)


def pay_with_h5(client, simulator, order_path):
    """Press pay on a phone, pay in WeChat's H5 cashier and come back; return the answer."""
    response = press_pay(client, order_path, PHONE)
    location = response.headers["Location"]
    assert location.startswith(simulator.url + "/h5pay?prepay_id=")
    query = parse_qs(urlsplit(location).query)
    back = query["redirect_url"][0]
    assert requests.get(location, timeout=5).status_code == 200
    answer = requests.post(
        f"{simulator.url}/simulator/pay/{query['prepay_id'][0]}",
        data={"choice": "pay", "redirect_url": back},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.headers["Location"] == back
    return client.get(path_of(back))


def pay_with_native(client, simulator, order_path):
    """Press pay on a computer, scan the code and pay; the page's poll finds it paid."""
    response = press_pay(client, order_path, DESKTOP)
    assert "/wechatpay" in response.headers["Location"]
    trade = order_by_path(order_path).payments[0].provider_payment_id
    wechat_pays(simulator, trade)
    return client.get(status_path(order_path))


@pytest.mark.parametrize("pay", [pay_with_native, pay_with_h5], ids=["native", "h5"])
@pytest.mark.parametrize("delivery", ["vouchers", "topup"])
@pytest.mark.parametrize("buyer", ["guest", "registered"])
def test_round_trip_with_each_channel_delivery_and_buyer(
    app, client, simulator, login, pay, delivery, buyer
):
    email = login("customer").email if buyer == "registered" else "guest@example.com"
    card = make_card() if delivery == "topup" else None
    order_path = cny_order(
        client, 1, email=email, delivery=delivery, card=card.number if card else ""
    )
    pay(client, simulator, order_path)
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert (order.user_id is not None) == (buyer == "registered")
    vouchers = db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one()
    if card is not None:
        assert db.session.get(Card, card.id).data_balance_mb == 1024
        assert vouchers == 0
    else:
        assert vouchers == 1


def test_wechat_pay_is_refused_for_packs_not_priced_in_yuan(app, client):
    pack = make_product(price=500, currency="USD")
    add_to_cart(client, pack.sku)
    response = client.post(
        "/checkout",
        data={"email": "a@example.com", "delivery": "vouchers", "payment_method": "wechatpay"},
    )
    assert response.status_code == 422
    assert "CNY" in response.get_data(as_text=True)


# --- notifications ---------------------------------------------------------------------------


def paid_at_wechat(client, simulator):
    order_path, _qr, trade = native_order(client)
    wechat_pays(simulator, trade)
    return order_path, trade


def test_a_genuine_notification_fulfils_once_and_its_replay_changes_nothing(app, client, simulator):
    order_path, trade = paid_at_wechat(client, simulator)
    headers, body = wechat_notification(simulator, trade)
    assert post_wechat_notification(client, headers, body).status_code == 204
    assert post_wechat_notification(client, headers, body).status_code == 204
    assert fulfilments(order_by_path(order_path).reference) == 1
    assert db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one() == 1


def forged(simulator, trade):
    headers, body = wechat_notification(simulator, trade)
    stranger = keys.make_signing_identity("someone.else.invalid").private_key
    return {**platform_headers(stranger, headers["Wechatpay-Serial"], body.decode())}, body


def tampered(simulator, trade):
    headers, body = wechat_notification(simulator, trade)
    event = json.loads(body)
    raw = bytearray(base64.b64decode(event["resource"]["ciphertext"]))
    raw[0] ^= 1
    event["resource"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    return headers, json.dumps(event, separators=(",", ":")).encode()


def stale(simulator, trade):
    return wechat_notification(simulator, trade, timestamp=int(time.time()) - 600)


def unknown_serial(simulator, trade):
    headers, body = wechat_notification(simulator, trade)
    return {**headers, "Wechatpay-Serial": "ABCDEF0123"}, body


@pytest.mark.parametrize("make_request", [forged, tampered, stale, unknown_serial])
def test_notifications_that_do_not_verify_are_refused_and_change_nothing(
    app, client, simulator, make_request
):
    order_path, trade = paid_at_wechat(client, simulator)
    headers, body = make_request(simulator, trade)
    response = post_wechat_notification(client, headers, body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "FAIL"
    assert order_by_path(order_path).status == OrderStatus.PENDING
    assert db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one() == 0


def test_a_notification_for_another_amount_is_refused_and_alerts_the_admins(app, client, simulator):
    admin = make_user("admin")
    order_path, trade = paid_at_wechat(client, simulator)
    headers, body = wechat_notification(simulator, trade, total=1)
    assert post_wechat_notification(client, headers, body).status_code == 422
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING
    assert fulfilments(order.reference) == 0
    mails = db.session.execute(db.select(OutboxMessage).filter_by(recipient=admin.email))
    assert len(list(mails.scalars())) == 1
    events = db.session.execute(
        db.select(AuditEvent).filter_by(action="order.amount_mismatch", object_id=order.reference)
    )
    assert len(list(events.scalars())) == 1


def test_three_notifications_a_return_and_a_poll_at_once_fulfil_one_time(app, client, simulator):
    order_path, trade = paid_at_wechat(client, simulator)
    requests_ = [wechat_notification(simulator, trade) for _ in range(3)]

    def notify(request_):
        return post_wechat_notification(app.test_client(), *request_).status_code

    def come_back(path):
        return app.test_client().get(path).status_code

    paths = [with_action(order_path, "wechatpay/return"), status_path(order_path)]
    with ThreadPoolExecutor(5) as pool:  # all five submitted before any answer is read
        futures = [pool.submit(notify, r) for r in requests_]
        futures += [pool.submit(come_back, path) for path in paths]
        answers = [future.result() for future in futures]
    assert answers == [204, 204, 204, 303, 200]
    assert fulfilments(order_by_path(order_path).reference) == 1
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 2


# --- reconcile ------------------------------------------------------------------------------


def test_reconcile_completes_once_what_a_crash_after_payment_left(app, client, simulator, runner):
    order_path, _trade = paid_at_wechat(client, simulator)  # the shop never heard
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    reference = order_by_path(order_path).reference
    assert f"fulfilled: {reference}" in result.output
    assert runner.invoke(args=["orders", "reconcile"]).exit_code == 0
    assert fulfilments(reference) == 1


def test_reconcile_closes_an_unpaid_order_at_timeout(app, client, simulator, runner):
    order_path, _qr, trade = native_order(client)
    order = order_by_path(order_path)
    order.created_at = datetime.now(UTC) - timedelta(days=1)
    db.session.commit()
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"expired: {order.reference}" in result.output
    assert simulator.state.orders[trade].trade_state == "CLOSED"
    assert order_by_path(order_path).status == OrderStatus.CANCELLED


def test_the_qr_page_of_a_paid_order_goes_to_the_order(app, client, simulator):
    order_path, qr_path, trade = native_order(client)
    wechat_pays(simulator, trade)
    client.get(status_path(order_path))
    response = client.get(qr_path)
    assert response.status_code == 303


def test_a_declined_payment_fails_the_order_with_a_reason(app, client, simulator):
    order_path, _qr, trade = native_order(client)
    wechat_pays(simulator, trade, "decline")
    assert client.get(status_path(order_path)).get_json()["status"] == "failed"
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FAILED and order.status_note == "declined"
    assert "Nothing was charged" in client.get(order_path).get_data(as_text=True)


def test_a_slow_wechat_leaves_the_order_pending_and_the_page_waiting(app, client, simulator):
    order_path, _qr, trade = native_order(client)
    wechat_pays(simulator, trade)
    gateway = app.extensions["mobile_pay_gateways"]["wechatpay"]
    app.extensions["mobile_pay_gateways"]["wechatpay"] = type(gateway)(
        type(gateway.settings)(**{**vars(gateway.settings), "timeout": 0.3})
    )
    app.extensions["mobile_pay_gateways"]["wechatpay"].client()  # certificates while it is quick
    simulator.state.add_scenario(Scenario("query", "delay", seconds=1.0))
    answer = client.get(status_path(order_path))
    assert answer.status_code == 200 and answer.get_json()["done"] is False
    assert order_by_path(order_path).status == OrderStatus.PENDING
    app.extensions["mobile_pay_gateways"]["wechatpay"] = gateway
    assert client.get(status_path(order_path)).get_json()["status"] == "fulfilled"
