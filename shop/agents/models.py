"""Agents: the physical shops that sell vouchers out of a prepaid credit float."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.timeutil import utcnow


def _values(enum_cls):
    return [member.value for member in enum_cls]


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
        CheckConstraint("depth >= 1", name="depth_positive"),
        #: Subtree look-ups are ``path LIKE '/1/5/%'``: on PostgreSQL a prefix match needs the
        #: pattern operators whatever the database's collation.
        Index("ix_agent_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
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
    #: When the managers were told the float fell below the low-float threshold; cleared when
    #: a credit lifts it above again, so they are told once per crossing.
    low_float_alerted_at: Mapped[datetime | None]
    #: The agent that signed this one and funds its float; empty for the operator's own agents.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    #: Ids from the top of the tree down to this agent, e.g. ``/1/5/9/``: the subtree of an
    #: agent is every agent whose path starts with its own.
    path: Mapped[str] = mapped_column(String(255), default="")
    #: 1 for an agent of the operator, 2 for its sub-agent, and so on.
    depth: Mapped[int] = mapped_column(default=1)

    parent = relationship("Agent", remote_side="Agent.id")

    def ancestor_ids(self) -> list[int]:
        """Return the ids of the agents above this one, from the top of the tree down."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1]]

    def wholesale_cost(self, face_value: int) -> int:
        """Return what the agent pays for a voucher of ``face_value``: the discount rounds down."""
        return face_value - face_value * self.discount_bps // 10_000

    def __repr__(self) -> str:
        return f"<Agent {self.code}>"


class LedgerKind(enum.StrEnum):
    """Why an agent's float moved."""

    CREDIT_PURCHASE = "credit_purchase"  #: the agent bought float from the operator
    SALE = "sale"  #: vouchers sold or a card topped up at the counter, at wholesale cost
    VOID_REFUND = "void_refund"  #: a voided voucher's cost given back
    ADJUSTMENT = "adjustment"  #: a correction by the operator
    TRANSFER_OUT = "transfer_out"  #: float a parent gave one of its sub-agents
    TRANSFER_IN = "transfer_in"  #: float received from the parent
    #: Unused float a parent took back: negative on the sub-agent, positive on the parent.
    TAKE_BACK = "take_back"
    COMMISSION = "commission"  #: a parent's margin on a sale made below it in the tree
    COMMISSION_REVERSAL = "commission_reversal"  #: that margin returned when the sale is voided


class LedgerEntry(db.Model):
    """One movement of an agent's float. Rows are only ever added, never changed."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_agent_created", "agent_id", "created_at"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    #: Signed minor units: credits positive, sales negative.
    amount: Mapped[int]
    #: The agent's balance right after this entry.
    balance_after: Mapped[int]
    kind: Mapped[LedgerKind] = mapped_column(
        Enum(LedgerKind, native_enum=False, length=20, values_callable=_values)
    )
    #: What it was for: "batch:12", a voucher serial, "topup:7", a payment reference.
    reference: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PackPrice(db.Model):
    """A fixed wholesale price of one pack for one agent, instead of its discount."""

    __tablename__ = "agent_pack_price"
    __table_args__ = (
        UniqueConstraint("agent_id", "product_id"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    #: What the agent pays for one voucher of the pack, in minor units of the pack's currency.
    unit_price: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    product = relationship("Product")


class SaleEarning(db.Model):
    """What one level of the tree earned on one sale, fixed when the sale is made.

    For a sale by an agent at depth ``k``, there is a row for it and each of its ancestors:
    the seller earns face value less its buy price, each ancestor its child's buy price less
    its own. The rows of a sale add up to face value less the top agent's buy price, which is
    what the operator nets.
    """

    __tablename__ = "sale_earning"
    __table_args__ = (
        CheckConstraint("(voucher_id IS NULL) <> (topup_id IS NULL)", name="one_sale"),
        Index("ix_sale_earning_seller_sold", "seller_agent_id", "sold_at"),
        Index("ix_sale_earning_voucher", "voucher_id"),
        Index("ix_sale_earning_topup", "topup_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"))
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("topup.id"))
    #: The agent that made the sale, and when.
    seller_agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    sold_at: Mapped[datetime]
    #: Who earned this row, at which depth of the tree (1: an agent of the operator).
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    level: Mapped[int]
    #: What this level paid for the pack (minor units); level 1's is the operator's net.
    buy_price: Mapped[int]
    amount: Mapped[int]


class ApiKey(db.Model):
    """A key an agent's point-of-sale system uses as ``Authorization: Bearer <key>``."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    #: The first characters of the key, shown to tell keys apart (not enough to use it).
    prefix: Mapped[str] = mapped_column(String(12))
    #: SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    agent = relationship("Agent")


class FloatRequestStatus(enum.StrEnum):
    """Where a manager's request for more float stands."""

    PENDING = "pending"  #: waiting for the operator
    APPROVED = "approved"  #: the credit was written; final
    REJECTED = "rejected"  #: nothing was credited; final


class FloatRequest(db.Model):
    """A manager's request for a float top-up, with the payment's reference and proof."""

    __tablename__ = "float_request"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    #: Requested credit in minor units of the agent's currency.
    amount: Mapped[int]
    payment_reference: Mapped[str] = mapped_column(String(80))
    #: Proof of payment kept in ``instance/uploads/``: stored file name, type and SHA-256.
    proof_file: Mapped[str] = mapped_column(String(80), default="")
    proof_type: Mapped[str] = mapped_column(String(40), default="")
    proof_sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[FloatRequestStatus] = mapped_column(
        Enum(FloatRequestStatus, native_enum=False, length=16, values_callable=_values),
        default=FloatRequestStatus.PENDING,
        index=True,
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    agent = relationship("Agent")
