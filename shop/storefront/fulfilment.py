"""Settling an order with what the payment provider reports, and fulfilling it exactly once.

Every path that learns about a payment (the buyer's return from PayPal, a webhook, the
``orders reconcile`` command) ends in :func:`settle`. It locks the order's row (``FOR UPDATE``
on PostgreSQL; the write gate on SQLite), so however many returns and webhooks arrive at once
they are applied one after the other, and each status move is a conditional UPDATE: only the
first ``paid -> fulfilled`` issues vouchers or tops the card up.
"""

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.cards import services as card_services
from shop.cards.models import CardStatus, TopUpSource
from shop.db import begin_write
from shop.extensions import db
from shop.payments.gateway import PaymentState, PaymentStatus
from shop.storefront import refunds
from shop.storefront.alerts import alert_amount_mismatch
from shop.storefront.delivered import send_delivery_mail
from shop.storefront.models import (
    Delivery,
    Order,
    OrderStatus,
    Payment,
    PaymentRecordState,
    WebhookEvent,
)
from shop.storefront.orders import close_order
from shop.timeutil import utcnow
from shop.vouchers import batches
from shop.vouchers.models import BatchPurpose
from shop.wallet import references
from shop.wallet import services as wallet_services
from shop.wallet.models import WalletEntryKind

log = logging.getLogger(__name__)

#: An order can be paid from these (money captured after the buyer cancelled or a decline).
PAYABLE = (OrderStatus.PENDING, OrderStatus.CANCELLED, OrderStatus.FAILED)


class SettleError(Exception):
    """A payment report that does not fit the order; nothing was changed."""


class UnknownPayment(SettleError):
    """The provider payment is not one of this shop's orders."""


class AmountMismatch(SettleError):
    """The amount or currency paid is not the order's total: refused, nothing changes."""


@dataclass(frozen=True)
class Settled:
    """What :func:`settle` did: the order's status after it, and whether this call fulfilled."""

    order_id: int
    status: OrderStatus
    fulfilled_now: bool
    outcome: str


def payment_for(provider: str, provider_payment_id: str) -> Payment | None:
    """Return the shop's payment row for a provider payment id."""
    return db.session.execute(
        select(Payment).filter_by(provider=provider, provider_payment_id=provider_payment_id)
    ).scalar_one_or_none()


def payment_for_status(provider: str, status: PaymentStatus) -> Payment | None:
    """Return the payment a report is about: by payment id, or (a refund) by capture id."""
    if status.provider_payment_id:
        return payment_for(provider, status.provider_payment_id)
    if not status.sale_id:
        return None
    return db.session.execute(
        select(Payment).filter_by(provider=provider, sale_id=status.sale_id)
    ).scalar_one_or_none()


