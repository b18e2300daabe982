"""Admin: when checkout asks for a one-time code, and the orders that were asked."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shop.auth.decorators import admin_required
from shop.extensions import db
from shop.money import InvalidAmount, parse_major_amount, to_decimal
from shop.storefront import payment_codes
from shop.storefront.forms import PaymentCodePolicyForm
from shop.storefront.models import Order, PaymentCheck
from shop.web import current_actor

bp = Blueprint("payment_code_admin", __name__, url_prefix="/admin")

RECENT_CHECKS = 50


def _recent_checks():
    return db.session.execute(
        select(PaymentCheck, Order)
        .join(Order, Order.id == PaymentCheck.order_id)
        .where(PaymentCheck.reasons != "")
        .order_by(PaymentCheck.id.desc())
        .limit(RECENT_CHECKS)
    ).all()


def _render(form, status=200):
    return render_template(
        "storefront/admin_payment_codes.html",
        form=form,
        checks=_recent_checks(),
        max_attempts=current_app.config["PAYMENT_CODE_MAX_ATTEMPTS"],
    ), status


@bp.route("/payment-codes", methods=["GET"])
@admin_required
def policy():
    """Show the rules and the latest orders that asked for a code."""
    current = payment_codes.current_policy()
    form = PaymentCodePolicyForm(obj=current)
    form.amount_threshold.data = (
        str(to_decimal(current.amount_threshold, current.currency))
        if current.amount_threshold
        else ""
    )
    return _render(form)


@bp.route("/payment-codes", methods=["POST"])
@admin_required
def save_policy():
    """Save the rules (audited)."""
    form = PaymentCodePolicyForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    currency = form.currency.data
    try:
        threshold = (
            parse_major_amount(form.amount_threshold.data, currency)
            if (form.amount_threshold.data or "").strip()
            else 0
        )
    except InvalidAmount:
        form.amount_threshold.errors.append(_("Type an amount such as 150.00, or leave it empty."))
        return _render(form, 422)
    payment_codes.update_policy(
        payment_codes.PolicySettings(
            enabled=form.enabled.data,
            amount_threshold=threshold,
            currency=currency,
            first_order=form.first_order.data,
            new_device=form.new_device.data,
            orders_per_address_per_hour=form.orders_per_address_per_hour.data,
        ),
        current_actor(),
    )
    flash(_("The one-time code rules are saved."), "success")
    return redirect(url_for("payment_code_admin.policy"), 303)
