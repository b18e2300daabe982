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


class Tree:
    """A distributor DIST with sub-agents SUB1 and SUB2, and SUB1's own sub-agent LEAF."""

    def __init__(self, dist, sub1, sub2, leaf):
        self.dist, self.sub1, self.sub2, self.leaf = dist, sub1, sub2, leaf


def make_tree(float_each=0, *, discounts=(2000, 1000, 1000, 500)) -> Tree:
    """Create the tree, each agent with a manager ``manager-<code>@example.com``."""
    from shop.agents import transfers
    from shop.agents import tree as agent_tree
    from shop.audit.services import Actor
    from tests.factories import PASSWORD, make_user

    actor = Actor(label="test")
    dist = agent_services.create_agent("DIST", "Distributor 城市", discount_bps=discounts[0])
    make_user(role="agent_manager", email="manager-dist@example.com", agent=dist)

    def sub(parent, code, discount):
        return agent_tree.create_sub_agent(
            parent,
            code,
            f"Shop {code}",
            discount_bps=discount,
            credit_limit=0,
            manager_email=f"manager-{code.lower()}@example.com",
            manager_password=PASSWORD,
            actor=actor,
        )

    sub1 = sub(dist, "SUB1", discounts[1])
    sub2 = sub(dist, "SUB2", discounts[2])
    leaf = sub(sub1, "LEAF", discounts[3])
    if float_each:
        agent_services.credit_agent("DIST", float_each * 4)
        transfers.transfer_float(dist.id, "SUB1", float_each * 2, actor)
        transfers.transfer_float(dist.id, "SUB2", float_each, actor)
        transfers.transfer_float(sub1.id, "LEAF", float_each, actor)
    return Tree(*(db_get(agent.id) for agent in (dist, sub1, sub2, leaf)))


def db_get(agent_id: int) -> Agent:
    """Return an agent freshly read from the database."""
    from shop.extensions import db

    db.session.rollback()
    return db.session.get(Agent, agent_id)
