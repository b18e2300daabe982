"""The PayPal simulator answers like PayPal: credentials, validation, idempotency, webhooks."""

import base64
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


def test_executing_twice_makes_one_sale_and_another_request_id_is_already_done(gateway, simulator):
    _, created, status = pay(gateway, simulator, "ORD-2001")
    payment = simulator.state.payment(created.provider_payment_id)
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
    assert notice.event_type == "PAYMENT.SALE.COMPLETED"
    assert notice.status == status


def test_a_webhook_sent_again_three_times_at_once_carries_one_event_id(simulator, gateway):
    _, created, _ = pay(gateway, simulator, "ORD-2004")
    with WebhookReceiver() as shop:
        simulator.webhook_url = shop.url
        answer = requests.post(
            f"{simulator.url}/simulator/payments/{created.provider_payment_id}/webhooks",
            json={"times": 3, "concurrent": True},
            timeout=10,
        )
        assert answer.json() == {"deliveries": ["200", "200", "200"]}
        delivered = shop.wait_for(3)
    verifier = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),))
    notices = [verifier.verify(headers, body) for headers, body in delivered]
    assert len({notice.event_id for notice in notices}) == 1
    assert len({headers["Paypal-Transmission-Id"] for headers, _ in delivered}) == 3


def test_a_refund_from_the_controls_sends_sale_refunded(simulator, gateway):
    _, created, status = pay(gateway, simulator, "ORD-2005")
    with WebhookReceiver() as shop:
        simulator.webhook_url = shop.url
        answer = requests.post(
            f"{simulator.url}/simulator/payments/{created.provider_payment_id}/refund",
            json={},
            timeout=5,
        )
        assert answer.status_code == 200
        [(headers, body)] = shop.wait_for(1)
    notice = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),)).verify(
        headers, body
    )
    assert notice.event_type == "PAYMENT.SALE.REFUNDED"
    assert (notice.status.sale_id, notice.status.amount) == (status.sale_id, 3500)


def test_a_signed_webhook_can_be_fetched_without_delivering_it(simulator, gateway):
    _, created, status = pay(gateway, simulator, "ORD-2006")
    answer = requests.get(
        f"{simulator.url}/simulator/payments/{created.provider_payment_id}/webhook", timeout=5
    )
    signed = answer.json()
    notice = gateway.verify_webhook(signed["headers"], signed["body"].encode())
    assert notice.status == status
    assert simulator.state.payment(created.provider_payment_id).deliveries == []


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
            "operation": "execute",
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
        f"{simulator.url}/simulator/payments/{created.provider_payment_id}/approve",
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
