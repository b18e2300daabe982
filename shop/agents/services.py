"""Agent rules: creating and suspending agents, crediting their float, API keys."""

import hashlib
import re
import secrets
from datetime import UTC, datetime, time, timedelta

from flask import current_app

from shop.agents import ledger
from shop.agents.models import Agent, AgentStatus, ApiKey, LedgerEntry, LedgerKind
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow

AGENT_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
#: How often a key's "last used" time is written (not on every request).
KEY_USE_RECORD_INTERVAL = timedelta(minutes=1)


class AgentError(Exception):
    """Base of agent errors."""


class AgentCodeTaken(AgentError):
    """Another agent already has this code."""


class InvalidAgent(AgentError):
    """An agent field is out of range; ``field`` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


class AgentNotFound(AgentError):
    """No agent with that code."""


class SubAgentFloat(AgentError):
    """A sub-agent's float comes from its parent, never straight from the operator."""


class TreeTooDeep(AgentError):
    """The tree would have more levels than ``AGENT_TREE_MAX_DEPTH``; ``limit`` says how many."""

    def __init__(self, limit: int):
        super().__init__(str(limit))
        self.limit = limit


class DiscountAboveParent(AgentError):
    """A sub-agent's discount may not exceed its parent's (``limit`` basis points)."""

    def __init__(self, limit: int):
        super().__init__(str(limit))
        self.limit = limit


def get_agent_by_code(code: str) -> Agent:
    """Return the agent with this code."""
    agent = db.session.execute(
        db.select(Agent).filter_by(code=(code or "").strip().upper())
    ).scalar_one_or_none()
    if agent is None:
        raise AgentNotFound(code)
    return agent


def max_tree_depth() -> int:
    """Return how many levels of agents the tree may have below the operator."""
    return current_app.config["AGENT_TREE_MAX_DEPTH"]


def create_agent(
    code: str,
    name: str,
    *,
    discount_bps: int = 0,
    credit_limit: int = 0,
    currency: str = "USD",
    parent: Agent | None = None,
    actor: Actor | None = None,
    commit: bool = True,
) -> Agent:
    """Create an agent with an empty float and commit; under ``parent`` it is a sub-agent.

    A sub-agent keeps its parent's currency, sits one level below it (at most
    ``AGENT_TREE_MAX_DEPTH`` levels), and never gets a larger discount than its parent's.
    ``commit=False`` leaves the commit to the caller's write transaction.
    """
    if commit:
        begin_write(db.session)
    code = (code or "").strip().upper()
    if not AGENT_CODE_PATTERN.match(code):
        raise InvalidAgent("code", "2-32 letters, digits, dashes or underscores")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise InvalidAgent("name", "1-120 characters")
    if not 0 <= discount_bps <= 10_000:
        raise InvalidAgent("discount_bps", "0 to 10000 basis points")
    if credit_limit < 0:
        raise InvalidAgent("credit_limit", "zero or more")
    if parent is not None:
        if parent.depth + 1 > max_tree_depth():
            raise TreeTooDeep(max_tree_depth())
        if discount_bps > parent.discount_bps:
            raise DiscountAboveParent(parent.discount_bps)
        currency = parent.currency
    if db.session.execute(db.select(Agent.id).filter_by(code=code)).first():
        raise AgentCodeTaken(code)
    agent = Agent(
        code=code,
        name=name,
        discount_bps=discount_bps,
        credit_limit=credit_limit,
        currency=currency,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 1,
    )
    db.session.add(agent)
    db.session.flush()
    agent.path = f"{parent.path if parent else '/'}{agent.id}/"
    db.session.flush()
    record_event(
        "agent.created",
        actor,
        object_type="agent",
        object_id=code,
        agent_id=agent.id,
        details={
            "discount_bps": discount_bps,
            "credit_limit": credit_limit,
            "parent": parent.code if parent else None,
        },
    )
    if commit:
        db.session.commit()
    return agent


def credit_agent(
    code: str, amount: int, *, note: str = "", reference: str = "", actor: Actor | None = None
) -> int:
    """Record a credit purchase: add float to an agent and commit; return the new balance.

    Only the operator's own agents buy float from it: a sub-agent's float comes from its
    parent (``transfers``), so this refuses one with :class:`SubAgentFloat`.
    """
    begin_write(db.session)
    agent = get_agent_by_code(code)
    if agent.parent_id is not None:
        raise SubAgentFloat(code)
    balance = ledger.credit_float(
        agent.id,
        amount,
        kind=LedgerKind.CREDIT_PURCHASE,
        reference=reference or "credit",
        actor=actor,
        note=note,
    )
    record_event(
        "agent.credited",
        actor,
        object_type="agent",
        object_id=agent.code,
        agent_id=agent.id,
        details={"amount": amount, "balance": balance, "note": note[:200]},
    )
    db.session.commit()
    return balance


