"""Admin pages of the storefront: promotion codes and their use, and the orders."""

import secrets
from datetime import UTC

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import SelectChoice

from shop.auth.decorators import admin_required
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.i18n import money_filter
from shop.money import CURRENCIES, InvalidAmount, parse_major_amount
from shop.payments.gateway import GatewayUnavailable
from shop.storefront import promotions, refund_flow, refunds
from shop.storefront.delivered import order_vouchers
from shop.storefront.forms import PromotionForm, RefundForm
from shop.storefront.messages import (
    PAYMENT_METHOD_NAMES,
    PAYMENT_STATE_NAMES,
    REFUND_MESSAGES,
    REFUND_STATUS_NAMES,
    STATUS_NAMES,
)
from shop.storefront.models import Order, OrderStatus, PromotionKind
from shop.web import current_actor

bp = Blueprint("storefront_admin", __name__, url_prefix="/admin")

ORDERS_PER_PAGE = 100


@bp.route("/promotions")
@admin_required
def promotions_list():
    """List every promotion with its use."""
    return render_template(
        "storefront/admin_promotions.html", promotions=promotions.list_promotions()
    )


def _promotion_form() -> PromotionForm:
    form = PromotionForm()
    form.currency.choices = [SelectChoice(code, code) for code in CURRENCIES]
    form.skus.choices = [
        SelectChoice(product.sku, f"{product.sku} · {product.name}")
        for product in catalog_services.list_all_products()
    ]
    return form


def _percent_bps(text: str) -> int:
    """Parse "12.5" (percent) into basis points, exactly."""
    return parse_major_amount(text, "USD")  # two decimals: 12.50 % -> 1250 bps


def _draft(form: PromotionForm) -> promotions.PromotionDraft | None:
    kind = PromotionKind(form.kind.data)
    currency = form.currency.data
    values = {"percent_bps": 0, "amount_off": 0, "min_total": 0}
    parsers = {
        "percent_bps": (form.percent, _percent_bps),
        "amount_off": (form.amount_off, lambda text: parse_major_amount(text, currency)),
        "min_total": (form.min_total, lambda text: parse_major_amount(text, currency)),
    }
    needed = {
        "percent_bps": kind == PromotionKind.PERCENT,
        "amount_off": kind == PromotionKind.AMOUNT,
    }
    ok = True
    for name, (field, parse) in parsers.items():
        text = (field.data or "").strip()
        if not text:
            if needed.get(name):
                field.errors.append(_("Required for this kind of discount."))
                ok = False
            continue
        try:
            values[name] = parse(text)
        except InvalidAmount:
            field.errors.append(_("Type a number such as 12.50."))
            ok = False
    if not ok:
        return None

    def aware(value):
        return value.replace(tzinfo=UTC) if value is not None else None

    return promotions.PromotionDraft(
        code=form.code.data,
        description=form.description.data or "",
        kind=kind,
        currency=currency,
        valid_from=aware(form.valid_from.data),
        valid_until=aware(form.valid_until.data),
        max_uses=form.max_uses.data,
        max_uses_per_customer=form.max_uses_per_customer.data,
        skus=tuple(form.skus.data or ()),
        **values,
    )


FIELD_OF = {
    "code": "code",
    "percent": "percent",
    "amount_off": "amount_off",
    "min_total": "min_total",
    "valid_until": "valid_until",
    "max_uses": "max_uses",
    "max_uses_per_customer": "max_uses_per_customer",
    "skus": "skus",
}

PROMOTION_FIELD_MESSAGES = {
    "code": _l("3 to 32 letters, digits, '-' or '_', not used by another promotion."),
    "percent": _l("From 0.01 to 100 percent."),
    "amount_off": _l("More than zero."),
    "min_total": _l("Zero or more."),
    "valid_until": _l("Must be after the start."),
    "max_uses": _l("At least 1, or empty for no limit."),
    "max_uses_per_customer": _l("At least 1, or empty for no limit."),
    "skus": _l("Choose packs from the list."),
}


@bp.route("/promotions/new", methods=["GET", "POST"])
@admin_required
def new_promotion():
    """Create a promotion code."""
    form = _promotion_form()
    status = 200
    if form.validate_on_submit():
        draft = _draft(form)
        if draft is not None:
            try:
                promotion = promotions.create_promotion(draft, current_actor())
            except promotions.InvalidPromotion as exc:
                db.session.rollback()
                field = getattr(form, FIELD_OF.get(exc.field, "code"))
                field.errors.append(str(PROMOTION_FIELD_MESSAGES.get(exc.field, exc)))
            else:
                flash(_("Promotion %(code)s created.", code=promotion.code), "success")
                return redirect(
                    url_for("storefront_admin.promotion", promotion_id=promotion.id), 303
                )
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("storefront/admin_promotion_form.html", form=form), status


@bp.route("/promotions/<id:promotion_id>")
@admin_required
def promotion(promotion_id):
    """Show one promotion: its terms and the orders that used it."""
    found = promotions.get_promotion(promotion_id)
    if found is None:
        abort(404)
    return render_template(
        "storefront/admin_promotion.html",
        promotion=found,
        orders=promotions.promotion_orders(found.id),
        status_names=STATUS_NAMES,
    )


