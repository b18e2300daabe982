"""Agents: the physical shops that sell vouchers out of a prepaid credit float."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class AgentStatus(enum.StrEnum):
    """Whether an agent may sell."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  #: sells nothing until reactivated


class Agent(db.Model):
    """A shop that sells vouchers at its counter."""

    __tablename__ = "agent"
    __table_args__ = (
        CheckConstraint("discount_bps >= 0 AND discount_bps <= 10000", name="discount_range"),
        CheckConstraint("credit_limit >= 0", name="credit_limit_positive"),
        CheckConstraint("balance >= -credit_limit", name="balance_within_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[AgentStatus] = mapped_column(
        Enum(
            AgentStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=AgentStatus.ACTIVE,
    )
    #: Wholesale discount off face value, in basis points (1,000 = 10 %).
    discount_bps: Mapped[int] = mapped_column(default=0)
    #: How far below zero the float may go, in minor units of ``currency``.
    credit_limit: Mapped[int] = mapped_column(default=0)
    #: Current float in minor units; always the sum of the agent's ledger entries.
    balance: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Agent {self.code}>"
