"""The reseller tree: distributors sign sub-agents, which may sign their own.

The operator is the root; its agents have no parent and depth 1. Each agent keeps its
``path`` of ids from the top down (``/1/5/9/``), so a subtree is one indexed prefix match on
SQLite and PostgreSQL alike, and its ancestors are read from its own row. A manager acts only
within its agent's subtree: every look-up here takes the acting agent and answers "not found"
for anything outside it, the same answer as for a code that does not exist.
"""

from sqlalchemy import func, literal, literal_column, update

from shop.agents.ledger import AgentSuspended
from shop.agents.models import Agent, AgentStatus
from shop.agents.services import (
    AgentNotFound,
    DiscountAboveParent,
    InvalidAgent,
    TreeTooDeep,
    create_agent,
    get_agent_by_code,
    max_tree_depth,
    set_agent_terms,
)
from shop.audit.services import Actor, record_event
from shop.auth import services as auth_services
from shop.auth.models import Role, User
from shop.db import begin_write
from shop.extensions import db


class MoveRefused(InvalidAgent):
    """An agent cannot move there: under itself, to another currency, or past the depth limit."""


def in_subtree(column_path, root: Agent):
    """Return the SQL condition "this path lies in ``root``'s subtree" (``root`` included)."""
    return column_path.like(root.path + "%")


def subtree_ids(root: Agent):
    """Return a SELECT of the ids of ``root`` and every agent below it."""
    return db.select(Agent.id).where(in_subtree(Agent.path, root))


def scope_ids(agent_id: int) -> list[int]:
    """Return the ids of an agent and of every agent below it in the tree."""
    path = db.select(Agent.path).where(Agent.id == agent_id).scalar_subquery()
    return list(
        db.session.execute(
            db.select(Agent.id).where(Agent.path.like(path + literal_column("'%'")))
        ).scalars()
    )


def is_within(root: Agent, agent: Agent, *, strict: bool = False) -> bool:
    """Return whether ``agent`` is ``root`` or below it (``strict``: below it only)."""
    inside = agent.path.startswith(root.path)
    return inside and not (strict and agent.id == root.id)


def subtree(root: Agent, *, include_root: bool = True) -> list[Agent]:
    """Return ``root``'s subtree in tree order: each agent followed by its children, by code."""
    agents = db.session.execute(db.select(Agent).where(in_subtree(Agent.path, root))).scalars()
    return _tree_order(list(agents), root.parent_id, include_root, root.id)


def whole_tree() -> list[Agent]:
    """Return every agent in tree order, the operator's agents first-level."""
    agents = list(db.session.execute(db.select(Agent)).scalars())
    return _tree_order(agents, None, True, None)


def _tree_order(agents: list[Agent], top_parent, include_root: bool, root_id) -> list[Agent]:
    children: dict = {}
    for agent in agents:
        children.setdefault(agent.parent_id, []).append(agent)
    ordered: list[Agent] = []

    def visit(parent_id):
        for agent in sorted(children.get(parent_id, []), key=lambda item: item.code):
            ordered.append(agent)
            visit(agent.id)

    if root_id is None:
        visit(top_parent)
    else:
        root = next(agent for agent in agents if agent.id == root_id)
        if include_root:
            ordered.append(root)
        visit(root.id)
    return ordered


def descendant(root: Agent, code: str, *, include_root: bool = False) -> Agent:
    """Return the agent with ``code`` if it is below ``root``; else :class:`AgentNotFound`."""
    agent = get_agent_by_code(code)
    if not is_within(root, agent, strict=not include_root):
        raise AgentNotFound(code)
    return agent


def child(parent: Agent, code: str) -> Agent:
    """Return the direct sub-agent of ``parent`` with ``code``; else :class:`AgentNotFound`."""
    agent = get_agent_by_code(code)
    if agent.parent_id != parent.id:
        raise AgentNotFound(code)
    return agent


def ancestors(agent: Agent) -> list[Agent]:
    """Return the agents above ``agent``, from the top of the tree down."""
    ids = agent.ancestor_ids()
    if not ids:
        return []
    found = {
        item.id: item
        for item in db.session.execute(db.select(Agent).where(Agent.id.in_(ids))).scalars()
    }
    return [found[ident] for ident in ids]


def check_can_sell(agent: Agent) -> list[Agent]:
    """Return the agent's chain (top first, the agent last) if it and all above it are active.

    Raises :class:`AgentSuspended`, naming the suspended ancestor when it is not the agent.
    """
    if agent.status != AgentStatus.ACTIVE:
        raise AgentSuspended()
    chain = ancestors(agent)
    for above in chain:
        if above.status != AgentStatus.ACTIVE:
            raise AgentSuspended(above.code)
    return [*chain, agent]


