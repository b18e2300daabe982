"""Paying an order with Alipay or WeChat Pay: start the trade, take returns and notifications.

Like :mod:`shop.storefront.payment_flow` for PayPal, no transaction is open while a provider
is called, and whatever the provider says ends in :func:`shop.storefront.fulfilment.settle`,
where exactly-once lives: the buyer's return (verified, then the trade queried), every verified
notification (its id recorded in the same transaction), the order page's status poll and
``orders reconcile`` may all arrive at once and the order is fulfilled one time.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.db import begin_write, end_transaction
from shop.extensions import db
from shop.payments.gateway import PaymentError, PaymentState
from shop.payments.mobile_pay import MobilePayChannel, MobilePayment
from shop.payments.providers import MOBILE_PAY_PROVIDERS, mobile_pay_gateway
from shop.storefront import fulfilment
from shop.storefront.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentRecordState,
)
from shop.storefront.orders import close_order
from shop.storefront.payment_flow import (
    OPEN_PAYMENT_STATES,
    OrderNotPayable,
    ReconcileReport,
    ReturnUrls,
    payment_request,
    record_payment,
)
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

#: User agents of phones and tablets: they get wap pay / H5 instead of the desktop page / QR.
PHONE_AGENTS = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|Windows Phone", re.I)
#: The channels of each provider: (computer, phone).
CHANNELS = {
    PaymentMethod.ALIPAY: (MobilePayChannel.ALIPAY_PAGE, MobilePayChannel.ALIPAY_WAP),
    PaymentMethod.WECHATPAY: (MobilePayChannel.WECHAT_NATIVE, MobilePayChannel.WECHAT_H5),
}


class NotAWalletOrder(Exception):
    """The order is to be paid with PayPal, not Alipay or WeChat Pay."""


def choose_channel(method: PaymentMethod, user_agent: str, requested: str = "") -> MobilePayChannel:
    """Pick the channel: the one asked for if it is the method's, else by the device."""
    if method not in CHANNELS:
        raise NotAWalletOrder(method.value)
    computer, phone = CHANNELS[method]
    if requested in (computer.value, phone.value):
        return MobilePayChannel(requested)
    return phone if PHONE_AGENTS.search(user_agent or "") else computer


@dataclass(frozen=True)
class MobilePayUrls:
    """Where the provider sends the buyer back, and where it sends its notifications."""

    return_url: str
    cancel_url: str
    notify_url: str


def start_payment(
    order: Order, channel: MobilePayChannel, urls: MobilePayUrls, client_ip: str = ""
) -> MobilePayment:
    """Create (or find again) the order's trade in ``channel``; return where the buyer pays.

    Raises OrderNotPayable, NotAWalletOrder or PaymentError (nothing recorded then).
    """
    if order.status != OrderStatus.PENDING:
        raise OrderNotPayable(order.status.value)
    if order.payment_method not in CHANNELS:
        raise NotAWalletOrder(order.payment_method.value)
    gateway = mobile_pay_gateway(order.payment_method.value)
    request = payment_request(
        order, ReturnUrls(urls.return_url, urls.cancel_url), current_app.config["SHOP_NAME"]
    )
    # The same deadline on every retry: a trade asked for again must carry the same terms.
    timeout = timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"])
    expires_at = _aware(order.created_at) + timeout
    end_transaction(db.session)  # hold no transaction while the provider answers
    created = gateway.start(request, channel, urls.notify_url, client_ip, expires_at)
    begin_write(db.session)
    try:
        approval_url = created.code_url or created.redirect_url
        payment = record_payment(order, gateway.name, created.provider_payment_id, approval_url)
        payment.approval_url = approval_url  # a trade asked for again: its newest QR code or page
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # "Pay" pressed twice at once: the other request recorded it
        payment = fulfilment.payment_for(gateway.name, created.provider_payment_id)
        if payment is None or payment.order_id != order.id:
            raise fulfilment.UnknownPayment(created.provider_payment_id) from None
    except BaseException:
        db.session.rollback()
        raise
    return created


def complete_alipay_return(order: Order, params: dict[str, str]) -> fulfilment.Settled:
    """Verify Alipay's signed return, query the trade it names, and settle the order.

    Raises WebhookRejected (a return that does not verify: nothing happens), UnknownPayment,
    AmountMismatch or GatewayUnavailable (the order stays pending for the notification).
    """
    gateway = mobile_pay_gateway(PaymentMethod.ALIPAY.value)
    out_trade_no = gateway.verify_return(params)
    payment = fulfilment.payment_for(gateway.name, out_trade_no)
    if payment is None or payment.order_id != order.id:
        raise fulfilment.UnknownPayment(out_trade_no)
    if order.status != OrderStatus.PENDING:
        return fulfilment.Settled(order.id, order.status, False, f"already {order.status.value}")
    end_transaction(db.session)
    status = gateway.get_payment(out_trade_no)
    return fulfilment.settle(gateway.name, status, source="return")


