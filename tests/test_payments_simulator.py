"""The PayPal simulator answers like PayPal: credentials, validation, idempotency, webhooks."""

import base64
import json
import re
from pathlib import Path

import pytest
import requests

from shop.payments.settings import SIMULATOR_WEBHOOK_ID
from shop.payments.webhooks import WebhookVerifier, origin_of_url
from simulators.paypal import PayPalSimulator
from tests.payments_helpers import (
    WebhookReceiver,
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


def bearer(simulator) -> dict:
    credentials = f"{simulator.app.config['CLIENT_ID']}:{simulator.app.config['CLIENT_SECRET']}"
    answer = requests.post(
        f"{simulator.url}/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()},
        timeout=5,
    )
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def payment_body(total="35.00", subtotal="35.00", prices=("25.00", "5.00"), quantities=("1", "2")):
    items = [
        {"name": f"Pack {i}", "sku": f"P{i}", "price": p, "quantity": q, "currency": "USD"}
        for i, (p, q) in enumerate(zip(prices, quantities, strict=True))
    ]
    return {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "redirect_urls": {"return_url": "http://shop/return", "cancel_url": "http://shop/cancel"},
        "transactions": [
            {
                "amount": {"total": total, "currency": "USD", "details": {"subtotal": subtotal}},
                "item_list": {"items": items},
                "invoice_number": "ORD-RAW",
            }
        ],
    }


def test_wrong_client_credentials_get_no_token(simulator):
    answer = requests.post(
        f"{simulator.url}/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("wanderdata-simulator-client", "wrong"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_payment_calls_need_a_token(simulator):
    answer = requests.post(f"{simulator.url}/v1/payments/payment", json=payment_body(), timeout=5)
    assert answer.status_code == 401


def test_the_same_request_id_twice_creates_one_payment(simulator):
    headers = {**bearer(simulator), "PayPal-Request-Id": "ORD-RAW:create"}
    first = requests.post(
        f"{simulator.url}/v1/payments/payment", json=payment_body(), headers=headers, timeout=5
    )
    again = requests.post(
        f"{simulator.url}/v1/payments/payment", json=payment_body(), headers=headers, timeout=5
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(simulator.state.payments) == 1


def test_the_same_invoice_under_another_request_id_is_a_duplicate(simulator):
    url = f"{simulator.url}/v1/payments/payment"
    requests.post(
        url, json=payment_body(), headers={**bearer(simulator), "PayPal-Request-Id": "a"}, timeout=5
    )
    again = requests.post(
        url, json=payment_body(), headers={**bearer(simulator), "PayPal-Request-Id": "b"}, timeout=5
    )
    assert again.status_code == 400
    assert again.json()["name"] == "DUPLICATE_TRANSACTION"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (payment_body(total="36.00", subtotal="36.00"), "transactions[0].item_list"),
        (payment_body(total="35.00", subtotal="30.00"), "transactions[0].amount"),
        (payment_body(total="35.0", subtotal="35.0"), "transactions[0].amount.total"),
        (payment_body(quantities=("1", "0")), "transactions[0].item_list.items[1].quantity"),
        ({**payment_body(), "intent": "authorize"}, "intent"),
        (
            {**payment_body(), "redirect_urls": {"return_url": "javascript:x"}},
            "redirect_urls.return_url",
        ),
    ],
)
def test_a_body_paypal_would_refuse_is_a_validation_error(simulator, body, field):
    answer = requests.post(
        f"{simulator.url}/v1/payments/payment", json=body, headers=bearer(simulator), timeout=5
    )
    assert answer.status_code == 400
    error = answer.json()
    assert error["name"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in error["details"]]
    assert simulator.state.payments == {}


def test_executing_a_v1_payment_twice_makes_one_sale_and_another_request_id_is_done(
    gateway, simulator
):
    payment_id, payer_id = v1_payment(simulator, "ORD-2001")
    status = gateway.execute_payment(payment_id, payer_id, "ORD-2001")
    payment = simulator.state.payment(payment_id)
    url = f"{simulator.url}/v1/payments/payment/{payment.id}/execute"
    body = {"payer_id": payment.payer_id}
    replay = requests.post(
        url,
        json=body,
        headers={**bearer(simulator), "PayPal-Request-Id": "ORD-2001:execute"},
        timeout=5,
    )
    assert replay.status_code == 200
    assert replay.json()["transactions"][0]["related_resources"][0]["sale"]["id"] == status.sale_id
    other = requests.post(
        url, json=body, headers={**bearer(simulator), "PayPal-Request-Id": "other"}, timeout=5
    )
    assert other.status_code == 400
    assert other.json()["name"] == "PAYMENT_ALREADY_DONE"


def test_capturing_twice_replays_per_request_id_and_is_already_captured_otherwise(
    gateway, simulator
):
    _, created, status = pay(gateway, simulator, "ORD-2011")
    url = f"{simulator.url}/v2/checkout/orders/{created.provider_payment_id}/capture"
    replay = requests.post(
        url,
        json={},
        headers={**bearer(simulator), "PayPal-Request-Id": "ORD-2011:capture"},
        timeout=5,
    )
    assert replay.status_code == 201
    assert replay.json()["purchase_units"][0]["payments"]["captures"][0]["id"] == status.sale_id
    other = requests.post(
        url, json={}, headers={**bearer(simulator), "PayPal-Request-Id": "other"}, timeout=5
    )
    assert other.status_code == 422
    assert other.json()["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED"


def test_capturing_an_order_the_buyer_did_not_approve_is_order_not_approved(gateway, simulator):
    created = gateway.create_payment(order("ORD-2012"))
    answer = requests.post(
        f"{simulator.url}/v2/checkout/orders/{created.provider_payment_id}/capture",
        json={},
        headers=bearer(simulator),
        timeout=5,
    )
    assert answer.status_code == 422
    assert answer.json()["details"][0]["issue"] == "ORDER_NOT_APPROVED"


def test_the_approval_page_shows_the_merchant_items_and_total_without_inline_code(gateway):
    created = gateway.create_payment(order("ORD-2002", discount=350))
    page = requests.get(created.approval_url, timeout=5)
    html = page.text
    for text in ("Pay Wanderdata", "Asia 10 GB / 30 days", "-3.50 USD", "31.50 USD", "Pay now"):
        assert text in html
    assert "Pay with a card that will be declined" in html
    assert "Cancel and return to the shop" in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    assert (
        requests.get(created.approval_url.replace("token=", "token=X"), timeout=5).status_code
        == 404
    )


def test_a_completed_sale_is_announced_by_a_signed_webhook(simulator, gateway):
    with WebhookReceiver() as shop:
        simulator.webhook_url = shop.url
        _, created, status = pay(gateway, simulator, "ORD-2003")
        [(headers, body)] = shop.wait_for(1)
    verifier = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),))
    notice = verifier.verify(headers, body)
    assert notice.event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert notice.status == status


