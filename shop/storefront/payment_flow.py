"""Paying an order: create the provider payment, take the buyer's return, webhooks, reconcile.

No database transaction is open while the provider is called. Whatever the provider says is
then applied by :func:`shop.storefront.fulfilment.settle`, which is where exactly-once lives.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from shop.audit.services import Actor, record_event
from shop.db import begin_write, end_transaction
from shop.extensions import db
from shop.payments import get_gateway
from shop.payments.gateway import (
    GatewayUnavailable,
    LineItem,
    PaymentDeclined,
    PaymentError,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    WebhookNotice,
)
from shop.storefront import delivered, fulfilment
from shop.storefront.models import Order, OrderStatus, Payment, PaymentRecordState
from shop.storefront.orders import close_order
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

#: Payment rows whose outcome the shop does not know yet.
OPEN_PAYMENT_STATES = (
    PaymentRecordState.CREATED,
    PaymentRecordState.APPROVED,
    PaymentRecordState.PENDING,
)


class OrderNotPayable(Exception):
    """The order is not waiting for a payment (already paid, cancelled...)."""


@dataclass(frozen=True)
class ReturnUrls:
    """Where the provider sends the buyer back."""

    return_url: str
    cancel_url: str


def payment_request(order: Order, urls: ReturnUrls, shop_name: str) -> PaymentRequest:
    """Describe an order to the provider: its lines, discount and total, in minor units."""
    items = tuple(
        LineItem(line.sku, line.name, line.quantity, line.unit_price) for line in order.lines
    )
    return PaymentRequest(
        reference=order.reference,
        currency=order.currency,
        total=order.total,
        items=items,
        discount=order.discount,
        description=f"{shop_name} order {order.reference}",
        return_url=urls.return_url,
        cancel_url=urls.cancel_url,
    )


def start_payment(order: Order, urls: ReturnUrls) -> str:
    """Create (or find again) the provider payment of a pending order; return the approval URL.

    The provider request is idempotent per order reference, so pressing "Pay" twice or a
    retry after a timeout finds the same payment. Raises OrderNotPayable or PaymentError.
    """
    if order.status != OrderStatus.PENDING:
        raise OrderNotPayable(order.status.value)
    gateway = get_gateway()
    request = payment_request(order, urls, current_app.config["SHOP_NAME"])
    end_transaction(db.session)  # hold no transaction while the provider answers
    created = gateway.create_payment(request)
    begin_write(db.session)
    try:
        record_payment(order, gateway.name, created.provider_payment_id, created.approval_url)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return created.approval_url


def record_payment(
    order: Order, provider: str, provider_payment_id: str, approval_url: str
) -> Payment:
    """Record, once and in the open transaction, the payment a provider created for ``order``.

    A payment already recorded for the order (a second "Pay", a retry) is returned as it is;
    one recorded for another order raises UnknownPayment.
    """
    payment = fulfilment.payment_for(provider, provider_payment_id)
    if payment is None:
        payment = Payment(
            order_id=order.id,
            provider=provider,
            provider_payment_id=provider_payment_id,
            state=PaymentRecordState.CREATED,
            amount=order.total,
            currency=order.currency,
            approval_url=approval_url,
        )
        db.session.add(payment)
        record_event(
            "order.payment_created",
            Actor.system("payment"),
            object_type="order",
            object_id=order.reference,
            details={"provider": provider, "payment": provider_payment_id},
        )
    elif payment.order_id != order.id:
        raise fulfilment.UnknownPayment(provider_payment_id)
    return payment


def complete_return(order: Order, provider_payment_id: str, payer_id: str) -> fulfilment.Settled:
    """Execute the payment the buyer just approved, and settle the order.

    Safe to repeat (a reloaded return page): execution is idempotent at the provider and
    :func:`fulfilment.settle` fulfils once. A decline closes the order as failed. Raises
    GatewayUnavailable when the provider does not answer (the order stays pending, and a
    later return, webhook or reconcile completes it), or UnknownPayment.
    """
    gateway = get_gateway()
    payment = fulfilment.payment_for(gateway.name, provider_payment_id)
    if payment is None or payment.order_id != order.id:
        raise fulfilment.UnknownPayment(provider_payment_id)
    if order.status != OrderStatus.PENDING:
        return fulfilment.Settled(order.id, order.status, False, f"already {order.status.value}")
    if payer_id and payment.payer_id != payer_id:
        begin_write(db.session)
        payment.payer_id = payer_id[:80]
        if payment.state == PaymentRecordState.CREATED:
            payment.state = PaymentRecordState.APPROVED
        db.session.commit()
    end_transaction(db.session)
    try:
        status = gateway.execute_payment(provider_payment_id, payer_id, order.reference)
    except PaymentDeclined as exc:
        status = PaymentStatus(provider_payment_id, PaymentState.FAILED, reason=str(exc))
    return fulfilment.settle(gateway.name, status, source="return")


def cancel_return(order: Order, provider_token: str = "") -> bool:
    """Close the pending order the buyer cancelled at the provider (nothing was charged)."""
    begin_write(db.session)
    try:
        cancelled = close_order(order, OrderStatus.CANCELLED, "cancelled_by_buyer")
        if cancelled:
            for payment in order.payments:
                if payment.state in (PaymentRecordState.CREATED, PaymentRecordState.APPROVED):
                    payment.state = PaymentRecordState.CANCELLED
            record_event(
                "order.cancelled",
                Actor.system("payment:cancel"),
                object_type="order",
                object_id=order.reference,
                details={"token": provider_token[:80]},
            )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return cancelled


def receive_webhook(headers: dict[str, str], raw_body: bytes) -> str:
    """Verify a provider webhook over its raw bytes, then apply it; return what was done.

    Raises WebhookRejected (bad signature, certificate or body) before anything is read or
    written, and AmountMismatch when a verified event's amount is not the order's.
    """
    gateway = get_gateway()
    notice: WebhookNotice = gateway.verify_webhook(headers, raw_body)
    status = notice.status
    if not (status.provider_payment_id or status.sale_id) or status.state in (
        PaymentState.CREATED,
        PaymentState.APPROVED,
    ):
        log.info("webhook %s (%s) ignored", notice.event_id, notice.event_type)
        return "ignored"
    try:
        settled = fulfilment.settle(
            gateway.name,
            status,
            source="webhook",
            event_id=notice.event_id,
            event_type=notice.event_type,
        )
    except fulfilment.UnknownPayment:
        log.warning(
            "webhook %s for unknown payment %s",
            notice.event_id,
            status.provider_payment_id or status.sale_id,
        )
        return "unknown payment"
    return settled.outcome


@dataclass
class ReconcileReport:
    """What one ``orders reconcile`` run did."""

    checked: int = 0
    fulfilled: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


def reconcile(now=None, report: ReconcileReport | None = None) -> ReconcileReport:
    """Finish what a crash, a lost webhook or a buyer who never came back left open.

    Pending orders with a payment are looked up at the provider (and an approved but never
    executed payment is executed); paid orders whose fulfilment did not happen are fulfilled;
    pending orders older than ``ORDER_PAYMENT_TIMEOUT_MINUTES`` with nothing paid are
    cancelled and give back their promotion use.
    """
    now = now or utcnow()
    report = report or ReconcileReport()  # Alipay's and WeChat's part may have run first
    gateway = get_gateway()
    timeout = timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"])
    open_payments = db.session.execute(
        select(Payment.provider_payment_id, Payment.payer_id, Payment.state, Order.reference)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Order.status == OrderStatus.PENDING,
            Payment.provider == gateway.name,
            Payment.state.in_(OPEN_PAYMENT_STATES),
        )
        .order_by(Payment.id)
    ).all()
    for provider_payment_id, payer_id, _state, reference in open_payments:
        report.checked += 1
        end_transaction(db.session)
        try:
            status = gateway.get_payment(provider_payment_id)
            payer_id = payer_id or status.payer_id  # the buyer approved but never came back
            if status.state == PaymentState.APPROVED and payer_id:
                status = gateway.execute_payment(provider_payment_id, payer_id, reference)
        except PaymentDeclined as exc:
            status = PaymentStatus(provider_payment_id, PaymentState.FAILED, reason=str(exc))
        except GatewayUnavailable:
            report.unreachable.append(reference)
            continue
        except PaymentError as exc:
            log.warning("reconcile %s: %s", reference, exc)
            report.unreachable.append(reference)
            continue
        settled = fulfilment.settle(gateway.name, status, source="reconcile")
        if settled.fulfilled_now:
            report.fulfilled.append(reference)
        elif settled.status in (OrderStatus.FAILED, OrderStatus.CANCELLED):
            report.closed.append(reference)
    _fulfil_stuck_paid_orders(report)
    _expire_unpaid_orders(now - timeout, report)
    return report


def _fulfil_stuck_paid_orders(report: ReconcileReport) -> None:
    stuck = db.session.execute(
        select(Order.id, Order.reference).where(Order.status == OrderStatus.PAID)
    ).all()
    for order_id, reference in stuck:
        begin_write(db.session)
        try:
            order = fulfilment.lock_order(order_id)
            done = order.status == OrderStatus.PAID
            if done:
                fulfilment.fulfil(order, Actor.system("payment:reconcile"))
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        if done:
            delivered.send_delivery_mail(order)
            report.fulfilled.append(reference)


def _expire_unpaid_orders(cutoff, report: ReconcileReport) -> None:
    stale = db.session.execute(
        select(Order.id, Order.reference).where(
            Order.status == OrderStatus.PENDING, Order.created_at < cutoff
        )
    ).all()
    for order_id, reference in stale:
        begin_write(db.session)
        try:
            order = fulfilment.lock_order(order_id)
            if any(payment.state == PaymentRecordState.COMPLETED for payment in order.payments):
                db.session.rollback()
                continue
            if any(payment.state in OPEN_PAYMENT_STATES for payment in order.payments) and (
                reference in report.unreachable
            ):
                db.session.rollback()  # the provider did not answer: maybe paid, keep it
                continue
            expired = close_order(order, OrderStatus.CANCELLED, "expired_unpaid")
            if expired:
                record_event(
                    "order.expired",
                    Actor.system("payment:reconcile"),
                    object_type="order",
                    object_id=reference,
                )
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        if expired:
            report.expired.append(reference)
