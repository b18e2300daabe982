"""Whose sales a report query covers: an agent's subtree, or every agent of one currency."""

from sqlalchemy import select

from shop.agents.models import Agent


def agent_scope(agent_column, ids: list[int] | None, currency: str):
    """Return the condition "sold by one of ``ids``" (None: by any agent keeping ``currency``)."""
    if ids is not None:
        return agent_column == ids[0] if len(ids) == 1 else agent_column.in_(ids)
    return agent_column.in_(select(Agent.id).where(Agent.currency == currency))
