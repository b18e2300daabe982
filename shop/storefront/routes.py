"""Storefront pages: cart, checkout, paying with PayPal, and the order page with the PINs."""

import contextlib
import logging
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from shop.cards.forms import card_number_problem
from shop.catalog import services as catalog_services
from shop.catalog.services import ProductNotFound
from shop.payments.gateway import GatewayUnavailable, PaymentError
from shop.storefront import cart, fulfilment, orders, payment_codes, payment_flow
from shop.storefront.delivered import delivered_vouchers, order_topups
from shop.storefront.forms import (
    AddToCartForm,
    CartLineForm,
    CartRemoveForm,
    CheckoutForm,
    PromotionCodeForm,
)
from shop.storefront.messages import (
    PAYMENT_METHOD_NAMES,
    STATUS_NAMES,
    STATUS_NOTES,
    checkout_message,
    promotion_message,
)
from shop.storefront.models import Delivery, OrderStatus, PaymentMethod
from shop.vouchers import pdf
from shop.vouchers.services import printable_batch
from shop.web import client_ip, current_actor, download_response

log = logging.getLogger(__name__)

bp = Blueprint("storefront", __name__)

NO_STORE = {"Cache-Control": "no-store"}
#: A random token naming this browser, so a customer's known browsers need no payment code.
DEVICE_COOKIE = "wd_device"
DEVICE_COOKIE_SECONDS = 2 * 365 * 24 * 3600


@bp.app_context_processor
def inject_cart():
    """Give every page the cart's size (for the header) and the pack page its cart form."""
    return {
        "cart_count": sum(cart.items().values()),
        "add_to_cart_form": lambda sku: AddToCartForm(sku=sku, formdata=None),
    }


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _max_quantity() -> int:
    return current_app.config["ORDER_MAX_QUANTITY"]


def _quote(email: str = ""):
    return orders.quote_cart(
        cart.items(),
        promotion_code=cart.promotion_code(),
        user_id=_user_id(),
        email=email or (current_user.email if current_user.is_authenticated else ""),
    )


@bp.route("/cart")
def view_cart():
    """Show the cart with prices as they are now, and the promotion code."""
    quote = _quote()
    promotion_form = PromotionCodeForm(code=cart.promotion_code())
    return _render_cart(quote, promotion_form)


def _render_cart(quote, promotion_form, status: int = 200):
    if quote.promotion_error is not None:
        promotion_form.code.errors = [promotion_message(quote.promotion_error, quote.currency)]
    problems = [
        checkout_message(problem, quote.currency)
        for problem in quote.problems
        if problem.reason != "empty"
    ]
    return (
        render_template(
            "storefront/cart.html",
            quote=quote,
            promotion_form=promotion_form,
            problems=problems,
        ),
        status,
    )


@bp.route("/cart/add", methods=["POST"])
def add_to_cart():
    """Put a pack in the cart."""
    form = AddToCartForm()
    if not form.validate_on_submit():
        flash(_("Choose a quantity from 1 to 100."), "error")
        return redirect(request.referrer or url_for("catalog.home"))
    try:
        product = catalog_services.get_product_by_sku(form.sku.data)
        cart.add(product.sku, form.quantity.data, _max_quantity())
    except ProductNotFound:
        flash(_("This pack is not on sale any more."), "error")
        return redirect(url_for("catalog.home"))
    except cart.CartError as exc:
        flash(checkout_message(exc), "error")
        return redirect(url_for("storefront.view_cart"))
    flash(
        _("%(pack)s is in your cart.", pack=product.name),
        "success",
    )
    return redirect(url_for("storefront.view_cart"))


@bp.route("/cart/update", methods=["POST"])
def update_cart():
    """Change a pack's quantity."""
    form = CartLineForm()
    if not form.validate_on_submit():
        flash(_("Choose a quantity from 1 to 100."), "error")
        return redirect(url_for("storefront.view_cart"))
    try:
        cart.set_quantity(form.sku.data, form.quantity.data, _max_quantity())
    except cart.CartError as exc:
        flash(checkout_message(exc), "error")
    return redirect(url_for("storefront.view_cart"))


@bp.route("/cart/remove", methods=["POST"])
def remove_from_cart():
    """Take a pack out of the cart."""
    form = CartRemoveForm()
    if form.validate_on_submit():
        cart.remove(form.sku.data)
    return redirect(url_for("storefront.view_cart"))


