"""A guest pays with PayPal, Alipay or WeChat Pay, in English and in Chinese, and gets the PINs.

Alipay: the order page's pay button leads to the simulator's cashier, which sends the buyer
back. WeChat Pay: the QR code is on the shop's page, the "phone" scans and pays at the
simulator, and the page moves on to the order by itself.
"""

import re

import pytest
import requests

from shop.storefront.models import Order, OrderStatus, PaymentMethod

PIN_PATTERN = re.compile(r"\d{4} \d{4} \d{4} \d{4}")
CNY_PACK = "CN-5GB-7D-CNY"
#: What the order page calls each method, per language.
METHOD_NAMES = {
    ("paypal", "en-GB"): "PayPal",
    ("paypal", "zh-CN"): "PayPal",
    ("alipay", "en-GB"): "Alipay",
    ("alipay", "zh-CN"): "支付宝",
    ("wechatpay", "en-GB"): "WeChat Pay",
    ("wechatpay", "zh-CN"): "微信支付",
}
COMPLETED = {"en-GB": "Completed", "zh-CN": "已完成"}


def check_out(page, method: str, email: str, pack: str = CNY_PACK) -> None:
    """Put a pack in the cart and check out paying with ``method`` (any language)."""
    page.goto(f"/packs/{pack}")
    page.locator("form[action$='/cart/add'] button[type=submit]").click()
    page.goto("/checkout")
    page.locator("input[name=delivery][value=vouchers]").check()
    page.locator(f"input[name=payment_method][value={method}]").check()
    page.locator("#email").fill(email)
    page.locator("form.form-wide button[type=submit]").click()
    page.wait_for_url(re.compile(r"/orders/WD-"))


def order_of(shop, email: str) -> Order:
    with shop.database() as session:
        order = session.execute(session.query(Order).filter_by(email=email).statement).scalar_one()
        session.expunge(order)
        return order


def shows_the_pin_of_the_fulfilled_order(page, shop, email: str, locale: str) -> Order:
    """Check the order page says the order is complete with its one PIN; return the order."""
    main = page.locator("main").inner_text()
    assert COMPLETED[locale] in main
    assert len(PIN_PATTERN.findall(main)) == 1
    order = order_of(shop, email)
    assert order.status == OrderStatus.FULFILLED
    return order


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_guest_pays_with_paypal_and_sees_the_pins(new_context, shop, locale):
    page = new_context(locale=locale).new_page()
    email = f"paypal-{locale.lower()}@example.com"
    check_out(page, "paypal", email, pack="ASIA-1GB-7D")
    assert page.locator("#payment-method").inner_text() == METHOD_NAMES[("paypal", locale)]
    page.locator("form[action*='/pay'] button[type=submit]").first.click()
    page.get_by_role("button", name="Pay now").click()  # the PayPal simulator's approval page
    page.wait_for_url(re.compile(r"/orders/WD-"))
    order = shows_the_pin_of_the_fulfilled_order(page, shop, email, locale)
    assert order.payment_method == PaymentMethod.PAYPAL


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_guest_pays_with_alipay_and_sees_the_pins(new_context, shop, locale):
    page = new_context(locale=locale).new_page()
    email = f"alipay-{locale.lower()}@example.com"
    check_out(page, "alipay", email)
    assert page.locator("#payment-method").inner_text() == METHOD_NAMES[("alipay", locale)]
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(re.escape(shop.alipay.url) + "/gateway.do"))
    assert "¥99.00" in page.locator("main").inner_text()
    page.get_by_role("button", name="Pay now").click()  # the simulator's cashier
    page.wait_for_url(re.compile(r"/orders/WD-"))
    order = shows_the_pin_of_the_fulfilled_order(page, shop, email, locale)
    assert order.payment_method == PaymentMethod.ALIPAY


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_guest_scans_the_wechat_qr_code_and_the_page_moves_on(new_context, shop, locale):
    page = new_context(locale=locale).new_page()
    email = f"wechat-{locale.lower()}@example.com"
    check_out(page, "wechatpay", email)
    assert page.locator("#payment-method").inner_text() == METHOD_NAMES[("wechatpay", locale)]
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(r"/orders/WD-[^/]+/wechatpay"))
    assert page.locator("img.qr-code").is_visible()
    trade = order_of(shop, email).reference + "-N"
    answer = requests.post(  # the buyer's phone scans the code and pays
        f"{shop.wechatpay.url}/simulator/orders/{trade}/decide", json={"choice": "pay"}, timeout=5
    )
    assert answer.status_code == 200
    page.wait_for_url(re.compile(r"/orders/WD-[A-Z0-9]+\?"), timeout=15_000)
    shows_the_pin_of_the_fulfilled_order(page, shop, email, locale)


def fulfilments(shop, reference: str) -> int:
    from shop.audit.models import AuditEvent

    with shop.database() as session:
        return (
            session.query(AuditEvent)
            .filter_by(action="order.fulfilled", object_id=reference)
            .count()
        )


@pytest.mark.parametrize("outcome", ["duplicate", "early"])
def test_alipay_notifying_three_times_or_before_the_return_fulfils_once(new_context, shop, outcome):
    switch = requests.post(
        f"{shop.alipay.url}/simulator/scenarios",
        json={"operation": "pay", "outcome": outcome},
        timeout=5,
    )
    assert switch.status_code == 201
    page = new_context().new_page()
    email = f"alipay-{outcome}@example.com"
    check_out(page, "alipay", email)
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(re.compile(r"/orders/WD-"))
    assert len(PIN_PATTERN.findall(page.locator("main").inner_text())) == 1
    reference = order_of(shop, email).reference
    deliveries = shop.alipay.state.trades[f"{reference}-P"].deliveries
    assert deliveries == ["200"] * (3 if outcome == "duplicate" else 1)
    assert fulfilments(shop, reference) == 1


def test_wechat_notifying_three_times_at_once_fulfils_once(new_context, shop):
    requests.post(
        f"{shop.wechatpay.url}/simulator/scenarios",
        json={"operation": "pay", "outcome": "duplicate"},
        timeout=5,
    )
    page = new_context().new_page()
    email = "wechat-duplicate@example.com"
    check_out(page, "wechatpay", email)
    page.locator("#pay-button").click()
    page.wait_for_url(re.compile(r"/orders/WD-[^/]+/wechatpay"))
    reference = order_of(shop, email).reference
    requests.post(
        f"{shop.wechatpay.url}/simulator/orders/{reference}-N/decide",
        json={"choice": "pay"},
        timeout=5,
    )
    page.wait_for_url(re.compile(r"/orders/WD-[A-Z0-9]+\?"), timeout=15_000)
    assert fulfilments(shop, reference) == 1
