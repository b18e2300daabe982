"""Alerts sent about a card (one row per card, pack period and kind) and owners' choices."""

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class AlertKind(enum.StrEnum):
    """What an alert tells the card's owner."""

    USAGE_75 = "usage_75"  #: 75 % of the card's data used
    USAGE_90 = "usage_90"  #: 90 % used
    LOW_DATA = "low_data"  #: less than the owner's threshold (default 100 MB) left
    USED_UP = "used_up"  #: no data left
    EXPIRES_3_DAYS = "expires_3d"  #: validity ends within 3 days
    EXPIRES_1_DAY = "expires_1d"  #: validity ends within a day
    EXPIRED = "expired"  #: validity ended


def _kind_enum() -> Enum:
    return Enum(
        AlertKind,
        native_enum=False,
        length=16,
        values_callable=lambda kinds: [kind.value for kind in kinds],
    )


class CardAlert(db.Model):
    """One alert kind reached for a card in one pack period: written before its messages.

    The unique key (card, period, kind) is what makes a repeated or concurrent check send one
    alert: the row is inserted with "on conflict do nothing" in the transaction that writes
    the messages, and only the transaction that inserted it writes them.
    """

    __tablename__ = "card_alert"
    __table_args__ = (UniqueConstraint("card_id", "period", "kind", name="uq_card_alert_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    #: The pack period: id of the card's latest delivered top-up (0 before any).
    period: Mapped[int]
    kind: Mapped[AlertKind] = mapped_column(_kind_enum())
    #: False when a more serious alert reached at the same time was sent instead.
    sent: Mapped[bool] = mapped_column(default=True)
    #: Where it went (e-mail address, phone number), for support; never a PIN.
    recipients: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertPreference(db.Model):
    """A card owner's choice of alerts for one card (no row: every kind on, 100 MB)."""

    __tablename__ = "alert_preference"
    __table_args__ = (UniqueConstraint("card_id", "owner_key", name="uq_alert_preference_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    #: ``user:<id>`` for an account, ``email:<address>`` for a guest buyer: a new owner starts
    #: from the defaults.
    owner_key: Mapped[str] = mapped_column(String(260))
    #: Kinds turned off, comma separated.
    disabled_kinds: Mapped[str] = mapped_column(String(120), default="")
    #: "Less than N MB left" fires below this.
    low_data_mb: Mapped[int] = mapped_column(default=100)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
