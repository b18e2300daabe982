"""A customer's wallet (one per account and currency) and its append-only ledger."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.timeutil import utcnow


def _values(enum_cls):
    return [member.value for member in enum_cls]


class Wallet(db.Model):
    """A registered customer's balance in one currency, in minor units; never below zero."""

    __tablename__ = "wallet"
    __table_args__ = (
        UniqueConstraint("user_id", "currency", name="uq_wallet_user_currency"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    currency: Mapped[str] = mapped_column(String(3))
    #: Minor units of ``currency``; always the sum of the wallet's entries.
    balance: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user = relationship("User")


class WalletEntryKind(enum.StrEnum):
    """Why a wallet's balance moved."""

    TOPUP = "topup"  #: money added through checkout (an order's wallet top-up line)
    PURCHASE = "purchase"  #: an order paid from the wallet
    RENEWAL = "renewal"  #: a pack bought by the card's auto-renew rule
    REFUND = "refund"  #: a refund of something the wallet paid for
    ADJUSTMENT = "adjustment"  #: a correction by the operator, with its reason


class WalletEntry(db.Model):
    """One movement of a wallet. Rows are only ever added, never changed.

    ``reference`` names what the movement was for ("order:WD-...", "renewal:<key>", a refund's
    key); it is unique per wallet and kind, so the same order, renewal or refund can never move
    a wallet twice, whatever retries or races happen above.
    """

    __tablename__ = "wallet_entry"
    __table_args__ = (
        Index("ix_wallet_entry_wallet_created", "wallet_id", "created_at"),
        UniqueConstraint("wallet_id", "kind", "reference", name="uq_wallet_entry_reference"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallet.id"))
    #: Signed minor units: money in positive, money out negative.
    amount: Mapped[int]
    #: The wallet's balance right after this entry.
    balance_after: Mapped[int]
    kind: Mapped[WalletEntryKind] = mapped_column(
        Enum(WalletEntryKind, native_enum=False, length=16, values_callable=_values)
    )
    reference: Mapped[str] = mapped_column(String(64))
    #: The reason of an adjustment, the pack of a renewal, the order of a purchase.
    note: Mapped[str] = mapped_column(String(200), default="")
    #: Who moved it: the customer, the admin who adjusted it; empty for the system.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
