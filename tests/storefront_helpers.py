"""Driving the storefront like a buyer: cart, checkout, PayPal simulator approval, return."""

from urllib.parse import parse_qs, urlsplit

import requests

from shop.extensions import db
from shop.storefront.models import Order, Payment

BUYER = "buyer@example.com"


def path_of(url: str) -> str:
    """Return the path and query of a URL (the test client takes those)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def add_to_cart(client, sku: str, quantity: int = 1):
    response = client.post("/cart/add", data={"sku": sku, "quantity": quantity})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def place_order(client, *, email=BUYER, delivery="vouchers", card="", promotion=""):
    """Check out the cart; return the order page path (with the link key)."""
    response = client.post(
        "/checkout",
        data={
            "email": email,
            "delivery": delivery,
            "card_number": card,
            "promotion_code": promotion,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return path_of(response.headers["Location"])


def order_by_path(order_path: str) -> Order:
    reference = urlsplit(order_path).path.split("/")[2]
    db.session.rollback()
    return db.session.execute(db.select(Order).filter_by(reference=reference)).scalar_one()


def with_action(order_path: str, action: str) -> str:
    parts = urlsplit(order_path)
    return f"{parts.path}/{action}" + (f"?{parts.query}" if parts.query else "")


def start_payment(client, order_path: str) -> str:
    """Press "Pay with PayPal"; return the approval URL at the simulator."""
    response = client.post(with_action(order_path, "pay"))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def approve(approval_url: str, choice: str = "pay") -> str:
    """Use the simulator's approval page as the buyer; return where PayPal sends them back."""
    page = requests.get(approval_url, timeout=5)
    assert page.status_code == 200
    token = parse_qs(urlsplit(approval_url).query)["token"][0]
    decision = requests.post(
        approval_url.split("?")[0],
        data={"token": token, "choice": choice},
        allow_redirects=False,
        timeout=5,
    )
    assert decision.status_code in (302, 303), decision.text
    return decision.headers["Location"]


def buy(client, *, email=BUYER, delivery="vouchers", card="", promotion="", choice="pay"):
    """Checkout, approve at the simulator and come back; return (order path, return response)."""
    order_path = place_order(client, email=email, delivery=delivery, card=card, promotion=promotion)
    back = approve(start_payment(client, order_path), choice)
    response = client.get(path_of(back))
    return order_path, response


def payment_of(order: Order) -> Payment:
    return db.session.execute(db.select(Payment).filter_by(order_id=order.id)).scalar_one()


def signed_webhook(simulator, payment_id: str, event: str = "completed") -> tuple[dict, bytes]:
    """Fetch a signed webhook request from the simulator without it being delivered."""
    answer = requests.get(
        f"{simulator.url}/simulator/orders/{payment_id}/webhook",
        params={"event": event},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    return data["headers"], data["body"].encode()


def post_webhook(client, headers: dict, body: bytes):
    return client.post(
        "/payments/paypal/webhook",
        data=body,
        headers=headers,
        content_type="application/json",
    )