@bp.route("/promotions/<id:promotion_id>/active", methods=["POST"])
@admin_required
def set_promotion_active(promotion_id):
    """Deactivate or reactivate a promotion."""
    found = promotions.get_promotion(promotion_id)
    if found is None:
        abort(404)
    active = request.form.get("active") == "1"
    promotions.set_promotion_active(found, active, current_actor())
    flash(
        _("Promotion %(code)s is active.", code=found.code)
        if active
        else _("Promotion %(code)s is deactivated.", code=found.code),
        "success",
    )
    return redirect(url_for("storefront_admin.promotion", promotion_id=found.id), 303)


@bp.route("/orders")
@admin_required
def orders_list():
    """List storefront orders, newest first; filter by status, find by reference or e-mail."""
    query = select(Order).order_by(Order.created_at.desc(), Order.id.desc())
    status = request.args.get("status", "")
    if status in {member.value for member in OrderStatus}:
        query = query.filter_by(status=OrderStatus(status))
    else:
        status = ""
    search = (request.args.get("q") or "").strip()[:254]
    if search:
        query = query.where(  # e-mail addresses are matched whatever their case
            (Order.reference == search.upper()) | (func.lower(Order.email) == search.lower())
        )
    found = list(db.session.execute(query.limit(ORDERS_PER_PAGE)).scalars())
    return render_template(
        "storefront/admin_orders.html",
        orders=found,
        status=status,
        search=search,
        status_names=STATUS_NAMES,
    )


def _order_or_404(reference: str) -> Order:
    order = db.session.execute(
        select(Order).filter_by(reference=reference.upper()[:20])
    ).scalar_one_or_none()
    if order is None:
        abort(404)
    return order


def _refund_form(order: Order) -> RefundForm:
    form = RefundForm()
    form.vouchers.choices = [
        SelectChoice(voucher.id, f"{voucher.serial} · {voucher.product.name}")
        for voucher in refunds.unredeemed_vouchers(order)
    ]
    if not form.refund_key.data:
        form.refund_key.data = secrets.token_hex(8)
    form.submit.label.text = _("Refund at %(provider)s", provider=_provider_name(order))
    return form


def _provider_name(order: Order) -> str:
    """Return the name of the provider the order was paid with (who refunds it)."""
    return str(PAYMENT_METHOD_NAMES.get(order.payment_method.value, order.payment_method.value))


def _render_order(order: Order, form: RefundForm, status: int = 200):
    refunded = refunds.refunded_total(order.id)
    return (
        render_template(
            "storefront/admin_order.html",
            order=order,
            form=form,
            refunded=refunded,
            left=order.total - refunded,
            refundable=order.status in refunds.REFUNDABLE and refunded < order.total,
            refund_list=refunds.order_refunds(order.id),
            vouchers=order_vouchers(order),
            status_names=STATUS_NAMES,
            payment_state_names=PAYMENT_STATE_NAMES,
            refund_status_names=REFUND_STATUS_NAMES,
        ),
        status,
    )


@bp.route("/orders/<reference>")
@admin_required
def order_detail(reference):
    """Show one order: payments, refunds, PINs, and the refund form."""
    order = _order_or_404(reference)
    return _render_order(order, _refund_form(order))


@bp.route("/orders/<reference>/refund", methods=["POST"])
@admin_required
def refund_order(reference):
    """Refund all or part of an order at its provider; void the PINs the refund covers."""
    order = _order_or_404(reference)
    form = _refund_form(order)
    if not form.validate_on_submit():
        return _render_order(order, form, 422)
    try:
        amount = parse_major_amount(form.amount.data.strip(), order.currency)
    except InvalidAmount:
        form.amount.errors.append(_("Type an amount such as 12.50."))
        return _render_order(order, form, 422)
    try:
        outcome = refund_flow.refund_order(
            order.id, amount, list(form.vouchers.data or []), form.refund_key.data, current_actor()
        )
    except refunds.RefundRefused as exc:
        db.session.rollback()
        message = REFUND_MESSAGES.get(exc.code, REFUND_MESSAGES["not_refundable"])
        left = money_filter(exc.left or 0, order.currency)
        target = form.vouchers if exc.code.startswith("voucher") else form.amount
        target.errors.append(str(message) % {"left": left, "provider": _provider_name(order)})
        return _render_order(order, form, 422)
    except GatewayUnavailable:
        flash(
            _(
                "%(provider)s did not answer. Nothing is lost: send the same form again.",
                provider=_provider_name(order),
            ),
            "error",
        )
        return _render_order(order, form, 503)
    flash(
        _(
            "Refunded. %(count)s PIN(s) voided; %(total)s refunded on this order so far.",
            count=outcome.voided,
            total=money_filter(outcome.refunded, order.currency),
        ),
        "success",
    )
    return redirect(url_for("storefront_admin.order_detail", reference=order.reference), 303)
