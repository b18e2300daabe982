"""Float requests: managers ask for more float with proof of payment; the level above decides.

The operator decides for its own agents, a parent agent's managers for their sub-agents.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shop.agents import float_requests, ledger
from shop.agents.access import current_agent, manager_only
from shop.agents.forms import DecisionForm, FloatRequestForm
from shop.agents.models import Agent, FloatRequestStatus
from shop.auth.decorators import admin_required
from shop.money import InvalidAmount, parse_major_amount
from shop.web import current_actor, download_response

bp = Blueprint("float_requests", __name__)


def _manager_page(agent: Agent, form: FloatRequestForm, status: int = 200):
    requests = float_requests.list_requests(agent_id=agent.id)
    return render_template(
        "agents/float_requests.html", agent=agent, form=form, requests=requests
    ), status


@bp.route("/manage/float-requests", methods=["GET", "POST"])
@manager_only
def manager_requests():
    """Ask for more float, and follow earlier requests."""
    agent = current_agent()
    form = FloatRequestForm()
    if form.validate_on_submit():
        try:
            amount = parse_major_amount(form.amount.data, agent.currency)
            upload = form.proof.data
            proof = upload.read(float_requests.MAX_PROOF_BYTES + 1) if upload else b""
            float_requests.request_float(
                agent.id, amount, form.payment_reference.data, proof, current_actor()
            )
        except (InvalidAmount, float_requests.InvalidRequest):
            form.amount.errors.append(_("An amount such as 250.00, greater than zero."))
        except float_requests.InvalidProof:
            form.proof.errors.append(
                _("The proof must be a PDF, PNG or JPEG file of at most 5 MB.")
            )
        else:
            flash(
                _("Your request was sent to the agent that funds your float.")
                if agent.parent_id
                else _("Your request was sent to the operator."),
                "success",
            )
            return redirect(url_for("float_requests.manager_requests"))
        return _manager_page(agent, form, 400)
    return _manager_page(agent, form, 400 if request.method == "POST" else 200)


def _send_proof(item):
    path = float_requests.proof_path(item)
    if path is None or not path.exists():
        abort(404)
    return download_response(path.read_bytes(), f"proof-{item.id}{path.suffix}", item.proof_type)


@bp.route("/manage/float-requests/<id:request_id>/proof")
@manager_only
def manager_proof(request_id):
    """Download the proof of one of this shop's requests."""
    try:
        item = float_requests.get_request(request_id, agent_id=current_agent().id)
    except float_requests.RequestNotFound:
        abort(404)
    return _send_proof(item)


@bp.route("/admin/float-requests")
@admin_required
def admin_requests():
    """List the float requests of the operator's own agents, the pending ones first.

    Sub-agents' requests go to their parents' managers, not here.
    """
    operator = float_requests.OPERATOR
    pending = float_requests.list_requests(status=FloatRequestStatus.PENDING, decider_id=operator)
    decided = [
        item
        for item in float_requests.list_requests(limit=100, decider_id=operator)
        if item.status != FloatRequestStatus.PENDING
    ]
    return render_template(
        "agents/admin_float_requests.html", pending=pending, decided=decided, form=DecisionForm()
    )


@bp.route("/admin/float-requests/<id:request_id>/proof")
@admin_required
def admin_proof(request_id):
    """Download a request's proof of payment."""
    try:
        item = float_requests.get_request(request_id)
    except float_requests.RequestNotFound:
        abort(404)
    return _send_proof(item)


@bp.route("/admin/float-requests/<id:request_id>/<any(approve, reject):decision>", methods=["POST"])
@admin_required
def admin_decide(request_id, decision):
    """Approve (credit the float once) or reject a pending request."""
    form = DecisionForm()
    note = form.note.data or "" if form.validate_on_submit() else ""
    try:
        if decision == "approve":
            float_requests.approve_request(request_id, current_actor(), note)
            flash(_("Request %(id)d approved; the float is credited.", id=request_id), "success")
        else:
            float_requests.reject_request(request_id, current_actor(), note)
            flash(_("Request %(id)d rejected.", id=request_id), "success")
    except float_requests.RequestNotFound:
        abort(404)
    except float_requests.AlreadyDecided:
        flash(_("Request %(id)d was decided already; nothing changed.", id=request_id), "error")
    return redirect(url_for("float_requests.admin_requests"))


@bp.route(
    "/manage/float-requests/<id:request_id>/<any(approve, reject):decision>", methods=["POST"]
)
@manager_only
def manager_decide(request_id, decision):
    """Approve (pay from this agent's float) or reject a direct sub-agent's float request."""
    own = current_agent()
    form = DecisionForm()
    note = form.note.data or "" if form.validate_on_submit() else ""
    try:
        if decision == "approve":
            float_requests.approve_request(request_id, current_actor(), note, decider_id=own.id)
            flash(_("Request %(id)d approved; the float is moved.", id=request_id), "success")
        else:
            float_requests.reject_request(request_id, current_actor(), note, decider_id=own.id)
            flash(_("Request %(id)d rejected.", id=request_id), "success")
    except float_requests.RequestNotFound:
        abort(404)
    except float_requests.AlreadyDecided:
        flash(_("Request %(id)d was decided already; nothing changed.", id=request_id), "error")
    except ledger.InsufficientCredit:
        flash(_("Your float cannot pay for request %(id)d.", id=request_id), "error")
    except ledger.AgentSuspended:
        flash(_("Your agent is suspended and cannot give float."), "error")
    return redirect(url_for("agent_tree.manager_tree"))


@bp.route("/manage/sub-agent-requests/<id:request_id>/proof")
@manager_only
def manager_sub_proof(request_id):
    """Download the proof of payment of a direct sub-agent's float request."""
    try:
        item = float_requests.get_request(request_id)
    except float_requests.RequestNotFound:
        abort(404)
    if item.agent.parent_id != current_agent().id:
        abort(404)
    path = float_requests.proof_path(item)
    if path is None or not path.exists():
        abort(404)
    return download_response(path.read_bytes(), f"proof-{item.id}{path.suffix}", item.proof_type)
