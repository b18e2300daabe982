"""The reseller tree pages of a manager: its subtree, and each sub-agent below its agent.

A manager acts only below its own agent: every sub-agent is looked up through
``tree.descendant`` or ``tree.child``, and anything else is a 404, as if it did not exist.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import SelectChoice

from shop.agents import float_requests, ledger, pricing, transfers
from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.access import current_agent, manager_only
from shop.agents.forms import TermsForm
from shop.agents.manager_routes import add_account
from shop.agents.models import AgentStatus, FloatRequestStatus
from shop.agents.tree_forms import (
    FloatMoveForm,
    PackPriceForm,
    SubAgentForm,
    SubUserForm,
)
from shop.auth import services as auth_services
from shop.auth.models import Role, User
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.i18n import money_filter
from shop.money import InvalidAmount, parse_major_amount
from shop.web import current_actor

bp = Blueprint("agent_tree", __name__)


def _tree_page(form=None, status=200):
    agent = current_agent()
    pending = float_requests.list_requests(status=FloatRequestStatus.PENDING, decider_id=agent.id)
    return render_template(
        "agents/tree.html",
        agent=agent,
        agents=agent_tree.subtree(agent),
        form=form or SubAgentForm(),
        can_add=agent.depth < agent_services.max_tree_depth(),
        max_depth=agent_services.max_tree_depth(),
        pending=pending,
    ), status


@bp.route("/manage/tree", methods=["GET", "POST"])
@manager_only
def manager_tree():
    """Show this agent's subtree with its floats, and create a sub-agent."""
    agent = current_agent()
    form = SubAgentForm()
    if request.method == "GET":
        return _tree_page(form)
    if not form.validate_on_submit():
        return _tree_page(form, 400)
    try:
        child = agent_tree.create_sub_agent(
            agent,
            form.code.data,
            form.name.data,
            discount_bps=form.discount_bps.data,
            credit_limit=form.credit_limit.data,
            manager_email=form.manager_email.data,
            manager_password=form.manager_password.data,
            actor=current_actor(),
        )
    except agent_services.AgentCodeTaken:
        form.code.errors.append(_("Another agent already has this code."))
    except agent_services.TreeTooDeep as exc:
        form.code.errors.append(
            _("The tree has at most %(levels)d levels of agents.", levels=exc.limit)
        )
    except agent_services.DiscountAboveParent as exc:
        form.discount_bps.errors.append(
            _("At most your own discount: %(bps)d basis points.", bps=exc.limit)
        )
    except agent_services.InvalidAgent as exc:
        field = form.credit_limit if exc.field == "credit_limit" else form.code
        field.errors.append(
            _("At most your own credit limit.")
            if exc.field == "credit_limit"
            else _("Check the code, name, discount and limit.")
        )
    except auth_services.InvalidEmail:
        form.manager_email.errors.append(_("This is not a valid e-mail address."))
    except auth_services.EmailTaken:
        form.manager_email.errors.append(_("An account with this e-mail exists already."))
    except auth_services.WeakPassword:
        form.manager_password.errors.append(
            _("The password needs at least 10 characters and must not be the e-mail.")
        )
    else:
        flash(_("Sub-agent %(code)s created.", code=child.code), "success")
        return redirect(url_for("agent_tree.manager_sub_agent", code=child.code))
    return _tree_page(form, 400)


def _descendant(code: str):
    try:
        return agent_tree.descendant(current_agent(), code)
    except agent_services.AgentNotFound:
        abort(404)


def _pack_choices(agent) -> list[SelectChoice]:
    return [
        SelectChoice(
            product.sku, f"{product.name} · {money_filter(product.price, product.currency)}"
        )
        for product in catalog_services.list_active_products()
        if product.currency == agent.currency
    ]


def _sub_agent_page(sub, *, terms=None, move=None, user_form=None, price_form=None, status=200):
    own = current_agent()
    direct = sub.parent_id == own.id
    price_form = price_form or PackPriceForm()
    price_form.sku.choices = _pack_choices(sub)
    users = db.session.execute(
        db.select(User).filter_by(agent_id=sub.id).order_by(User.role, User.email)
    ).scalars()
    return render_template(
        "agents/sub_agent.html",
        own=own,
        sub=sub,
        direct=direct,
        suspended_above=agent_tree.suspended_above(sub),
        ledger_total=ledger.ledger_sum(sub.id),
        below=agent_tree.subtree(sub, include_root=False),
        users=list(users),
        prices=pricing.pack_prices(sub.id),
        terms=terms or TermsForm(discount_bps=sub.discount_bps, credit_limit=sub.credit_limit),
        move=move or FloatMoveForm(),
        user_form=user_form or SubUserForm(),
        price_form=price_form,
    ), status


@bp.route("/manage/agents/<code>")
@manager_only
def manager_sub_agent(code):
    """Show a sub-agent below this agent: float, terms, accounts, prices."""
    return _sub_agent_page(_descendant(code))


def _back(sub):
    return redirect(url_for("agent_tree.manager_sub_agent", code=sub.code))


@bp.route("/manage/agents/<code>/terms", methods=["POST"])
@manager_only
def manager_sub_terms(code):
    """Set a direct sub-agent's discount (within this agent's) and credit limit."""
    sub = _descendant(code)
    form = TermsForm()
    if not form.validate_on_submit():
        return _sub_agent_page(sub, terms=form, status=400)
    try:
        agent_tree.set_child_terms(
            current_agent(),
            sub.code,
            discount_bps=form.discount_bps.data,
            credit_limit=form.credit_limit.data,
            actor=current_actor(),
        )
    except agent_services.AgentNotFound:
        abort(404)
    except agent_services.DiscountAboveParent as exc:
        form.discount_bps.errors.append(
            _("At most your own discount: %(bps)d basis points.", bps=exc.limit)
        )
    except agent_services.InvalidAgent:
        form.credit_limit.errors.append(
            _("At most your own credit limit, and not below what the float already owes.")
        )
    else:
        flash(_("Terms of %(code)s saved.", code=sub.code), "success")
        return _back(sub)
    return _sub_agent_page(sub, terms=form, status=409)


