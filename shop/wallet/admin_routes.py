"""The operator's wallet pages: find a customer's wallet, read its ledger, adjust it."""

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.auth.decorators import admin_required
from shop.extensions import db
from shop.i18n import money_filter
from shop.money import InvalidAmount, parse_major_amount
from shop.wallet import services
from shop.wallet.forms import AdjustmentForm, WalletSearchForm
from shop.wallet.models import Wallet
from shop.web import current_actor

bp = Blueprint("wallet_admin", __name__, url_prefix="/admin/wallets")

ADJUSTMENT_MESSAGES = {
    "reason_missing": _l("Say why: the customer sees it."),
    "amount_invalid": _l("Type an amount other than zero, such as 5.00 or -5.00."),
    "below_zero": _l("A wallet never goes below zero: it holds %(balance)s."),
    "key_invalid": _l("The form has expired; open the wallet again."),
    "amount_too_large": _l("At most %(maximum)s in one adjustment."),
}


@bp.route("")
@admin_required
def wallets():
    """List wallets, found by their owner's e-mail."""
    form = WalletSearchForm(request.args)
    email = form.email.data if form.validate() else ""
    return render_template(
        "wallet/admin_wallets.html", form=form, wallets=services.search_wallets(email or "")
    )


def _wallet_or_404(wallet_id: int) -> Wallet:
    wallet = db.session.get(Wallet, wallet_id)
    if wallet is None:
        abort(404)
    return wallet


def _signed_amount(text: str, currency: str) -> int:
    """Parse "5.00", "+5.00" or "-5.00" into signed minor units."""
    cleaned = (text or "").strip()
    sign = -1 if cleaned.startswith("-") else 1
    if cleaned[:1] in ("+", "-"):
        cleaned = cleaned[1:]
    return sign * parse_major_amount(cleaned, currency)


def _render(wallet: Wallet, form: AdjustmentForm, status: int = 200, preview=None):
    if not form.key.data:
        form.key.data = secrets.token_hex(8)
    return (
        render_template(
            "wallet/admin_wallet.html",
            wallet=wallet,
            entries=services.history(wallet.id, limit=500),
            ledger_sum=services.ledger_sum(wallet.id),
            form=form,
            preview=preview,
        ),
        status,
    )


@bp.route("/<id:wallet_id>")
@admin_required
def wallet(wallet_id):
    """Show a wallet: its owner, balance, ledger, and the adjustment form."""
    return _render(_wallet_or_404(wallet_id), AdjustmentForm())


@bp.route("/<id:wallet_id>/adjust", methods=["POST"])
@admin_required
def adjust(wallet_id):
    """Adjust a wallet: first show what it does, then, confirmed, apply it once."""
    wallet = _wallet_or_404(wallet_id)
    form = AdjustmentForm()
    if not form.validate_on_submit():
        return _render(wallet, form, 422)
    try:
        amount = _signed_amount(form.amount.data, wallet.currency)
        if amount == 0:
            raise InvalidAmount("zero")
    except InvalidAmount:
        form.amount.errors.append(str(ADJUSTMENT_MESSAGES["amount_invalid"]))
        return _render(wallet, form, 422)
    if abs(amount) > services.ADJUSTMENT_MAX:
        form.amount.errors.append(
            str(ADJUSTMENT_MESSAGES["amount_too_large"])
            % {"maximum": money_filter(services.ADJUSTMENT_MAX, wallet.currency)}
        )
        return _render(wallet, form, 422)
    if wallet.balance + amount < 0:
        form.amount.errors.append(
            str(ADJUSTMENT_MESSAGES["below_zero"])
            % {"balance": money_filter(wallet.balance, wallet.currency)}
        )
        return _render(wallet, form, 422)
    if form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        return _render(
            wallet, form, 200, preview={"amount": amount, "after": wallet.balance + amount}
        )
    try:
        adjusted = services.adjust(
            wallet.id, amount, form.reason.data, form.key.data, current_actor()
        )
    except services.AdjustmentRefused as exc:
        facts = {
            name: money_filter(exc.facts.get(name, 0), wallet.currency)
            for name in ("balance", "maximum")
        }
        form.confirmed.data = ""
        form.amount.errors.append(str(ADJUSTMENT_MESSAGES[exc.reason]) % facts)
        return _render(wallet, form, 409 if exc.reason == "below_zero" else 422)
    if adjusted.duplicate:
        flash(_("This adjustment was already made."), "info")
    else:
        flash(
            _(
                "Adjusted. The wallet now holds %(balance)s.",
                balance=money_filter(adjusted.balance, wallet.currency),
            ),
            "success",
        )
    return redirect(url_for("wallet_admin.wallet", wallet_id=wallet.id), 303)
