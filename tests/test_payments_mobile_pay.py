"""The Alipay and WeChat Pay gateways on their own: the real SDKs against the simulators.

Amounts are exact (yuan with two decimals for Alipay, fen for WeChat), refunds work in part and
in full and repeat safely, a trade nobody paid closes, a slow provider is "unavailable", and the
settings refuse what cannot work.
"""

import pytest
import requests

from shop.payments.alipay import AlipayGateway
from shop.payments.gateway import (
    GatewayUnavailable,
    LineItem,
    PaymentRejected,
    PaymentRequest,
    PaymentState,
    RefundRequest,
)
from shop.payments.mobile_pay import MobilePayChannel, yuan
from shop.payments.mobile_pay_settings import alipay_settings, wechatpay_settings
from shop.payments.settings import PaymentConfigError
from shop.payments.wechatpay import WeChatPayGateway
from simulators.alipay import AlipaySimulator
from simulators.scenarios import Scenario
from simulators.wechatpay import WeChatPaySimulator

#: Where notifications would go (nothing listens: these tests ask the providers directly).
NOTIFY = "http://127.0.0.1:9/payments/notify"


@pytest.fixture(scope="module")
def alipay_simulator():
    with AlipaySimulator() as server:
        server.state.add_scenario(Scenario("pay", "silent", count=1000))
        yield server


@pytest.fixture(scope="module")
def wechat_simulator():
    with WeChatPaySimulator() as server:
        server.state.add_scenario(Scenario("pay", "silent", count=1000))
        yield server


def request_for(reference: str, total: int = 1230, currency: str = "CNY") -> PaymentRequest:
    return PaymentRequest(
        reference=reference,
        currency=currency,
        total=total,
        items=(LineItem("CN-5GB", "China 5 GB", 1, total),),
        discount=0,
        description=f"Wanderdata order {reference}",
        return_url="http://127.0.0.1:5000/return",
        cancel_url="http://127.0.0.1:5000/cancel",
    )


def alipay_gateway(simulator, timeout=2.0) -> AlipayGateway:
    return AlipayGateway(
        alipay_settings({**simulator.shop_config(), "ALIPAY_TIMEOUT_SECONDS": timeout})
    )


def wechat_gateway(simulator, timeout=2.0) -> WeChatPayGateway:
    config = {**simulator.shop_config(), "WECHATPAY_TIMEOUT_SECONDS": timeout}
    return WeChatPayGateway(wechatpay_settings(config))


@pytest.mark.parametrize(
    ("fen", "text"), [(1, "0.01"), (10, "0.10"), (1230, "12.30"), (100000000, "1000000.00")]
)
def test_yuan_are_written_exactly_from_fen(fen, text):
    assert yuan(fen, "CNY") == text


@pytest.mark.parametrize(("amount", "currency"), [(1230, "USD"), (0, "CNY"), (-5, "CNY")])
def test_other_currencies_and_non_positive_amounts_are_refused(amount, currency):
    with pytest.raises(PaymentRejected):
        yuan(amount, currency)


def alipay_paid(simulator, gateway, reference):
    started = gateway.start(request_for(reference), MobilePayChannel.ALIPAY_PAGE, "")
    assert requests.get(started.redirect_url, timeout=5).status_code == 200
    answer = requests.post(
        f"{simulator.url}/simulator/trades/{started.provider_payment_id}/decide",
        json={"choice": "pay"},
        timeout=5,
    )
    assert answer.status_code == 200
    return started.provider_payment_id


def refund_of(trade: str, amount: int, key: str) -> RefundRequest:
    return RefundRequest(trade, "", amount, "CNY", trade.rsplit("-", 1)[0], key)


def test_alipay_refunds_in_part_then_the_rest_and_a_repeat_is_the_same_refund(alipay_simulator):
    gateway = alipay_gateway(alipay_simulator)
    trade = alipay_paid(alipay_simulator, gateway, "WD-REFUND1")
    first = gateway.refund_payment(refund_of(trade, 230, "0000000000000001"))
    assert (first.refund_id, first.amount) == ("WD-REFUND1-0000000000000001", 230)
    again = gateway.refund_payment(refund_of(trade, 230, "0000000000000001"))  # retried
    assert again == first
    assert alipay_simulator.state.trades[trade].refund_fee == "2.30"
    gateway.refund_payment(refund_of(trade, 1000, "0000000000000002"))
    assert alipay_simulator.state.trades[trade].refund_fee == "12.30"
    with pytest.raises(PaymentRejected):
        gateway.refund_payment(refund_of(trade, 1, "0000000000000003"))