def receive_notification(provider: str, headers, raw_body: bytes) -> str:
    """Verify a provider's notification over its raw bytes, then apply it; say what was done.

    Raises WebhookRejected before anything is read or written, and AmountMismatch (the
    admins are alerted) when a verified notification does not fit the order.
    """
    gateway = mobile_pay_gateway(provider)
    notice = gateway.verify_webhook(headers, raw_body)
    status = notice.status
    if status.state in (PaymentState.CREATED, PaymentState.APPROVED):
        log.info("%s notification %s (%s) ignored", provider, notice.event_id, status.reason)
        return "ignored"
    try:
        settled = fulfilment.settle(
            provider,
            status,
            source="webhook",
            event_id=notice.event_id,
            event_type=notice.event_type,
        )
    except fulfilment.UnknownPayment:
        log.warning(
            "%s notification %s for unknown trade %s",
            provider,
            notice.event_id,
            status.provider_payment_id,
        )
        return "unknown payment"
    return settled.outcome


def open_payments(order: Order) -> list[tuple[str, str]]:
    """Return (provider, trade) of the order's Alipay/WeChat trades whose outcome is unknown."""
    return [
        (payment.provider, payment.provider_payment_id)
        for payment in order.payments
        if payment.provider in MOBILE_PAY_PROVIDERS and payment.state in OPEN_PAYMENT_STATES
    ]


def refresh_order(order: Order) -> OrderStatus:
    """Ask the provider about a pending order's open trades and settle what it says.

    What the order page's poll calls (WeChat's QR code has no return). A provider that does
    not answer leaves the order as it is.
    """
    if order.status != OrderStatus.PENDING:
        return order.status
    status = order.status
    trades = open_payments(order)
    end_transaction(db.session)
    for provider, trade in trades:
        try:
            reported = mobile_pay_gateway(provider).get_payment(trade)
        except PaymentError as exc:
            log.info("status of %s at %s unknown: %s", trade, provider, exc)
            continue
        if reported.state in (PaymentState.CREATED, PaymentState.APPROVED):
            continue
        try:
            status = fulfilment.settle(provider, reported, source="return").status
        except fulfilment.AmountMismatch:
            continue  # refused and the admins alerted; the order stays pending
    return status


def close_trades(order: Order) -> None:
    """Close the order's unpaid trades at the provider (the buyer cancelled); settle paid ones."""
    for provider, trade in open_payments(order):
        end_transaction(db.session)
        gateway = mobile_pay_gateway(provider)
        try:
            if not gateway.close(trade):
                fulfilment.settle(provider, gateway.get_payment(trade), source="return")
        except (PaymentError, fulfilment.SettleError) as exc:
            log.warning("closing %s at %s: %s", trade, provider, exc)


def reconcile_mobile_payments(now=None, report: ReconcileReport | None = None) -> ReconcileReport:
    """Query every open Alipay/WeChat trade of a pending order and settle what it reports.

    A trade still unpaid when its order's payment time is up is closed at the provider first
    (so it can no longer be paid) and the order expires. Run before PayPal's reconcile, with
    the same report: an order whose provider did not answer is kept open by both.
    """
    now = now or utcnow()
    report = report or ReconcileReport()
    cutoff = now - timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"])
    rows = db.session.execute(
        select(Payment.provider, Payment.provider_payment_id, Order.reference, Order.created_at)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Order.status == OrderStatus.PENDING,
            Payment.provider.in_(MOBILE_PAY_PROVIDERS),
            Payment.state.in_(OPEN_PAYMENT_STATES),
        )
        .order_by(Payment.id)
    ).all()
    for provider, trade, reference, created_at in rows:
        report.checked += 1
        end_transaction(db.session)
        gateway = mobile_pay_gateway(provider)
        try:
            status = gateway.get_payment(trade)
            if status.state == PaymentState.CREATED and _aware(created_at) < cutoff:
                if gateway.close(trade):
                    _expire(provider, trade, reference, report)
                    continue
                status = gateway.get_payment(trade)
        except PaymentError as exc:
            log.warning("reconcile %s at %s: %s", reference, provider, exc)
            report.unreachable.append(reference)
            continue
        try:
            settled = fulfilment.settle(provider, status, source="reconcile")
        except fulfilment.AmountMismatch:
            report.unreachable.append(reference)  # refused, admins alerted: keep it open
            continue
        if settled.fulfilled_now:
            report.fulfilled.append(reference)
        elif settled.status in (OrderStatus.FAILED, OrderStatus.CANCELLED):
            report.closed.append(reference)
    return report


def _aware(moment):
    """Return a database time as aware UTC (SQLite hands back naive ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _expire(provider: str, trade: str, reference: str, report: ReconcileReport) -> None:
    """Cancel the order of a trade just closed at the provider, nothing having been paid."""
    payment = fulfilment.payment_for(provider, trade)
    begin_write(db.session)
    try:
        order = fulfilment.lock_order(payment.order_id)
        payment = db.session.get(Payment, payment.id, populate_existing=True)
        if payment.state in OPEN_PAYMENT_STATES:
            payment.state = PaymentRecordState.CANCELLED
            payment.reason = "closed at timeout"
            payment.updated_at = utcnow()
        paid = any(p.state == PaymentRecordState.COMPLETED for p in order.payments)
        expired = not paid and close_order(order, OrderStatus.CANCELLED, "expired_unpaid")
        if expired:
            record_event(
                "order.expired",
                Actor.system("payment:reconcile"),
                object_type="order",
                object_id=reference,
                details={"provider": provider, "closed": trade},
            )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    if expired:
        report.expired.append(reference)