def set_agent_status(code: str, status: AgentStatus, actor: Actor | None = None) -> Agent:
    """Suspend or reactivate an agent and commit; a suspended agent sells nothing."""
    begin_write(db.session)
    agent = get_agent_by_code(code)
    if agent.status != status:
        agent.status = status
        record_event(
            f"agent.{status.value}",
            actor,
            object_type="agent",
            object_id=agent.code,
            agent_id=agent.id,
        )
        db.session.commit()
    return agent


API_KEY_PREFIX = "wdk_"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(code: str, label: str = "", actor: Actor | None = None) -> tuple[ApiKey, str]:
    """Create an API key for an agent and commit; return it with the key, shown only this once."""
    begin_write(db.session)
    agent = get_agent_by_code(code)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        agent_id=agent.id,
        label=(label or "").strip()[:80],
        prefix=key[:12],
        key_hash=_key_hash(key),
        created_by_id=actor.user_id if actor else None,
    )
    db.session.add(api_key)
    db.session.flush()
    record_event(
        "api_key.created",
        actor,
        object_type="api_key",
        object_id=api_key.id,
        agent_id=agent.id,
        details={"label": api_key.label, "prefix": api_key.prefix},
    )
    db.session.commit()
    return api_key, key


def revoke_api_key(agent_id: int, key_id: int, actor: Actor | None = None) -> ApiKey:
    """Revoke one of an agent's API keys and commit."""
    begin_write(db.session)
    api_key = db.session.get(ApiKey, key_id)
    if api_key is None or api_key.agent_id != agent_id:
        raise ApiKeyNotFound(str(key_id))
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        record_event(
            "api_key.revoked", actor, object_type="api_key", object_id=api_key.id, agent_id=agent_id
        )
        db.session.commit()
    return api_key


def authenticate_api_key(key: str) -> ApiKey | None:
    """Return the live API key matching ``key``, or None (unknown, malformed or revoked)."""
    if not key or not key.startswith(API_KEY_PREFIX) or len(key) > 100:
        return None
    api_key = db.session.execute(
        db.select(ApiKey).filter_by(key_hash=_key_hash(key))
    ).scalar_one_or_none()
    if api_key is None or api_key.revoked_at is not None:
        return None
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > KEY_USE_RECORD_INTERVAL:
        db.session.execute(
            db.update(ApiKey)
            .where(ApiKey.id == api_key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return api_key


def list_api_keys(agent_id: int) -> list[ApiKey]:
    """Return an agent's API keys, newest first."""
    return list(
        db.session.execute(
            db.select(ApiKey).filter_by(agent_id=agent_id).order_by(ApiKey.id.desc())
        ).scalars()
    )


class ApiKeyNotFound(AgentError):
    """No such key of this agent."""


def statement(agent_id: int, first_day, last_day) -> tuple[int, list[LedgerEntry]]:
    """Return the opening balance before ``first_day`` and the ledger entries up to ``last_day``.

    Days are inclusive, in UTC; each entry carries its own balance after, the running balance.
    """
    start = datetime.combine(first_day, time.min, tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)
    opening = db.session.execute(
        db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.agent_id == agent_id, LedgerEntry.created_at < start
        )
    ).scalar_one()
    entries = (
        db.session.execute(
            db.select(LedgerEntry)
            .where(
                LedgerEntry.agent_id == agent_id,
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
            )
            .order_by(LedgerEntry.id)
        )
        .scalars()
        .all()
    )
    return opening, list(entries)


def set_agent_terms(
    code: str, *, discount_bps: int, credit_limit: int, actor: Actor | None = None
) -> Agent:
    """Change an agent's wholesale discount and credit limit and commit.

    A lower limit cannot put an agent below it: the balance must already be at or above the new
    minus-limit (the database refuses otherwise, and so does this check first).
    """
    begin_write(db.session)
    agent = get_agent_by_code(code)
    if not 0 <= discount_bps <= 10_000:
        raise InvalidAgent("discount_bps", "0 to 10000 basis points")
    if credit_limit < 0:
        raise InvalidAgent("credit_limit", "zero or more")
    if agent.balance < -credit_limit:
        raise InvalidAgent("credit_limit", "the float is already below minus this limit")
    if agent.parent is not None and discount_bps > agent.parent.discount_bps:
        raise DiscountAboveParent(agent.parent.discount_bps)
    before = {"discount_bps": agent.discount_bps, "credit_limit": agent.credit_limit}
    agent.discount_bps, agent.credit_limit = discount_bps, credit_limit
    record_event(
        "agent.terms_changed",
        actor,
        object_type="agent",
        object_id=agent.code,
        agent_id=agent.id,
        details={
            "before": before,
            "after": {"discount_bps": discount_bps, "credit_limit": credit_limit},
        },
    )
    db.session.commit()
    return agent
