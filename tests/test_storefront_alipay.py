"""Paying with Alipay: the real SDK against the simulator, from checkout to the PINs or the card.

Page pay on a computer and wap pay on a phone, guests and registered buyers, vouchers and
top-ups; notifications forged, tampered with, replayed, stale or for another amount are
refused and change nothing; returns and notifications arriving together fulfil once; and
``orders reconcile`` finishes what a crash left, or closes a trade nobody paid.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from shop.audit.models import AuditEvent
from shop.cards.models import Card
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront import fulfilment
from shop.storefront.models import OrderStatus, PaymentMethod, PaymentRecordState, WebhookEvent
from shop.vouchers.models import Voucher
from simulators import keys
from simulators.alipay import AlipaySimulator
from simulators.alipay.signing import signed_params
from simulators.scenarios import Scenario
from tests.factories import make_card, make_product, make_user
from tests.mobile_pay_helpers import (
    DESKTOP,
    PHONE,
    alipay_decides,
    alipay_notification,
    place_mobile_pay_order,
    post_alipay_notification,
    press_pay,
    trade_of,
)
from tests.storefront_helpers import add_to_cart, order_by_path, path_of, with_action


@pytest.fixture(scope="module")
def simulator():
    with AlipaySimulator() as server:
        yield server


@pytest.fixture
def app_config(simulator):
    return {
        **simulator.shop_config(),
        "ALIPAY_TIMEOUT_SECONDS": 5.0,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


@pytest.fixture(autouse=True)
def quiet_simulator(simulator):
    """Send no notification unless a test asks (the test client's host is not reachable)."""
    simulator.state.clear_scenarios()
    simulator.state.add_scenario(_silent())
    yield
    simulator.state.clear_scenarios()


def _silent():
    return Scenario("pay", "silent", count=1000)


def cny_order(client, quantity=2, **order_args):
    pack = make_product(price=1230, currency="CNY")
    add_to_cart(client, pack.sku, quantity)
    return place_mobile_pay_order(client, "alipay", **order_args)


def pay_at_alipay(client, simulator, order_path, user_agent=DESKTOP):
    """Press pay, pay at the cashier; return (trade, the signed return path)."""
    response = press_pay(client, order_path, user_agent)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(simulator.url + "/gateway.do?")
    return trade_of(location), path_of(alipay_decides(simulator, location))


def fulfilments(reference: str) -> int:
    db.session.rollback()
    return db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(
            action="order.fulfilled", object_id=reference
        )
    ).scalar_one()


def method_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["method"][0]


def test_a_guest_pays_on_a_computer_with_page_pay_and_gets_pins(app, client, simulator):
    order_path = cny_order(client)
    response = press_pay(client, order_path, DESKTOP)
    assert method_of(response.headers["Location"]) == "alipay.trade.page.pay"
    page = client.get(order_path)
    assert "Alipay" in page.get_data(as_text=True)
    back = path_of(alipay_decides(simulator, response.headers["Location"]))
    assert client.get(back).status_code == 303
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert order.payment_method == PaymentMethod.ALIPAY
    payment = order.payments[0]
    assert payment.provider == "alipay" and payment.state == PaymentRecordState.COMPLETED
    assert payment.sale_id  # Alipay's trade_no, unique in the database
    assert simulator.state.trades[payment.provider_payment_id].total_amount == "24.60"
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 2
    text = client.get(order_path).get_data(as_text=True)
    assert "Your PINs" in text and "Alipay" in text


