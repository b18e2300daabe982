"""Idempotency records: the first response to a POST, replayed for repeats of the same key."""

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class IdempotencyRecord(db.Model):
    """One ``Idempotency-Key`` of one client, with the response it produced."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_record_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Whose key this is: "agent:<id>" for API keys, "public" for unauthenticated endpoints.
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of method, path and body: the same key with another body is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: Empty while the first request is still being processed.
    status_code: Mapped[int | None]
    #: The response body, sealed with the PIN encryption key (it may hold PINs).
    sealed_body: Mapped[str] = mapped_column(Text, default="")
    sealed_body_key: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    completed_at: Mapped[datetime | None]
