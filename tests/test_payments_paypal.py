"""The PayPal gateway drives the real paypalrestsdk over HTTP against the local simulator.

New payments are Orders v2: create (intent CAPTURE), approve, capture.
"""

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
    RefundRequest,
)
from simulators.scenarios import Scenario
from tests.payments_helpers import (
    TEST_TIMEOUT,
    buyer_chooses,
    make_gateway,
    order,
    pay,
    running_simulator,
    v1_payment,
)


@pytest.fixture
def simulator():
    yield from running_simulator()


@pytest.fixture
def gateway(simulator):
    return make_gateway(simulator)


def test_an_order_is_created_approved_and_captured(gateway, simulator):
    request = order("ORD-1001")
    created = gateway.create_payment(request)
    assert (
        created.approval_url == f"{simulator.url}/checkoutnow?token={created.provider_payment_id}"
    )
    assert "-" not in created.provider_payment_id  # a v2 order id
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.CREATED

    back = buyer_chooses(created)
    assert back["location"].startswith("http://127.0.0.1:5000/checkout/ORD-1001/return?lang=en&")
    assert back["token"] == created.provider_payment_id
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.APPROVED
    status = gateway.execute_payment(back["token"], back["PayerID"], "ORD-1001")

    assert status.state == PaymentState.COMPLETED
    assert (status.amount, status.currency, status.reference) == (3500, "USD", "ORD-1001")
    assert status.sale_id
    assert gateway.get_payment(created.provider_payment_id) == status


def test_the_payment_shows_items_and_a_discount_that_add_up_at_paypal(gateway, simulator):
    created = gateway.create_payment(order("ORD-1002", discount=350))
    unit = simulator.state.order(created.provider_payment_id).unit
    assert unit["amount"] == {
        "currency_code": "USD",
        "value": "31.50",
        "breakdown": {
            "item_total": {"currency_code": "USD", "value": "35.00"},
            "discount": {"currency_code": "USD", "value": "3.50"},
        },
    }
    prices = [
        (item["sku"], item["quantity"], item["unit_amount"]["value"]) for item in unit["items"]
    ]
    assert prices == [("ASIA-10GB-30D", "1", "25.00"), ("ASIA-1GB-7D", "2", "5.00")]
    assert unit["invoice_id"] == "ORD-1002"


def test_a_yen_order_is_sent_without_decimals(gateway, simulator):
    lines = (LineItem("JP-3GB-7D", "Japan 3 GB / 7 days", 3, 1200),)
    _, created, status = pay(gateway, simulator, "ORD-JPY", currency="JPY", lines=lines)
    assert simulator.state.order(created.provider_payment_id).unit["amount"]["value"] == "3600"
    assert (status.amount, status.currency, status.state) == (3600, "JPY", PaymentState.COMPLETED)


def test_creating_twice_for_one_order_makes_one_payment_at_paypal(gateway, simulator):
    first = gateway.create_payment(order("ORD-1003"))
    again = make_gateway(simulator).create_payment(order("ORD-1003"))  # a new worker, a retry
    assert again == first
    assert len(simulator.state.orders) == 1
    assert ("create-order", "ORD-1003:create") in simulator.state.replies


def test_capturing_twice_makes_one_capture_and_returns_the_same_status(gateway, simulator):
    request, created, status = pay(gateway, simulator, "ORD-1004")
    back = {
        "id": created.provider_payment_id,
        "payer": simulator.state.order(created.provider_payment_id).payer_id,
    }
    same_request_id = gateway.execute_payment(back["id"], back["payer"], "ORD-1004")
    # Another request id (say, a reference typed differently): PayPal says ORDER_ALREADY_CAPTURED,
    # and the gateway looks the payment up instead of failing.
    other_request_id = gateway.execute_payment(back["id"], back["payer"], "ORD-1004-retry")
    assert same_request_id == other_request_id == status
    assert status.state == PaymentState.COMPLETED
    assert len(simulator.state.order(created.provider_payment_id).captures) == 1


def test_a_card_that_is_declined_is_payment_declined(gateway, simulator):
    created = gateway.create_payment(order("ORD-1005"))
    back = buyer_chooses(created, "decline")
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(back["token"], back["PayerID"], "ORD-1005")
    status = gateway.get_payment(created.provider_payment_id)
    assert status.state == PaymentState.APPROVED  # PayPal keeps it: the buyer may pay otherwise
    assert status.sale_id is None
    assert simulator.state.order(created.provider_payment_id).captures == []