def test_a_webhook_sent_again_three_times_at_once_carries_one_event_id(simulator, gateway):
    _, created, _ = pay(gateway, simulator, "ORD-2004")
    with WebhookReceiver() as shop:
        simulator.webhook_url = shop.url
        answer = requests.post(
            f"{simulator.url}/simulator/orders/{created.provider_payment_id}/webhooks",
            json={"times": 3, "concurrent": True},
            timeout=10,
        )
        assert answer.json() == {"deliveries": ["200", "200", "200"]}
        delivered = shop.wait_for(3)
    verifier = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),))
    notices = [verifier.verify(headers, body) for headers, body in delivered]
    assert len({notice.event_id for notice in notices}) == 1
    assert len({headers["Paypal-Transmission-Id"] for headers, _ in delivered}) == 3


def test_a_refund_from_the_controls_sends_capture_refunded(simulator, gateway):
    _, created, status = pay(gateway, simulator, "ORD-2005")
    with WebhookReceiver() as shop:
        simulator.webhook_url = shop.url
        answer = requests.post(
            f"{simulator.url}/simulator/orders/{created.provider_payment_id}/refund",
            json={},
            timeout=5,
        )
        assert answer.status_code == 200
        [(headers, body)] = shop.wait_for(1)
    notice = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),)).verify(
        headers, body
    )
    assert notice.event_type == "PAYMENT.CAPTURE.REFUNDED"
    assert (notice.status.sale_id, notice.status.amount) == (status.sale_id, 3500)
    assert notice.status.refund_id == answer.json()["refund"]["id"]


def test_a_signed_webhook_can_be_fetched_without_delivering_it(simulator, gateway):
    _, created, status = pay(gateway, simulator, "ORD-2006")
    answer = requests.get(
        f"{simulator.url}/simulator/orders/{created.provider_payment_id}/webhook", timeout=5
    )
    signed = answer.json()
    notice = gateway.verify_webhook(signed["headers"], signed["body"].encode())
    assert notice.status == status
    assert simulator.state.order(created.provider_payment_id).deliveries == []