@bp.route("/manage/agents/<code>/float", methods=["POST"])
@manager_only
def manager_sub_float(code):
    """Give float to a direct sub-agent, or take its unused float back."""
    sub = _descendant(code)
    form = FloatMoveForm()
    if not form.validate_on_submit():
        return _sub_agent_page(sub, move=form, status=400)
    own = current_agent()
    try:
        amount = parse_major_amount(form.amount.data, own.currency)
        move = transfers.transfer_float if form.direction.data == "give" else transfers.take_back
        result = move(own.id, sub.code, amount, current_actor(), form.note.data or "")
    except (InvalidAmount, ledger.InvalidAmount):
        form.amount.errors.append(_("An amount such as 250.00, greater than zero."))
    except agent_services.AgentNotFound:
        abort(404)
    except ledger.AgentSuspended:
        form.amount.errors.append(_("Your agent is suspended and cannot give float."))
    except ledger.InsufficientCredit:
        form.amount.errors.append(
            _("Your float cannot give this much.")
            if form.direction.data == "give"
            else _("The sub-agent does not hold this much unused float.")
        )
    else:
        flash(
            _(
                "Float of %(code)s is now %(balance)s; yours is %(own)s.",
                code=sub.code,
                balance=money_filter(result.child_balance, own.currency),
                own=money_filter(result.parent_balance, own.currency),
            ),
            "success",
        )
        return _back(sub)
    return _sub_agent_page(sub, move=form, status=409)


@bp.route("/manage/agents/<code>/status", methods=["POST"])
@manager_only
def manager_sub_status(code):
    """Suspend or reactivate a sub-agent below this agent (its own subtree with it)."""
    sub = _descendant(code)
    try:
        status = AgentStatus(request.form.get("status", ""))
    except ValueError:
        abort(400)
    agent_services.set_agent_status(sub.code, status, actor=current_actor())
    if status == AgentStatus.SUSPENDED:
        flash(
            _("%(code)s is suspended: it and every agent below it sell nothing.", code=sub.code),
            "success",
        )
    else:
        flash(_("Agent %(code)s is active again.", code=sub.code), "success")
    return _back(sub)


@bp.route("/manage/agents/<code>/users", methods=["POST"])
@manager_only
def manager_sub_user(code):
    """Add a manager or counter staff account to a sub-agent below this agent."""
    sub = _descendant(code)
    form = SubUserForm()
    if not form.validate_on_submit():
        return _sub_agent_page(sub, user_form=form, status=400)
    if add_account(form, Role(form.role.data), sub.id):
        flash(_("Account %(email)s added.", email=form.email.data), "success")
        return _back(sub)
    return _sub_agent_page(sub, user_form=form, status=400)


@bp.route("/manage/agents/<code>/users/<id:user_id>/active", methods=["POST"])
@manager_only
def manager_sub_user_active(code, user_id):
    """Deactivate or reactivate an account of a sub-agent below this agent."""
    sub = _descendant(code)
    try:
        user = auth_services.set_user_active(
            user_id, request.form.get("active") == "1", agent_id=sub.id, actor=current_actor()
        )
    except auth_services.UserNotFound:
        abort(404)
    flash(
        _("%(email)s can log in again.", email=user.email)
        if user.active
        else _("%(email)s can no longer log in.", email=user.email),
        "success",
    )
    return _back(sub)


@bp.route("/manage/agents/<code>/prices", methods=["POST"])
@manager_only
def manager_sub_price(code):
    """Fix a direct sub-agent's wholesale price of one pack."""
    own = current_agent()
    try:
        sub = agent_tree.child(own, code)
    except agent_services.AgentNotFound:
        abort(404)
    form = PackPriceForm()
    form.sku.choices = _pack_choices(sub)
    if not form.validate_on_submit():
        return _sub_agent_page(sub, price_form=form, status=400)
    try:
        product = catalog_services.get_product_by_sku(form.sku.data)
        price = parse_major_amount(form.price.data, sub.currency)
        pricing.set_pack_price(sub, product, price, actor=current_actor())
    except (InvalidAmount, catalog_services.ProductNotFound):
        form.price.errors.append(_("An amount such as 8.50."))
    except pricing.PriceOutOfRange as exc:
        form.price.errors.append(
            _(
                "Between your own price %(low)s and the face value %(high)s.",
                low=money_filter(exc.low, sub.currency),
                high=money_filter(exc.high, sub.currency),
            )
        )
    else:
        flash(_("Price of %(sku)s for %(code)s saved.", sku=product.sku, code=sub.code), "success")
        return _back(sub)
    return _sub_agent_page(sub, price_form=form, status=409)


@bp.route("/manage/agents/<code>/prices/<id:product_id>/remove", methods=["POST"])
@manager_only
def manager_sub_price_remove(code, product_id):
    """Remove a fixed pack price: the sub-agent buys that pack at its discount again."""
    try:
        sub = agent_tree.child(current_agent(), code)
    except agent_services.AgentNotFound:
        abort(404)
    pricing.remove_pack_price(sub, product_id, actor=current_actor())
    flash(_("The fixed price is removed; the discount applies."), "success")
    return _back(sub)
