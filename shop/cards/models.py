"""SIM/eSIM cards and the top-ups applied to them."""

import enum
from datetime import datetime

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


class Card(db.Model):
    """A SIM or eSIM, identified by ICCID or E.164 phone number."""

    __tablename__ = "card"
    __table_args__ = (CheckConstraint("data_balance_mb >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Normalised number: ICCID digits, or ``+`` and digits for a phone number.
    number: Mapped[str] = mapped_column(String(24), unique=True)
    status: Mapped[CardStatus] = mapped_column(
        Enum(CardStatus, native_enum=False, length=16, values_callable=_values),
        default=CardStatus.ACTIVE,
    )
    data_balance_mb: Mapped[int] = mapped_column(default=0)
    #: When the data on the card stops working; empty until the first top-up.
    expires_at: Mapped[datetime | None]
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

    def __repr__(self) -> str:
        return f"<TopUp {self.id} card={self.card_id}>"