@bp.route("/cart/promotion", methods=["POST"])
def apply_promotion():
    """Apply (or, with an empty code, remove) a promotion code."""
    form = PromotionCodeForm()
    if not form.validate_on_submit():
        return _render_cart(_quote(), form, 400)
    cart.set_promotion_code((form.code.data or "").strip().upper())
    quote = _quote()
    if quote.promotion_error is not None:
        cart.set_promotion_code("")
        return _render_cart(quote, form, 422)
    if quote.promotion is not None:
        flash(_("Promotion code applied."), "success")
    return redirect(url_for("storefront.view_cart"))


@bp.route("/checkout", methods=["GET", "POST"])
def checkout():
    """Confirm what to buy, how to receive it and where to send it; then place the order."""
    if request.args.get("card"):
        cart.set_card_to_top_up(request.args["card"])
    if not cart.items():
        if cart.card_to_top_up():
            flash(_("Choose a pack for card %(number)s.", number=cart.card_to_top_up()), "info")
        else:
            flash(_("Your cart is empty. Add a pack first."), "info")
        return redirect(url_for("catalog.home"))
    form = CheckoutForm()
    if request.method == "GET":
        form.promotion_code.data = cart.promotion_code()
        if current_user.is_authenticated:
            form.email.data = current_user.email
        if cart.card_to_top_up():
            form.delivery.data = Delivery.TOPUP.value
            form.card_number.data = cart.card_to_top_up()
    status = 200
    if form.validate_on_submit():
        if form.delivery.data == Delivery.TOPUP.value and not (form.card_number.data or "").strip():
            form.card_number.errors.append(_("Type the number of the card to top up."))
            status = 422
        else:
            order, status = _place(form)
            if order is not None:
                cart.clear()
                return redirect(order_url(order))
    elif request.method == "POST":
        status = 422
    quote = orders.quote_cart(
        cart.items(),
        promotion_code=form.promotion_code.data or "",
        user_id=_user_id(),
        email=form.email.data or "",
    )
    if quote.promotion_error is not None and not form.promotion_code.errors:
        form.promotion_code.errors.append(promotion_message(quote.promotion_error, quote.currency))
    problems = [checkout_message(problem, quote.currency) for problem in quote.problems]
    response = current_app.make_response(
        (
            render_template("storefront/checkout.html", form=form, quote=quote, problems=problems),
            status,
        )
    )
    if not request.cookies.get(DEVICE_COOKIE):
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(24),
            max_age=DEVICE_COOKIE_SECONDS,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


def _place(form: CheckoutForm):
    request_ = orders.CheckoutRequest(
        items=cart.items(),
        email=form.email.data,
        delivery=Delivery(form.delivery.data),
        card_number=form.card_number.data or "",
        promotion_code=form.promotion_code.data or "",
        user_id=_user_id(),
        locale=str(get_locale() or "en"),
        device_token=request.cookies.get(DEVICE_COOKIE, "")[:64],
        client_address=client_ip(),
        payment_method=PaymentMethod(form.payment_method.data or PaymentMethod.PAYPAL.value),
    )
    try:
        return orders.place_order(request_, current_actor()), 303
    except orders.CheckoutError as exc:
        if exc.reason == "promotion":
            currency = _quote().currency or "USD"
            form.promotion_code.errors.append(promotion_message(exc.facts["error"], currency))
        elif exc.reason == "card_number":
            form.card_number.errors.append(card_number_problem(exc.facts["error"]))
        elif exc.field:
            getattr(form, exc.field).errors.append(checkout_message(exc))
        else:
            flash(checkout_message(exc, _quote().currency or "USD"), "error")
        return None, 422


def order_url(order, endpoint: str = "storefront.order", **values) -> str:
    """Return a page of the order with its signed link key (guests have no other way in)."""
    return url_for(endpoint, reference=order.reference, key=orders.order_link_key(order), **values)


def visible_order(reference: str):
    """Return the order if this visitor may see it; 404 otherwise (never reveal it exists)."""
    try:
        order = orders.get_order_by_reference(reference)
    except orders.OrderNotFound:
        abort(404)
    key = request.values.get("key")
    if not orders.may_view(order, current_user, key):
        abort(404)
    return order


@bp.route("/orders/<reference>")
def order(reference):
    """Show the order: confirmation before paying, its status, the PINs once fulfilled."""
    order = visible_order(reference)
    delivered = order.status in (OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)
    vouchers = delivered_vouchers(order) if delivered else []
    topups = order_topups(order) if delivered and not vouchers else []
    return (
        render_template(
            "storefront/order.html",
            order=order,
            vouchers=vouchers,
            topups=topups,
            key=request.values.get("key", ""),
            status_names=STATUS_NAMES,
            status_notes=STATUS_NOTES,
            payment_check=payment_codes.check_of(order),
            method_names=PAYMENT_METHOD_NAMES,
        ),
        200,
        NO_STORE,
    )


