"""The one-time code page between the order confirmation and the payment provider."""

from flask import Blueprint, flash, redirect, render_template
from flask_babel import gettext as _
from flask_babel import ngettext

from shop.storefront import payment_codes
from shop.storefront.forms import PaymentCodeForm
from shop.storefront.models import OrderStatus, PaymentMethod
from shop.storefront.routes import NO_STORE, order_url, start_provider_payment, visible_order
from shop.throttle import Throttled
from shop.web import client_ip, current_actor

bp = Blueprint("payment_code", __name__)


def code_problem(exc: payment_codes.PaymentCodeError) -> str:
    """Return the buyer's message for a code that cannot be sent or accepted."""
    facts = exc.facts
    messages = {
        "wrong": lambda: ngettext(
            "This is not the code we sent. %(num)d more try, then this order is locked.",
            "This is not the code we sent. %(num)d more tries, then this order is locked.",
            facts.get("remaining", 0),
        ),
        "malformed": lambda: _("The code is the 6 digits we sent you."),
        "expired": lambda: _("This code has expired. Ask for a new one."),
        "not_sent": lambda: _("No code was sent yet. Ask for one."),
        "locked": lambda: _(
            "Too many wrong codes: this order can no longer be paid. Cancel it and place a new"
            " one, or contact us."
        ),
        "too_soon": lambda: ngettext(
            "A code was just sent. You can ask for another in %(num)d second.",
            "A code was just sent. You can ask for another in %(num)d seconds.",
            facts.get("seconds", 0),
        ),
        "too_many_sends": lambda: _(
            "We sent as many codes as we can for this order. Cancel it and place a new one."
        ),
        "not_pending": lambda: _("This order is not waiting for a payment."),
        "verified": lambda: _("Your code was already confirmed."),
        "not_required": lambda: _("This order needs no code."),
    }
    return messages[exc.reason]()


def _render(order, form, status=200):
    check = payment_codes.check_of(order)
    return (
        render_template(
            "storefront/payment_code.html",
            order=order,
            check=check,
            form=form,
            confirm_url=order_url(order, "payment_code.confirm"),
            resend_url=order_url(order, "payment_code.resend"),
            order_link=order_url(order),
            locked=payment_codes.is_locked(check),
            resend_in=payment_codes.seconds_until_resend(check),
        ),
        status,
        NO_STORE,
    )


def _order_or_back(reference):
    """Return the order and its check, or a redirect when no code is asked for (any more)."""
    order = visible_order(reference)
    check = payment_codes.check_of(order)
    if check is None or not check.required or check.verified_at is not None:
        return order, redirect(order_url(order), 303)
    if order.status != OrderStatus.PENDING:
        return order, redirect(order_url(order), 303)
    return order, None


@bp.route("/orders/<reference>/code", methods=["GET"])
def enter(reference):
    """Ask for the one-time code sent to the buyer."""
    order, back = _order_or_back(reference)
    return back or _render(order, PaymentCodeForm())


@bp.route("/orders/<reference>/code", methods=["POST"])
def confirm(reference):
    """Check the typed code; when right, go on to the payment provider."""
    order, back = _order_or_back(reference)
    if back is not None:
        return back
    form = PaymentCodeForm()
    if not form.validate_on_submit():
        return _render(order, form, 422)
    try:
        payment_codes.verify_code(order, form.code.data, client_ip(), current_actor())
    except payment_codes.PaymentCodeError as exc:
        form.code.errors.append(code_problem(exc))
        return _render(order, form, 409 if exc.reason == "locked" else 422)
    except Throttled as exc:
        form.code.errors.append(
            ngettext(
                "Too many wrong codes from your address. Try again in %(num)d minute.",
                "Too many wrong codes from your address. Try again in %(num)d minutes.",
                max(1, -(-exc.retry_after // 60)),
            )
        )
        response = _render(order, form, 429)
        return (*response[:2], {**response[2], "Retry-After": str(exc.retry_after)})
    if order.payment_method == PaymentMethod.PAYPAL:
        return start_provider_payment(order)
    # Alipay and WeChat Pay ask which of their pages to use (desktop, phone): the order page
    # offers them, now without the code.
    flash(_("Your code is confirmed. Choose how to pay."), "success")
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/code/resend", methods=["POST"])
def resend(reference):
    """Send a new code (after the wait); the previous one stops working."""
    order, back = _order_or_back(reference)
    if back is not None:
        return back
    try:
        payment_codes.send_code(order, current_actor())
    except payment_codes.PaymentCodeError as exc:
        flash(code_problem(exc), "error")
    else:
        flash(_("A new code is on its way."), "success")
    return redirect(order_url(order, "payment_code.enter"), 303)
