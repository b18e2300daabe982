"""Sub-agent endpoints: a parent's key reads its subtree and moves float to its sub-agents.

A key acts for its own agent and the agents below it, never above or beside it: an agent
outside the key's subtree answers ``404 agent_not_found``, the same as a code that does not
exist, so a key learns nothing about its parent or siblings.
"""

from flask import g, jsonify

from shop.agents import ledger, transfers
from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.models import Agent
from shop.api import bp
from shop.api.agents import agent_json
from shop.api.auth import agent_key_required, agent_scope, api_actor
from shop.api.errors import ApiError, invalid_request
from shop.api.idempotency import idempotent
from shop.api.validation import json_body
from shop.extensions import db
from shop.money import money_json

#: The largest single transfer, in minor units.
MAX_TRANSFER = 100_000_000


def _own() -> Agent:
    return db.session.get(Agent, g.agent_id)


def tree_agent_json(agent: Agent) -> dict:
    """Return an agent of the key's subtree, with its place in the tree and its float."""
    return {
        **agent_json(agent),
        "depth": agent.depth,
        "parent": agent.parent.code if agent.parent_id and agent.id != g.agent_id else None,
    }


def _not_found() -> ApiError:
    return ApiError(404, "agent_not_found", "No agent below this one has this code.")


@bp.get("/agents")
@agent_key_required
def list_subtree():
    """Return the calling agent and every agent below it, in tree order, with their floats."""
    return jsonify({"agents": [tree_agent_json(agent) for agent in agent_tree.subtree(_own())]})


@bp.get("/agents/<code>")
@agent_key_required
def get_sub_agent(code):
    """Return one agent below the calling agent."""
    try:
        agent = agent_tree.descendant(_own(), code)
    except agent_services.AgentNotFound:
        raise _not_found() from None
    return jsonify(tree_agent_json(agent))


def _amount() -> tuple[int, str]:
    data = json_body()
    amount = data.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_TRANSFER:
        raise invalid_request(
            "'amount' is a whole number of minor units greater than zero.",
            {"amount": f"1 to {MAX_TRANSFER} minor units"},
        )
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 200:
        raise invalid_request("'note' is text of at most 200 characters.", {"note": "text"})
    return amount, note


def _move(code: str, move):
    amount, note = _amount()
    try:
        result = move(g.agent_id, code, amount, api_actor(), note)
    except agent_services.AgentNotFound:
        raise ApiError(
            404, "agent_not_found", "No direct sub-agent of this agent has this code."
        ) from None
    except ledger.AgentSuspended:
        raise ApiError(403, "agent_suspended", "A suspended agent cannot move float.") from None
    except ledger.InsufficientCredit:
        raise ApiError(
            402,
            "insufficient_credit",
            "The float that would give this (with its credit limit, or unused float only for "
            "a take-back) cannot cover it.",
        ) from None
    currency = _own().currency
    body = {
        "reference": result.reference,
        "agent": result.child_code,
        "amount": money_json(result.amount, currency),
        "balance": money_json(result.parent_balance, currency),
        "agent_balance": money_json(result.child_balance, currency),
    }
    return jsonify(body), 201


@bp.post("/agents/<code>/transfers")
@agent_key_required
@idempotent(agent_scope)
def transfer_to_sub_agent(code):
    """Move float from the calling agent to one of its direct sub-agents."""
    return _move(code, transfers.transfer_float)


@bp.post("/agents/<code>/take-backs")
@agent_key_required
@idempotent(agent_scope)
def take_back_from_sub_agent(code):
    """Take unused float back from one of the calling agent's direct sub-agents."""
    return _move(code, transfers.take_back)
