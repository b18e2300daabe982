"""The agent manager's pages: staff accounts, API keys and the float statement."""

from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from shop.agents import services as agent_services
from shop.agents.access import current_agent, manager_only
from shop.agents.forms import ApiKeyForm, StaffForm
from shop.agents.models import Agent
from shop.auth import services as auth_services
from shop.auth.models import Role, User
from shop.csv_export import csv_bytes
from shop.extensions import db
from shop.timeutil import utcnow
from shop.web import current_actor

bp = Blueprint("agent_manager", __name__, url_prefix="/manage")

#: The longest statement one page or file covers.
MAX_STATEMENT_DAYS = 366


def _overview(agent: Agent, *, staff_form=None, key_form=None, new_key=None, status=200):
    staff = (
        db.session.execute(
            db.select(User).filter_by(agent_id=agent.id).order_by(User.role, User.email)
        )
        .scalars()
        .all()
    )
    response = render_template(
        "agents/manage.html",
        agent=agent,
        staff=staff,
        keys=agent_services.list_api_keys(agent.id),
        staff_form=staff_form or StaffForm(),
        key_form=key_form or ApiKeyForm(),
        new_key=new_key,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/")
@manager_only
def overview():
    """Show the shop's staff, API keys and a link to the float statement."""
    return _overview(current_agent())


@bp.route("/staff", methods=["POST"])
@manager_only
def add_staff():
    """Add a counter staff account to this shop."""
    agent = current_agent()
    form = StaffForm()
    if form.validate_on_submit() and add_account(form, Role.AGENT_STAFF, agent.id):
        flash(_("Staff member %(email)s added.", email=form.email.data), "success")
        return redirect(url_for("agent_manager.overview"))
    return _overview(agent, staff_form=form, status=400)


def add_account(form, role: Role, agent_id: int) -> bool:
    """Create the account a manager's form describes; put what is wrong on the form instead."""
    try:
        auth_services.create_user(
            form.email.data, form.password.data, role, agent_id=agent_id, actor=current_actor()
        )
    except auth_services.InvalidEmail:
        form.email.errors.append(_("This is not a valid e-mail address."))
    except auth_services.EmailTaken:
        form.email.errors.append(_("An account with this e-mail exists already."))
    except auth_services.WeakPassword:
        form.password.errors.append(
            _("The password needs at least 10 characters and must not be the e-mail.")
        )
    else:
        return True
    return False


@bp.route("/staff/<id:user_id>/active", methods=["POST"])
@manager_only
def set_staff_active(user_id):
    """Deactivate or reactivate a staff account of this shop (never another shop's)."""
    agent = current_agent()
    if user_id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("agent_manager.overview"))
    try:
        user = auth_services.set_user_active(
            user_id, request.form.get("active") == "1", agent_id=agent.id, actor=current_actor()
        )
    except auth_services.UserNotFound:
        abort(404)
    flash(
        _("%(email)s can log in again.", email=user.email)
        if user.active
        else _("%(email)s can no longer log in.", email=user.email),
        "success",
    )
    return redirect(url_for("agent_manager.overview"))


@bp.route("/keys", methods=["POST"])
@manager_only
def create_key():
    """Create an API key and show it this once."""
    agent = current_agent()
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _overview(agent, key_form=form, status=400)
    api_key, key = agent_services.create_api_key(
        agent.code, form.label.data or "", actor=current_actor()
    )
    return _overview(agent, new_key=(api_key, key))


@bp.route("/keys/<id:key_id>/revoke", methods=["POST"])
@manager_only
def revoke_key(key_id):
    """Revoke one of this shop's API keys."""
    agent = current_agent()
    try:
        agent_services.revoke_api_key(agent.id, key_id, actor=current_actor())
    except agent_services.ApiKeyNotFound:
        abort(404)
    flash(_("The API key is revoked; requests with it are refused from now on."), "success")
    return redirect(url_for("agent_manager.overview"))


def _period() -> tuple[date, date] | None:
    today = utcnow().date()
    try:
        first = date.fromisoformat(
            request.args.get("from") or (today - timedelta(days=30)).isoformat()
        )
        last = date.fromisoformat(request.args.get("to") or today.isoformat())
    except ValueError:
        return None
    if first > last or (last - first).days >= MAX_STATEMENT_DAYS:
        return None
    return first, last


@bp.route("/statement")
@manager_only
def statement():
    """Show (or download as CSV) the float statement of a date range, with running balance."""
    agent = current_agent()
    period = _period()
    if period is None:
        flash(_("Choose a valid period of at most a year: from YYYY-MM-DD to YYYY-MM-DD."), "error")
        today = utcnow().date()
        return render_template(
            "agents/statement.html", agent=agent, first=today, last=today, opening=None, entries=[]
        ), 422
    first, last = period
    opening, entries = agent_services.statement(agent.id, first, last)
    if request.args.get("format") == "csv":
        rows = (
            (
                entry.created_at.isoformat(),
                entry.kind.value,
                entry.reference,
                entry.note,
                entry.amount,
                entry.balance_after,
                agent.currency,
            )
            for entry in entries
        )
        content = csv_bytes(
            [
                "time_utc",
                "kind",
                "reference",
                "note",
                "amount_minor",
                "balance_after_minor",
                "currency",
            ],
            rows,
        )
        filename = f"float-{agent.code}-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            content,
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={filename}"},
        )
    closing = entries[-1].balance_after if entries else opening
    return render_template(
        "agents/statement.html",
        agent=agent,
        first=first,
        last=last,
        opening=opening,
        closing=closing,
        entries=entries,
    )