def test_a_decline_scenario_at_execute_is_payment_declined(gateway, simulator):
    created = gateway.create_payment(order("ORD-1006"))
    back = buyer_chooses(created)
    simulator.state.add_scenario(Scenario("capture", "decline"))
    with pytest.raises(PaymentDeclined):
        gateway.execute_payment(back["token"], back["PayerID"], "ORD-1006")


def test_a_cancelled_payment_goes_to_the_cancel_url_and_cannot_be_executed(gateway, simulator):
    created = gateway.create_payment(order("ORD-1007"))
    back = buyer_chooses(created, "cancel")
    assert back["location"] == (
        f"http://127.0.0.1:5000/checkout/ORD-1007/cancel?token={created.provider_payment_id}"
    )
    payer = simulator.state.order(created.provider_payment_id).payer_id
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
    simulator.state.add_scenario(Scenario("capture", "delay", seconds=TEST_TIMEOUT * 4))
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        gateway.execute_payment(back["token"], back["PayerID"], "ORD-1009")
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
        gateway.get_payment("5O190127TN364715T")
    assert time.monotonic() - started < 2


def test_paypal_server_errors_are_gateway_unavailable(gateway, simulator):
    simulator.state.add_scenario(Scenario("create-order", "error"))
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
        gateway.get_payment("0NOSUCHORDER0000")


def test_a_pending_capture_is_pending_then_completed_then_refunded(gateway, simulator):
    created = gateway.create_payment(order("ORD-1015"))
    back = buyer_chooses(created)
    simulator.state.add_scenario(Scenario("capture", "pending"))
    status = gateway.execute_payment(back["token"], back["PayerID"], "ORD-1015")
    assert (status.state, status.reason) == (PaymentState.PENDING, "PENDING_REVIEW")
    placed = simulator.state.order(created.provider_payment_id)
    assert simulator.state.complete_pending_capture(placed)
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.COMPLETED
    simulator.state.refund_capture(placed.capture["id"], {}, None, simulator.url)
    assert gateway.get_payment(created.provider_payment_id).state == PaymentState.REFUNDED


def test_no_credential_or_token_reaches_the_log(gateway, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    pay(gateway, simulator, "ORD-1016")
    log_text = caplog.text
    assert "PayPal POST /v2/checkout/orders" in log_text
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
        gateway.get_payment("5O190127TN364715T")
    assert sum(1 for call in simulator.state.calls if call[0] == "token") == 2


def refund_request(status, amount, key, reference="ORD-1020", currency="USD") -> RefundRequest:
    return RefundRequest(
        status.provider_payment_id, status.sale_id, amount, currency, reference, key
    )


def test_a_capture_is_refunded_in_parts_once_per_key(gateway, simulator):
    _, _, status = pay(gateway, simulator, "ORD-1020")
    first = gateway.refund_payment(refund_request(status, 1000, "r1"))
    assert (first.amount, first.currency, first.completed) == (1000, "USD", True)
    assert gateway.refund_payment(refund_request(status, 1000, "r1")) == first  # a retry
    with pytest.raises(PaymentRejected):  # 25.00 is left
        gateway.refund_payment(refund_request(status, 2501, "r2"))
    rest = gateway.refund_payment(refund_request(status, 2500, "r3"))
    assert rest.refund_id != first.refund_id
    assert gateway.get_payment(status.provider_payment_id).state == PaymentState.REFUNDED
    assert [call[0] for call in simulator.state.calls].count("refund") == 4


def test_a_v1_payment_made_before_orders_v2_stays_readable_executable_and_refundable(
    gateway, simulator
):
    payment_id, payer_id = v1_payment(simulator, "ORD-1021")
    assert gateway.get_payment(payment_id).state == PaymentState.CREATED  # v1: until executed
    status = gateway.execute_payment(payment_id, payer_id, "ORD-1021")
    assert (status.state, status.amount, status.reference) == (
        PaymentState.COMPLETED,
        3500,
        "ORD-1021",
    )
    assert gateway.get_payment(payment_id) == status
    part = gateway.refund_payment(refund_request(status, 500, "r1", "ORD-1021"))
    assert (part.amount, part.completed) == (500, True)
    assert gateway.get_payment(payment_id).state == PaymentState.COMPLETED  # partly refunded
    with pytest.raises(PaymentRejected):
        gateway.refund_payment(refund_request(status, 3001, "r2", "ORD-1021"))
    gateway.refund_payment(refund_request(status, 3000, "r3", "ORD-1021"))
    assert gateway.get_payment(payment_id).state == PaymentState.REFUNDED
