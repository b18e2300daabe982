"""Pricing a cart, placing an order, and who may see an order.

An order is placed before the buyer pays: its lines copy each pack's price and terms, its
promotion use is held, and its public ``reference`` names the payment at the provider (so a
retried payment request is recognised there). Guests reach their order through a signed link.
"""

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.cards import services as card_services
from shop.cards.models import CardStatus
from shop.cards.numbers import InvalidCardNumber
from shop.catalog.models import Product
from shop.db import begin_write
from shop.extensions import db
from shop.storefront import payment_codes, promotions
from shop.storefront.models import (
    CNY_ONLY_METHODS,
    Delivery,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
)
from shop.timeutil import utcnow
from shop.wallet import services as wallet_services

#: Crockford's base 32 without I, L, O, U: references are read out on the phone.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "WD-"
REFERENCE_LENGTH = 10
CLOSED = (OrderStatus.CANCELLED, OrderStatus.FAILED)


class CheckoutError(Exception):
    """An order that cannot be placed; ``reason`` picks the message, ``field`` the form field."""

    def __init__(self, reason: str, field_name: str = "", **facts):
        super().__init__(reason)
        self.reason = reason
        self.field = field_name
        self.facts = facts


class OrderNotFound(Exception):
    """No such order, or not one this visitor may see."""


@dataclass(frozen=True)
class QuoteLine:
    """One pack of a cart, priced from the catalog as it is now."""

    product: Product
    quantity: int

    @property
    def total(self) -> int:
        """Return quantity times the pack's price."""
        return self.product.price * self.quantity


@dataclass
class Quote:
    """A cart priced: lines, subtotal, the promotion's discount and the total to pay."""

    lines: list[QuoteLine]
    currency: str
    subtotal: int
    discount: int = 0
    promotion: object | None = None
    promotion_error: promotions.PromotionError | None = None
    problems: list[CheckoutError] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return what the buyer pays."""
        return self.subtotal - self.discount

    @property
    def quantity(self) -> int:
        """Return how many packs the cart holds."""
        return sum(line.quantity for line in self.lines)

    def priced_lines(self) -> list[promotions.PricedLine]:
        """Return the lines as a promotion prices them."""
        return [
            promotions.PricedLine(line.product.id, line.product.price, line.quantity)
            for line in self.lines
        ]


def _limits() -> tuple[int, int, int]:
    config = current_app.config
    return config["ORDER_MIN_TOTAL"], config["ORDER_MAX_TOTAL"], config["ORDER_MAX_QUANTITY"]


def quote_cart(
    items: dict[str, int],
    *,
    promotion_code: str = "",
    user_id: int | None = None,
    email: str = "",
    now: datetime | None = None,
) -> Quote:
    """Price a cart (SKU -> quantity) with the catalog as it is now, and check the limits.

    Packs no longer on sale are left out. A promotion that does not apply is reported in
    ``promotion_error`` and gives no discount; every other problem is in ``problems``.
    """
    skus = sorted(items)
    products = {
        product.sku: product
        for product in db.session.execute(
            select(Product).where(Product.sku.in_(skus), Product.active.is_(True))
        ).scalars()
    }
    lines = [QuoteLine(products[sku], items[sku]) for sku in skus if sku in products]
    currencies = {line.product.currency for line in lines}
    currency = next(iter(currencies)) if len(currencies) == 1 else ""
    quote = Quote(lines, currency, sum(line.total for line in lines))
    minimum, maximum, max_quantity = _limits()
    if not lines:
        quote.problems.append(CheckoutError("empty"))
        return quote
    if len(currencies) > 1:
        quote.problems.append(CheckoutError("mixed_currency"))
        return quote
    if quote.quantity > max_quantity:
        quote.problems.append(CheckoutError("too_many", "", maximum=max_quantity))
    code = promotions.normalise_code(promotion_code)
    if code:
        promotion = promotions.find_promotion(code)
        try:
            quote.discount = promotions.check_promotion(
                promotion,
                quote.priced_lines(),
                currency,
                promotions.customer_key(user_id, email),
                now,
            )
        except promotions.PromotionError as exc:
            quote.promotion_error = exc
        else:
            quote.promotion = promotion
    if quote.total < minimum:
        quote.problems.append(CheckoutError("below_minimum", "", minimum=minimum))
    if quote.total > maximum:
        quote.problems.append(CheckoutError("above_maximum", "", maximum=maximum))
    return quote


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything the buyer confirmed at checkout."""

    items: dict[str, int]
    email: str
    delivery: Delivery
    card_number: str = ""
    promotion_code: str = ""
    user_id: int | None = None
    locale: str = "en"
    #: The browser's device cookie and the client address, for the one-time code rules.
    device_token: str = ""
    client_address: str = ""
    payment_method: PaymentMethod = PaymentMethod.PAYPAL


