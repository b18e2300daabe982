"""The admin's refund of a paid order: ask its provider, then record it exactly once.

One path for every provider: the order's captured payment names it (PayPal, Alipay or WeChat
Pay) and :func:`shop.payments.providers.gateway_for` gives its gateway (an order paid from the
customer's wallet is refunded into it, in one transaction); the rules (what may be
refunded, which PINs are voided) are :mod:`shop.storefront.refunds`' alone.

The request is written first (with the PINs the admin chose), so that a webhook about the same
refund arriving before the provider's answer voids those PINs and not others. No database
transaction is open while the provider is called. The refund key comes from the admin's form:
a form sent twice asks the provider twice with the same request id, and the provider refunds
once.
"""

import re

from sqlalchemy import select

from shop.audit.services import Actor
from shop.db import begin_write, end_transaction
from shop.extensions import db
from shop.payments.gateway import PaymentRejected, RefundRequest
from shop.payments.providers import gateway_for
from shop.storefront import fulfilment, refunds, wallet_orders
from shop.storefront.models import (
    Delivery,
    Order,
    Payment,
    PaymentRecordState,
    Refund,
    RefundStatus,
)
from shop.storefront.refunds import RefundOutcome, RefundRefused

KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")


def captured_payment(order: Order) -> Payment:
    """Return the order's captured payment, or refuse."""
    for payment in order.payments:
        if payment.sale_id and payment.state in (
            PaymentRecordState.COMPLETED,
            PaymentRecordState.REFUNDED,
        ):
            return payment
    raise RefundRefused("not_refundable", "This order has no captured payment to refund.")


def refund_order(
    order_id: int, amount: int, chosen: list[int], key: str, actor: Actor
) -> RefundOutcome:
    """Refund ``amount`` of an order at its provider and record it; void the PINs it covers.

    Raises RefundRefused (nothing asked of the provider, or the provider refused), or
    GatewayUnavailable (the request stays on record; sending the same form again retries).
    """
    if not KEY_PATTERN.match(key or ""):
        raise RefundRefused("key_invalid", "The form has expired; open the order again.")
    begin_write(db.session)
    try:
        order = fulfilment.lock_order(order_id)
        existing = db.session.execute(
            select(Refund).filter_by(order_id=order.id, key=key)
        ).scalar_one_or_none()
        if existing is not None and existing.status == RefundStatus.COMPLETED:
            db.session.rollback()
            return RefundOutcome(
                order.status, refunds.refunded_total(order.id), 0, "duplicate refund"
            )
        if existing is not None and existing.status == RefundStatus.FAILED:
            raise RefundRefused("provider_refused", f"{existing.provider} refused this refund.")
        if existing is not None:  # asked before without an answer: ask again, the same way
            amount = existing.amount
        else:
            refunds.check_refund(order, amount, chosen)
        payment = captured_payment(order)
        if payment.provider == wallet_orders.WALLET_PROVIDER:
            outcome = _refund_to_wallet(order, payment, amount, chosen, key, actor)
            db.session.commit()
            return outcome
        if existing is None and order.delivery == Delivery.WALLET:
            wallet_orders.take_back_topup(order, amount, key, actor)
        if existing is None:
            db.session.add(_requested(order, payment, amount, chosen, key, actor))
        request = RefundRequest(
            payment.provider_payment_id,
            payment.sale_id,
            amount,
            order.currency,
            order.reference,
            key,
        )
        payment_id, provider = payment.id, payment.provider
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    end_transaction(db.session)  # hold no transaction while the provider answers
    try:
        result = gateway_for(provider).refund_payment(request)
    except PaymentRejected as exc:
        _mark_failed(order_id, key, str(exc), actor)
        raise RefundRefused("provider_refused", f"{provider} refused this refund.") from None
    begin_write(db.session)
    try:
        order = fulfilment.lock_order(order_id)
        payment = db.session.get(Payment, payment_id, populate_existing=True)
        outcome = refunds.record_refund(
            order,
            payment,
            refund_id=result.refund_id,
            amount=result.amount,
            currency=result.currency,
            key=key,
            actor=actor,
            source="admin",
        )
        if outcome.status.value == "refunded":
            payment.state = PaymentRecordState.REFUNDED
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return outcome


def _requested(
    order: Order, payment: Payment, amount: int, chosen: list[int], key: str, actor: Actor
) -> Refund:
    """Return the record of a refund the admin asks for (``requested`` until it is done)."""
    return Refund(
        order_id=order.id,
        payment_id=payment.id,
        provider=payment.provider,
        key=key,
        status=RefundStatus.REQUESTED,
        amount=amount,
        currency=order.currency,
        chosen_voucher_ids=",".join(str(i) for i in chosen),
        source="admin",
        created_by_id=actor.user_id,
    )


def _refund_to_wallet(
    order: Order, payment: Payment, amount: int, chosen: list[int], key: str, actor: Actor
) -> RefundOutcome:
    """Refund a wallet-paid order into the wallet, in the caller's locked transaction.

    No provider to ask: the request, the wallet's credit and the refund's record are one
    transaction, and the wallet entry's reference (``refund:<order>:<key>``) is unique, so a
    refund key credits the wallet once however often the form is sent.
    """
    db.session.add(_requested(order, payment, amount, chosen, key, actor))
    db.session.flush()
    refund_id = wallet_orders.refund_to_wallet(order, amount, key, actor)
    outcome = refunds.record_refund(
        order,
        payment,
        refund_id=refund_id,
        amount=amount,
        currency=order.currency,
        key=key,
        actor=actor,
        source="admin",
    )
    if outcome.status.value == "refunded":
        payment.state = PaymentRecordState.REFUNDED
    return outcome


def _mark_failed(order_id: int, key: str, reason: str, actor: Actor) -> None:
    begin_write(db.session)
    refund = db.session.execute(
        select(Refund).filter_by(order_id=order_id, key=key)
    ).scalar_one_or_none()
    if refund is not None and refund.status == RefundStatus.REQUESTED:
        refund.status = RefundStatus.FAILED
        refund.reason = reason[:300]
        order = db.session.get(Order, order_id)
        if order.delivery == Delivery.WALLET:  # the top-up stays: give back what was taken
            wallet_orders.give_back_topup(order, refund.amount, key, actor)
    db.session.commit()
