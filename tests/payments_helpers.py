"""Helpers for payment tests: a simulator per test, a gateway pointed at it, a buyer's approval.

The storefront's tests may use them too: ``running_simulator()`` serves PayPal on a free loopback
port and ``simulator.shop_config()`` is the settings that point the shop's gateway at it.
"""

import threading
from urllib.parse import parse_qs, urlsplit

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from shop.payments.gateway import CreatedPayment, LineItem, PaymentRequest
from shop.payments.paypal import PayPalGateway
from shop.payments.settings import paypal_settings
from simulators.paypal import PayPalSimulator

#: Short enough that a hung PayPal costs a test half a second.
TEST_TIMEOUT = 0.5


def running_simulator(**config):
    """Yield a PayPal simulator on a free port (no webhooks unless a test sets a URL).

    A test module's fixture: ``yield from running_simulator()``.
    """
    with PayPalSimulator(**config) as server:
        yield server


def make_gateway(simulator, **overrides) -> PayPalGateway:
    """Return a gateway for ``simulator`` with a short timeout."""
    config = {**simulator.shop_config(), "PAYPAL_TIMEOUT_SECONDS": TEST_TIMEOUT, **overrides}
    return PayPalGateway(paypal_settings(config))


def order(reference="ORD-1001", currency="USD", discount=0, lines=None) -> PaymentRequest:
    """Return a payment request for an order of demo packs."""
    lines = lines or (
        LineItem("ASIA-10GB-30D", "Asia 10 GB / 30 days", 1, 2500),
        LineItem("ASIA-1GB-7D", "Asia 1 GB / 7 days", 2, 500),
    )
    gross = sum(line.quantity * line.unit_price for line in lines)
    return PaymentRequest(
        reference=reference,
        currency=currency,
        total=gross - discount,
        items=tuple(lines),
        discount=discount,
        description=f"Wanderdata order {reference}",
        return_url=f"http://127.0.0.1:5000/checkout/{reference}/return?lang=en",
        cancel_url=f"http://127.0.0.1:5000/checkout/{reference}/cancel",
    )


def buyer_chooses(created: CreatedPayment, choice: str = "pay") -> dict:
    """Open the approval page and press a button as the buyer; return the redirect's query."""
    page = requests.get(created.approval_url, timeout=5)
    assert page.status_code == 200
    token = parse_qs(urlsplit(created.approval_url).query)["token"][0]
    form_action = urlsplit(created.approval_url)._replace(query="").geturl()
    answer = requests.post(
        form_action, data={"token": token, "choice": choice}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    query["location"] = location
    return query


def pay(gateway, simulator, reference="ORD-1001", **order_args):
    """Create, approve and capture an Orders v2 order; return (request, created, status)."""
    request = order(reference, **order_args)
    created = gateway.create_payment(request)
    back = buyer_chooses(created)
    status = gateway.execute_payment(back["token"], back["PayerID"], reference)
    return request, created, status


class WebhookReceiver:
    """A loopback HTTP server that records every request (the shop's webhook stand-in)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.requests: list[tuple[dict, bytes]] = []
        self.received = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/payments/paypal/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _app(self, environ, start_response):
        request = Request(environ)
        with self.received:
            self.requests.append((dict(request.headers), request.get_data()))
            self.received.notify_all()
        return Response("ok", status=self.status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict, bytes]]:
        """Wait until ``count`` requests have arrived; return them all."""
        with self.received:
            self.received.wait_for(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()


def v1_payment_body(reference: str, return_url: str = "http://127.0.0.1:5000/return") -> dict:
    """Return a v1 create-payment body of 35.00 USD (how payments were made before Orders v2)."""
    items = [
        {"name": "Asia 10 GB / 30 days", "sku": "ASIA-10GB-30D", "price": "25.00", "quantity": "1"},
        {"name": "Asia 1 GB / 7 days", "sku": "ASIA-1GB-7D", "price": "5.00", "quantity": "2"},
    ]
    return {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "redirect_urls": {"return_url": return_url, "cancel_url": return_url + "/cancel"},
        "transactions": [
            {
                "amount": {"total": "35.00", "currency": "USD", "details": {"subtotal": "35.00"}},
                "item_list": {"items": [{**item, "currency": "USD"} for item in items]},
                "invoice_number": reference,
            }
        ],
    }


def v1_payment(simulator, reference: str) -> tuple[str, str]:
    """Create and approve a v1 payment at the simulator; return (payment id, payer id)."""
    token = requests.post(
        f"{simulator.url}/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(simulator.app.config["CLIENT_ID"], simulator.app.config["CLIENT_SECRET"]),
        timeout=5,
    ).json()["access_token"]
    created = requests.post(
        f"{simulator.url}/v1/payments/payment",
        json=v1_payment_body(reference),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    approved = requests.post(
        f"{simulator.url}/simulator/payments/{created['id']}/approve", json={}, timeout=5
    ).json()
    return created["id"], approved["payer_id"]
