"""The buyer's approval page at the simulator: what they pay, and Pay / Declined card / Cancel.

An Orders v2 order's approval token is its id; a v1 payment's is its ``EC-`` token. After the
buyer's choice PayPal sends them back to the shop: the return URL with ``token`` and
``PayerID`` (v1 adds ``paymentId``), or the cancel URL with ``token``.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request

from simulators.paypal.orders import SimulatedOrder
from simulators.paypal.state import STATE_KEY, SimulatedPayment, SimulatorState

buyer = Blueprint("buyer", __name__)

CHOICES = ("pay", "decline", "cancel")


def state() -> SimulatorState:
    """Return this simulator's state."""
    return current_app.extensions[STATE_KEY]


def with_query(url: str, **params) -> str:
    """Add query parameters to a URL that may have some already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def order_redirect(order: SimulatedOrder, choice: str) -> str:
    """Return where PayPal sends the buyer of an order after their choice."""
    urls = order.experience
    if choice == "cancel":
        return with_query(urls["cancel_url"], token=order.id)
    return with_query(urls["return_url"], token=order.id, PayerID=order.payer_id)


def payment_redirect(payment: SimulatedPayment, choice: str) -> str:
    """Return where PayPal sends the buyer of a v1 payment after their choice."""
    urls = payment.body["redirect_urls"]
    if choice == "cancel":
        return with_query(urls["cancel_url"], token=payment.token)
    return with_query(
        urls["return_url"], paymentId=payment.id, token=payment.token, PayerID=payment.payer_id
    )


@buyer.get("/checkoutnow")
def approval_page():
    """Show the buyer what they are paying for, with pay, decline and cancel buttons."""
    token = request.args.get("token", "")
    order = state().orders.get(token)
    if order is not None:
        return render_template(
            "paypal/approve_order.html",
            order=order,
            merchant=current_app.config["MERCHANT_NAME"],
            items=order.unit.get("items") or [],
            amount=order.unit["amount"],
            description=order.unit.get("description", ""),
        )
    payment = state().payment_by_token(token)
    if payment is None:
        abort(404)
    transaction = payment.transaction
    return render_template(
        "paypal/approve.html",
        payment=payment,
        merchant=current_app.config["MERCHANT_NAME"],
        items=(transaction.get("item_list") or {}).get("items") or [],
        amount=transaction["amount"],
        description=transaction.get("description", ""),
    )


@buyer.post("/checkoutnow")
def approval_decision():
    """Record the buyer's choice and send them back to the shop."""
    token = request.form.get("token", "")
    choice = request.form.get("choice")
    if choice not in CHOICES:
        abort(400)
    order = state().orders.get(token)
    if order is not None:
        state().order_decides(order, choice)
        return redirect(order_redirect(order, choice))
    payment = state().payment_by_token(token)
    if payment is None:
        abort(400)
    state().buyer_decides(payment, choice)
    return redirect(payment_redirect(payment, choice))