@pytest.mark.parametrize(
    ("user_agent", "method"),
    [(DESKTOP, "alipay.trade.page.pay"), (PHONE, "alipay.trade.wap.pay")],
    ids=["page", "wap"],
)
@pytest.mark.parametrize("delivery", ["vouchers", "topup"])
@pytest.mark.parametrize("buyer", ["guest", "registered"])
def test_round_trip_with_each_cashier_delivery_and_buyer(
    app, client, simulator, login, user_agent, method, delivery, buyer
):
    email = login("customer").email if buyer == "registered" else "guest@example.com"
    card = make_card() if delivery == "topup" else None
    order_path = cny_order(
        client, 1, email=email, delivery=delivery, card=card.number if card else ""
    )
    response = press_pay(client, order_path, user_agent)
    assert method_of(response.headers["Location"]) == method
    back = path_of(alipay_decides(simulator, response.headers["Location"]))
    assert client.get(back).status_code == 303
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert (order.user_id is not None) == (buyer == "registered")
    vouchers = db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one()
    if card is not None:
        assert db.session.get(Card, card.id).data_balance_mb == 1024
        assert vouchers == 0
    else:
        assert vouchers == 1


def test_the_buyer_may_choose_the_other_cashier(app, client, simulator):
    order_path = cny_order(client)
    response = press_pay(client, order_path, PHONE, channel="page")
    assert method_of(response.headers["Location"]) == "alipay.trade.page.pay"


def test_pay_pressed_several_times_at_once_records_one_trade(app, client, simulator):
    order_path = cny_order(client)

    def press(_):
        return press_pay(app.test_client(), order_path).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(press, range(4))) == [303] * 4
    assert len(order_by_path(order_path).payments) == 1


def test_the_admins_order_list_shows_the_method(app, client, login):
    cny_order(client)
    login("admin")
    assert "Alipay" in client.get("/admin/orders").get_data(as_text=True)


def test_alipay_is_refused_for_packs_not_priced_in_yuan(app, client):
    pack = make_product(price=500, currency="USD")
    add_to_cart(client, pack.sku)
    response = client.post(
        "/checkout",
        data={"email": "a@example.com", "delivery": "vouchers", "payment_method": "alipay"},
    )
    assert response.status_code == 422
    assert "CNY" in response.get_data(as_text=True)


def test_cancelling_at_the_cashier_closes_the_trade_and_the_order(app, client, simulator):
    order_path = cny_order(client)
    response = press_pay(client, order_path)
    back = alipay_decides(simulator, response.headers["Location"], "cancel")
    client.get(path_of(back))
    order = order_by_path(order_path)
    assert order.status == OrderStatus.CANCELLED
    assert simulator.state.trades[trade_of(response.headers["Location"])].status == "TRADE_CLOSED"


# --- notifications ---------------------------------------------------------------------------


def paid_but_not_returned(client, simulator):
    order_path = cny_order(client)
    trade, _back = pay_at_alipay(client, simulator, order_path)
    return order_path, trade


def test_a_genuine_notification_fulfils_once_and_its_replay_changes_nothing(app, client, simulator):
    order_path, trade = paid_but_not_returned(client, simulator)
    body = alipay_notification(simulator, trade)
    first = post_alipay_notification(client, body)
    assert first.get_data(as_text=True) == "success"
    replay = post_alipay_notification(client, body)
    assert replay.get_data(as_text=True) == "success"
    reference = order_by_path(order_path).reference
    assert fulfilments(reference) == 1
    assert db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one() == 1


def forged(simulator, trade) -> bytes:
    params = dict(parse_qs(alipay_notification(simulator, trade).decode()))
    params = {key: values[0] for key, values in params.items()}
    params.pop("sign")
    params.pop("sign_type")
    stranger = keys.make_signing_identity("someone.else.invalid").private_key
    return urlencode(signed_params(stranger, params)).encode()


def tampered(simulator, trade) -> bytes:
    body = alipay_notification(simulator, trade).decode()
    return body.replace("trade_status=TRADE_SUCCESS", "trade_status=TRADE_FINISHED").encode()


def stale(simulator, trade) -> bytes:
    long_ago = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=2)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    return alipay_notification(simulator, trade, notify_time=long_ago)


def other_app(simulator, trade) -> bytes:
    return alipay_notification(simulator, trade, app_id="2021999999999999")


