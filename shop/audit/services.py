"""Recording audit events inside the caller's transaction."""

from dataclasses import dataclass

from sqlalchemy import insert

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.timeutil import utcnow


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, an API key or the system, and from where."""

    user_id: int | None = None
    label: str = ""
    ip_address: str = ""

    @classmethod
    def for_user(cls, user, ip_address: str = "") -> "Actor":
        """Return the actor for a logged-in user."""
        return cls(user_id=user.id, label=user.email, ip_address=ip_address or "")

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        """Return an actor with no user (CLI, background jobs)."""
        return cls(label=label)


#: One prepared INSERT, compiled once: audit rows are written on every hot path.
_INSERT_EVENT = insert(AuditEvent.__table__)


def record_event(
    action: str,
    actor: Actor | None = None,
    *,
    object_type: str = "",
    object_id: str | int = "",
    agent_id: int | None = None,
    details: dict | None = None,
) -> None:
    """Add an audit event to the current transaction (one INSERT, no ORM); the caller commits."""
    actor = actor or Actor.system()
    db.session.connection().execute(
        _INSERT_EVENT,
        {
            "action": action,
            "actor_id": actor.user_id,
            "actor_label": actor.label[:64],
            "object_type": object_type,
            "object_id": str(object_id),
            "agent_id": agent_id,
            "details": details or {},
            "ip_address": actor.ip_address[:45],
            "created_at": utcnow(),
        },
    )
