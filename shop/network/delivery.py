"""Delivering every top-up to the network exactly once.

A top-up's ``TopUpDelivery`` is written ``pending`` in the top-up's transaction. A job calls
:func:`deliver`: it claims the delivery for a lease (a conditional update, so two workers
never send it at once), applies the pack on the network under the delivery's request id, and
records the outcome. The network treats the request id as an idempotency key: a worker killed
after the network applied the pack but before this was recorded leaves the delivery pending;
once the lease runs out the sweeper queues it again, the retry gets the first result back, and
the network holds the pack once. A network that is down or slow is retried with backoff until
``give_up_at`` (24 hours); then, or when the network refuses the pack, the delivery fails and
the operator is alerted. The state machine::

    pending -> delivered | failed;  failed -> pending (deliver again) | cancelled
"""

import logging
from datetime import timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import or_, update

from shop.audit.services import Actor, record_event
from shop.cards.models import Card, DeliveryStatus, TopUp, TopUpDelivery
from shop.cards.services import NEW_DELIVERIES
from shop.db import begin_write
from shop.extensions import db
from shop.network.gateway import NetworkError, NetworkRefused, PackOrder, gateway
from shop.network.status import record_figures
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

_signals = Namespace()
#: Sent with ``ids=[...]`` after a transaction that wrote deliveries outside the ORM session
#: committed (voucher redemptions); the job queue listens and queues them.
deliveries_committed = _signals.signal("network.deliveries-committed")

#: Pauses after the 1st, 2nd, ... failed attempt; the last one repeats until ``give_up_at``.
BACKOFF_SECONDS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600)
NETWORK_ACTOR = Actor.system("network")

TRANSITIONS = {
    DeliveryStatus.PENDING: {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED},
    DeliveryStatus.FAILED: {DeliveryStatus.PENDING, DeliveryStatus.CANCELLED},
    DeliveryStatus.DELIVERED: set(),
    DeliveryStatus.CANCELLED: set(),
}


class DeliveryError(Exception):
    """Base of refused delivery actions."""


class DeliveryNotFound(DeliveryError):
    """No delivery has this id."""


class DeliveryNotFailed(DeliveryError):
    """Only a failed delivery can be delivered again or cancelled."""


def backoff(attempts: int) -> timedelta:
    """Return the pause after the ``attempts``-th failed attempt."""
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1])


