"""Card pages: the public balance check and the admin's card register."""

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
from flask_babel import gettext as _
from flask_login import current_user

from shop.auth.decorators import admin_required
from shop.auth.models import Role
from shop.cards import services
from shop.cards.forms import CardCreateForm, CardLookupForm, card_number_problem
from shop.cards.models import CardStatus
from shop.extensions import rate_limit
from shop.web import current_actor

bp = Blueprint("cards", __name__)


def _may_see_history(card) -> bool:
    if not current_user.is_authenticated:
        return False
    return current_user.role == Role.ADMIN or card.owner_id == current_user.id


@bp.route("/card")
@rate_limit("60 per minute")
def check():
    """Show a card's status, remaining data and expiry; the owner also sees its top-ups."""
    form = CardLookupForm(request.args)
    card = history = usage = None
    status = 200
    if "number" in request.args:
        if form.validate():
            try:
                card = services.find_card(form.number.data)
            except services.InvalidCardNumber as exc:
                form.number.errors.append(card_number_problem(exc))
                status = 422
            except services.CardNotFound:
                form.number.errors.append(_("No card with this number is registered with us."))
                status = 404
            else:
                services.card_looked_up.send(current_app._get_current_object(), card=card)
                history = services.top_up_history(card) if _may_see_history(card) else None
                usage = services.usage_by_day(card)
        else:
            status = 422
    return render_template(
        "cards/check.html",
        form=form,
        card=card,
        history=history,
        usage=usage,
        expired=card is not None and services.is_card_expired(card),
    ), status


@bp.route("/admin/cards", methods=["GET", "POST"])
@admin_required
def admin_cards():
    """List, search and register cards."""
    form = CardCreateForm()
    status = 200
    if form.validate_on_submit():
        try:
            card = services.register_card(
                form.number.data,
                status=CardStatus(form.status.data),
                region=form.region.data or "",
                actor=current_actor(),
            )
        except services.InvalidCardNumber as exc:
            form.number.errors.append(card_number_problem(exc))
        except services.CardExists:
            form.number.errors.append(_("This card is registered already."))
        else:
            flash(_("Card %(number)s registered.", number=card.number), "success")
            return redirect(url_for("cards.admin_card", card_id=card.id))
    if request.method == "POST":
        status = 400
    query = request.args.get("q", "")
    return render_template(
        "cards/admin_cards.html", form=form, cards=services.search_cards(query), query=query
    ), status


@bp.route("/admin/cards/<id:card_id>")
@admin_required
def admin_card(card_id):
    """One card with its full top-up history."""
    try:
        card = services.get_card(card_id)
    except services.CardNotFound:
        abort(404)
    return render_template(
        "cards/admin_card.html",
        card=card,
        history=services.top_up_history(card, limit=500),
        usage=services.usage_by_day(card),
        expired=services.is_card_expired(card),
    )


@bp.route("/admin/cards/<id:card_id>/status", methods=["POST"])
@admin_required
def admin_set_card_status(card_id):
    """Suspend or reactivate a card."""
    try:
        new_status = CardStatus(request.form.get("status", ""))
        card = services.set_card_status(card_id, new_status, current_actor())
    except ValueError:
        abort(400)
    except services.CardNotFound:
        abort(404)
    if card.status == CardStatus.SUSPENDED:
        flash(_("Card %(number)s is suspended.", number=card.number), "success")
    else:
        flash(_("Card %(number)s is active again.", number=card.number), "success")
    return redirect(url_for("cards.admin_card", card_id=card.id))
