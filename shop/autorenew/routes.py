"""Auto-renew pages: the owner's section of a card, and the operator's list of rules."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from shop.auth.decorators import admin_required
from shop.auth.models import Role
from shop.autorenew import services
from shop.autorenew.forms import RenewalRuleForm
from shop.autorenew.messages import OUTCOMES, TRIGGERS, reason_text
from shop.autorenew.models import RuleStatus
from shop.cards.models import Card
from shop.extensions import db
from shop.web import current_actor, is_safe_next

bp = Blueprint("autorenew", __name__)
admin_bp = Blueprint("autorenew_admin", __name__)

#: What the owner is told when a choice cannot be kept.
PROBLEMS = {
    "pack": _l("Choose a pack that is on sale."),
    "trigger": _l("Choose when to renew."),
    "threshold": _l("Type how many MB left should start a renewal (between 1 and 100000)."),
    "threshold_pack": _l(
        "Choose fewer MB than the pack holds: otherwise the card is still below it after the "
        "renewal and would renew again."
    ),
    "cap": _l("Choose a monthly limit between 1 and 100, or leave it empty."),
    "status": _l("This change is not possible now."),
    "no_rule": _l("This card has no auto-renew."),
}
#: The form's field of each problem.
PROBLEM_FIELDS = {
    "pack": "product_id",
    "trigger": "trigger",
    "threshold": "threshold_mb",
    "threshold_pack": "threshold_mb",
    "cap": "monthly_cap",
}
#: The success message of each change.
CHANGED = {
    "pause": _l("Auto-renew paused."),
    "resume": _l("Auto-renew resumed."),
    "cancel": _l("Auto-renew cancelled."),
}


def _own_card(card_id: int) -> Card:
    """Return the current customer's card, or 404 (another's card is not even named)."""
    card = db.session.get(Card, card_id)
    if card is None or current_user.role != Role.CUSTOMER or card.owner_id != current_user.id:
        abort(404)
    return card


def _back(card: Card) -> str:
    target = request.form.get("next")
    return target if is_safe_next(target) else url_for("autorenew.card", card_id=card.id)


def section_context(card: Card, form: RenewalRuleForm | None = None) -> dict:
    """Return what the auto-renew section of a card's page shows its owner."""
    rule = services.live_rule_for_card(card.id)
    if form is None:
        form = RenewalRuleForm(formdata=None)
        if rule is not None:
            form.fill(rule)
    form.offer(services.packs_on_sale(), str(get_locale() or "en"))
    return {
        "card": card,
        "rule": rule,
        "form": form,
        "balance": services.wallet_balance(rule) if rule is not None else None,
        "renewals": services.renewals_of(rule.id) if rule is not None else [],
        "renewed_this_month": services.renewed_this_month(rule.id) if rule is not None else 0,
    }


@bp.route("/account/auto-renew/<id:card_id>", methods=["GET", "POST"])
@login_required
def card(card_id):
    """Show a card's auto-renew to its owner; set it up or change it."""
    owned = _own_card(card_id)
    if request.method == "GET":  # the form shows the rule as it is
        return render_template("autorenew/card.html", **section_context(owned))
    form = RenewalRuleForm()
    form.offer(services.packs_on_sale(), str(get_locale() or "en"))
    if form.validate_on_submit():
        try:
            services.save_rule(
                current_user.id,
                owned.id,
                form.product_id.data,
                form.trigger.data,
                threshold_mb=form.threshold_mb.data,
                monthly_cap=form.monthly_cap.data,
                actor=current_actor(),
            )
        except services.NotCardOwner:
            abort(404)
        except services.InvalidRule as problem:
            field = getattr(form, PROBLEM_FIELDS.get(problem.reason, "product_id"))
            field.errors = [*field.errors, str(PROBLEMS.get(problem.reason, PROBLEMS["pack"]))]
        else:
            flash(_("Auto-renew saved."), "success")
            return redirect(_back(owned), 303)
    return render_template("autorenew/card.html", **section_context(owned, form)), 422


@bp.post("/account/auto-renew/<id:card_id>/<any(pause, resume, cancel):change>")
@login_required
def change_status(card_id, change):
    """Pause, resume or cancel a card's auto-renew."""
    owned = _own_card(card_id)
    try:
        services.change_status(current_user.id, owned.id, change, current_actor())
    except services.NotCardOwner:
        abort(404)
    except (services.RuleNotFound, services.InvalidRule) as problem:
        flash(str(PROBLEMS.get(problem.reason, PROBLEMS["status"])), "error")
        return render_template("autorenew/card.html", **section_context(owned)), 409
    flash(str(CHANGED[change]), "success")
    return redirect(_back(owned), 303)


@admin_bp.get("/admin/auto-renew")
@admin_required
def rules():
    """List every auto-renew rule and the renewals that charged nothing."""
    return render_template(
        "autorenew/admin_rules.html",
        rules=services.all_rules(),
        failures=services.failed_renewals(),
        statuses=RuleStatus,
    )


@bp.app_context_processor
def autorenew_words() -> dict:
    """Give every template the words of triggers, outcomes and reasons (the card page's too)."""
    return {
        "autorenew_trigger": lambda trigger: str(TRIGGERS[trigger]),
        "autorenew_outcome": lambda outcome: str(OUTCOMES[outcome]),
        "autorenew_reason": reason_text,
    }