def lock_order(order_id: int) -> Order:
    """Return the order, its row locked until the transaction ends (the write gate on SQLite)."""
    return db.session.execute(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _check_amount(order: Order, status: PaymentStatus) -> None:
    if status.currency is not None and status.currency != order.currency:
        raise AmountMismatch(f"currency {status.currency} for an order in {order.currency}")
    if status.state == PaymentState.COMPLETED and status.amount != order.total:
        raise AmountMismatch(f"amount {status.amount} for an order of {order.total}")


def settle(
    provider: str,
    status: PaymentStatus,
    *,
    source: str,
    event_id: str = "",
    event_type: str = "",
) -> Settled:
    """Apply a provider's report about a payment to its order, in one transaction.

    ``source`` is "return", "webhook" or "reconcile" (for the audit log). With ``event_id`` the
    webhook event is recorded in the same transaction; a redelivered event changes nothing.
    Raises UnknownPayment or AmountMismatch, leaving everything as it was.
    """
    payment = payment_for_status(provider, status)
    if payment is None:
        raise UnknownPayment(status.provider_payment_id or status.sale_id or "")
    begin_write(db.session)
    try:
        order = lock_order(payment.order_id)
        payment = db.session.get(Payment, payment.id, populate_existing=True)
        if event_id and _event_seen(provider, event_id):
            db.session.rollback()
            return Settled(order.id, order.status, False, "duplicate event")
        _check_amount(order, status)
        outcome, fulfilled_now = _apply(order, payment, status, source)
        if event_id:
            db.session.add(
                WebhookEvent(
                    provider=provider,
                    event_id=event_id,
                    event_type=event_type[:80],
                    provider_payment_id=payment.provider_payment_id,
                    order_id=order.id,
                    outcome=outcome,
                )
            )
        db.session.flush()
    except IntegrityError:
        # The same webhook event, or a sale id already used by another payment, raced us in.
        db.session.rollback()
        order = db.session.get(Order, payment.order_id)
        return Settled(order.id, order.status, False, "duplicate")
    except AmountMismatch as exc:
        db.session.rollback()
        alert_amount_mismatch(provider, status, payment.order_id, str(exc), source)
        raise
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    if fulfilled_now:
        send_delivery_mail(order)
    return Settled(order.id, order.status, fulfilled_now, outcome)


def _event_seen(provider: str, event_id: str) -> bool:
    return (
        db.session.execute(
            select(WebhookEvent.id).filter_by(provider=provider, event_id=event_id)
        ).first()
        is not None
    )


def _apply(order: Order, payment: Payment, status: PaymentStatus, source: str) -> tuple[str, bool]:
    now = utcnow()
    actor = Actor.system(f"payment:{source}")
    state = status.state
    if state == PaymentState.COMPLETED:
        payment.state = PaymentRecordState.COMPLETED
        payment.sale_id = status.sale_id or payment.sale_id
        payment.updated_at = now
        if order.status in PAYABLE:
            _move(order, order.status, OrderStatus.PAID, paid_at=now, status_note="")
            record_event(
                "order.paid",
                actor,
                object_type="order",
                object_id=order.reference,
                details={"sale": status.sale_id, "amount": status.amount, "via": source},
            )
        if order.status == OrderStatus.PAID:
            fulfil(order, actor)
            return "fulfilled", True
        return f"already {order.status.value}", False
    if state == PaymentState.PENDING:
        payment.state = PaymentRecordState.PENDING
        payment.reason = status.reason[:300]
        payment.updated_at = now
        if order.status == OrderStatus.PENDING:
            order.status_note = "payment_pending"
        return "payment pending", False
    if state in (PaymentState.FAILED, PaymentState.CANCELLED):
        payment.state = PaymentRecordState(state.value)
        payment.reason = status.reason[:300]
        payment.updated_at = now
        target = OrderStatus.FAILED if state == PaymentState.FAILED else OrderStatus.CANCELLED
        note = "declined" if target == OrderStatus.FAILED else "cancelled_at_provider"
        if close_order(order, target, note):
            record_event(
                f"order.{target.value}",
                actor,
                object_type="order",
                object_id=order.reference,
                details={"reason": status.reason[:200], "via": source},
            )
            return target.value, False
        return f"already {order.status.value}", False
    if state == PaymentState.REFUNDED:
        return _refund(order, payment, status, actor, source), False
    return "nothing to do", False  # created or approved: the buyer has not finished paying


def _move(order: Order, source: OrderStatus, target: OrderStatus, **values) -> None:
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == source)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:  # impossible under the order's lock; never issue twice if it happens
        raise SettleError(f"order {order.reference} is no longer {source.value}")
    db.session.expire(order)


def fulfil(order: Order, actor: Actor) -> None:
    """Deliver a paid order (``paid -> fulfilled``) inside the caller's locked transaction."""
    _move(order, OrderStatus.PAID, OrderStatus.FULFILLED, fulfilled_at=utcnow())
    if order.delivery == Delivery.WALLET:
        _credit_wallet(order, actor)
        return
    if order.delivery == Delivery.TOPUP and _top_up(order):
        return
    for line in order.lines:
        generated = batches.generate_batch(
            line.product,
            line.quantity,
            purpose=BatchPurpose.ORDER,
            actor=actor,
            note=f"order {order.reference}",
            commit=False,
            paid_for=True,
            terms=batches.VoucherTerms(
                line.unit_price, order.currency, line.data_mb, line.validity_days
            ),
        )
        line.batch_id = generated.batch.id
    record_event(
        "order.fulfilled",
        actor,
        object_type="order",
        object_id=order.reference,
        details={"delivery": "vouchers", "count": order.quantity},
    )


