"""Who may open an agent's pages, and which agent they belong to."""

from flask import abort
from flask_login import current_user

from shop.agents.models import Agent
from shop.auth.decorators import role_required
from shop.auth.models import Role
from shop.extensions import db

#: The counter: an agent's staff and managers.
counter_staff = role_required(Role.AGENT_STAFF, Role.AGENT_MANAGER)
#: The manager's pages: an agent's managers only.
manager_only = role_required(Role.AGENT_MANAGER)


def current_agent() -> Agent:
    """Return the agent of the logged-in staff member or manager (admins have none: 403)."""
    if current_user.agent_id is None:
        abort(403)
    return db.session.get(Agent, current_user.agent_id)