@bp.route("/orders/<reference>/pay", methods=["POST"])
def pay(reference):
    """Send the buyer to PayPal to approve the payment of a pending order.

    An order that asks for a one-time code goes to the code page first (the first code is sent
    on the way).
    """
    order = visible_order(reference)
    return code_page_first(order) or start_provider_payment(order)


def code_page_first(order):
    """Return the way to the one-time code page when the order still needs its code, else None.

    Every payment method's "Pay" goes through here; the first code is sent on the way.
    """
    if payment_codes.payment_allowed(order):
        return None
    check = payment_codes.check_of(order)
    if check.codes_sent == 0 and order.status == OrderStatus.PENDING:
        # When no code can be sent, the code page says why.
        with contextlib.suppress(payment_codes.PaymentCodeError):
            payment_codes.send_code(order, current_actor())
    return redirect(order_url(order, "payment_code.enter"), 303)


def start_provider_payment(order):
    """Create the order's payment at PayPal and send the buyer there (or back, with why not)."""
    urls = payment_flow.ReturnUrls(
        return_url=order_url(order, "storefront.paypal_return", _external=True),
        cancel_url=order_url(order, "storefront.paypal_cancel", _external=True),
    )
    try:
        approval_url = payment_flow.start_payment(order, urls)
    except payment_flow.OrderNotPayable:
        flash(_("This order is not waiting for a payment."), "info")
    except GatewayUnavailable:
        flash(
            _("PayPal did not answer. Nothing was charged; please try again in a minute."),
            "error",
        )
    except PaymentError as exc:
        log.error("creating the payment of %s failed: %s", order.reference, exc)
        flash(_("PayPal refused to start this payment. Nothing was charged."), "error")
    else:
        return redirect(approval_url, 303)
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/cancel", methods=["POST"])
def cancel(reference):
    """Cancel a pending order (nothing was charged)."""
    order = visible_order(reference)
    if orders.cancel_order(order, current_actor()):
        flash(_("Your order is cancelled. Nothing was charged."), "info")
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/reorder", methods=["POST"])
def reorder(reference):
    """Put a failed or cancelled order's packs back in the cart, to try again."""
    order = visible_order(reference)
    cart.fill({line.sku: line.quantity for line in order.lines})
    return redirect(url_for("storefront.view_cart"), 303)


@bp.route("/orders/<reference>/paypal/return")
def paypal_return(reference):
    """PayPal sends the buyer back here after approving: capture and fulfil (once).

    Orders v2 names the order in ``token``; a v1 payment (before the move) in ``paymentId``.
    """
    order = visible_order(reference)
    payment_id = (request.args.get("paymentId") or request.args.get("token") or "")[:80]
    payer_id = request.args.get("PayerID", "")[:80]
    if not payment_id:
        flash(_("PayPal did not say which payment this is."), "error")
        return redirect(order_url(order), 303)
    try:
        payment_flow.complete_return(order, payment_id, payer_id)
    except fulfilment.UnknownPayment:
        flash(_("This payment does not belong to this order."), "error")
    except fulfilment.AmountMismatch as exc:
        log.error("order %s: PayPal reports %s; not fulfilled", order.reference, exc)
        flash(
            _("The amount PayPal reports does not match this order. We are looking into it."),
            "error",
        )
    except GatewayUnavailable:
        flash(
            _(
                "PayPal did not answer in time. If you approved the payment, your order "
                "completes as soon as PayPal confirms it: reload this page in a minute."
            ),
            "error",
        )
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/paypal/cancel")
def paypal_cancel(reference):
    """PayPal sends the buyer back here after cancelling."""
    order = visible_order(reference)
    if payment_flow.cancel_return(order, request.args.get("token", "")):
        flash(_("You cancelled the payment. Nothing was charged."), "info")
    return redirect(order_url(order), 303)


@bp.route("/orders/<reference>/vouchers.pdf")
def order_pdf(reference):
    """Send the order's vouchers as a PDF: A4 sheets (default) or 80 mm receipts."""
    order = visible_order(reference)
    if order.status not in (OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED):
        abort(404)
    layout = request.args.get("format", "a4")
    if layout not in ("a4", "receipt"):
        abort(400)
    printable = []
    for line in order.lines:
        if line.batch_id is not None:
            printable.extend(printable_batch(line.batch_id))
    if not printable:
        abort(404)
    render = pdf.render_receipts if layout == "receipt" else pdf.render_a4_sheets
    content = render(printable, pdf.print_context(current_app.config))
    response = download_response(content, f"{order.reference}-{layout}.pdf")
    response.headers["Cache-Control"] = "no-store"
    return response