@pytest.mark.parametrize("make_body", [forged, tampered, stale, other_app])
def test_notifications_that_do_not_verify_are_refused_and_change_nothing(
    app, client, simulator, make_body
):
    order_path, trade = paid_but_not_returned(client, simulator)
    response = post_alipay_notification(client, make_body(simulator, trade))
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "fail"
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING
    assert db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one() == 0


def test_a_notification_for_another_amount_is_refused_and_alerts_the_admins(app, client, simulator):
    admin = make_user("admin")
    order_path, trade = paid_but_not_returned(client, simulator)
    response = post_alipay_notification(
        client, alipay_notification(simulator, trade, total_amount="0.01")
    )
    assert response.status_code == 422
    retried = post_alipay_notification(  # Alipay retries: the admins are not mailed again
        client, alipay_notification(simulator, trade, total_amount="0.01")
    )
    assert retried.status_code == 422
    assert response.get_data(as_text=True) == "fail"
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING
    assert fulfilments(order.reference) == 0
    alerts = db.session.execute(
        db.select(AuditEvent).filter_by(action="order.amount_mismatch", object_id=order.reference)
    ).scalars()
    assert len(list(alerts)) == 1
    mails = db.session.execute(db.select(OutboxMessage).filter_by(recipient=admin.email))
    assert [mail.subject for mail in mails.scalars()] == [
        f"Payment does not match order {order.reference}"
    ]


def test_one_alipay_trade_never_pays_two_orders(app, client, simulator):
    first_path, first_trade = paid_but_not_returned(client, simulator)
    post_alipay_notification(client, alipay_notification(simulator, first_trade))
    second_path, second_trade = paid_but_not_returned(client, simulator)
    reused = simulator.state.trades[first_trade].trade_no  # the first order's Alipay trade id
    body = alipay_notification(simulator, second_trade, trade_no=reused)
    assert post_alipay_notification(client, body).get_data(as_text=True) == "success"
    assert order_by_path(first_path).status == OrderStatus.FULFILLED
    assert order_by_path(second_path).status == OrderStatus.PENDING


def test_three_notifications_and_two_returns_at_once_fulfil_one_time(app, client, simulator):
    order_path, _ = paid_but_not_returned(client, simulator)
    order = order_by_path(order_path)
    trade = order.payments[0].provider_payment_id
    signed_return = signed_params(  # what the cashier sent the buyer back with
        simulator.app.config["PLATFORM_IDENTITY"].private_key,
        {
            "out_trade_no": trade,
            "app_id": simulator.app.config["APP_ID"],
            "total_amount": "24.60",
            "trade_no": simulator.state.trades[trade].trade_no,
        },
    )
    key = parse_qs(urlsplit(order_path).query)["key"][0]
    return_url = f"/orders/{order.reference}/alipay/return?{urlencode(signed_return)}&key={key}"
    bodies = [alipay_notification(simulator, trade) for _ in range(3)]

    def notify(body):
        return post_alipay_notification(app.test_client(), body).get_data(as_text=True)

    def come_back(_):
        return app.test_client().get(return_url).status_code

    with ThreadPoolExecutor(5) as pool:  # all five submitted before any answer is read
        futures = [pool.submit(notify, body) for body in bodies]
        futures += [pool.submit(come_back, n) for n in range(2)]
        answers = [future.result() for future in futures]
    assert answers[:3] == ["success"] * 3
    assert fulfilments(order.reference) == 1
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 2


def test_a_tampered_return_changes_nothing(app, client, simulator):
    order_path = cny_order(client)
    _trade, back = pay_at_alipay(client, simulator, order_path)
    client.get(back.replace("total_amount=24.60", "total_amount=0.01"))
    assert order_by_path(order_path).status == OrderStatus.PENDING


# --- reconcile ------------------------------------------------------------------------------


def test_reconcile_completes_once_what_a_crash_after_payment_left(app, client, simulator, runner):
    order_path, _trade = paid_but_not_returned(client, simulator)  # the shop never heard
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    reference = order_by_path(order_path).reference
    assert f"fulfilled: {reference}" in result.output
    again = runner.invoke(args=["orders", "reconcile"])
    assert again.exit_code == 0
    assert fulfilments(reference) == 1
    assert order_by_path(order_path).status == OrderStatus.FULFILLED


