"""The outbox: every e-mail and text message the shop sends, kept for support and for demos."""

import enum
from datetime import datetime

from sqlalchemy import Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class OutboxStatus(enum.StrEnum):
    """Where a mail stands; the moves are in ``shop.mail.services``."""

    PENDING = "pending"  #: written with the use case; a job worker sends it after commit
    SENDING = "sending"  #: claimed by one worker (a conditional update), talking to SMTP or SMS
    RETRY = "retry"  #: SMTP or the SMS provider failed; tried again at ``next_attempt_at``
    SENT = "sent"  #: accepted by the SMTP server; final
    FAILED = "failed"  #: every attempt failed (or its worker died mid-send); an admin may resend
    UNSENT = "unsent"  #: no ``MAIL_SERVER`` configured: kept here (and logged) only; final


class Channel(enum.StrEnum):
    """How a message travels."""

    EMAIL = "email"  #: through SMTP; ``recipient`` is an e-mail address
    SMS = "sms"  #: through the SMS provider; ``recipient`` is an E.164 phone number


class OutboxMessage(db.Model):
    """One e-mail or text message, sent by a job worker (mail only when SMTP is configured)."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(
        Enum(
            Channel,
            native_enum=False,
            length=8,
            values_callable=lambda cls: [member.value for member in cls],
        ),
        default=Channel.EMAIL,
    )
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    #: Empty for a text message.
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: What kind of mail this is ("password_reset", "order_delivery", ...).
    kind: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=10,
            values_callable=lambda cls: [member.value for member in cls],
        ),
        default=OutboxStatus.PENDING,
    )
    #: SMTP attempts started so far (each one claimed the row first).
    attempts: Mapped[int] = mapped_column(default=0)
    #: When a pending or retried mail is due.
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    #: When the current attempt claimed the row (a stale claim means its worker died).
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(String(300), default="")
    #: The SMS provider's id of a sent text message.
    provider_id: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_outbox_message_status_due", "status", "next_attempt_at"),)
