"""Topping up the wallet through checkout, paid with PayPal, Alipay or WeChat Pay.

A top-up is an order with one wallet top-up line: it is paid against the real SDKs and their
simulators like any order, and its fulfilment credits the wallet exactly once (reference
``order:<reference>``), however many returns, notifications and reconciles race for it.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.reports import storefront as storefront_report
from shop.reports.periods import Period
from shop.storefront.models import Delivery, LineKind, OrderStatus, Promotion, PromotionKind
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher
from shop.wallet.models import WalletEntryKind
from simulators.alipay import AlipaySimulator
from simulators.alipay.signing import signed_params
from simulators.paypal import PayPalSimulator
from simulators.scenarios import Scenario
from simulators.wechatpay import WeChatPaySimulator
from tests.customer_wallet_helpers import (
    ask_topup,
    balance,
    entries,
    ledger_holds,
    place_topup,
)
from tests.mobile_pay_helpers import (
    DESKTOP,
    alipay_decides,
    alipay_notification,
    post_alipay_notification,
    press_pay,
    trade_of,
    wechat_pays,
)
from tests.storefront_helpers import approve, order_by_path, path_of, start_payment


@pytest.fixture(scope="module")
def paypal():
    with PayPalSimulator() as server:
        server.webhook_url = None
        yield server


@pytest.fixture(scope="module")
def alipay():
    with AlipaySimulator() as server:
        yield server


@pytest.fixture(scope="module")
def wechat():
    with WeChatPaySimulator() as server:
        yield server


@pytest.fixture
def app_config(paypal, alipay, wechat):
    return {
        **paypal.shop_config(),
        **alipay.shop_config(),
        **wechat.shop_config(),
        "PAYPAL_TIMEOUT_SECONDS": 5.0,
        "ALIPAY_TIMEOUT_SECONDS": 5.0,
        "WECHATPAY_TIMEOUT_SECONDS": 5.0,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


@pytest.fixture(autouse=True)
def quiet_simulators(alipay, wechat):
    """No notification is sent unless a test asks (the test client is not reachable)."""
    for simulator in (alipay, wechat):
        simulator.state.clear_scenarios()
        simulator.state.add_scenario(Scenario("pay", "silent", count=1000))
    yield
    for simulator in (alipay, wechat):
        simulator.state.clear_scenarios()


@pytest.fixture
def customer(login):
    return login("customer")


def fulfilments(reference: str) -> int:
    db.session.rollback()
    return db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(
            action="order.fulfilled", object_id=reference
        )
    ).scalar_one()


def test_a_paypal_top_up_credits_the_wallet_once_and_mails_the_receipt(app, client, customer):
    order_path = place_topup(client, "25.00")
    order = order_by_path(order_path)
    assert order.delivery == Delivery.WALLET and order.total == 2500 and order.currency == "USD"
    assert [line.kind for line in order.lines] == [LineKind.WALLET_TOPUP]
    assert order.lines[0].product_id is None
    page = client.get(order_path).get_data(as_text=True)
    assert "added to your wallet" in page and "Wallet top-up" in page
    back = approve(start_payment(client, order_path))
    assert client.get(path_of(back)).status_code == 303
    client.get(path_of(back))  # the return reloaded: nothing more
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert balance(customer) == 2500
    topups = entries(customer, kind=WalletEntryKind.TOPUP)
    assert [(e.amount, e.reference) for e in topups] == [(2500, f"order:{order.reference}")]
    assert ledger_holds(customer)
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 0
    mail = db.session.execute(
        db.select(OutboxMessage).filter_by(recipient=customer.email, kind="order.delivery")
    ).scalar_one()
    assert "topped up with $25.00" in mail.body and "$25.00" in mail.body
    page = client.get(order_path).get_data(as_text=True)
    assert "Your wallet is topped up" in page


def test_an_alipay_top_up_in_yuan_credits_the_cny_wallet(app, client, customer, alipay):
    order_path = place_topup(client, "100.00", "CNY", "alipay")
    response = press_pay(client, order_path, DESKTOP)
    assert response.status_code == 303, response.get_data(as_text=True)
    back = path_of(alipay_decides(alipay, response.headers["Location"]))
    assert client.get(back).status_code == 303
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    assert balance(customer, "CNY") == 10000
    assert balance(customer, "USD") == 0
    assert ledger_holds(customer, "CNY")


def test_a_wechat_pay_top_up_credits_the_wallet_when_the_qr_code_is_paid(
    app, client, customer, wechat
):
    order_path = place_topup(client, "50.00", "CNY", "wechatpay")
    response = press_pay(client, order_path, DESKTOP)
    assert response.status_code == 303, response.get_data(as_text=True)
    trade = order_by_path(order_path).payments[0].provider_payment_id
    wechat_pays(wechat, trade)
    status_url = urlsplit(order_path)
    answer = client.get(f"{status_url.path}/payment-status?{status_url.query}").get_json()
    assert answer["status"] == "fulfilled"
    assert balance(customer, "CNY") == 5000
    assert len(entries(customer, "CNY", WalletEntryKind.TOPUP)) == 1


def test_notifications_returns_and_reconcile_racing_credit_a_top_up_once(
    app, client, customer, alipay, runner
):
    order_path = place_topup(client, "24.60", "CNY", "alipay")
    response = press_pay(client, order_path, DESKTOP)
    alipay_decides(alipay, response.headers["Location"])  # paid; the shop has not heard yet
    order = order_by_path(order_path)
    trade = trade_of(response.headers["Location"])
    signed_return = signed_params(
        alipay.app.config["PLATFORM_IDENTITY"].private_key,
        {
            "out_trade_no": trade,
            "app_id": alipay.app.config["APP_ID"],
            "total_amount": "24.60",
            "trade_no": alipay.state.trades[trade].trade_no,
        },
    )
    key = parse_qs(urlsplit(order_path).query)["key"][0]
    return_url = f"/orders/{order.reference}/alipay/return?{urlencode(signed_return)}&key={key}"
    bodies = [alipay_notification(alipay, trade) for _ in range(3)]
    # The customer's session must sign the return in: another client of the same buyer.
    with ThreadPoolExecutor(6) as pool:
        futures = [
            pool.submit(lambda b: post_alipay_notification(app.test_client(), b).status_code, b)
            for b in bodies
        ]
        futures += [pool.submit(lambda: app.test_client().get(return_url).status_code)]
        futures += [pool.submit(lambda: runner.invoke(args=["orders", "reconcile"]).exit_code)]
        answers = [future.result() for future in futures]
    assert answers[:3] == [200] * 3
    assert fulfilments(order.reference) == 1
    assert balance(customer, "CNY") == 2460
    assert len(entries(customer, "CNY", WalletEntryKind.TOPUP)) == 1
    assert ledger_holds(customer, "CNY")


def test_promotions_never_apply_to_a_top_up(app, client, customer):
    db.session.add(Promotion(code="SAVE2", kind=PromotionKind.AMOUNT, amount_off=200))
    db.session.commit()
    response = client.post(
        "/account/wallet/top-up",
        data={
            "currency": "USD",
            "amount": "20.00",
            "payment_method": "paypal",
            "promotion_code": "SAVE2",
        },
    )
    order = order_by_path(path_of(response.headers["Location"]))
    assert order.discount == 0 and order.total == 2000 and order.promotion_id is None


def test_guests_must_sign_in_to_top_up(app, client):
    response = client.get("/account/wallet/top-up")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = ask_topup(client, "20.00")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    placed = db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(action="order.placed")
    ).scalar_one()
    assert placed == 0


@pytest.mark.parametrize(
    ("amount", "currency", "method", "message"),
    [
        ("1.00", "USD", "paypal", "The smallest top-up is $5.00."),
        ("900.00", "USD", "paypal", "The largest top-up is $500.00."),
        ("abc", "USD", "paypal", "Type an amount such as 20.00."),
        ("-20.00", "USD", "paypal", "Type an amount such as 20.00."),
        ("20.001", "USD", "paypal", "Type an amount such as 20.00."),
        ("20.00", "USD", "alipay", "Alipay and WeChat Pay take yuan (CNY) only"),
        ("20.00", "XXX", "paypal", "Not a valid choice"),
        ("20.00", "USD", "wallet", "Not a valid choice"),
    ],
)
def test_a_bad_top_up_is_refused_with_a_message_and_places_nothing(
    app, client, customer, amount, currency, method, message
):
    response = ask_topup(client, amount, currency, method)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    placed = db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(action="order.placed")
    ).scalar_one()
    assert placed == 0


def test_the_form_is_filled_in_from_the_query(app, client, customer):
    page = client.get("/account/wallet/top-up?currency=EUR&amount=1234").get_data(as_text=True)
    assert 'value="12.34"' in page
    assert '<option selected value="EUR">' in page
    for query in (
        "currency=ZZZ&amount=-5",
        "amount=x",
        "amount=99999999999999999999",
        "amount=%C2%B2",  # "²": a digit to str.isdigit(), not to int()
        "amount=%D9%A3",  # an Arabic-Indic three
    ):
        assert client.get(f"/account/wallet/top-up?{query}").status_code == 200


def test_a_top_up_order_cannot_be_paid_from_the_wallet(app, client, customer):
    order_path = place_topup(client, "20.00")
    parts = urlsplit(order_path)
    response = client.post(f"{parts.path}/pay/from-wallet?{parts.query}")
    assert response.status_code == 303
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert "A wallet top-up cannot be paid from the wallet." in page
    assert order_by_path(order_path).status == OrderStatus.PENDING


def test_a_top_up_is_no_pack_sale_in_the_storefront_report(app, client, customer):
    order_path = place_topup(client, "30.00")
    back = approve(start_payment(client, order_path))
    client.get(path_of(back))
    today = utcnow().date()
    report = storefront_report.storefront_sales(
        Period(today - timedelta(days=1), today + timedelta(days=1), ZoneInfo("UTC"))
    )
    assert report.packs == []
    assert report.totals == {}
    assert [(t.currency, t.orders, t.amount) for t in report.wallet_topups] == [("USD", 1, 3000)]


def test_the_admin_sees_a_top_up_and_its_money_among_the_orders(app, client, customer, login):
    order_path = place_topup(client, "30.00")
    client.get(path_of(approve(start_payment(client, order_path))))
    history = client.get("/account/orders").get_data(as_text=True)
    assert "Wallet top-up" in history and "$30.00" in history
    client.post("/logout")
    login("admin")
    listing = client.get("/admin/orders").get_data(as_text=True)
    assert "Wallet top-up" in listing and "$30.00" in listing
    reference = order_by_path(order_path).reference
    detail = client.get(f"/admin/orders/{reference}").get_data(as_text=True)
    assert 'id="wallet-topup"' in detail
