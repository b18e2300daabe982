"""What the network told us: its events, kept as rows (reminders to top up hang off them)."""

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class NetworkEventKind(enum.StrEnum):
    """The callbacks the network sends."""

    PACK_APPLIED = "pack.applied"
    PACK_FAILED = "pack.failed"
    #: Usage crossed a share of the card's data (``threshold_percent`` in the payload).
    USAGE_THRESHOLD = "usage.threshold"
    DATA_EXHAUSTED = "data.exhausted"
    VALIDITY_ENDED = "validity.ended"
    CARD_SUSPENDED = "card.suspended"


class NetworkEvent(db.Model):
    """One verified callback of the network, kept once: a repeated id changes nothing.

    Rows of usage thresholds, exhausted data and ended validity are what reminders to top up
    hang off.
    """

    __tablename__ = "network_event"
    __table_args__ = (Index("ix_network_event_card_received", "card_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The network's id of the event.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[NetworkEventKind] = mapped_column(
        Enum(
            NetworkEventKind,
            native_enum=False,
            length=24,
            values_callable=lambda kinds: [kind.value for kind in kinds],
        )
    )
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    #: The delivery's request id, for pack events; empty otherwise.
    request_id: Mapped[str] = mapped_column(String(40), default="")
    #: The event's ``data`` as the network sent it.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
