"""Helpers for agent API tests: an agent with a float and a live API key."""

import itertools

from shop.agents import services as agent_services
from shop.agents.models import Agent

_sequence = itertools.count(1)


def make_agent_with_key(
    code=None, balance=0, credit_limit=0, discount_bps=1000
) -> tuple[Agent, str]:
    """Create an agent holding ``balance`` of float and return it with a new API key in clear."""
    number = next(_sequence)
    code = code or f"SHOP{number}"
    agent = agent_services.create_agent(
        code, f"Counter shop {number}", discount_bps=discount_bps, credit_limit=credit_limit
    )
    if balance > 0:
        agent_services.credit_agent(agent.code, balance, note="opening float")
    _, key = agent_services.create_api_key(agent.code, label="till")
    return agent, key


def auth(key: str) -> dict:
    """Return the headers that authenticate a request with an agent API key."""
    return {"Authorization": f"Bearer {key}"}