def suspended_above(agent: Agent) -> Agent | None:
    """Return the nearest suspended ancestor of ``agent``, if any."""
    for above in reversed(ancestors(agent)):
        if above.status != AgentStatus.ACTIVE:
            return above
    return None


def create_sub_agent(
    parent: Agent,
    code: str,
    name: str,
    *,
    discount_bps: int,
    credit_limit: int,
    manager_email: str,
    manager_password: str,
    actor: Actor | None = None,
) -> Agent:
    """Create a sub-agent of ``parent`` with its first manager, in one transaction, and commit.

    The sub-agent's credit limit is at most its parent's: a parent answers for its subtree.
    """
    if credit_limit > parent.credit_limit:
        raise InvalidAgent("credit_limit", "at most the parent's own credit limit")
    begin_write(db.session)
    try:
        parent = db.session.get(Agent, parent.id)
        agent = create_agent(
            code,
            name,
            discount_bps=discount_bps,
            credit_limit=credit_limit,
            parent=parent,
            actor=actor,
            commit=False,
        )
        auth_services.create_user(
            manager_email,
            manager_password,
            Role.AGENT_MANAGER,
            agent_id=agent.id,
            actor=actor,
            commit=False,
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return agent


def set_child_terms(
    parent: Agent, code: str, *, discount_bps: int, credit_limit: int, actor: Actor | None = None
) -> Agent:
    """Set a direct sub-agent's discount (within the parent's) and credit limit, and commit."""
    agent = child(parent, code)
    if discount_bps > parent.discount_bps:
        raise DiscountAboveParent(parent.discount_bps)
    if credit_limit > parent.credit_limit:
        raise InvalidAgent("credit_limit", "at most the parent's own credit limit")
    return set_agent_terms(
        agent.code, discount_bps=discount_bps, credit_limit=credit_limit, actor=actor
    )


def subtree_users(root: Agent) -> list[User]:
    """Return the accounts of the agents strictly below ``root``, by agent and e-mail."""
    return list(
        db.session.execute(
            db.select(User)
            .join(Agent, Agent.id == User.agent_id)
            .where(in_subtree(Agent.path, root), Agent.id != root.id)
            .order_by(Agent.code, User.role, User.email)
        ).scalars()
    )


def subtree_height(agent: Agent) -> int:
    """Return how many levels ``agent``'s subtree spans (1: no sub-agents)."""
    deepest = db.session.execute(
        db.select(func.max(Agent.depth)).where(in_subtree(Agent.path, agent))
    ).scalar_one()
    return deepest - agent.depth + 1


def move_agent(code: str, new_parent_code: str | None, actor: Actor | None = None) -> Agent:
    """Move an agent and its subtree under another parent (None: the operator), and commit.

    Refuses a move under itself or its own subtree (a cycle), into another currency, past
    the depth limit, or under a parent whose discount is smaller than the agent's. Every path
    and depth of the subtree is rewritten in one statement.
    """
    begin_write(db.session)
    agent = get_agent_by_code(code)
    parent = get_agent_by_code(new_parent_code) if new_parent_code else None
    if parent is not None:
        if is_within(agent, parent):
            raise MoveRefused("parent", "an agent cannot move under itself or its sub-agents")
        if parent.currency != agent.currency:
            raise MoveRefused("parent", "the new parent keeps its float in another currency")
        if agent.discount_bps > parent.discount_bps:
            raise DiscountAboveParent(parent.discount_bps)
    if (parent.id if parent else None) == agent.parent_id:
        return agent
    new_depth = parent.depth + 1 if parent else 1
    if new_depth + subtree_height(agent) - 1 > max_tree_depth():
        raise TreeTooDeep(max_tree_depth())
    old_path = agent.path
    new_path = f"{parent.path if parent else '/'}{agent.id}/"
    shift = new_depth - agent.depth
    before = agent.parent.code if agent.parent else None
    db.session.execute(
        update(Agent)
        .where(Agent.path.like(old_path + "%"))
        .values(
            path=literal(new_path) + func.substr(Agent.path, len(old_path) + 1),
            depth=Agent.depth + shift,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Agent)
        .where(Agent.id == agent.id)
        .values(parent_id=parent.id if parent else None)
        .execution_options(synchronize_session=False)
    )
    record_event(
        "agent.moved",
        actor,
        object_type="agent",
        object_id=agent.code,
        agent_id=agent.id,
        details={"from": before, "to": parent.code if parent else None},
    )
    db.session.commit()
    db.session.expire_all()
    return get_agent_by_code(code)