def test_alipay_closes_an_unpaid_trade_but_not_a_paid_one(alipay_simulator):
    gateway = alipay_gateway(alipay_simulator)
    started = gateway.start(request_for("WD-CLOSE1"), MobilePayChannel.ALIPAY_WAP, "")
    requests.get(started.redirect_url, timeout=5)
    assert gateway.close(started.provider_payment_id) is True
    assert gateway.get_payment(started.provider_payment_id).state == PaymentState.CANCELLED
    assert gateway.close("WD-NEVER-OPENED-P") is True  # nothing to pay there either
    trade = alipay_paid(alipay_simulator, gateway, "WD-CLOSE2")
    assert gateway.close(trade) is False


def test_a_slow_alipay_is_unavailable(alipay_simulator):
    gateway = alipay_gateway(alipay_simulator, timeout=0.3)
    alipay_simulator.state.add_scenario(Scenario("query", "delay", seconds=1.0))
    with pytest.raises(GatewayUnavailable):
        gateway.get_payment("WD-SLOW-P")


def test_an_alipay_answer_signed_by_someone_else_is_not_believed(alipay_simulator):
    from simulators import keys
    from simulators.alipay.signing import public_pem

    stranger = public_pem(keys.make_signing_identity("stranger.invalid").private_key)
    config = {**alipay_simulator.shop_config(), "ALIPAY_PUBLIC_KEY": stranger}
    gateway = AlipayGateway(alipay_settings(config))
    with pytest.raises(GatewayUnavailable):
        gateway.get_payment("WD-ANY-P")


def wechat_paid(simulator, gateway, reference):
    started = gateway.start(request_for(reference), MobilePayChannel.WECHAT_NATIVE, NOTIFY)
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{started.provider_payment_id}/decide",
        json={"choice": "pay"},
        timeout=5,
    )
    assert answer.status_code == 200
    return started.provider_payment_id


def test_wechat_refunds_in_part_and_a_repeat_is_the_same_refund(wechat_simulator):
    gateway = wechat_gateway(wechat_simulator)
    trade = wechat_paid(wechat_simulator, gateway, "WD-WXREF1")
    first = gateway.refund_payment(refund_of(trade, 230, "0000000000000001"))
    again = gateway.refund_payment(refund_of(trade, 230, "0000000000000001"))
    assert first.refund_id == again.refund_id and first.amount == 230
    assert list(wechat_simulator.state.orders[trade].refunds) == ["WD-WXREF1-0000000000000001"]
    gateway.refund_payment(refund_of(trade, 1000, "0000000000000002"))
    assert wechat_simulator.state.orders[trade].refunded == 1230
    with pytest.raises(PaymentRejected):
        gateway.refund_payment(refund_of(trade, 1, "0000000000000003"))


def test_wechat_closes_an_unpaid_order_but_not_a_paid_one(wechat_simulator):
    gateway = wechat_gateway(wechat_simulator)
    started = gateway.start(
        request_for("WD-WXCLOSE1"), MobilePayChannel.WECHAT_H5, NOTIFY, "1.2.3.4"
    )
    assert gateway.close(started.provider_payment_id) is True
    assert gateway.get_payment(started.provider_payment_id).state == PaymentState.CANCELLED
    trade = wechat_paid(wechat_simulator, gateway, "WD-WXCLOSE2")
    assert gateway.close(trade) is False


def test_wechat_amounts_go_in_fen(wechat_simulator):
    gateway = wechat_gateway(wechat_simulator)
    started = gateway.start(request_for("WD-WXFEN1", 1), MobilePayChannel.WECHAT_NATIVE, NOTIFY)
    assert wechat_simulator.state.orders[started.provider_payment_id].total == 1
    assert gateway.get_payment(started.provider_payment_id).amount == 1


def test_a_slow_wechat_is_unavailable(wechat_simulator):
    gateway = wechat_gateway(wechat_simulator, timeout=0.3)
    gateway.client()  # certificates fetched while the simulator is quick
    wechat_simulator.state.add_scenario(Scenario("query", "delay", seconds=1.0))
    with pytest.raises(GatewayUnavailable):
        gateway.get_payment("WD-WXSLOW-N")


