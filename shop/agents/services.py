"""Agent rules: creating agents (float, staff and sales come with the agents issue)."""

import re

from shop.agents.models import Agent
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db

AGENT_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


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


def get_agent_by_code(code: str) -> Agent:
    """Return the agent with this code."""
    agent = db.session.execute(
        db.select(Agent).filter_by(code=(code or "").strip().upper())
    ).scalar_one_or_none()
    if agent is None:
        raise AgentNotFound(code)
    return agent


def create_agent(
    code: str,
    name: str,
    *,
    discount_bps: int = 0,
    credit_limit: int = 0,
    currency: str = "USD",
    actor: Actor | None = None,
) -> Agent:
    """Create an agent with an empty float and commit."""
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
    if db.session.execute(db.select(Agent.id).filter_by(code=code)).first():
        raise AgentCodeTaken(code)
    agent = Agent(
        code=code,
        name=name,
        discount_bps=discount_bps,
        credit_limit=credit_limit,
        currency=currency,
    )
    db.session.add(agent)
    db.session.flush()
    record_event(
        "agent.created",
        actor,
        object_type="agent",
        object_id=code,
        agent_id=agent.id,
        details={"discount_bps": discount_bps, "credit_limit": credit_limit},
    )
    db.session.commit()
    return agent