def _credit_wallet(order: Order, actor: Actor) -> None:
    """Add a wallet top-up order's amount to the buyer's wallet (reference ``order:WD-...``)."""
    if order.user_id is None:  # checkout never places one for a guest
        raise SettleError(f"order {order.reference} tops up no one's wallet")
    amount = order.wallet_topup_total
    wallet = wallet_services.wallet_for(order.user_id, order.currency)
    balance = wallet_services.credit(
        wallet.id,
        amount,
        kind=WalletEntryKind.TOPUP,
        reference=references.for_order(order.reference),
        actor=actor,
        note=order.reference,
    )
    record_event(
        "order.fulfilled",
        actor,
        object_type="order",
        object_id=order.reference,
        details={"delivery": "wallet", "amount": amount, "balance": balance},
    )


def _top_up(order: Order) -> bool:
    """Apply every pack to the order's card; False (vouchers instead) if it can't be topped up."""
    try:
        card = card_services.lock_card(order.card.number)
    except card_services.CardNotFound:
        card = None
    if card is None or card.status != CardStatus.ACTIVE:
        order.status_note = "card_fallback"
        return False
    for line in order.lines:
        grant = card_services.PackGrant(line.product_id, line.data_mb, line.validity_days)
        for _unit in range(line.quantity):
            applied = card_services.apply_pack(
                card,
                grant,
                source=TopUpSource.ORDER,
                channel="web",
                reference=order.reference,
            )
            card = applied.card
    record_event(
        "order.fulfilled",
        Actor.system("payment"),
        object_type="order",
        object_id=order.reference,
        details={"delivery": "topup", "card": card.number, "count": order.quantity},
    )
    return True


def _refund(
    order: Order, payment: Payment, status: PaymentStatus, actor: Actor, source: str
) -> str:
    """Record a refund the provider reports (all or part), once per refund id."""
    if order.status not in refunds.REFUNDABLE:
        return f"already {order.status.value}"
    prefix = f"{order.reference}-"
    key = status.reference[len(prefix) :] if (status.reference or "").startswith(prefix) else None
    requested = refunds.requested_refund(order.id, key)
    refund_id = status.refund_id or f"sale:{status.sale_id or payment.sale_id}"
    if status.amount:
        amount = status.amount
    elif requested is not None:  # the admin's refund: the amount asked
        amount = requested.amount
    elif status.refunded_total is not None:  # the provider's total: what is not on record yet
        amount = status.refunded_total - refunds.refunded_total(order.id)
    else:
        amount = order.total - refunds.refunded_total(order.id)
    recorded = refunds.record_refund(
        order,
        payment,
        refund_id=refund_id,
        amount=amount,
        currency=status.currency or order.currency,
        key=key if requested is not None else None,
        actor=actor,
        source="provider" if requested is None else "admin",
    )
    if recorded.status == OrderStatus.REFUNDED:
        payment.state = PaymentRecordState.REFUNDED
    new = recorded.outcome not in ("duplicate refund", "nothing to refund")
    if order.delivery == Delivery.WALLET and requested is None and new:
        _take_back_refunded_topup(order, amount, refund_id, actor)
    payment.updated_at = utcnow()
    log.info("order %s: %s via %s", order.reference, recorded.outcome, source)
    return recorded.outcome


def _take_back_refunded_topup(order: Order, amount: int, refund_id: str, actor: Actor) -> None:
    """Take a top-up refunded at the provider back out of the wallet, as far as it goes.

    The provider has refunded already, so nothing can be refused: what the customer spent
    from the wallet meanwhile stays spent (the wallet never goes below zero), and the
    shortfall is written to the audit log for the admins.
    """
    wallet = wallet_services.find_wallet(order.user_id, order.currency)
    taken = 0
    for _attempt in range(3):  # a purchase may take money between the read and the debit
        if wallet is None:
            break
        db.session.refresh(wallet, ["balance"])
        wanted = min(amount, wallet.balance)
        if wanted <= 0:
            break
        try:
            wallet_services.debit(
                wallet.id,
                wanted,
                kind=WalletEntryKind.ADJUSTMENT,
                reference=references.for_refund(order.reference, refund_id)[:64],
                actor=actor,
                note=f"refund of top-up {order.reference} at the provider",
            )
        except wallet_services.InsufficientFunds:
            continue
        taken = wanted
        break
    if taken < amount:
        log.warning("order %s: refunded top-up already spent in part", order.reference)
        record_event(
            "wallet.refund_short",
            actor,
            object_type="order",
            object_id=order.reference,
            details={"refunded": amount, "taken_back": taken, "refund": refund_id},
        )