def _move(delivery_id: int, frm: DeliveryStatus, to: DeliveryStatus, **values) -> bool:
    """Move a delivery ``frm -> to`` by a conditional update; return whether it moved."""
    if to not in TRANSITIONS[frm]:
        raise ValueError(f"no transition {frm} -> {to}")
    return bool(
        db.session.execute(
            update(TopUpDelivery)
            .where(TopUpDelivery.id == delivery_id, TopUpDelivery.status == frm)
            .values(status=to, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _claimable(delivery_id: int, now) -> bool:
    """Tell, by a read only, whether a delivery is due and held by nobody.

    A dispatch may queue a delivery that an earlier one queued too; the second task then ends
    here without taking the write lock.
    """
    found = db.session.execute(
        db.select(TopUpDelivery.id).where(
            TopUpDelivery.id == delivery_id,
            TopUpDelivery.status == DeliveryStatus.PENDING,
            TopUpDelivery.next_attempt_at <= now,
            or_(TopUpDelivery.claimed_until.is_(None), TopUpDelivery.claimed_until <= now),
        )
    ).first()
    db.session.rollback()
    return found is not None


def _claim(delivery_id: int, now) -> bool:
    config = current_app.config
    # The claim outlives the longest wait for the network, so no second worker sends meanwhile.
    seconds = max(config["NETWORK_DELIVERY_LEASE_SECONDS"], config["NETWORK_TIMEOUT_SECONDS"] + 5)
    lease = timedelta(seconds=seconds)
    begin_write(db.session)
    claimed = db.session.execute(
        update(TopUpDelivery)
        .where(
            TopUpDelivery.id == delivery_id,
            TopUpDelivery.status == DeliveryStatus.PENDING,
            TopUpDelivery.next_attempt_at <= now,
            or_(TopUpDelivery.claimed_until.is_(None), TopUpDelivery.claimed_until <= now),
        )
        .values(claimed_until=now + lease, attempts=TopUpDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _alert_failed(delivery: TopUpDelivery, reason: str) -> None:
    log.error(
        "ALERT: top-up %s could not be delivered to the network (delivery %s): %s",
        delivery.topup_id,
        delivery.id,
        reason,
    )
    record_event(
        "topup.delivery_failed",
        NETWORK_ACTOR,
        object_type="topup",
        object_id=delivery.topup_id,
        details={"delivery": delivery.id, "reason": reason[:200]},
    )


def mark_delivered(delivery: TopUpDelivery, reference: str, now=None) -> bool:
    """Record that the network applied the pack (from its answer or its callback)."""
    return _move(
        delivery.id,
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
        network_reference=reference[:64],
        finished_at=now or utcnow(),
        claimed_until=None,
        last_error="",
    )


def mark_failed(delivery: TopUpDelivery, reason: str, now=None) -> bool:
    """Record that the pack will not reach the network by itself, and alert the operator."""
    moved = _move(
        delivery.id,
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
        last_error=reason[:200],
        finished_at=now or utcnow(),
        claimed_until=None,
    )
    if moved:
        _alert_failed(delivery, reason)
    return moved


def deliver(delivery_id: int) -> TopUpDelivery | None:
    """Try one delivery now, if it is due and nobody holds it; return it as it then stands.

    A pending result has its next attempt at ``next_attempt_at``.
    """
    now = utcnow()
    if not _claimable(delivery_id, now) or not _claim(delivery_id, now):
        return None
    delivery = db.session.get(TopUpDelivery, delivery_id)
    topup = db.session.get(TopUp, delivery.topup_id)
    order = PackOrder(
        request_id=delivery.request_id,
        card_number=delivery.card.number,
        sku=topup.product.sku,
        data_mb=topup.data_mb,
        validity_days=topup.validity_days,
    )
    db.session.commit()  # no transaction held open while the network thinks
    try:
        applied = gateway().apply_pack(order)
    except NetworkRefused as exc:
        _finish_refused(delivery_id, str(exc))
    except NetworkError as exc:
        _finish_unavailable(delivery_id, str(exc))
    else:
        begin_write(db.session)
        delivery = db.session.get(TopUpDelivery, delivery_id, populate_existing=True)
        mark_delivered(delivery, applied.reference)
        record_figures(db.session.get(Card, delivery.card_id), applied.card)
        db.session.commit()
    return db.session.get(TopUpDelivery, delivery_id, populate_existing=True)


def _finish_refused(delivery_id: int, reason: str) -> None:
    begin_write(db.session)
    delivery = db.session.get(TopUpDelivery, delivery_id, populate_existing=True)
    mark_failed(delivery, reason)
    db.session.commit()


def _finish_unavailable(delivery_id: int, reason: str) -> None:
    now = utcnow()
    begin_write(db.session)
    delivery = db.session.get(TopUpDelivery, delivery_id, populate_existing=True)
    if now >= delivery.give_up_at:
        mark_failed(delivery, f"network unavailable until giving up: {reason}", now)
    else:
        db.session.execute(
            update(TopUpDelivery)
            .where(TopUpDelivery.id == delivery_id, TopUpDelivery.status == DeliveryStatus.PENDING)
            .values(
                next_attempt_at=now + backoff(delivery.attempts),
                claimed_until=None,
                last_error=reason[:200],
            )
            .execution_options(synchronize_session=False)
        )
        log.warning("delivery %s: network unavailable (%s), retrying later", delivery_id, reason)
    db.session.commit()


def due_delivery_ids(now=None, limit: int = 500) -> list[int]:
    """Return pending deliveries that are due and held by no live worker, oldest first."""
    now = now or utcnow()
    query = (
        db.select(TopUpDelivery.id)
        .where(
            TopUpDelivery.status == DeliveryStatus.PENDING,
            TopUpDelivery.next_attempt_at <= now,
            or_(TopUpDelivery.claimed_until.is_(None), TopUpDelivery.claimed_until <= now),
        )
        .order_by(TopUpDelivery.next_attempt_at, TopUpDelivery.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def failed_deliveries(limit: int = 200) -> list[TopUpDelivery]:
    """Return failed deliveries, newest first (the operator's list)."""
    query = (
        db.select(TopUpDelivery)
        .where(TopUpDelivery.status == DeliveryStatus.FAILED)
        .order_by(TopUpDelivery.finished_at.desc(), TopUpDelivery.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def get_delivery(delivery_id: int) -> TopUpDelivery:
    """Return the delivery with this id."""
    delivery = db.session.get(TopUpDelivery, delivery_id)
    if delivery is None:
        raise DeliveryNotFound(str(delivery_id))
    return delivery


def deliver_again(delivery_id: int, actor: Actor) -> TopUpDelivery:
    """Put a failed delivery back in the queue, with a new day of retries, and commit.

    It keeps its request id: a pack the network applied after all is not applied twice.
    """
    now = utcnow()
    begin_write(db.session)
    delivery = get_delivery(delivery_id)
    give_up = timedelta(hours=current_app.config["NETWORK_DELIVERY_GIVE_UP_HOURS"])
    if not _move(
        delivery_id,
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + give_up,
        finished_at=None,
        claimed_until=None,
    ):
        raise DeliveryNotFailed(str(delivery_id))
    record_event(
        "topup.delivery_retried",
        actor,
        object_type="topup",
        object_id=delivery.topup_id,
        details={"delivery": delivery_id},
    )
    db.session.info.setdefault(NEW_DELIVERIES, []).append(delivery_id)
    db.session.commit()
    return get_delivery(delivery_id)


def cancel_delivery(delivery_id: int, actor: Actor, *, note: str = "") -> TopUpDelivery:
    """Give up on a failed delivery inside the caller's transaction (the caller compensates)."""
    delivery = get_delivery(delivery_id)
    if not _move(delivery_id, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED, claimed_until=None):
        raise DeliveryNotFailed(str(delivery_id))
    record_event(
        "topup.delivery_cancelled",
        actor,
        object_type="topup",
        object_id=delivery.topup_id,
        details={"delivery": delivery_id, "note": note[:200]},
    )
    return delivery
