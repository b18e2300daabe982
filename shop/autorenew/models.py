"""Auto-renew rules (one per card) and every renewal they made or could not make."""

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.timeutil import utcnow


def _enum(enum_cls, length: int = 20) -> Enum:
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class RenewalTrigger(enum.StrEnum):
    """When a card's pack is renewed."""

    EXPIRING = "expiring"  #: the validity ends within 24 hours
    USED_UP = "used_up"  #: no data left
    LOW_DATA = "low_data"  #: less than the rule's ``threshold_mb`` left


class RuleStatus(enum.StrEnum):
    """Whether a rule renews."""

    ACTIVE = "active"
    PAUSED = "paused"  #: kept, renews nothing until resumed
    CANCELLED = "cancelled"  #: ended by the owner; a new rule may be set up later


class RenewalRule(db.Model):
    """A card's auto-renew rule: which pack, when, paid from which wallet, how often at most."""

    __tablename__ = "renewal_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), unique=True)
    #: The owner: the account whose wallet pays.
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    trigger: Mapped[RenewalTrigger] = mapped_column(_enum(RenewalTrigger))
    #: For ``low_data``: renew when less than this many MB are left.
    threshold_mb: Mapped[int | None]
    #: At most this many renewals per calendar month (UTC); no cap when empty.
    monthly_cap: Mapped[int | None]
    status: Mapped[RuleStatus] = mapped_column(_enum(RuleStatus), default=RuleStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    card = relationship("Card")
    product = relationship("Product")
    user = relationship("User")


class RenewalOutcome(enum.StrEnum):
    """What one trigger of a rule came to."""

    RENEWED = "renewed"  #: the pack was bought from the wallet and applied to the card
    INSUFFICIENT_FUNDS = "insufficient_funds"  #: nothing charged; the owner was told
    CAP_REACHED = "cap_reached"  #: the monthly cap was reached; nothing charged, owner told
    FAILED = "failed"  #: the card or the pack could not take it (suspended, no longer sold)


class Renewal(db.Model):
    """One trigger of a rule, renewed or not.

    ``key`` is unique: ``<card>:<rule>:<period>`` for a renewal, where the period is the card's
    latest delivered top-up (the pack it renews), so a trigger reported ten times renews once;
    ``<card>:<rule>:<period>:<outcome>`` for an attempt that charged nothing, so its owner is
    told once per period while the rule keeps trying at each trigger.
    """

    __tablename__ = "renewal"
    __table_args__ = (Index("ix_renewal_rule_created", "rule_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("renewal_rule.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    period: Mapped[int]
    outcome: Mapped[RenewalOutcome] = mapped_column(_enum(RenewalOutcome))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    #: What the wallet paid (0 when nothing was charged), in ``currency``'s minor units.
    amount: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    #: The top-up it applied to the card (renewed only).
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("topup.id"))
    #: Why nothing was charged, in the shop's words (for the owner and the admin).
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rule = relationship("RenewalRule")
    product = relationship("Product")
    card = relationship("Card")
