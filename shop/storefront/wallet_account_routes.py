"""The customer's wallet pages: balances and history, the CSV, the top-up form, paying from it.

``wallet.topup`` (``/account/wallet/top-up``) takes optional ``currency`` and ``amount``
(minor units) query arguments to fill the form in: other pages (a card's auto-renew rule
short of money) link to it with what is missing.
"""

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from shop.autorenew.models import Renewal
from shop.cards.models import Card
from shop.csv_export import csv_bytes
from shop.extensions import db
from shop.i18n import money_filter
from shop.money import CURRENCIES, InvalidAmount, format_minor, parse_major_amount
from shop.storefront import wallet_orders
from shop.storefront.forms import WalletTopUpForm
from shop.storefront.messages import checkout_message, wallet_pay_message
from shop.storefront.models import PaymentMethod
from shop.storefront.orders import CheckoutError
from shop.storefront.routes import DEVICE_COOKIE, code_page_first, order_url, visible_order
from shop.wallet import references
from shop.wallet import services as wallet_services
from shop.web import client_ip, current_actor, download_response

bp = Blueprint("wallet", __name__)

HISTORY_LIMIT = 200


@bp.app_context_processor
def inject_wallet_helpers():
    """Give pages the signed-in customer's balance (checkout, order page) and wallet facts."""
    return {
        "wallet_balance": lambda currency: wallet_orders.balance_of(_user_id(), currency),
        "wallet_order_entry": wallet_orders.order_entry,
    }


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def entry_targets(entries) -> dict[int, tuple[str, str]]:
    """Return, per entry id, (label, URL) of what it was for: an order, a card; URL may be "".

    The cards of the renewals among ``entries`` are looked up in one query.
    """
    renewal_keys = {entry.id: references.renewal_of(entry.reference) for entry in entries}
    wanted = {key for key in renewal_keys.values() if key is not None}
    card_by_key = dict(
        db.session.execute(
            select(Renewal.key, Card.number)
            .join(Card, Card.id == Renewal.card_id)
            .where(Renewal.key.in_(wanted))
        ).all()
        if wanted
        else ()
    )
    targets = {}
    for entry in entries:
        order = references.order_of(entry.reference)
        card_number = card_by_key.get(renewal_keys[entry.id])
        if order:
            targets[entry.id] = order, url_for("storefront.order", reference=order)
        elif card_number:
            targets[entry.id] = card_number, url_for("cards.check", number=card_number)
        else:
            targets[entry.id] = entry.note, ""
    return targets


@bp.route("/account/wallet")
@login_required
def index():
    """Show the customer's balance in each currency and each wallet's history."""
    wallets = wallet_services.user_wallets(current_user.id)
    histories = {
        wallet.id: wallet_services.history(wallet.id, limit=HISTORY_LIMIT) for wallet in wallets
    }
    targets = entry_targets([entry for entries in histories.values() for entry in entries])
    return render_template(
        "storefront/wallet.html", wallets=wallets, histories=histories, targets=targets
    )


def _prefill(form: WalletTopUpForm) -> None:
    currency = (request.args.get("currency") or "").upper()
    if currency in CURRENCIES:
        form.currency.data = currency
    amount = request.args.get("amount", "")
    if re.fullmatch(r"[0-9]{1,12}", amount) and int(amount) > 0:  # ASCII digits only
        form.amount.data = format_minor(int(amount), form.currency.data or "USD")
    if form.currency.data == "CNY" and request.args.get("method") in ("alipay", "wechatpay"):
        form.payment_method.data = request.args["method"]


@bp.route("/account/wallet/top-up", methods=["GET", "POST"])
@login_required
def topup():
    """Add money to the wallet: place a top-up order, paid like any order."""
    form = WalletTopUpForm()
    status = 200
    if request.method == "GET":
        _prefill(form)
    elif form.validate_on_submit():
        order = _place(form)
        if order is not None:
            return redirect(order_url(order), 303)
        status = 422
    else:
        status = 422
    minimum, maximum = wallet_orders.topup_limits()
    return (
        render_template(
            "storefront/wallet_topup.html", form=form, minimum=minimum, maximum=maximum
        ),
        status,
    )


def _place(form: WalletTopUpForm):
    currency = form.currency.data
    try:
        amount = parse_major_amount(form.amount.data, currency)
    except InvalidAmount:
        form.amount.errors.append(_("Type an amount such as 20.00."))
        return None
    topup_request = wallet_orders.TopUpRequest(
        user_id=current_user.id,
        email=current_user.email,
        currency=currency,
        amount=amount,
        payment_method=PaymentMethod(form.payment_method.data),
        locale=str(get_locale() or "en"),
        device_token=request.cookies.get(DEVICE_COOKIE, "")[:64],
        client_address=client_ip(),
    )
    try:
        return wallet_orders.place_topup_order(topup_request, current_actor())
    except CheckoutError as exc:
        message = checkout_message(exc, currency)
        if exc.field and hasattr(form, exc.field):
            getattr(form, exc.field).errors.append(message)
        else:
            flash(message, "error")
        return None


@bp.route("/account/wallet/<currency>.csv")
@login_required
def history_csv(currency):
    """Download one wallet's whole history as CSV."""
    wallet = wallet_services.find_wallet(current_user.id, currency[:3])
    if wallet is None or currency.upper() != wallet.currency:
        abort(404)
    entries = wallet_services.history(wallet.id, limit=None)
    content = csv_bytes(
        ["date_utc", "kind", "amount", "balance_after", "currency", "reference", "note"],
        (
            [
                entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                entry.kind.value,
                format_minor(entry.amount, wallet.currency),
                format_minor(entry.balance_after, wallet.currency),
                wallet.currency,
                entry.reference,
                entry.note,
            ]
            for entry in entries
        ),
    )
    return download_response(content, f"wallet-{wallet.currency}.csv", "text/csv")


@bp.route("/orders/<reference>/pay/from-wallet", methods=["POST"])
def pay_order(reference):
    """Pay a pending order in full from the buyer's wallet (after the one-time code, if asked)."""
    order = visible_order(reference)
    if not current_user.is_authenticated:
        flash(_("Log in to use your wallet."), "error")
        return redirect(url_for("auth.login", next=order_url(order)), 303)
    if order.user_id != current_user.id:  # before any code is sent to the order's owner
        refused = wallet_orders.WalletPayRefused("not_owner")
        flash(wallet_pay_message(refused, order.currency), "error")
        return redirect(order_url(order), 303)
    code_page = code_page_first(order)
    if code_page is not None:
        return code_page
    try:
        paid = wallet_orders.pay_from_wallet(order.id, current_user.id, current_actor())
    except wallet_orders.WalletPayRefused as exc:
        flash(wallet_pay_message(exc, order.currency), "error")
        return redirect(order_url(order), 303)
    flash(
        _(
            "Paid from your wallet. %(balance)s left in it.",
            balance=money_filter(paid.balance, paid.currency),
        ),
        "success",
    )
    return redirect(order_url(order), 303)
