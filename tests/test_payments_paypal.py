"""The PayPal gateway drives the real paypalrestsdk over HTTP against the local simulator."""

import logging
import socket
import time

import pytest

from shop.payments.gateway import (
    GatewayUnavailable,
    LineItem,
    PaymentDeclined,
    PaymentRejected,
    PaymentState,
)
from simulators.scenarios import Scenario
from tests.payments_helpers import (
    TEST_TIMEOUT,
    buyer_chooses,
    make_gateway,
    order,
    pay,
    running_simulator,
)


@pytest.fixture
def simulator():
    yield from running_simulator()


@pytest.fixture
def gateway(simulator):
    return make_gateway(simulator)


def test_a_payment_is_created_approved_and_executed(gateway, simulator):
    request = order("ORD-1001")
    created = gateway.create_payment(request)
    assert created.approval_url.startswith(simulator.url + "/checkoutnow?token=EC-")
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.CREATED

    back = buyer_chooses(created)
    assert back["location"].startswith("http://127.0.0.1:5000/checkout/ORD-1001/return?lang=en&")
    assert back["paymentId"] == created.provider_payment_id
    status = gateway.execute_payment(back["paymentId"], back["PayerID"], "ORD-1001")

    assert status.state == PaymentState.COMPLETED
    assert (status.amount, status.currency, status.reference) == (3500, "USD", "ORD-1001")
    assert status.sale_id
    assert gateway.get_payment(created.provider_payment_id) == status


def test_the_payment_shows_items_and_a_discount_that_add_up_at_paypal(gateway, simulator):
    created = gateway.create_payment(order("ORD-1002", discount=350))
    transaction = simulator.state.payment(created.provider_payment_id).transaction
    assert transaction["amount"] == {
        "total": "31.50",
        "currency": "USD",
        "details": {"subtotal": "31.50"},
    }
    prices = [
        (item["sku"], item["quantity"], item["price"]) for item in transaction["item_list"]["items"]
    ]
    assert prices == [
        ("ASIA-10GB-30D", "1", "25.00"),
        ("ASIA-1GB-7D", "2", "5.00"),
        ("DISCOUNT", "1", "-3.50"),
    ]
    assert transaction["invoice_number"] == "ORD-1002"


def test_a_yen_order_is_sent_without_decimals(gateway, simulator):
    lines = (LineItem("JP-3GB-7D", "Japan 3 GB / 7 days", 3, 1200),)
    _, created, status = pay(gateway, simulator, "ORD-JPY", currency="JPY", lines=lines)
    transaction = simulator.state.payment(created.provider_payment_id).transaction
    assert transaction["amount"]["total"] == "3600"
    assert (status.amount, status.currency, status.state) == (3600, "JPY", PaymentState.COMPLETED)


def test_creating_twice_for_one_order_makes_one_payment_at_paypal(gateway, simulator):
    first = gateway.create_payment(order("ORD-1003"))
    again = make_gateway(simulator).create_payment(order("ORD-1003"))  # a new worker, a retry
    assert again == first
    assert len(simulator.state.payments) == 1
    assert ("create", "ORD-1003:create") in simulator.state.replies


def test_executing_twice_makes_one_sale_and_returns_the_same_status(gateway, simulator):
    request, created, status = pay(gateway, simulator, "ORD-1004")
    back = {
        "id": created.provider_payment_id,
        "payer": simulator.state.payment(created.provider_payment_id).payer_id,
    }
    same_request_id = gateway.execute_payment(back["id"], back["payer"], "ORD-1004")
    # Another request id (say, a reference typed differently): PayPal says PAYMENT_ALREADY_DONE,
    # and the gateway looks the payment up instead of failing.
    other_request_id = gateway.execute_payment(back["id"], back["payer"], "ORD-1004-retry")
    assert same_request_id == other_request_id == status
    assert status.state == PaymentState.COMPLETED


def test_a_card_that_is_declined_is_payment_declined(gateway, simulator):
    created = gateway.create_payment(order("ORD-1005"))
    back = buyer_chooses(created, "decline")
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(back["paymentId"], back["PayerID"], "ORD-1005")
    status = gateway.get_payment(created.provider_payment_id)
    assert status.state == PaymentState.FAILED
    assert status.sale_id is None


def test_a_decline_scenario_at_execute_is_payment_declined(gateway, simulator):
    created = gateway.create_payment(order("ORD-1006"))
    back = buyer_chooses(created)
    simulator.state.add_scenario(Scenario("execute", "decline"))
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(back["paymentId"], back["PayerID"], "ORD-1006")


