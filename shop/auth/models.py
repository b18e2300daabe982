"""User accounts and their roles."""

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class Role(enum.StrEnum):
    """What a user may do; see the roles table of DESIGN.md."""

    CUSTOMER = "customer"  #: buys packs, keeps cards and order history
    AGENT_STAFF = "agent_staff"  #: counter staff of one agent
    AGENT_MANAGER = "agent_manager"  #: reseller: staff, keys, reports of one agent
    ADMIN = "admin"  #: the operator

    @property
    def is_agent_role(self) -> bool:
        """Return whether the role belongs to one agent."""
        return self in (Role.AGENT_STAFF, Role.AGENT_MANAGER)


def new_session_token() -> str:
    """Return a fresh per-user session token."""
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    """A person who logs in."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    #: The agent whose staff or manager this user is; empty for customers and admins.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    #: Part of the login cookie; rotated on logout and password change so old cookies die.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token, unique=True)
    preferred_locale: Mapped[str | None] = mapped_column(String(16))
    #: Mobile number for text messages (codes at payment, alerts), E.164; empty: none given.
    phone: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def get_id(self) -> str:
        """Return the login cookie's identity: the session token, not the primary key."""
        return self.session_token

    @property
    def is_active(self) -> bool:
        """Return whether the account may log in."""
        return self.active

    def has_role(self, *roles: Role) -> bool:
        """Return whether the user holds one of ``roles`` (admins hold every role)."""
        return self.role == Role.ADMIN or self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"
