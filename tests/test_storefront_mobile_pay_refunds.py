"""Partial refunds of Alipay and WeChat Pay orders, from the admin's order page and the providers.

The admin refunds through the same form and flow as PayPal's, the real SDKs calling the
simulators' refund APIs (``alipay.trade.refund`` with ``out_request_no``, WeChat's v3 refund
with ``out_refund_no``). Refunds made at the provider's merchant console arrive as signed
notifications; they count once however often they are delivered.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shop.extensions import db
from shop.storefront.models import OrderStatus, PaymentRecordState, RefundStatus
from shop.vouchers.models import Voucher, VoucherStatus
from simulators.alipay import AlipaySimulator
from simulators.scenarios import Scenario
from simulators.wechatpay import WeChatPaySimulator
from tests.factories import make_product
from tests.mobile_pay_helpers import (
    DESKTOP,
    alipay_decides,
    alipay_notification,
    place_mobile_pay_order,
    post_alipay_notification,
    post_wechat_notification,
    press_pay,
    wechat_notification,
    wechat_pays,
)
from tests.refund_helpers import (
    KEY,
    refund,
    refunds_of,
    send_refund_forms_at_once,
    voucher_statuses,
)
from tests.storefront_helpers import add_to_cart, order_by_path, path_of, with_action

PROVIDERS = ["alipay", "wechatpay"]


@pytest.fixture(scope="module")
def simulators():
    with AlipaySimulator() as alipay, WeChatPaySimulator() as wechatpay:
        yield {"alipay": alipay, "wechatpay": wechatpay}


@pytest.fixture
def app_config(simulators):
    return {
        **simulators["alipay"].shop_config(),
        **simulators["wechatpay"].shop_config(),
        "ALIPAY_TIMEOUT_SECONDS": 5.0,
        "WECHATPAY_TIMEOUT_SECONDS": 5.0,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


@pytest.fixture(autouse=True)
def quiet_simulators(simulators):
    """Send no payment notification (the test client's host is not reachable)."""
    for simulator in simulators.values():
        simulator.state.clear_scenarios()
        simulator.state.add_scenario(Scenario("pay", "silent", count=1000))
    yield
    for simulator in simulators.values():
        simulator.state.clear_scenarios()


def three_pin_order(client, simulators, provider):
    """Buy three 10.00 CNY PINs with ``provider``; return the fulfilled order and its trade."""
    pack = make_product(price=1000, currency="CNY")
    add_to_cart(client, pack.sku, 3)
    order_path = place_mobile_pay_order(client, provider)
    response = press_pay(client, order_path, DESKTOP)
    assert response.status_code == 303, response.get_data(as_text=True)
    trade = order_by_path(order_path).payments[0].provider_payment_id
    if provider == "alipay":
        client.get(path_of(alipay_decides(simulators["alipay"], response.headers["Location"])))
    else:
        wechat_pays(simulators["wechatpay"], trade)
        client.get(with_action(order_path, "payment-status"))
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    return order, trade


def provider_refunds(simulators, provider, trade) -> dict[str, int]:
    """Return the refunds the provider holds for a trade: refund number -> fen."""
    if provider == "alipay":
        refunds = simulators["alipay"].state.trades[trade].refunds
        return {number: round(float(amount) * 100) for number, amount in refunds.items()}
    refunds = simulators["wechatpay"].state.orders[trade].refunds
    return {number: record["amount"]["refund"] for number, record in refunds.items()}


def console_refund(simulators, provider, trade, fen: int) -> str:
    """Refund at the provider's merchant console; return the refund's request number."""
    simulator = simulators[provider]
    path = "trades" if provider == "alipay" else "orders"
    amount = f"{fen / 100:.2f}" if provider == "alipay" else fen
    answer = requests.post(
        f"{simulator.url}/simulator/{path}/{trade}/refund", json={"amount": amount}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    return data["out_request_no"] if provider == "alipay" else data["out_refund_no"]


def refund_notification(simulators, provider, trade, number: str):
    """Return a freshly signed notification of one refund (as the provider would send it)."""
    if provider == "alipay":
        return alipay_notification(simulators["alipay"], trade, out_biz_no=number)
    return wechat_notification(simulators["wechatpay"], trade, out_refund_no=number)


def deliver(client, provider, notification):
    if provider == "alipay":
        response = post_alipay_notification(client, notification)
        assert response.get_data(as_text=True) == "success", response.get_data(as_text=True)
    else:
        response = post_wechat_notification(client, *notification)
        assert response.status_code == 204, response.get_data(as_text=True)


def voided(order) -> int:
    return list(voucher_statuses(order).values()).count(VoucherStatus.VOID)


def status_of(order) -> OrderStatus:
    return order_by_path(f"/orders/{order.reference}").status


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_partial_refund_of_one_of_three_pins_voids_one_and_leaves_two_usable(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    page = client.get(f"/admin/orders/{order.reference}").get_data(as_text=True)
    assert ("Refund at Alipay" if provider == "alipay" else "Refund at WeChat Pay") in page
    response = refund(client, order, "10.00")
    assert response.status_code == 303, response.get_data(as_text=True)
    statuses = voucher_statuses(order)
    assert sorted(statuses.values()) == [VoucherStatus.ACTIVE] * 2 + [VoucherStatus.VOID]
    assert statuses[max(statuses)] == VoucherStatus.VOID  # the last issued goes first
    assert status_of(order) == OrderStatus.PARTIALLY_REFUNDED
    [recorded] = refunds_of(order)
    assert (recorded.amount, recorded.status, recorded.voided) == (1000, RefundStatus.COMPLETED, 1)
    assert (recorded.provider, recorded.source) == (provider, "admin")
    assert provider_refunds(simulators, provider, trade) == {f"{order.reference}-{KEY}": 1000}
    page = client.get(f"/admin/orders/{order.reference}").get_data(as_text=True)
    assert "Partly refunded" in page and "20.00" in page  # what can still be refunded


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_admin_picks_which_pin_and_the_rest_refunded_makes_the_order_refunded(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    first = min(voucher_statuses(order))
    chosen = db.session.execute(db.select(Voucher.id).filter_by(serial=first)).scalar_one()
    assert refund(client, order, "10.00", [chosen]).status_code == 303
    statuses = voucher_statuses(order)
    assert statuses[first] == VoucherStatus.VOID and voided(order) == 1
    assert refund(client, order, "20.00", key="fedcba9876543210").status_code == 303
    assert voided(order) == 3
    order = order_by_path(f"/orders/{order.reference}")
    assert order.status == OrderStatus.REFUNDED
    assert order.payments[0].state == PaymentRecordState.REFUNDED
    assert sum(provider_refunds(simulators, provider, trade).values()) == 3000


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_over_the_paid_amount_is_refused_and_not_sent_to_the_provider(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    assert refund(client, order, "10.00").status_code == 303
    simulator = simulators[provider]
    # Had the shop asked, this would answer the refund call with an error and be used up.
    simulator.state.add_scenario(Scenario("refund", "error", count=1))
    response = refund(client, order, "20.01", key="fedcba9876543210")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "more than what was paid less what was refunded already" in text and "20.00" in text
    assert [s.operation for s in simulator.state.scenarios].count("refund") == 1  # never asked
    assert provider_refunds(simulators, provider, trade) == {f"{order.reference}-{KEY}": 1000}
    assert [r.amount for r in refunds_of(order)] == [1000]
    assert voided(order) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_same_refund_form_sent_twice_refunds_once(app, client, login, simulators, provider):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    assert refund(client, order, "10.00").status_code == 303
    assert refund(client, order, "10.00").status_code == 303  # a double click
    assert [r.amount for r in refunds_of(order)] == [1000]
    assert provider_refunds(simulators, provider, trade) == {f"{order.reference}-{KEY}": 1000}
    assert voided(order) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_at_the_providers_console_counts_once_however_often_it_is_notified(
    app, client, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    number = console_refund(simulators, provider, trade, 1000)
    notification = refund_notification(simulators, provider, trade, number)
    for _ in range(3):  # the same notification delivered again
        deliver(client, provider, notification)
    deliver(client, provider, refund_notification(simulators, provider, trade, number))  # new id
    [recorded] = refunds_of(order)
    assert (recorded.amount, recorded.source, recorded.voided) == (1000, "provider", 1)
    assert voided(order) == 1
    assert status_of(order) == OrderStatus.PARTIALLY_REFUNDED
    # The rest refunded at the console too: the order is refunded, every PIN voided, once.
    rest = console_refund(simulators, provider, trade, 2000)
    for _ in range(2):
        deliver(client, provider, refund_notification(simulators, provider, trade, rest))
    assert [r.amount for r in refunds_of(order)] == [1000, 2000]
    assert voided(order) == 3
    assert status_of(order) == OrderStatus.REFUNDED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_notification_of_an_admin_refund_keeps_the_admins_choice_and_counts_once(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    first = min(voucher_statuses(order))
    chosen = db.session.execute(db.select(Voucher.id).filter_by(serial=first)).scalar_one()
    assert refund(client, order, "10.00", [chosen]).status_code == 303
    notification = refund_notification(simulators, provider, trade, f"{order.reference}-{KEY}")
    deliver(client, provider, notification)
    deliver(client, provider, notification)
    statuses = voucher_statuses(order)
    assert statuses[first] == VoucherStatus.VOID and voided(order) == 1
    assert [(r.amount, r.source) for r in refunds_of(order)] == [(1000, "admin")]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_the_provider_refuses_records_nothing_and_says_so(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    console_refund(simulators, provider, trade, 3000)  # refunded at the console, not notified
    login("admin")
    response = refund(client, order, "10.00")
    assert response.status_code == 422
    name = "Alipay" if provider == "alipay" else "WeChat Pay"
    assert f"{name} refused this refund" in response.get_data(as_text=True)
    assert [r.status for r in refunds_of(order)] == [RefundStatus.FAILED]
    assert voided(order) == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_that_does_not_answer_loses_nothing_and_the_same_form_finishes_it(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    login("admin")
    simulators[provider].state.add_scenario(Scenario("refund", "error", count=1))
    response = refund(client, order, "10.00")
    assert response.status_code == 503
    assert [r.status for r in refunds_of(order)] == [RefundStatus.REQUESTED]
    assert refund(client, order, "10.00").status_code == 303  # the same form again
    assert [(r.amount, r.status) for r in refunds_of(order)] == [(1000, RefundStatus.COMPLETED)]
    assert provider_refunds(simulators, provider, trade) == {f"{order.reference}-{KEY}": 1000}
    assert voided(order) == 1


def test_a_wechat_refund_that_went_wrong_is_acknowledged_and_changes_nothing(
    app, client, simulators
):
    order, trade = three_pin_order(client, simulators, "wechatpay")
    number = console_refund(simulators, "wechatpay", trade, 1000)
    headers, body = wechat_notification(
        simulators["wechatpay"], trade, out_refund_no=number, event_type="REFUND.ABNORMAL"
    )
    assert post_wechat_notification(client, headers, body).status_code == 204
    assert refunds_of(order) == []
    assert voided(order) == 0
    assert status_of(order) == OrderStatus.FULFILLED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_one_refund_sent_and_reported_at_once_is_recorded_once(
    app, client, login, simulators, provider
):
    order, trade = three_pin_order(client, simulators, provider)
    admin = login("admin")
    reference = order.reference
    assert send_refund_forms_at_once(app, admin, reference, "10.00") == [303] * 3
    number = f"{reference}-{KEY}"
    notifications = [refund_notification(simulators, provider, trade, number) for _ in range(3)]
    barrier = threading.Barrier(len(notifications))

    def notify(notification):
        barrier.wait()
        deliver(app.test_client(), provider, notification)

    with ThreadPoolExecutor(max_workers=len(notifications)) as pool:
        list(pool.map(notify, notifications))
    assert [r.amount for r in refunds_of(order)] == [1000]
    assert provider_refunds(simulators, provider, trade) == {number: 1000}
    assert voided(order) == 1
    assert status_of(order) == OrderStatus.PARTIALLY_REFUNDED


def test_alipay_refund_notifications_out_of_order_record_each_refunds_own_amount(
    app, client, simulators
):
    order, trade = three_pin_order(client, simulators, "alipay")
    first = console_refund(simulators, "alipay", trade, 1000)
    second = console_refund(simulators, "alipay", trade, 500)
    deliver(client, "alipay", refund_notification(simulators, "alipay", trade, second))
    deliver(client, "alipay", refund_notification(simulators, "alipay", trade, first))
    assert sorted(r.amount for r in refunds_of(order)) == [500, 1000]
    assert voided(order) == 1  # 5.00 covers no PIN, 10.00 covers one
    assert status_of(order) == OrderStatus.PARTIALLY_REFUNDED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_simulators_control_page_refunds_as_the_merchant_console_would(
    app, client, simulators, provider
):
    _order, trade = three_pin_order(client, simulators, provider)
    simulator = simulators[provider]
    page = requests.get(f"{simulator.url}/simulator/", timeout=5)
    assert "Refund as at the console" in page.text
    path = "trades" if provider == "alipay" else "orders"
    amount = "10.00" if provider == "alipay" else "1000"
    answer = requests.post(
        f"{simulator.url}/simulator/{path}/{trade}/refund",
        data={"amount": amount},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    assert list(provider_refunds(simulators, provider, trade).values()) == [1000]


def test_the_refund_form_and_its_refusal_speak_chinese(app, client, login, simulators):
    order, trade = three_pin_order(client, simulators, "alipay")
    console_refund(simulators, "alipay", trade, 3000)  # refunded at the console, not notified
    login("admin")
    assert client.get("/lang/zh_Hans_CN").status_code == 302
    page = client.get(f"/admin/orders/{order.reference}").get_data(as_text=True)
    assert "通过 支付宝 退款" in page
    response = refund(client, order, "10.00")
    assert response.status_code == 422
    assert "支付宝 拒绝了此退款" in response.get_data(as_text=True)
