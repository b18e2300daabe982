"""Audit trail: who did what to which object, when."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import partial_index
from shop.extensions import db
from shop.timeutil import utcnow


class AuditEvent(db.Model):
    """One recorded action. Rows are only ever added."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_created", "created_at"),
        #: An agent's events; the many events of no agent are not in it.
        partial_index("ix_audit_event_agent_id", "agent_id", where="agent_id IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Dotted verb, for example "product.created", "user.login_failed", "voucher.voided".
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Who acted when there is no user: "cli", "system", "api-key:12".
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    #: Extra facts; never a PIN, password or key.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
