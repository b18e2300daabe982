"""An agent's float: every movement is one conditional UPDATE of the balance and one ledger row.

The balance never goes below minus the credit limit, whatever the concurrency: the debit is a
single ``UPDATE agent SET balance = balance - :amount WHERE ... AND balance - :amount >=
-credit_limit``, so of two racing sales only those the float can pay for match. The ledger row
records the balance right after, in the same transaction, so the balance always equals the sum
of the agent's ledger entries. Callers own the transaction and commit it.
"""

from flask import current_app
from sqlalchemy import bindparam, insert, update

from shop.agents.models import Agent, AgentStatus, LedgerEntry, LedgerKind
from shop.audit.services import Actor
from shop.auth.models import Role, User
from shop.extensions import db
from shop.mail.services import send_mail
from shop.money import format_money
from shop.timeutil import utcnow

_AGENT = Agent.__table__
_DEBIT = (
    update(_AGENT)
    .where(
        _AGENT.c.id == bindparam("agent_id"),
        _AGENT.c.status == AgentStatus.ACTIVE,
        _AGENT.c.balance - bindparam("amount") >= -_AGENT.c.credit_limit,
    )
    .values(balance=_AGENT.c.balance - bindparam("amount"))
    .returning(_AGENT.c.balance)
)
_CREDIT = (
    update(_AGENT)
    .where(_AGENT.c.id == bindparam("agent_id"))
    .values(balance=_AGENT.c.balance + bindparam("amount"))
    .returning(_AGENT.c.balance)
)
_INSERT_ENTRY = insert(LedgerEntry.__table__)


class FloatError(Exception):
    """Base of float errors."""


class InsufficientCredit(FloatError):
    """The float, with its credit limit, cannot pay for this."""


class AgentSuspended(FloatError):
    """A suspended agent can sell nothing."""


class InvalidAmount(FloatError):
    """Amounts are whole minor units greater than zero."""


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidAmount("a whole number of minor units greater than zero")


def _record(agent_id, amount, balance_after, kind, reference, note, actor) -> None:
    db.session.connection().execute(
        _INSERT_ENTRY,
        {
            "agent_id": agent_id,
            "amount": amount,
            "balance_after": balance_after,
            "kind": kind,
            "reference": reference[:64],
            "note": note[:200],
            "user_id": actor.user_id if actor else None,
            "created_at": utcnow(),
        },
    )


def debit_float(
    agent_id: int,
    amount: int,
    *,
    kind: LedgerKind,
    reference: str,
    actor: Actor | None,
    note: str = "",
) -> int:
    """Take ``amount`` from the float of an active agent; return the new balance.

    Raises :class:`InsufficientCredit` or :class:`AgentSuspended` and changes nothing.
    """
    _check_amount(amount)
    balance = (
        db.session.connection().execute(_DEBIT, {"agent_id": agent_id, "amount": amount}).scalar()
    )
    if balance is None:
        status = db.session.execute(
            db.select(Agent.status).where(Agent.id == agent_id)
        ).scalar_one()
        if status != AgentStatus.ACTIVE:
            raise AgentSuspended()
        raise InsufficientCredit()
    _record(agent_id, -amount, balance, kind, reference, note, actor)
    if balance < current_app.config["LOW_FLOAT_THRESHOLD"]:
        _alert_low_float(agent_id, balance)
    return balance


def credit_float(
    agent_id: int,
    amount: int,
    *,
    kind: LedgerKind,
    reference: str,
    actor: Actor | None,
    note: str = "",
) -> int:
    """Add ``amount`` to an agent's float; return the new balance."""
    _check_amount(amount)
    balance = (
        db.session.connection()
        .execute(_CREDIT, {"agent_id": agent_id, "amount": amount})
        .scalar_one()
    )
    _record(agent_id, amount, balance, kind, reference, note, actor)
    if balance >= current_app.config["LOW_FLOAT_THRESHOLD"]:
        db.session.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.low_float_alerted_at.is_not(None))
            .values(low_float_alerted_at=None)
            .execution_options(synchronize_session=False)
        )
    return balance


def _alert_low_float(agent_id: int, balance: int) -> None:
    """E-mail the agent's managers that the float is low, once per crossing of the threshold.

    The conditional update claims the alert, so of several sales crossing at once only one
    sends it; it is part of the sale's transaction and disappears with it on a rollback.
    """
    claimed = db.session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.low_float_alerted_at.is_(None))
        .values(low_float_alerted_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return
    agent = db.session.get(Agent, agent_id)
    threshold = current_app.config["LOW_FLOAT_THRESHOLD"]
    managers = db.session.execute(
        db.select(User.email).filter_by(agent_id=agent_id, role=Role.AGENT_MANAGER, active=True)
    ).scalars()

    def money(amount: int) -> str:
        return format_money(amount, agent.currency)

    body = (
        f"The float of {agent.name} ({agent.code}) is {money(balance)}, below {money(threshold)}.\n"
        f"Buy more credit before sales stop at the limit of {money(-agent.credit_limit)}.\n"
    )
    for email in managers:
        send_mail(email, f"Low float at {agent.code}", body, kind="low_float")


def ledger_sum(agent_id: int) -> int:
    """Return the sum of an agent's ledger entries (which must equal its balance)."""
    return db.session.execute(
        db.select(db.func.coalesce(db.func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.agent_id == agent_id
        )
    ).scalar_one()
