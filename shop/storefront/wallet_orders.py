"""The customer's wallet at checkout: topping it up through an order, paying an order from it.

A wallet top-up is an order like any other (one ``wallet_topup`` line, delivery ``wallet``),
paid with PayPal, Alipay or WeChat Pay; its fulfilment credits the wallet once
(:func:`shop.storefront.fulfilment.fulfil`). Paying from the wallet needs no provider: the
order is locked, the wallet debited, the payment recorded and the order fulfilled in one
transaction, so two tabs pressing "Pay" at once pay once and a wallet never goes below zero.
"""

import contextlib
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.cards import services as card_services
from shop.db import begin_write
from shop.extensions import db
from shop.money import CURRENCIES
from shop.storefront import delivered, fulfilment, payment_codes
from shop.storefront.models import (
    CNY_ONLY_METHODS,
    Delivery,
    LineKind,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentRecordState,
)
from shop.storefront.orders import CheckoutError, new_reference
from shop.storefront.refunds import RefundRefused
from shop.timeutil import utcnow
from shop.wallet import references
from shop.wallet import services as wallet_services
from shop.wallet.models import WalletEntry, WalletEntryKind

#: The provider name of a payment from the wallet (``Payment.provider``, ``Refund.provider``).
WALLET_PROVIDER = "wallet"
#: The SKU and name a wallet top-up line carries (it has no product).
TOPUP_SKU = "WALLET-TOPUP"
TOPUP_NAME = "Wallet top-up"
#: Methods a wallet top-up may be paid with (never the wallet itself).
TOPUP_METHODS = (PaymentMethod.PAYPAL, PaymentMethod.ALIPAY, PaymentMethod.WECHATPAY)


def topup_limits() -> tuple[int, int]:
    """Return the smallest and the largest top-up, in minor units."""
    config = current_app.config
    return config["WALLET_TOPUP_MIN"], config["WALLET_TOPUP_MAX"]


@dataclass(frozen=True)
class TopUpRequest:
    """What a signed-in customer asked for on the top-up form."""

    user_id: int | None
    email: str
    currency: str
    amount: int
    payment_method: PaymentMethod
    locale: str = "en"
    device_token: str = ""
    client_address: str = ""


def check_topup(user_id: int | None, currency: str, amount: int, method: PaymentMethod) -> None:
    """Refuse a top-up the shop does not take (CheckoutError naming the field)."""
    if user_id is None:
        raise CheckoutError("wallet_sign_in")
    if currency not in CURRENCIES:
        raise CheckoutError("wallet_currency", "currency")
    minimum, maximum = topup_limits()
    if amount < minimum:
        raise CheckoutError("wallet_below_minimum", "amount", minimum=minimum)
    if amount > maximum:
        raise CheckoutError("wallet_above_maximum", "amount", maximum=maximum)
    if method not in TOPUP_METHODS:
        raise CheckoutError("wallet_topup_method", "payment_method")
    if method in CNY_ONLY_METHODS and currency != "CNY":
        raise CheckoutError("method_currency", "payment_method", currency=currency)


def place_topup_order(request: TopUpRequest, actor: Actor | None = None) -> Order:
    """Place a pending order that adds ``amount`` to the customer's wallet once it is paid.

    No promotion applies to a top-up. The one-time code rules assess it like any order.
    """
    check_topup(request.user_id, request.currency, request.amount, request.payment_method)
    begin_write(db.session)
    try:
        order = Order(
            reference=new_reference(),
            user_id=request.user_id,
            email=request.email.strip(),
            locale=request.locale,
            status=OrderStatus.PENDING,
            delivery=Delivery.WALLET,
            payment_method=request.payment_method,
            currency=request.currency,
            subtotal=request.amount,
            discount=0,
            total=request.amount,
            created_at=utcnow(),
        )
        order.lines = [
            OrderLine(
                kind=LineKind.WALLET_TOPUP,
                product_id=None,
                sku=TOPUP_SKU,
                name=TOPUP_NAME,
                data_mb=0,
                validity_days=0,
                unit_price=request.amount,
                quantity=1,
            )
        ]
        db.session.add(order)
        db.session.flush()
        payment_codes.assess(
            order, device_token=request.device_token, client_address=request.client_address
        )
        record_event(
            "order.placed",
            actor,
            object_type="order",
            object_id=order.reference,
            details={"total": order.total, "currency": order.currency, "wallet_topup": True},
        )
    except IntegrityError:  # a reference drawn twice: astronomically rare
        db.session.rollback()
        raise CheckoutError("busy") from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return order


class WalletPayRefused(Exception):
    """An order the wallet will not pay; ``reason`` picks the message. Nothing was charged."""

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


@dataclass(frozen=True)
class WalletPaid:
    """An order paid from the wallet: what is left in it."""

    order_id: int
    balance: int
    currency: str


def _check_payable(order: Order, user_id: int) -> None:
    if order.user_id is None or order.user_id != user_id:
        raise WalletPayRefused("not_owner")
    if order.status != OrderStatus.PENDING:
        raise WalletPayRefused("not_pending", status=order.status.value)
    if order.delivery == Delivery.WALLET:
        raise WalletPayRefused("topup_order")
    if order.payment_method != PaymentMethod.WALLET:
        raise WalletPayRefused("not_wallet_method")
    if not payment_codes.payment_allowed(order):
        raise WalletPayRefused("code_required")


