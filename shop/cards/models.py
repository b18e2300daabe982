"""SIM/eSIM cards and the top-ups applied to them."""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import partial_index
from shop.extensions import db
from shop.timeutil import utcnow


def _values(enum_cls):
    return [member.value for member in enum_cls]


class CardStatus(enum.StrEnum):
    """Whether a card can be topped up."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  #: lost, stolen or blocked; top-ups are refused


class TopUpSource(enum.StrEnum):
    """What paid for a top-up."""

    VOUCHER = "voucher"  #: a PIN was redeemed
    ORDER = "order"  #: an online order applied straight to the card
    COUNTER = "counter"  #: an agent topped up the card directly
    ADMIN = "admin"  #: the operator (goodwill, demo data)
    AUTO_RENEW = "auto_renew"  #: the card's auto-renew rule, paid from its owner's wallet


class Card(db.Model):
    """A SIM or eSIM, identified by ICCID or E.164 phone number."""

    __tablename__ = "card"
    __table_args__ = (
        CheckConstraint("data_balance_mb >= 0", name="balance_not_negative"),
        #: Alerts before and at the end of validity look cards up by it.
        Index("ix_card_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Normalised number: ICCID digits, or ``+`` and digits for a phone number.
    number: Mapped[str] = mapped_column(String(24), unique=True)
    status: Mapped[CardStatus] = mapped_column(
        Enum(CardStatus, native_enum=False, length=16, values_callable=_values),
        default=CardStatus.ACTIVE,
    )
    #: Data left: the network's last known figure (plus packs recorded since, until the
    #: network's next answer replaces it). Never consumed here: the network counts usage.
    data_balance_mb: Mapped[int] = mapped_column(default=0)
    #: When the data on the card stops working; empty until the first top-up.
    expires_at: Mapped[datetime | None]
    #: Data used of the card's current packs, as the network last said.
    data_used_mb: Mapped[int] = mapped_column(default=0)
    #: When the network's figures above were true; empty until it has answered once.
    network_as_of: Mapped[datetime | None]
    #: When the shop last asked the network (a refresh on a person's look is rate limited).
    network_asked_at: Mapped[datetime | None]
    region: Mapped[str] = mapped_column(String(60), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner = relationship("User")

    def __repr__(self) -> str:
        return f"<Card {self.id}>"


class TopUp(db.Model):
    """One application of a data pack to a card."""

    __tablename__ = "topup"
    __table_args__ = (
        Index("ix_topup_card_created", "card_id", "created_at"),
        #: Sales reports: an agent's counter top-ups in a period. Top-ups of no agent (online
        #: redemptions, the storefront) are not in it.
        partial_index(
            "ix_topup_agent_created", "agent_id", "created_at", where="agent_id IS NOT NULL"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    data_mb: Mapped[int]
    validity_days: Mapped[int]
    source: Mapped[TopUpSource] = mapped_column(
        Enum(TopUpSource, native_enum=False, length=16, values_callable=_values)
    )
    #: Where it happened: "web", "api", "counter", "storefront", "cli".
    channel: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    #: Public reference of what paid: a voucher serial or an order number, never a PIN.
    reference: Mapped[str] = mapped_column(String(64), default="")
    #: A counter top-up's sale: the pack's price then, what the agent's float paid, and who sold
    #: it. Empty for every other source.
    face_value: Mapped[int | None]
    cost: Mapped[int | None]
    sold_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    old_expires_at: Mapped[datetime | None]
    new_expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    card = relationship("Card")
    product = relationship("Product")
    delivery = relationship("TopUpDelivery", back_populates="topup", uselist=False)

    def __repr__(self) -> str:
        return f"<TopUp {self.id} card={self.card_id}>"


class DeliveryStatus(enum.StrEnum):
    """Where a top-up's delivery to the operator's network stands."""

    PENDING = "pending"  #: not applied yet: queued, or waiting for its next attempt
    DELIVERED = "delivered"  #: the network applied the pack
    FAILED = "failed"  #: the network refused it, or was unreachable for a whole day
    CANCELLED = "cancelled"  #: the operator gave up on it and compensated the buyer


class TopUpDelivery(db.Model):
    """The delivery of one top-up to the operator's network, exactly once.

    Written ``pending`` in the top-up's own transaction; a job applies the pack on the network
    under ``request_id``, which the network treats as an idempotency key, so a retry after a
    lost answer or a killed worker never applies the pack twice.
    """

    __tablename__ = "topup_delivery"
    __table_args__ = (Index("ix_topup_delivery_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topup_id: Mapped[int] = mapped_column(ForeignKey("topup.id"), unique=True)
    #: No index of its own: deliveries are found by status, top-up or request id.
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    #: Sent with every attempt; the network answers a repeated id with its first result.
    request_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16, values_callable=_values),
        default=DeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    #: A pending delivery is not tried before this time (backoff after a failed attempt).
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A worker holds the delivery until then; a killed worker's claim simply runs out.
    claimed_until: Mapped[datetime | None]
    #: Attempts stop, and the delivery fails, after this time.
    give_up_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(String(200), default="")
    #: The network's own reference of the applied pack.
    network_reference: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    topup = relationship("TopUp", back_populates="delivery")
    card = relationship("Card")

    def __repr__(self) -> str:
        return f"<TopUpDelivery {self.id} {self.status}>"


class CardUsageDay(db.Model):
    """Data a card used on one day (UTC), as the network's usage records say."""

    __tablename__ = "card_usage_day"

    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    used_mb: Mapped[int] = mapped_column(default=0)
