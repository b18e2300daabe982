"""Admin pages of the storefront: promotion codes and their use, and the orders."""

from datetime import UTC

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import SelectChoice

from shop.auth.decorators import admin_required
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.money import CURRENCIES, InvalidAmount, parse_major_amount
from shop.storefront import promotions
from shop.storefront.forms import PromotionForm
from shop.storefront.messages import STATUS_NAMES
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
