"""Float moving down the tree: a parent funds a sub-agent, or takes unused float back.

Each move is one transaction of two conditional updates and two ledger rows, one per agent,
taken in primary-key order so that transfers and sales touching the same agents never
deadlock. A parent gives only what its float holds with its own credit limit, and only while
it is active; it takes back only float the sub-agent holds (never its credit limit's part),
even from a suspended sub-agent. Both balances keep equal to their ledgers.
"""

import secrets
from dataclasses import dataclass

from shop.agents import ledger, tree
from shop.agents.models import Agent, LedgerKind
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db


@dataclass(frozen=True)
class Transfer:
    """A float move between a parent and one of its sub-agents, with both balances after it."""

    reference: str
    parent_code: str
    child_code: str
    amount: int
    parent_balance: int
    child_balance: int


def _move(
    giver_id, taker_id, amount, *, giver_kind, taker_kind, unused_only, reference, actor, note
):
    balances = {}
    for agent_id in sorted((giver_id, taker_id)):
        if agent_id == giver_id:
            balances[agent_id] = ledger.debit_float(
                agent_id,
                amount,
                kind=giver_kind,
                reference=reference,
                actor=actor,
                note=note,
                require_active=not unused_only,
                unused_only=unused_only,
            )
        else:
            balances[agent_id] = ledger.credit_float(
                agent_id, amount, kind=taker_kind, reference=reference, actor=actor, note=note
            )
    return balances


def give(
    parent: Agent, child: Agent, amount: int, *, actor: Actor, note: str = "", reference: str = ""
) -> Transfer:
    """Move float from ``parent`` to ``child`` in the caller's transaction (the caller commits)."""
    reference = reference or f"transfer:{secrets.token_hex(6)}"
    balances = _move(
        parent.id,
        child.id,
        amount,
        giver_kind=LedgerKind.TRANSFER_OUT,
        taker_kind=LedgerKind.TRANSFER_IN,
        unused_only=False,
        reference=reference,
        actor=actor,
        note=note or f"{parent.code} > {child.code}",
    )
    record_event(
        "float.transferred",
        actor,
        object_type="agent",
        object_id=child.code,
        agent_id=parent.id,
        details={"to": child.code, "amount": amount, "reference": reference},
    )
    return Transfer(
        reference, parent.code, child.code, amount, balances[parent.id], balances[child.id]
    )


def transfer_float(
    parent_id: int, child_code: str, amount: int, actor: Actor, note: str = ""
) -> Transfer:
    """Move ``amount`` from a parent's float to its direct sub-agent's, and commit."""
    ledger.check_amount(amount)
    begin_write(db.session)
    try:
        parent = db.session.get(Agent, parent_id)
        child = tree.child(parent, child_code)
        result = give(parent, child, amount, actor=actor, note=note)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def take_back(
    parent_id: int, child_code: str, amount: int, actor: Actor, note: str = ""
) -> Transfer:
    """Move ``amount`` of a sub-agent's unused float back to its parent, audited, and commit."""
    ledger.check_amount(amount)
    begin_write(db.session)
    try:
        parent = db.session.get(Agent, parent_id)
        child = tree.child(parent, child_code)
        reference = f"take-back:{secrets.token_hex(6)}"
        balances = _move(
            child.id,
            parent.id,
            amount,
            giver_kind=LedgerKind.TAKE_BACK,
            taker_kind=LedgerKind.TAKE_BACK,
            unused_only=True,
            reference=reference,
            actor=actor,
            note=note or f"{parent.code} < {child.code}",
        )
        record_event(
            "float.taken_back",
            actor,
            object_type="agent",
            object_id=child.code,
            agent_id=parent.id,
            details={"from": child.code, "amount": amount, "reference": reference},
        )
        result = Transfer(
            reference, parent.code, child.code, amount, balances[parent.id], balances[child.id]
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result