def test_webhooks_are_not_sent_when_turned_off():
    with (
        WebhookReceiver() as shop,
        PayPalSimulator(WEBHOOK_URL=shop.url, SEND_WEBHOOKS=False) as quiet,
    ):
        pay(make_gateway(quiet), quiet, "ORD-2007")
        assert shop.wait_for(1, timeout=0.5) == []


def test_scenarios_are_set_through_the_json_controls(simulator, gateway):
    created = gateway.create_payment(order("ORD-2008"))
    answer = requests.post(
        f"{simulator.url}/simulator/scenarios",
        json={
            "operation": "capture",
            "outcome": "decline",
            "payment_id": created.provider_payment_id,
        },
        timeout=5,
    )
    assert answer.status_code == 201
    assert simulator.state.scenarios[0].payment_id == created.provider_payment_id
    assert (
        requests.post(
            f"{simulator.url}/simulator/scenarios", json={"outcome": "explode"}, timeout=5
        ).status_code
        == 400
    )
    assert requests.delete(f"{simulator.url}/simulator/scenarios", timeout=5).json() == {
        "scenarios": []
    }


def test_the_payments_page_lists_payments_with_their_buttons(simulator, gateway):
    _, created, _ = pay(gateway, simulator, "ORD-2009")
    page = requests.get(f"{simulator.url}/simulator/", timeout=5).text
    assert created.provider_payment_id in page and "ORD-2009" in page
    assert "Send webhook again" in page and "Refund" in page


def test_the_buyer_approves_through_the_json_control_too(simulator, gateway):
    created = gateway.create_payment(order("ORD-2010"))
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{created.provider_payment_id}/approve",
        json={},
        timeout=5,
    )
    payer_id = answer.json()["payer_id"]
    assert gateway.execute_payment(created.provider_payment_id, payer_id, "ORD-2010").sale_id
    # The approval page now says it is done; pressing a button again changes nothing.
    assert "handled already" in requests.get(created.approval_url, timeout=5).text
    assert buyer_chooses(created, "cancel")["location"].startswith(
        "http://127.0.0.1:5000/checkout/ORD-2010/cancel"
    )


def test_the_simulators_command_line_lists_its_options():
    from click.testing import CliRunner

    from simulators.paypal.command import paypal_command
    from simulators.runner import simulators_cli

    simulators_cli.add_command(paypal_command)
    result = CliRunner().invoke(simulators_cli, ["paypal", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--webhook-url", "--no-webhooks", "--instance-path"):
        assert option in result.output


def test_the_signing_key_is_made_once_in_the_instance_folder_and_kept(tmp_path):
    from simulators.keys import instance_signing_identity

    first = instance_signing_identity(tmp_path, "paypal", "sim.invalid")
    again = instance_signing_identity(tmp_path, "paypal", "sim.invalid")
    key_file = tmp_path / "simulators" / "paypal-signing-key.pem"
    assert again.certificate_pem == first.certificate_pem
    assert key_file.stat().st_mode & 0o077 == 0  # the private key is its owner's only
    key_file.write_bytes(b"not a key")
    assert instance_signing_identity(tmp_path, "paypal", "sim.invalid") != first


def test_the_shop_never_imports_the_simulators():
    root = Path(__file__).resolve().parents[1] / "shop"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+simulators\b", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def order_body(value="31.50", item_total="35.00", discount="3.50", currency="USD", **changes):
    unit = {
        "reference_id": "ORD-V2",
        "invoice_id": "ORD-V2",
        "amount": {
            "currency_code": currency,
            "value": value,
            "breakdown": {
                "item_total": {"currency_code": currency, "value": item_total},
                "discount": {"currency_code": currency, "value": discount},
            },
        },
        "items": [
            {
                "name": "Asia 10 GB / 30 days",
                "quantity": "1",
                "unit_amount": {"currency_code": currency, "value": "25.00"},
            },
            {
                "name": "Asia 1 GB / 7 days",
                "quantity": "2",
                "unit_amount": {"currency_code": currency, "value": "5.00"},
            },
        ],
    }
    body = {
        "intent": "CAPTURE",
        "purchase_units": [unit],
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "return_url": "http://shop/return",
                    "cancel_url": "http://shop/cancel",
                }
            }
        },
    }
    body.update(changes)
    return body


def yen_order() -> dict:
    body = order_body(value="3500", item_total="3500", discount="0", currency="JPY")
    first, second = body["purchase_units"][0]["items"]
    first["unit_amount"]["value"] = "2500.00"  # decimals PayPal refuses for yen
    second["unit_amount"]["value"] = "500"
    return body


def other_item_currency() -> dict:
    body = order_body()
    body["purchase_units"][0]["items"][0]["unit_amount"]["currency_code"] = "EUR"
    return body