def test_a_cancelled_payment_goes_to_the_cancel_url_and_cannot_be_executed(gateway, simulator):
    created = gateway.create_payment(order("ORD-1007"))
    back = buyer_chooses(created, "cancel")
    assert back["location"].startswith("http://127.0.0.1:5000/checkout/ORD-1007/cancel?token=EC-")
    payer = simulator.state.payment(created.provider_payment_id).payer_id
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(created.provider_payment_id, payer or "NOBODY", "ORD-1007")
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.CREATED


def test_executing_before_the_buyer_approved_is_payment_declined(gateway):
    created = gateway.create_payment(order("ORD-1008"))
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(created.provider_payment_id, "SOMEONE", "ORD-1008")


def test_a_hung_paypal_is_gateway_unavailable_after_the_timeout(gateway, simulator):
    created = gateway.create_payment(order("ORD-1009"))
    back = buyer_chooses(created)
    simulator.state.add_scenario(Scenario("execute", "delay", seconds=TEST_TIMEOUT * 4))
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        gateway.execute_payment(back["paymentId"], back["PayerID"], "ORD-1009")
    assert time.monotonic() - started < TEST_TIMEOUT * 3


def test_an_unreachable_paypal_is_gateway_unavailable_quickly(simulator):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gateway = make_gateway(simulator, PAYPAL_SIMULATOR_URL=f"http://127.0.0.1:{closed_port}")
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        gateway.create_payment(order("ORD-1010"))
    with pytest.raises(GatewayUnavailable):
        gateway.get_payment("PAYID-ANY")
    assert time.monotonic() - started < 2


def test_paypal_server_errors_are_gateway_unavailable(gateway, simulator):
    simulator.state.add_scenario(Scenario("create", "error"))
    with pytest.raises(GatewayUnavailable):
        gateway.create_payment(order("ORD-1011"))
    assert gateway.create_payment(order("ORD-1011")).provider_payment_id  # the next try works


def test_wrong_credentials_are_payment_rejected(simulator):
    gateway = make_gateway(simulator, PAYPAL_CLIENT_SECRET="not-the-secret")
    with pytest.raises(PaymentRejected):
        gateway.create_payment(order("ORD-1012"))


def test_a_currency_paypal_does_not_take_is_payment_rejected(gateway, simulator):
    lines = (LineItem("GULF-1GB", "Gulf 1 GB", 1, 1500),)
    with pytest.raises(PaymentRejected):
        gateway.create_payment(order("ORD-1013", currency="BHD", lines=lines))


def test_an_order_whose_total_does_not_add_up_is_refused_before_calling_paypal(gateway, simulator):
    request = order("ORD-1014")
    broken = type(request)(**{**request.__dict__, "total": request.total + 1})
    with pytest.raises(PaymentRejected):
        gateway.create_payment(broken)
    assert simulator.state.calls == []


def test_an_unknown_payment_is_payment_rejected(gateway):
    with pytest.raises(PaymentRejected):
        gateway.get_payment("PAYID-NOPE")


def test_a_pending_sale_is_pending_then_refund_shows_refunded(gateway, simulator):
    created = gateway.create_payment(order("ORD-1015"))
    back = buyer_chooses(created)
    simulator.state.add_scenario(Scenario("execute", "pending"))
    status = gateway.execute_payment(back["paymentId"], back["PayerID"], "ORD-1015")
    assert status.state == PaymentState.PENDING
    payment = simulator.state.payment(created.provider_payment_id)
    assert simulator.state.complete_pending(payment)
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.COMPLETED
    assert simulator.state.refund(payment)
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.REFUNDED


def test_no_credential_or_token_reaches_the_log(gateway, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    pay(gateway, simulator, "ORD-1016")
    log_text = caplog.text
    assert "PayPal POST /v1/payments/payment" in log_text
    assert simulator.app.config["CLIENT_SECRET"] not in log_text
    assert all(token not in log_text for token in simulator.state.tokens)
    assert "Authorization" not in log_text


def test_an_expired_token_is_replaced_once(gateway, simulator):
    created = gateway.create_payment(order("ORD-1017"))
    simulator.state.tokens.clear()  # PayPal forgot the token (expired, or restarted)
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.CREATED


def test_a_paypal_that_refuses_every_token_is_payment_rejected_not_a_loop(
    gateway, simulator, monkeypatch
):
    monkeypatch.setattr(simulator.state, "token_valid", lambda token: False)
    with pytest.raises(PaymentRejected):
        gateway.get_payment("PAYID-ANY")
    assert sum(1 for call in simulator.state.calls if call[0] == "token") == 2
