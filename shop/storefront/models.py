"""Storefront purchases: orders, lines, payments, webhook events, promotions, saved cards."""

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.timeutil import utcnow


def _values(enum_cls):
    return [member.value for member in enum_cls]


def _enum(enum_cls, length: int = 16) -> Enum:
    return Enum(enum_cls, native_enum=False, length=length, values_callable=_values)


class OrderStatus(enum.StrEnum):
    """Where an order stands. ``pending -> paid -> fulfilled``, or ``cancelled`` / ``failed``.

    A paid order may then be refunded in parts (``partially_refunded``) or in full.
    """

    PENDING = "pending"  #: placed, waiting for the payment
    PAID = "paid"  #: money captured, not yet fulfilled
    FULFILLED = "fulfilled"  #: vouchers issued or the card topped up
    CANCELLED = "cancelled"  #: the buyer cancelled, or the order expired unpaid
    FAILED = "failed"  #: the payment was declined or failed
    REFUNDED = "refunded"  #: paid, then refunded at the provider (all of it)
    PARTIALLY_REFUNDED = "partially_refunded"  #: paid, then part of it refunded


class Delivery(enum.StrEnum):
    """What the buyer gets."""

    VOUCHERS = "vouchers"  #: PINs to keep or give away
    TOPUP = "topup"  #: the packs applied to a card as soon as the payment completes
    WALLET = "wallet"  #: money added to the buyer's wallet (a wallet top-up order)


class PaymentMethod(enum.StrEnum):
    """How the buyer chose to pay at checkout."""

    PAYPAL = "paypal"  #: PayPal account or card, any currency
    ALIPAY = "alipay"  #: Alipay: page pay on computers, wap pay on phones (CNY only)
    WECHATPAY = "wechatpay"  #: WeChat Pay: a QR code on computers, H5 on phones (CNY only)
    WALLET = "wallet"  #: the buyer's own wallet, all or nothing (signed-in buyers)


#: Methods that take CNY only.
CNY_ONLY_METHODS = (PaymentMethod.ALIPAY, PaymentMethod.WECHATPAY)


class PromotionKind(enum.StrEnum):
    """How a promotion code lowers the total."""

    PERCENT = "percent"  #: ``percent_bps`` off the eligible packs
    AMOUNT = "amount"  #: ``amount_off`` minor units off the eligible packs


promotion_product = Table(
    "promotion_product",
    db.metadata,
    Column("promotion_id", ForeignKey("promotion.id", ondelete="CASCADE"), primary_key=True),
    Column("product_id", ForeignKey("product.id"), primary_key=True),
)