@pytest.mark.parametrize(
    ("body", "status", "issue"),
    [
        (order_body(value="32.00"), 422, "AMOUNT_MISMATCH"),
        (order_body(value="35.00", item_total="38.50"), 422, "ITEM_TOTAL_MISMATCH"),
        (order_body(value="31.500"), 422, "DECIMAL_PRECISION"),
        (order_body(value="31,50"), 400, "INVALID_PARAMETER_VALUE"),
        (yen_order(), 422, "DECIMAL_PRECISION"),
        (other_item_currency(), 422, "CURRENCY_MISMATCH"),
        (order_body(currency="BHD"), 422, "CURRENCY_NOT_SUPPORTED"),
        (order_body(intent="AUTHORIZE"), 400, "INVALID_PARAMETER_VALUE"),
        (order_body(purchase_units=[]), 400, "INVALID_PARAMETER_VALUE"),
    ],
    ids=[
        "amount",
        "item-total",
        "decimals",
        "format",
        "yen-decimals",
        "item-currency",
        "currency",
        "intent",
        "units",
    ],
)
def test_an_order_paypal_would_refuse_gets_its_error_name(simulator, body, status, issue):
    answer = requests.post(
        f"{simulator.url}/v2/checkout/orders", json=body, headers=bearer(simulator), timeout=5
    )
    assert answer.status_code == status
    assert issue in [detail["issue"] for detail in answer.json()["details"]]
    assert simulator.state.orders == {}


def test_an_order_calls_need_a_token_and_a_second_invoice_is_a_duplicate(simulator):
    url = f"{simulator.url}/v2/checkout/orders"
    assert requests.post(url, json=order_body(), timeout=5).status_code == 401
    assert requests.post(url, json=order_body(), headers=bearer(simulator), timeout=5).ok
    again = requests.post(url, json=order_body(), headers=bearer(simulator), timeout=5)
    assert again.status_code == 422
    assert again.json()["details"][0]["issue"] == "DUPLICATE_INVOICE_ID"


def test_partial_refunds_add_up_to_the_capture_and_never_beyond(simulator, gateway):
    _, created, status = pay(gateway, simulator, "ORD-2013")
    url = f"{simulator.url}/v2/payments/captures/{status.sale_id}/refund"

    def refund(value, request_id):
        return requests.post(
            url,
            json={"amount": {"currency_code": "USD", "value": value}},
            headers={**bearer(simulator), "PayPal-Request-Id": request_id},
            timeout=5,
        )

    assert refund("10.00", "r1").status_code == 201
    assert refund("10.00", "r1").json()["id"] == refund("10.00", "r1").json()["id"]  # a replay
    assert simulator.state.order(created.provider_payment_id).capture["status"] == (
        "PARTIALLY_REFUNDED"
    )
    too_much = refund("25.01", "r2")
    assert too_much.status_code == 422
    assert too_much.json()["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED"
    assert refund("25.00", "r3").status_code == 201
    assert simulator.state.order(created.provider_payment_id).capture["status"] == "REFUNDED"
    assert refund("1.00", "r4").json()["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED"


def test_verify_webhook_signature_confirms_only_what_it_signed(simulator, gateway):
    _, created, _ = pay(gateway, simulator, "ORD-2014")
    signed = requests.get(
        f"{simulator.url}/simulator/orders/{created.provider_payment_id}/webhook", timeout=5
    ).json()
    headers = {name.lower(): value for name, value in signed["headers"].items()}
    request = {
        "auth_algo": headers["paypal-auth-algo"],
        "cert_url": headers["paypal-cert-url"],
        "transmission_id": headers["paypal-transmission-id"],
        "transmission_sig": headers["paypal-transmission-sig"],
        "transmission_time": headers["paypal-transmission-time"],
        "webhook_id": SIMULATOR_WEBHOOK_ID,
        "webhook_event": json.loads(signed["body"]),
    }
    url = f"{simulator.url}/v1/notifications/verify-webhook-signature"

    def verdict(**changes):
        answer = requests.post(
            url, json={**request, **changes}, headers=bearer(simulator), timeout=5
        )
        return answer.json()["verification_status"]

    assert verdict() == "SUCCESS"
    tampered = json.loads(signed["body"])
    tampered["resource"]["amount"]["value"] = "0.01"
    assert verdict(webhook_event=tampered) == "FAILURE"
    assert verdict(webhook_id="WH-SOMEONE-ELSE") == "FAILURE"
    assert verdict(cert_url="https://attacker.example/v1/notifications/certs/X") == "FAILURE"