def pay_from_wallet(order_id: int, user_id: int, actor: Actor | None = None) -> WalletPaid:
    """Pay a pending order in full from its owner's wallet and fulfil it, in one transaction.

    All or nothing: a wallet holding less than the total raises ``WalletPayRefused``
    ("insufficient") and nothing moves. The order's row is locked first, so of two requests
    paying the same order the second finds it paid ("not_pending").
    """
    actor = actor or Actor.system("wallet")
    begin_write(db.session)
    try:
        order = fulfilment.lock_order(order_id)
        _check_payable(order, user_id)
        if order.delivery == Delivery.TOPUP and order.card is not None:
            # The card before the wallet, in the order auto-renew takes them (card, then
            # wallet): a top-up paid from the wallet and a renewal of the same card never
            # wait for each other's locks (a deadlock on PostgreSQL).
            with contextlib.suppress(card_services.CardNotFound):
                card_services.lock_card(order.card.number)
        wallet = wallet_services.find_wallet(user_id, order.currency)
        if wallet is None:
            raise WalletPayRefused("insufficient", balance=0, total=order.total)
        try:
            balance = wallet_services.debit(
                wallet.id,
                order.total,
                kind=WalletEntryKind.PURCHASE,
                reference=references.for_order(order.reference),
                actor=actor,
                note=order.reference,
            )
        except wallet_services.InsufficientFunds as exc:
            raise WalletPayRefused("insufficient", balance=exc.balance, total=order.total) from None
        now = utcnow()
        db.session.add(
            Payment(
                order_id=order.id,
                provider=WALLET_PROVIDER,
                provider_payment_id=f"{WALLET_PROVIDER}:{order.reference}",
                sale_id=f"{WALLET_PROVIDER}:{order.reference}",
                payer_id=str(user_id),
                state=PaymentRecordState.COMPLETED,
                amount=order.total,
                currency=order.currency,
                created_at=now,
                updated_at=now,
            )
        )
        moved = db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
            .values(status=OrderStatus.PAID, paid_at=now, status_note="")
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:  # impossible under the lock; never charge twice if it happens
            raise WalletPayRefused("not_pending", status="")
        db.session.expire(order)
        record_event(
            "order.paid",
            actor,
            object_type="order",
            object_id=order.reference,
            details={"amount": order.total, "via": "wallet", "balance": balance},
        )
        fulfilment.fulfil(order, actor)
        db.session.flush()
    except IntegrityError:  # the same order's purchase already on the ledger
        db.session.rollback()
        raise WalletPayRefused("not_pending", status="") from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    delivered.send_delivery_mail(order)
    return WalletPaid(order_id, balance, order.currency)


def refund_to_wallet(order: Order, amount: int, key: str, actor: Actor | None) -> str:
    """Credit a refund of a wallet-paid order back to the wallet, in the caller's transaction.

    Returns the refund's id (``wallet:<reference>:<key>``); the wallet entry's reference is
    unique, so the same refund key can never credit twice.
    """
    wallet = wallet_services.wallet_for(order.user_id, order.currency)
    refund_id = f"{WALLET_PROVIDER}:{order.reference}:{key}"
    wallet_services.credit(
        wallet.id,
        amount,
        kind=WalletEntryKind.REFUND,
        reference=references.for_refund(order.reference, key),
        actor=actor,
        note=order.reference,
    )
    return refund_id


def take_back_topup(order: Order, amount: int, key: str, actor: Actor | None) -> None:
    """Take a refunded top-up's money out of the wallet before the provider refunds it.

    In the caller's transaction; all or nothing: money already spent from the wallet cannot be
    refunded (RefundRefused "wallet_spent").
    """
    wallet = wallet_services.find_wallet(order.user_id, order.currency)
    try:
        if wallet is None:
            raise wallet_services.InsufficientFunds(0, amount)
        wallet_services.debit(
            wallet.id,
            amount,
            kind=WalletEntryKind.ADJUSTMENT,
            reference=references.for_refund(order.reference, key),
            actor=actor,
            note=f"refund of top-up {order.reference}",
        )
    except wallet_services.InsufficientFunds as exc:
        raise RefundRefused(
            "wallet_spent",
            "The wallet no longer holds what this refund takes back.",
            exc.balance,
        ) from None


def give_back_topup(order: Order, amount: int, key: str, actor: Actor | None) -> None:
    """Put back what :func:`take_back_topup` took when the provider refused the refund."""
    wallet = wallet_services.wallet_for(order.user_id, order.currency)
    wallet_services.credit(
        wallet.id,
        amount,
        kind=WalletEntryKind.ADJUSTMENT,
        reference=f"refund-refused:{order.reference}:{key}",
        actor=actor,
        note=f"refund of top-up {order.reference} refused",
    )


def order_entry(order: Order) -> WalletEntry | None:
    """Return the wallet entry an order made (its top-up or its purchase), if any."""
    if order.user_id is None:
        return None
    wallet = wallet_services.find_wallet(order.user_id, order.currency)
    if wallet is None:
        return None
    kind = WalletEntryKind.TOPUP if order.delivery == Delivery.WALLET else WalletEntryKind.PURCHASE
    return db.session.execute(
        select(WalletEntry).filter_by(
            wallet_id=wallet.id, kind=kind, reference=references.for_order(order.reference)
        )
    ).scalar_one_or_none()


def balance_of(user_id: int | None, currency: str) -> int | None:
    """Return a customer's balance in ``currency`` (0 with no wallet yet), None for a guest."""
    if user_id is None or not currency:
        return None
    wallet = wallet_services.find_wallet(user_id, currency)
    return wallet.balance if wallet is not None else 0
