"""The operator's agent pages: create and suspend agents, set their terms, credit their float.

Also the whole reseller tree, and moving an agent under another parent.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shop.agents import ledger
from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.forms import AgentForm, CreditForm, TermsForm
from shop.agents.models import Agent, AgentStatus, LedgerEntry
from shop.agents.tree_forms import MoveForm
from shop.auth.decorators import admin_required
from shop.extensions import db
from shop.web import current_actor

bp = Blueprint("agent_admin", __name__)


@bp.route("/admin/agents", methods=["GET", "POST"])
@admin_required
def admin_agents():
    """List agents and create one."""
    form = AgentForm()
    status = 200
    if form.validate_on_submit():
        try:
            agent = agent_services.create_agent(
                form.code.data,
                form.name.data,
                discount_bps=form.discount_bps.data,
                credit_limit=form.credit_limit.data,
                actor=current_actor(),
            )
        except agent_services.AgentCodeTaken:
            form.code.errors.append(_("Another agent already has this code."))
        except agent_services.InvalidAgent:
            form.code.errors.append(_("Check the code, name, discount and limit."))
        else:
            flash(_("Agent %(code)s created.", code=agent.code), "success")
            return redirect(url_for("agent_admin.admin_agent", code=agent.code))
        status = 400
    elif request.method == "POST":
        status = 400
    agents = db.session.execute(db.select(Agent).order_by(Agent.code)).scalars().all()
    return render_template("agents/admin_agents.html", agents=agents, form=form), status


def _agent_by_code(code: str) -> Agent:
    try:
        return agent_services.get_agent_by_code(code)
    except agent_services.AgentNotFound:
        abort(404)


@bp.route("/admin/agents/<code>")
@admin_required
def admin_agent(code):
    """Show one agent: float, ledger, credit and suspension."""
    agent = _agent_by_code(code)
    entries = (
        db.session.execute(
            db.select(LedgerEntry)
            .filter_by(agent_id=agent.id)
            .order_by(LedgerEntry.id.desc())
            .limit(100)
        )
        .scalars()
        .all()
    )
    return render_template(
        "agents/admin_agent.html",
        agent=agent,
        entries=entries,
        credit=CreditForm(),
        terms=TermsForm(discount_bps=agent.discount_bps, credit_limit=agent.credit_limit),
        ledger_total=ledger.ledger_sum(agent.id),
        move=MoveForm(parent=agent.parent.code if agent.parent else ""),
        children=agent_tree.subtree(agent, include_root=False),
    )


@bp.route("/admin/agents/<code>/credit", methods=["POST"])
@admin_required
def admin_credit_agent(code):
    """Record a credit purchase."""
    agent = _agent_by_code(code)
    form = CreditForm()
    if agent.parent_id is not None:
        flash(_("A sub-agent's float comes from its parent agent, not from the operator."), "error")
    elif form.validate_on_submit():
        balance = agent_services.credit_agent(
            agent.code, form.amount.data, note=form.note.data or "", actor=current_actor()
        )
        flash(
            _(
                "Float of %(code)s is now %(balance)s.",
                code=agent.code,
                balance=current_app.jinja_env.filters["money"](balance, agent.currency),
            ),
            "success",
        )
    else:
        flash(_("The amount is a whole number of minor units greater than zero."), "error")
    return redirect(url_for("agent_admin.admin_agent", code=agent.code))


@bp.route("/admin/agents/<code>/status", methods=["POST"])
@admin_required
def admin_agent_status(code):
    """Suspend or reactivate an agent."""
    agent = _agent_by_code(code)
    try:
        status = AgentStatus(request.form.get("status", ""))
    except ValueError:
        abort(400)
    agent_services.set_agent_status(agent.code, status, actor=current_actor())
    if status == AgentStatus.SUSPENDED:
        flash(_("Agent %(code)s is suspended.", code=agent.code), "success")
    else:
        flash(_("Agent %(code)s is active again.", code=agent.code), "success")
    return redirect(url_for("agent_admin.admin_agent", code=agent.code))


@bp.route("/admin/agents/<code>/terms", methods=["POST"])
@admin_required
def admin_agent_terms(code):
    """Change an agent's discount and credit limit."""
    agent = _agent_by_code(code)
    form = TermsForm()
    if form.validate_on_submit():
        try:
            agent_services.set_agent_terms(
                agent.code,
                discount_bps=form.discount_bps.data,
                credit_limit=form.credit_limit.data,
                actor=current_actor(),
            )
        except agent_services.DiscountAboveParent as exc:
            flash(
                _(
                    "A sub-agent's discount is at most its parent's (%(bps)d basis points).",
                    bps=exc.limit,
                ),
                "error",
            )
        except agent_services.InvalidAgent:
            flash(_("The float is already below minus this limit: add float first."), "error")
        else:
            flash(_("Terms of %(code)s saved.", code=agent.code), "success")
    else:
        flash(_("Discount is 0 to 10000 basis points; the limit is zero or more."), "error")
    return redirect(url_for("agent_admin.admin_agent", code=agent.code))


@bp.route("/admin/agents/tree")
@admin_required
def admin_tree():
    """Show every agent as a tree, with floats and status."""
    return render_template("agents/admin_tree.html", agents=agent_tree.whole_tree())


@bp.route("/admin/agents/<code>/move", methods=["POST"])
@admin_required
def admin_move(code):
    """Move an agent and its subtree under another parent (or directly under the operator)."""
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        agent = agent_tree.move_agent(
            code, (form.parent.data or "").strip() or None, current_actor()
        )
    except agent_services.AgentNotFound:
        flash(_("No agent has this code."), "error")
    except agent_services.TreeTooDeep as exc:
        flash(_("The tree has at most %(levels)d levels of agents.", levels=exc.limit), "error")
    except agent_services.DiscountAboveParent as exc:
        flash(
            _(
                "The agent's discount is above the new parent's (%(bps)d basis points).",
                bps=exc.limit,
            ),
            "error",
        )
    except agent_tree.MoveRefused:
        flash(
            _("An agent cannot move under itself, its sub-agents, or another currency's agent."),
            "error",
        )
    else:
        flash(_("Agent %(code)s moved.", code=agent.code), "success")
    return redirect(url_for("agent_admin.admin_agent", code=code.strip().upper()))
