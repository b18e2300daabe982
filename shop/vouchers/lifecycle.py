"""The voucher status machine, enforced in one place.

``inactive -> active -> redeemed``; ``active -> void``; ``inactive|active -> expired``. Nothing
else. Every move is one conditional ``UPDATE ... WHERE status IN (allowed sources)``: of two
concurrent moves of one voucher only one can match, whatever the isolation level.
"""

from datetime import datetime

from sqlalchemy import update

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher, VoucherStatus

S = VoucherStatus
#: Ids per statement, below every backend's limit of bound parameters.
ID_CHUNK = 5_000

#: For each target status, the statuses a voucher may move to it from.
TRANSITIONS: dict[VoucherStatus, frozenset[VoucherStatus]] = {
    S.ACTIVE: frozenset({S.INACTIVE}),
    S.REDEEMED: frozenset({S.ACTIVE}),
    S.VOID: frozenset({S.ACTIVE}),
    S.EXPIRED: frozenset({S.INACTIVE, S.ACTIVE}),
}

#: The timestamp column each target status stamps.
STAMPS = {
    S.ACTIVE: "sold_at",
    S.REDEEMED: "redeemed_at",
    S.VOID: "voided_at",
    S.EXPIRED: "expired_at",
}


class ForbiddenTransition(Exception):
    """The status machine has no such move."""


def allowed(source: VoucherStatus, target: VoucherStatus) -> bool:
    """Return whether the machine allows ``source -> target``."""
    return source in TRANSITIONS.get(target, frozenset())


def _move(
    criteria, target: VoucherStatus, actor, now, extra, audit_details, agent_id, returning=()
):
    """Run one conditional UPDATE into ``target`` and audit each voucher it moved."""
    sources = TRANSITIONS.get(target)
    if sources is None:
        raise ForbiddenTransition(f"no transition into {target.value}")
    values = {"status": target, STAMPS[target]: now, **(extra or {})}
    statement = (
        update(Voucher)
        .where(*criteria, Voucher.status.in_(sources))
        .values(**values)
        .returning(Voucher.id, Voucher.serial, *returning)
        .execution_options(synchronize_session=False)
    )
    moved = db.session.execute(statement).all()
    for row in moved:
        record_event(
            f"voucher.{target.value}",
            actor,
            object_type="voucher",
            object_id=row.serial,
            agent_id=agent_id,
            details=audit_details or {},
        )
    return moved


def transition(
    voucher_ids: list[int],
    target: VoucherStatus,
    actor: Actor | None = None,
    *,
    now: datetime | None = None,
    extra: dict | None = None,
    audit_details: dict | None = None,
    agent_id: int | None = None,
) -> list[int]:
    """Move vouchers to ``target`` where their current status allows it; return the ids moved.

    Runs inside the caller's transaction (the caller commits). ``extra`` sets further columns
    in the same statement (``redeemed_card_id``, ``sold_by_id``...). Vouchers whose status
    does not allow the move are left alone and missing from the result.
    """
    now = now or utcnow()
    moved_ids: list[int] = []
    for start in range(0, len(voucher_ids), ID_CHUNK):
        chunk = voucher_ids[start : start + ID_CHUNK]
        moved = _move([Voucher.id.in_(chunk)], target, actor, now, extra, audit_details, agent_id)
        moved_ids.extend(row.id for row in moved)
    if moved_ids:
        moved_set = set(moved_ids)
        for instance in list(db.session.identity_map.values()):
            if isinstance(instance, Voucher) and instance.id in moved_set:
                db.session.expire(instance)
    return moved_ids


def transition_one(
    voucher: Voucher, target: VoucherStatus, actor: Actor | None = None, **kwargs
) -> bool:
    """Move one voucher; return False if its current status (in the database) forbids it."""
    return bool(transition([voucher.id], target, actor, **kwargs))
