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
    sources = TRANSITIONS.get(target)
    if sources is None:
        raise ForbiddenTransition(f"no transition into {target.value}")
    if not voucher_ids:
        return []
    now = now or utcnow()
    values = {"status": target, STAMPS[target]: now, **(extra or {})}
    moved = []
    for start in range(0, len(voucher_ids), ID_CHUNK):
        statement = (
            update(Voucher)
            .where(
                Voucher.id.in_(voucher_ids[start : start + ID_CHUNK]), Voucher.status.in_(sources)
            )
            .values(**values)
            .returning(Voucher.id, Voucher.serial)
            .execution_options(synchronize_session=False)
        )
        moved.extend(db.session.execute(statement).all())
    for _voucher_id, serial in moved:
        record_event(
            f"voucher.{target.value}",
            actor,
            object_type="voucher",
            object_id=serial,
            agent_id=agent_id,
            details=audit_details or {},
        )
    moved_ids = [row.id for row in moved]
    for voucher in db.session.identity_map.values():
        if isinstance(voucher, Voucher) and voucher.id in moved_ids:
            db.session.expire(voucher)
    return moved_ids


def transition_one(
    voucher: Voucher, target: VoucherStatus, actor: Actor | None = None, **kwargs
) -> bool:
    """Move one voucher; return False if its current status (in the database) forbids it."""
    return bool(transition([voucher.id], target, actor, **kwargs))