def test_the_shop_in_simulator_mode_fetches_the_demo_credentials(
    alipay_simulator, wechat_simulator
):
    alipay = AlipayGateway(alipay_settings({"ALIPAY_SIMULATOR_URL": alipay_simulator.url}))
    assert alipay.get_payment("WD-NOTHING-P").state == PaymentState.CREATED
    wechat = WeChatPayGateway(wechatpay_settings({"WECHATPAY_SIMULATOR_URL": wechat_simulator.url}))
    assert wechat.get_payment("WD-NOTHING-N").state == PaymentState.CREATED


@pytest.mark.parametrize(
    "config",
    [
        {"ALIPAY_MODE": "live"},
        {"ALIPAY_MODE": "sandbox", "ALIPAY_APP_ID": "2021"},
        {"ALIPAY_MODE": "paper"},
        {"ALIPAY_SIMULATOR_URL": "127.0.0.1:5002"},
        {"ALIPAY_TIMEOUT_SECONDS": "soon"},
    ],
)
def test_alipay_settings_that_cannot_work_are_refused(config):
    with pytest.raises(PaymentConfigError):
        alipay_settings(config)


@pytest.mark.parametrize(
    "config",
    [
        {"WECHATPAY_MODE": "live"},
        {"WECHATPAY_APIV3_KEY": "too-short"},
        {"WECHATPAY_SIMULATOR_URL": "ftp://127.0.0.1"},
    ],
)
def test_wechat_settings_that_cannot_work_are_refused(config):
    with pytest.raises(PaymentConfigError):
        wechatpay_settings(config)


def test_live_modes_talk_to_the_real_hosts():
    alipay = alipay_settings(
        {
            "ALIPAY_MODE": "live",
            "ALIPAY_APP_ID": "2021",
            "ALIPAY_APP_PRIVATE_KEY": "k",
            "ALIPAY_PUBLIC_KEY": "p",
        }
    )
    assert alipay.gateway_url == "https://openapi.alipay.com/gateway.do"
    wechat = wechatpay_settings(
        {
            "WECHATPAY_MODE": "live",
            "WECHATPAY_MCHID": "1",
            "WECHATPAY_APPID": "wx",
            "WECHATPAY_PRIVATE_KEY": "k",
            "WECHATPAY_CERT_SERIAL_NO": "AB",
            "WECHATPAY_APIV3_KEY": "x" * 32,
        }
    )
    assert wechat.gateway_url == "https://api.mch.weixin.qq.com"


def test_the_pay_forms_may_lead_to_the_providers_pages(client):
    policy = client.get("/cart").headers["Content-Security-Policy"]
    form_action = next(part for part in policy.split(";") if "form-action" in part)
    # The default simulator URLs (the pay form redirects to Alipay's cashier, WeChat's H5).
    assert "http://127.0.0.1:5002" in form_action and "http://127.0.0.1:5003" in form_action


@pytest.mark.parametrize(
    "config",
    [{"ALIPAY_MODE": "live"}, {"WECHATPAY_MODE": "sandbox"}, {"WECHATPAY_APIV3_KEY": "short"}],
)
def test_the_shop_refuses_to_start_with_mobile_pay_settings_that_cannot_work(
    tmp_path, monkeypatch, config
):
    from shop import create_app
    from shop.config import ENV_SETTINGS

    for name in [*ENV_SETTINGS, "DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PaymentConfigError):
        create_app(config, instance_path=str(tmp_path))


def test_mobile_pay_settings_come_from_the_environment(tmp_path, monkeypatch):
    from shop import create_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ALIPAY_MODE", "sandbox")
    monkeypatch.setenv("ALIPAY_APP_ID", "2021000000000099")
    monkeypatch.setenv("ALIPAY_APP_PRIVATE_KEY", "MIIEvQ")
    monkeypatch.setenv("ALIPAY_PUBLIC_KEY", "MIIBIj")
    app = create_app({}, instance_path=str(tmp_path))
    settings = alipay_settings(app.config)
    assert settings.mode == "sandbox" and settings.app_id == "2021000000000099"
    assert settings.gateway_url == "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