def new_reference() -> str:
    """Return a fresh public order reference such as ``WD-7K3M9QX2TB``."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return REFERENCE_PREFIX + body


def place_order(request: CheckoutRequest, actor: Actor | None = None) -> Order:
    """Place a pending order for what the buyer confirmed, or raise CheckoutError.

    The cart is priced again inside the transaction, so the order holds the prices and the
    promotion as they are at this moment, and the promotion's use is held for it.
    """
    card_id = None
    if request.delivery == Delivery.TOPUP:
        card_id = _card_to_top_up(request.card_number)
    begin_write(db.session)
    try:
        quote = quote_cart(
            request.items,
            promotion_code=request.promotion_code,
            user_id=request.user_id,
            email=request.email,
        )
        if quote.problems:
            raise quote.problems[0]
        if quote.promotion_error is not None:
            raise CheckoutError("promotion", "promotion_code", error=quote.promotion_error)
        if request.payment_method in CNY_ONLY_METHODS and quote.currency != "CNY":
            raise CheckoutError("method_currency", "payment_method", currency=quote.currency)
        if request.payment_method == PaymentMethod.WALLET:
            _check_wallet_covers(request.user_id, quote.currency, quote.total)
        order = Order(
            reference=new_reference(),
            user_id=request.user_id,
            email=request.email.strip(),
            locale=request.locale,
            status=OrderStatus.PENDING,
            delivery=request.delivery,
            payment_method=request.payment_method,
            card_id=card_id,
            currency=quote.currency,
            subtotal=quote.subtotal,
            discount=quote.discount,
            total=quote.total,
            promotion_id=quote.promotion.id if quote.promotion is not None else None,
            created_at=utcnow(),
        )
        order.lines = [
            OrderLine(
                product_id=line.product.id,
                sku=line.product.sku,
                name=line.product.name,
                data_mb=line.product.data_mb,
                validity_days=line.product.validity_days,
                coverage_codes=line.product.coverage_codes,
                unit_price=line.product.price,
                quantity=line.quantity,
            )
            for line in quote.lines
        ]
        db.session.add(order)
        db.session.flush()
        if quote.promotion is not None:
            promotions.reserve_use(
                quote.promotion,
                order,
                promotions.customer_key(request.user_id, request.email),
                quote.discount,
            )
        payment_codes.assess(
            order, device_token=request.device_token, client_address=request.client_address
        )
        record_event(
            "order.placed",
            actor,
            object_type="order",
            object_id=order.reference,
            details={"total": order.total, "currency": order.currency, "items": request.items},
        )
    except promotions.PromotionError as exc:
        db.session.rollback()
        raise CheckoutError("promotion", "promotion_code", error=exc) from exc
    except IntegrityError:  # a reference drawn twice: astronomically rare, try once more
        db.session.rollback()
        raise CheckoutError("busy") from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return order


def _check_wallet_covers(user_id: int | None, currency: str, total: int) -> None:
    """Refuse paying from a wallet a guest has not, or that holds less than the total."""
    if user_id is None:
        raise CheckoutError("wallet_sign_in", "payment_method")
    wallet = wallet_services.find_wallet(user_id, currency)
    balance = wallet.balance if wallet is not None else 0
    if balance < total:
        raise CheckoutError("wallet_short", "payment_method", balance=balance, currency=currency)


def _card_to_top_up(number: str) -> int:
    try:
        card = card_services.find_card(number)
    except InvalidCardNumber as exc:
        raise CheckoutError("card_number", "card_number", error=exc) from exc
    except card_services.CardNotFound as exc:
        raise CheckoutError("card_not_found", "card_number") from exc
    if card.status != CardStatus.ACTIVE:
        raise CheckoutError("card_suspended", "card_number")
    return card.id


def close_order(order: Order, status: OrderStatus, note: str = "") -> bool:
    """Close a pending order as cancelled or failed, giving back its promotion use.

    Runs in the caller's write transaction; returns False if the order was no longer pending.
    """
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(status=status, status_note=note[:300], closed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved:
        promotions.release_use(order)
        db.session.expire(order)
    return bool(moved)


def cancel_order(order: Order, actor: Actor | None = None) -> bool:
    """Cancel a pending order at the buyer's request (nothing was charged)."""
    begin_write(db.session)
    try:
        cancelled = close_order(order, OrderStatus.CANCELLED, "cancelled_by_buyer")
        if cancelled:
            record_event("order.cancelled", actor, object_type="order", object_id=order.reference)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return cancelled


def get_order_by_reference(reference: str) -> Order:
    """Return the order with this reference, or raise OrderNotFound."""
    cleaned = (reference or "").strip().upper()
    if not cleaned.startswith(REFERENCE_PREFIX) or len(cleaned) > 20:
        raise OrderNotFound(reference)
    order = db.session.execute(select(Order).filter_by(reference=cleaned)).scalar_one_or_none()
    if order is None:
        raise OrderNotFound(reference)
    return order


def orders_of_user(user_id: int, limit: int = 100) -> list[Order]:
    """Return a registered customer's orders, newest first."""
    return list(
        db.session.execute(
            select(Order)
            .filter_by(user_id=user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        ).scalars()
    )


def _link_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-link")


def order_link_key(order: Order) -> str:
    """Return the key of the order's private link (what a guest keeps to see the order)."""
    return _link_signer().dumps(order.reference)


def link_key_matches(order: Order, key: str | None) -> bool:
    """Return whether ``key`` opens this order."""
    if not key:
        return False
    try:
        reference = _link_signer().loads(key)
    except BadSignature:
        return False
    return isinstance(reference, str) and hmac.compare_digest(reference, order.reference)


def may_view(order: Order, user, key: str | None) -> bool:
    """Return whether this visitor may see the order: its owner, an admin, or the link's holder."""
    if user is not None and getattr(user, "is_authenticated", False):
        if order.user_id is not None and order.user_id == user.id:
            return True
        if getattr(user.role, "value", "") == "admin":
            return True
    return link_key_matches(order, key)