class Promotion(db.Model):
    """A promotion code: a percentage or an amount off above a minimum total, for a while."""

    __tablename__ = "promotion"
    __table_args__ = (
        CheckConstraint("percent_bps >= 0 AND percent_bps <= 10000", name="percent_range"),
        CheckConstraint("amount_off >= 0", name="amount_off_positive"),
        CheckConstraint("min_total >= 0", name="min_total_positive"),
        CheckConstraint("uses >= 0", name="uses_positive"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="uses_within_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Upper case, as the customer types it (case is ignored).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[PromotionKind] = mapped_column(_enum(PromotionKind))
    #: For ``percent``: basis points off (1,500 = 15 %).
    percent_bps: Mapped[int] = mapped_column(default=0)
    #: For ``amount``: minor units of ``currency`` off.
    amount_off: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    #: The order's total of eligible packs must reach this (minor units) for the code to apply.
    min_total: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    #: Orders that may use the code in all; None is unlimited.
    max_uses: Mapped[int | None]
    #: Orders one customer (account, or e-mail address for guests) may use it for.
    max_uses_per_customer: Mapped[int | None]
    #: Orders holding the code now: placed and not cancelled or failed.
    uses: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    products = relationship("Product", secondary=promotion_product, order_by="Product.sku")


class PromotionUse(db.Model):
    """One order holding a promotion code; deleted when that order is cancelled or fails."""

    __tablename__ = "promotion_use"
    __table_args__ = (Index("ix_promotion_use_customer", "promotion_id", "customer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotion.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), unique=True)
    #: ``user:<id>`` or ``email:<address>``: whom the per-customer limit counts.
    customer_key: Mapped[str] = mapped_column(String(260))
    discount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(db.Model):
    """A storefront purchase; ``reference`` is public (printed, in links), ``id`` is not."""

    __tablename__ = "shop_order"
    __table_args__ = (
        CheckConstraint("subtotal > 0", name="subtotal_positive"),
        CheckConstraint("discount >= 0 AND discount <= subtotal", name="discount_range"),
        CheckConstraint("total = subtotal - discount", name="total_consistent"),
        Index("ix_shop_order_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    #: The language the buyer used, for the e-mail and the PDF.
    locale: Mapped[str] = mapped_column(String(16), default="en")
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, 20), default=OrderStatus.PENDING)
    #: Why the order is failed, cancelled or still pending, in words for the buyer.
    status_note: Mapped[str] = mapped_column(String(300), default="")
    delivery: Mapped[Delivery] = mapped_column(_enum(Delivery))
    #: The provider the buyer chose at checkout; the pay button sends them there.
    payment_method: Mapped[PaymentMethod] = mapped_column(
        _enum(PaymentMethod), default=PaymentMethod.PAYPAL, server_default="paypal"
    )
    #: The card to top up (``delivery == topup``).
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int]
    discount: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    promotion_id: Mapped[int | None] = mapped_column(ForeignKey("promotion.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    lines = relationship("OrderLine", order_by="OrderLine.id", back_populates="order")
    payments = relationship("Payment", order_by="Payment.id", back_populates="order")
    card = relationship("Card")
    promotion = relationship("Promotion")
    user = relationship("User")

    @property
    def quantity(self) -> int:
        """Return how many packs the order holds."""
        return sum(line.quantity for line in self.lines)

    @property
    def wallet_topup_total(self) -> int:
        """Return what the order adds to the buyer's wallet (its wallet top-up lines)."""
        return sum(line.line_total for line in self.lines if line.kind == LineKind.WALLET_TOPUP)


class LineKind(enum.StrEnum):
    """What an order line sells."""

    PACK = "pack"  #: a pack of the catalog (``product_id``), as vouchers or a top-up
    WALLET_TOPUP = "wallet_topup"  #: money for the buyer's wallet (``unit_price``), no product


class OrderLine(db.Model):
    """One line of an order: a pack or a wallet top-up.

    A pack's price and terms are copied from the catalog when ordered; a wallet top-up has no
    product and no data, and its amount is its unit price.
    """

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
        CheckConstraint("kind <> 'pack' OR product_id IS NOT NULL", name="pack_has_product"),
        UniqueConstraint("order_id", "product_id", name="uq_order_line_product"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"))
    kind: Mapped[LineKind] = mapped_column(
        _enum(LineKind), default=LineKind.PACK, server_default="pack"
    )
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    data_mb: Mapped[int]
    validity_days: Mapped[int]
    coverage_codes: Mapped[str] = mapped_column(String(800), default="")
    unit_price: Mapped[int]
    quantity: Mapped[int]
    #: The vouchers issued for this line (``delivery == vouchers``), once fulfilled.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_batch.id"))

    order = relationship("Order", back_populates="lines")
    product = relationship("Product")

    @property
    def line_total(self) -> int:
        """Return quantity times unit price, in minor units."""
        return self.unit_price * self.quantity

    @property
    def coverage(self) -> list[str]:
        """Return the covered country codes as a list."""
        return [code for code in self.coverage_codes.split(",") if code]


class PaymentRecordState(enum.StrEnum):
    """A payment attempt as the shop last saw it (mirrors ``payments.PaymentState``)."""

    CREATED = "created"
    APPROVED = "approved"
    COMPLETED = "completed"
    PENDING = "pending"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class Payment(db.Model):
    """One payment attempt of an order at a provider."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_payment_id: Mapped[str] = mapped_column(String(80), unique=True)
    #: The provider's sale (capture) id: unique, so one sale can never pay two orders.
    sale_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    payer_id: Mapped[str] = mapped_column(String(80), default="")
    state: Mapped[PaymentRecordState] = mapped_column(_enum(PaymentRecordState))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    approval_url: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    order = relationship("Order", back_populates="payments")


class RefundStatus(enum.StrEnum):
    """A refund as the shop knows it."""

    REQUESTED = "requested"  #: asked of the provider, no answer recorded yet
    COMPLETED = "completed"  #: the provider refunded it: recorded, PINs voided
    FAILED = "failed"  #: the provider refused it; nothing was refunded


class Refund(db.Model):
    """Money given back on a paid order, all or part of it; one row per provider refund."""

    __tablename__ = "order_refund"
    __table_args__ = (
        UniqueConstraint("provider", "refund_id", name="uq_order_refund_provider_refund"),
        UniqueConstraint("order_id", "key", name="uq_order_refund_order_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"))
    provider: Mapped[str] = mapped_column(String(20))
    #: The provider's refund id (unique: a refund is recorded once); None until it answers.
    refund_id: Mapped[str | None] = mapped_column(String(80))
    #: The shop's name for the refund (the provider's request id), unique per order.
    key: Mapped[str] = mapped_column(String(40))
    status: Mapped[RefundStatus] = mapped_column(_enum(RefundStatus))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    #: Ids of the vouchers the admin chose to void, comma-separated ("" = last issued first).
    chosen_voucher_ids: Mapped[str] = mapped_column(Text, default="")
    voided: Mapped[int] = mapped_column(default=0)
    #: "admin" (asked from the admin order page) or "provider" (refunded at the provider).
    source: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    order = relationship("Order")


class WebhookEvent(db.Model):
    """A verified provider webhook, kept so a redelivered event is recognised."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_webhook_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(80))
    provider_payment_id: Mapped[str] = mapped_column(String(80), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("shop_order.id"), index=True)
    #: What the shop did with it ("fulfilled", "already fulfilled", "unknown payment", ...).
    outcome: Mapped[str] = mapped_column(String(80), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedCard(db.Model):
    """A card a registered customer keeps in their account."""

    __tablename__ = "saved_card"
    __table_args__ = (UniqueConstraint("user_id", "card_id", name="uq_saved_card"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    label: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    card = relationship("Card")


class PaymentCodePolicy(db.Model):
    """When checkout asks for a one-time code before paying: the admin's thresholds (one row)."""

    __tablename__ = "payment_code_policy"
    __table_args__ = (
        CheckConstraint("amount_threshold >= 0", name="amount_threshold_positive"),
        CheckConstraint("orders_per_address_per_hour >= 0", name="address_orders_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Off: no order asks for a code, whatever the rules below say.
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Orders of this total or more (minor units of ``currency``) ask for a code; 0 is off.
    #: An order in another currency always asks (no rate is guessed).
    amount_threshold: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    #: A customer (account, or e-mail for guests) with no paid order yet asks for a code.
    first_order: Mapped[bool] = mapped_column(default=True)
    #: A customer who has paid before, but never from this browser, asks for a code.
    new_device: Mapped[bool] = mapped_column(default=True)
    #: More orders than this from one client address within an hour ask for a code; 0 is off.
    orders_per_address_per_hour: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class PaymentCheck(db.Model):
    """An order's assessment at checkout and, when it asks for one, its one-time code.

    Written with the order. The code itself is never stored: only its keyed hash.
    """

    __tablename__ = "payment_check"
    __table_args__ = (
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_positive"),
        CheckConstraint("codes_sent >= 0", name="codes_sent_positive"),
        Index("ix_payment_check_client_created", "client_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id"), unique=True)
    #: Why a code is asked for, comma separated (``amount,first_order``); empty: no code.
    reasons: Mapped[str] = mapped_column(String(80), default="")
    #: SHA-256 of the browser's device cookie, to recognise the customer's known browsers.
    device_hash: Mapped[str] = mapped_column(String(64), default="")
    client_address: Mapped[str] = mapped_column(String(45), default="")
    #: ``email`` or ``sms``: how the code is sent.
    channel: Mapped[str] = mapped_column(String(8), default="")
    destination: Mapped[str] = mapped_column(String(254), default="")
    code_hash: Mapped[str] = mapped_column(String(64), default="")
    code_sent_at: Mapped[datetime | None]
    code_expires_at: Mapped[datetime | None]
    codes_sent: Mapped[int] = mapped_column(default=0)
    #: Codes typed for this order that were wrong (the limit locks the order's payment).
    failed_attempts: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order = relationship("Order", backref=db.backref("payment_check", uselist=False))

    @property
    def required(self) -> bool:
        """Return whether this order asks for a one-time code before paying."""
        return bool(self.reasons)

    @property
    def reason_list(self) -> list[str]:
        """Return the reasons as a list."""
        return [reason for reason in self.reasons.split(",") if reason]

    @property
    def masked_destination(self) -> str:
        """Return where the code goes, partly hidden (``b***@example.com``, ``*******5678``)."""
        local, at, domain = self.destination.partition("@")
        if not at:
            return "*" * max(0, len(local) - 4) + local[-4:]
        return f"{local[:1]}***@{domain}"
