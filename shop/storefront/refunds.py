"""Refunds of paid orders, in full or in part, recorded once per provider refund.

:func:`record_refund` runs inside the caller's transaction with the order's row locked
(``settle`` for a provider's webhook, :mod:`shop.storefront.refund_flow` for the admin's
refund). It records the refund once (a refund id already on record changes nothing), voids
only as many unredeemed PINs as the refund covers (those the admin chose, or else the last
issued first), and moves the order to ``partially_refunded`` or ``refunded``.
"""

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.storefront.models import Order, OrderStatus, Payment, Refund, RefundStatus
from shop.timeutil import utcnow
from shop.vouchers import lifecycle
from shop.vouchers.models import Voucher, VoucherStatus

log = logging.getLogger(__name__)

#: Orders whose money may be (further) refunded.
REFUNDABLE = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)


class RefundRefused(Exception):
    """A refund the shop will not ask for; ``code`` names why, ``str()`` says it."""

    def __init__(self, code: str, message: str, left: int | None = None):
        super().__init__(message)
        self.code = code
        self.left = left  # for "amount_exceeds_paid": what may still be refunded


@dataclass(frozen=True)
class RefundOutcome:
    """What recording a refund did."""

    status: OrderStatus
    refunded: int  # minor units refunded on the order so far, this refund included
    voided: int  # PINs this refund voided
    outcome: str  # "refunded", "partially refunded", "duplicate refund"


def refunded_total(order_id: int) -> int:
    """Return the minor units refunded on an order (completed refunds)."""
    return db.session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order_id, Refund.status == RefundStatus.COMPLETED
        )
    ).scalar_one()


def order_refunds(order_id: int) -> list[Refund]:
    """Return an order's refunds, oldest first."""
    return list(
        db.session.execute(
            select(Refund).filter_by(order_id=order_id).order_by(Refund.id)
        ).scalars()
    )


def unredeemed_vouchers(order: Order) -> list[Voucher]:
    """Return the order's vouchers nobody has redeemed or voided yet, in serial order."""
    batch_ids = [line.batch_id for line in order.lines if line.batch_id is not None]
    if not batch_ids:
        return []
    return list(
        db.session.execute(
            select(Voucher)
            .where(Voucher.batch_id.in_(batch_ids), Voucher.status == VoucherStatus.ACTIVE)
            .order_by(Voucher.serial)
        ).scalars()
    )


def paid_for(order: Order, voucher: Voucher) -> int:
    """Return what the buyer paid for one voucher: its face value less its share of the discount."""
    return voucher.face_value * order.total // order.subtotal


def vouchers_to_void(order: Order, amount: int, chosen: list[int], fully: bool) -> list[Voucher]:
    """Pick the unredeemed vouchers a refund of ``amount`` covers.

    A full refund voids every unredeemed voucher. Otherwise the chosen ones, in the order
    given, then the last issued first, while what was paid for them fits in the amount.
    """
    open_vouchers = unredeemed_vouchers(order)
    if fully:
        return open_vouchers
    by_id = {voucher.id: voucher for voucher in open_vouchers}
    candidates = [by_id[i] for i in chosen if i in by_id] if chosen else open_vouchers[::-1]
    picked, covered = [], 0
    for voucher in candidates:
        share = paid_for(order, voucher)
        if covered + share > amount:
            break
        picked.append(voucher)
        covered += share
    return picked


def check_refund(order: Order, amount: int, chosen: list[int]) -> None:
    """Refuse a refund the order cannot take (not paid, over what is left, PINs not its own).

    What is left counts the refunds done and those asked of the provider without an answer yet.
    """
    if order.status not in REFUNDABLE:
        raise RefundRefused("not_refundable", "Only a paid order can be refunded.")
    if amount <= 0:
        raise RefundRefused("amount_invalid", "The refund must be more than zero.")
    asked = db.session.execute(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.order_id == order.id, Refund.status == RefundStatus.REQUESTED
        )
    ).scalar_one()
    left = order.total - refunded_total(order.id) - asked
    if amount > left:
        raise RefundRefused(
            "amount_exceeds_paid",
            f"The refund is more than what is left to refund ({left} minor units).",
            left,
        )
    open_ids = {voucher.id for voucher in unredeemed_vouchers(order)}
    if any(voucher_id not in open_ids for voucher_id in chosen):
        raise RefundRefused("voucher_not_refundable", "Choose only unredeemed PINs of this order.")
    if chosen:
        by_id = {v.id: v for v in unredeemed_vouchers(order)}
        if sum(paid_for(order, by_id[i]) for i in chosen) > amount:
            raise RefundRefused(
                "vouchers_exceed_refund",
                "The chosen PINs were paid more than the refund gives back.",
            )


def requested_refund(order_id: int, key: str | None) -> Refund | None:
    """Return the order's refund asked under ``key`` (the admin's form), if there is one."""
    if not key:
        return None
    return db.session.execute(
        select(Refund).filter_by(order_id=order_id, key=key)
    ).scalar_one_or_none()


def record_refund(
    order: Order,
    payment: Payment,
    *,
    refund_id: str,
    amount: int,
    currency: str,
    key: str | None,
    actor: Actor,
    source: str,
) -> RefundOutcome:
    """Record one provider refund on a locked order, once; void the PINs it covers."""
    known = db.session.execute(
        select(Refund).filter_by(provider=payment.provider, refund_id=refund_id)
    ).scalar_one_or_none()
    if known is not None:
        return RefundOutcome(order.status, refunded_total(order.id), 0, "duplicate refund")
    if amount <= 0:  # a provider's total refunded that is already on record: nothing new
        return RefundOutcome(order.status, refunded_total(order.id), 0, "nothing to refund")
    requested = requested_refund(order.id, key)
    if requested is None:
        requested = Refund(
            order_id=order.id,
            payment_id=payment.id,
            provider=payment.provider,
            key=(key or f"provider:{refund_id}")[:40],
            amount=amount,
            currency=currency,
            chosen_voucher_ids="",
            source=source,
            status=RefundStatus.REQUESTED,
        )
        db.session.add(requested)
    already = refunded_total(order.id)
    fully = already + amount >= order.total
    chosen = [int(part) for part in requested.chosen_voucher_ids.split(",") if part]
    voided = []
    if order.status in REFUNDABLE:
        picked = vouchers_to_void(order, amount, chosen, fully)
        voided = lifecycle.transition(
            [voucher.id for voucher in picked],
            VoucherStatus.VOID,
            actor,
            audit_details={"order": order.reference, "reason": "refund", "refund": refund_id},
        )
    requested.refund_id = refund_id
    requested.amount = amount
    requested.status = RefundStatus.COMPLETED
    requested.voided = len(voided)
    requested.completed_at = utcnow()
    target = OrderStatus.REFUNDED if fully else OrderStatus.PARTIALLY_REFUNDED
    if order.status in REFUNDABLE:
        order.status = target
        order.status_note = "refunded" if fully else "partially_refunded"
        if fully:
            order.closed_at = utcnow()
    db.session.flush()
    record_event(
        "order.refunded" if fully else "order.partially_refunded",
        actor,
        object_type="order",
        object_id=order.reference,
        details={"refund": refund_id, "amount": amount, "voided": len(voided), "via": source},
    )
    return RefundOutcome(
        order.status,
        already + amount,
        len(voided),
        "refunded" if fully else "partially refunded",
    )