class Killed(BaseException):
    """The worker dies (SIGKILL, OOM): nothing after this line of the request runs."""


def test_a_process_killed_after_alipay_captured_is_completed_once_by_reconcile(
    app, client, simulator, runner, monkeypatch
):
    order_path = cny_order(client)
    _trade, back = pay_at_alipay(client, simulator, order_path)

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(fulfilment, "settle", die)
    with pytest.raises(Killed):
        client.get(back)  # verified, queried (paid at Alipay), then the process dies
    monkeypatch.undo()
    reference = order_by_path(order_path).reference
    assert order_by_path(order_path).status == OrderStatus.PENDING
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"fulfilled: {reference}" in result.output
    client.get(back)  # the buyer reloads the return page later
    assert fulfilments(reference) == 1


def test_reconcile_closes_an_unpaid_trade_at_timeout(app, client, simulator, runner):
    order_path = cny_order(client)
    response = press_pay(client, order_path)  # the buyer opens the cashier and leaves
    assert requests.get(response.headers["Location"], timeout=5).status_code == 200
    trade = trade_of(response.headers["Location"])
    order = order_by_path(order_path)
    order.created_at = datetime.now(UTC) - timedelta(days=1)
    db.session.commit()
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"expired: {order.reference}" in result.output
    assert simulator.state.trades[trade].status == "TRADE_CLOSED"
    order = order_by_path(order_path)
    assert order.status == OrderStatus.CANCELLED and order.status_note == "expired_unpaid"


def test_a_slow_alipay_leaves_the_order_pending_for_later(app, client, simulator, runner):
    order_path, _trade = paid_but_not_returned(client, simulator)
    simulator.state.add_scenario(_delay())
    app.extensions["mobile_pay_gateways"].clear()
    app.config["ALIPAY_TIMEOUT_SECONDS"] = 0.3
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 1
    assert order_by_path(order_path).status == OrderStatus.PENDING
    app.extensions["mobile_pay_gateways"].clear()
    app.config["ALIPAY_TIMEOUT_SECONDS"] = 5.0
    assert runner.invoke(args=["orders", "reconcile"]).exit_code == 0
    assert order_by_path(order_path).status == OrderStatus.FULFILLED


def _delay():
    return Scenario("query", "delay", seconds=1.0)


def test_a_declined_payment_leaves_the_order_waiting_for_another_try(app, client, simulator):
    order_path = cny_order(client)
    response = press_pay(client, order_path)
    declined = alipay_decides(simulator, response.headers["Location"], "decline")
    assert "/simulator/cashier/" in declined  # the cashier again, to try another way
    assert order_by_path(order_path).status == OrderStatus.PENDING
    back = path_of(alipay_decides(simulator, response.headers["Location"], "pay"))
    client.get(back)
    assert order_by_path(order_path).status == OrderStatus.FULFILLED


def test_an_order_that_asks_for_a_code_reaches_alipay_only_after_it(app, client, simulator):
    app.config["PAYMENT_CODE_ENABLED"] = True  # a guest's first order asks for one
    order_path = cny_order(client)
    response = press_pay(client, order_path, DESKTOP)
    assert response.status_code == 303
    assert path_of(response.headers["Location"]).split("?")[0].endswith("/code")
    order = order_by_path(order_path)
    assert order.payments == []  # no trade at Alipay yet
    message = db.session.execute(
        db.select(OutboxMessage).filter_by(kind="payment_code")
    ).scalar_one()
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    typed = client.post(with_action(order_path, "code"), data={"code": code})
    assert typed.status_code == 303
    assert path_of(typed.headers["Location"]).split("?")[0] == urlsplit(order_path).path
    response = press_pay(client, order_path, DESKTOP)
    assert response.headers["Location"].startswith(simulator.url + "/gateway.do?")
