"""The owner's page of a card's alerts: from the account, or from the link in each alert."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from shop.alerts import messages, services
from shop.alerts.forms import AlertPreferenceForm
from shop.cards.services import CardNotFound, get_card
from shop.storefront import saved_cards

bp = Blueprint("alerts", __name__)


def _preferences_page(card, owner_key: str, back_url: str | None):
    form = AlertPreferenceForm()
    status = 200
    if form.validate_on_submit():
        services.save_preference(card.id, owner_key, form.enabled_kinds(), form.low_data_mb.data)
        flash(_("Alert settings saved."), "success")
        return redirect(request.path, 303)
    if request.method == "POST":
        status = 422
    else:
        form.fill(services.preference_for(card.id, owner_key))
    return (
        render_template("alerts/preferences.html", form=form, card=card, back_url=back_url),
        status,
    )


@bp.route("/account/cards/<id:saved_id>/alerts", methods=["GET", "POST"])
@login_required
def preferences(saved_id):
    """Let the customer choose the alerts of one of their saved cards."""
    saved = saved_cards.get_saved_card(current_user.id, saved_id)
    if saved is None:
        abort(404)
    back = url_for("customer.card", saved_id=saved.id)
    return _preferences_page(saved.card, f"user:{current_user.id}", back)


@bp.route("/alerts/<token>", methods=["GET", "POST"])
def preferences_by_link(token):
    """Let a buyer without an account choose a card's alerts (the signed link in each alert)."""
    try:
        card_id, owner_key = messages.read_preferences_token(token)
        card = get_card(card_id)
    except (messages.BadPreferencesLink, CardNotFound):
        abort(404)
    return _preferences_page(card, owner_key, None)
