"""An agent's float: one book of the shop's ledger (``shop.ledger``), never below its limit.

The balance never goes below minus the credit limit, whatever the concurrency: the debit is a
single ``UPDATE agent SET balance = balance - :amount WHERE ... AND balance - :amount >=
-credit_limit``, so of two racing sales only those the float can pay for match. The ledger row
records the balance right after, in the same transaction, so the balance always equals the sum
of the agent's ledger entries. Callers own the transaction and commit it.
"""

from flask import current_app
from sqlalchemy import bindparam, update

from shop import ledger as book_keeping
from shop.agents.models import Agent, AgentStatus, LedgerEntry, LedgerKind
from shop.audit.services import Actor
from shop.auth.models import Role, User
from shop.extensions import db
from shop.mail.services import send_mail
from shop.money import format_money
from shop.timeutil import utcnow

_AGENT = Agent.__table__
BOOK = book_keeping.Book(_AGENT, LedgerEntry.__table__, "agent_id")
_ACTIVE = _AGENT.c.status == AgentStatus.ACTIVE
_DEBIT = BOOK.debit(_ACTIVE, floor=-_AGENT.c.credit_limit)
#: A debit that gives back what was received (a voided sale's commission): the agent may be
#: suspended meanwhile, but its float still never goes below minus the limit.
_DEBIT_ANY_STATUS = BOOK.debit(floor=-_AGENT.c.credit_limit)
#: A take-back by the parent: only unused float, never the credit limit's part.
_DEBIT_UNUSED = BOOK.debit(floor=0)
_CREDIT = BOOK.credit()
#: A commission reaches only an active agent: the update that pays it is also the check, made
#: under the row's lock, that the parent was not suspended while the sale was being made.
_CREDIT_ACTIVE = BOOK.credit(_ACTIVE)


class FloatError(Exception):
    """Base of float errors."""


class InsufficientCredit(FloatError):
    """The float, with its credit limit, cannot pay for this."""


class AgentSuspended(FloatError):
    """A suspended agent, or an agent below a suspended one, can sell nothing.

    ``agent_code`` names the suspended agent when it is not the one selling.
    """

    def __init__(self, agent_code: str = ""):
        super().__init__(agent_code)
        self.agent_code = agent_code


class InvalidAmount(FloatError, book_keeping.InvalidAmount):
    """Amounts are whole minor units greater than zero."""


def check_amount(amount: int) -> None:
    """Refuse anything but a whole number of minor units greater than zero."""
    try:
        book_keeping.check_amount(amount)
    except book_keeping.InvalidAmount as exc:
        raise InvalidAmount(str(exc)) from None


def debit_float(
    agent_id: int,
    amount: int,
    *,
    kind: LedgerKind,
    reference: str,
    actor: Actor | None,
    note: str = "",
    require_active: bool = True,
    unused_only: bool = False,
) -> int:
    """Take ``amount`` from the float of an active agent; return the new balance.

    ``require_active=False`` also takes it from a suspended agent; ``unused_only`` takes only
    float the agent holds (the balance stays at zero or above, whatever its credit limit).
    Raises :class:`InsufficientCredit` or :class:`AgentSuspended` and changes nothing.
    """
    check_amount(amount)
    statement = _DEBIT_UNUSED if unused_only else _DEBIT if require_active else _DEBIT_ANY_STATUS
    balance = BOOK.apply(statement, agent_id, amount)
    if balance is None:
        status = db.session.execute(
            db.select(Agent.status).where(Agent.id == agent_id)
        ).scalar_one()
        if require_active and not unused_only and status != AgentStatus.ACTIVE:
            raise AgentSuspended()
        raise InsufficientCredit()
    BOOK.record(agent_id, -amount, balance, kind=kind, reference=reference, note=note, actor=actor)
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
    require_active: bool = False,
) -> int:
    """Add ``amount`` to an agent's float; return the new balance.

    With ``require_active`` a suspended agent receives nothing: :class:`AgentSuspended`.
    """
    check_amount(amount)
    statement = _CREDIT_ACTIVE if require_active else _CREDIT
    balance = BOOK.apply(statement, agent_id, amount)
    if balance is None:
        code = db.session.execute(db.select(Agent.code).where(Agent.id == agent_id)).scalar_one()
        raise AgentSuspended(code)
    BOOK.record(agent_id, amount, balance, kind=kind, reference=reference, note=note, actor=actor)
    if balance >= current_app.config["LOW_FLOAT_THRESHOLD"]:
        db.session.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.low_float_alerted_at.is_not(None))
            .values(low_float_alerted_at=None)
            .execution_options(synchronize_session=False)
        )
    return balance


_HOLD_ACTIVE = (
    update(_AGENT)
    .where(_AGENT.c.id == bindparam("agent_id"), _AGENT.c.status == AgentStatus.ACTIVE)
    .values(balance=_AGENT.c.balance)
    .returning(_AGENT.c.id)
)


def hold_active(agent_id: int) -> None:
    """Lock an agent's row for this transaction if it is active, else :class:`AgentSuspended`.

    A sale below an ancestor that earns nothing on it still checks, under the row's lock, that
    the ancestor was not suspended meanwhile (as paying a commission does).
    """
    if db.session.connection().execute(_HOLD_ACTIVE, {"agent_id": agent_id}).scalar() is None:
        code = db.session.execute(db.select(Agent.code).where(Agent.id == agent_id)).scalar_one()
        raise AgentSuspended(code)


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
    return BOOK.ledger_sum(agent_id)
