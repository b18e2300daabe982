"""The registered customer's pages: order history and saved cards."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from shop.autorenew.routes import section_context
from shop.cards.forms import card_number_problem
from shop.cards.services import is_card_expired, top_up_history
from shop.storefront import orders, saved_cards
from shop.storefront.forms import SaveCardForm
from shop.storefront.messages import STATUS_NAMES
from shop.web import current_actor

bp = Blueprint("customer", __name__, url_prefix="/account")

SAVE_CARD_MESSAGES = {
    "not_found": _l("We do not know this card. Check the number on the SIM card holder."),
    "owned": _l("This card belongs to another account. Contact support if it is yours."),
    "exists": _l("This card is already in your account."),
    "full": _l("You can save up to 20 cards. Remove one first."),
}


@bp.route("/orders")
@login_required
def order_history():
    """Show the customer's orders with their status."""
    return render_template(
        "storefront/order_history.html",
        orders=orders.orders_of_user(current_user.id),
        status_names=STATUS_NAMES,
    )


@bp.route("/cards", methods=["GET", "POST"])
@login_required
def cards():
    """Show saved cards with balance and expiry; add one by number."""
    form = SaveCardForm()
    status = 200
    if form.validate_on_submit():
        try:
            saved_cards.save_card(
                current_user.id, form.number.data, form.label.data or "", current_actor()
            )
        except saved_cards.SavedCardError as exc:
            if exc.reason == "invalid":
                form.number.errors.append(card_number_problem(exc.error))
            else:
                form.number.errors.append(str(SAVE_CARD_MESSAGES[exc.reason]))
            status = 422
        else:
            flash(_("Card saved."), "success")
            return redirect(url_for("customer.cards"), 303)
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            "storefront/saved_cards.html", form=form, saved=saved_cards.saved_cards(current_user.id)
        ),
        status,
    )


@bp.route("/cards/<id:saved_id>")
@login_required
def card(saved_id):
    """Show one saved card: balance, expiry, its auto-renew and its top-up history."""
    saved = saved_cards.get_saved_card(current_user.id, saved_id)
    if saved is None:
        abort(404)
    owner = saved.card.owner_id == current_user.id
    return render_template(
        "storefront/saved_card.html",
        saved=saved,
        expired=is_card_expired(saved.card),
        topups=top_up_history(saved.card, limit=100),
        autorenew=section_context(saved.card) if owner else None,
    )


@bp.route("/cards/<id:saved_id>/remove", methods=["POST"])
@login_required
def remove_card(saved_id):
    """Remove a saved card."""
    saved = saved_cards.get_saved_card(current_user.id, saved_id)
    if saved is None:
        abort(404)
    saved_cards.remove_saved_card(saved, current_actor())
    flash(_("Card removed from your account."), "info")
    return redirect(url_for("customer.cards"), 303)
