"""Wallet rules: the balance moves only through the shop's ledger, never below zero.

``credit`` and ``debit`` run inside the caller's transaction (an order's settlement, a
renewal, a refund) and leave the commit to it: the wallet moves together with what it paid
for, or not at all. Each movement names its reference ("order:WD-...", "renewal:<key>"),
unique per wallet and kind, so a retried or racing caller cannot move a wallet twice.
"""

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.util import identity_key

from shop import ledger
from shop.audit.services import Actor, record_event
from shop.auth.models import User
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow
from shop.wallet.models import Wallet, WalletEntry, WalletEntryKind

BOOK = ledger.Book(Wallet.__table__, WalletEntry.__table__, "wallet_id")
_DEBIT = BOOK.debit(floor=0)
_CREDIT = BOOK.credit()

InvalidAmount = ledger.InvalidAmount
#: The largest adjustment, in minor units (balances are 32-bit integers in the database).
ADJUSTMENT_MAX = 100_000_000
#: The adjustment form's key: a double submit adjusts once.
ADJUSTMENT_KEY = re.compile(r"^[0-9a-f]{16}$")


class WalletError(Exception):
    """Base of wallet errors."""


class InsufficientFunds(WalletError):
    """The wallet holds less than the amount; nothing was taken."""

    def __init__(self, balance: int, amount: int):
        super().__init__(f"balance {balance} is less than {amount}")
        self.balance = balance
        self.amount = amount


def _insert_ignoring_duplicate(dialect: str):
    table = Wallet.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=["user_id", "currency"])


def wallet_for(user_id: int, currency: str) -> Wallet:
    """Return the user's wallet in ``currency``, opening an empty one if there is none.

    Two requests opening the same wallet at once both get the one row (insert "on conflict do
    nothing", then read). The caller commits.
    """
    currency = currency.upper()
    found = find_wallet(user_id, currency)
    if found is not None:
        return found
    dialect = db.session.get_bind().dialect.name
    db.session.execute(
        _insert_ignoring_duplicate(dialect).values(
            user_id=user_id, currency=currency, balance=0, created_at=utcnow()
        )
    )
    return find_wallet(user_id, currency)


def find_wallet(user_id: int, currency: str) -> Wallet | None:
    """Return the user's wallet in ``currency``, or None if none was opened."""
    return db.session.execute(
        select(Wallet).filter_by(user_id=user_id, currency=currency.upper())
    ).scalar_one_or_none()


def user_wallets(user_id: int) -> list[Wallet]:
    """Return every wallet of a user, by currency."""
    return list(
        db.session.execute(
            select(Wallet).filter_by(user_id=user_id).order_by(Wallet.currency)
        ).scalars()
    )


def _check_reference(reference: str) -> None:
    if not reference:
        raise ValueError("every wallet movement names its reference")


def credit(
    wallet_id: int,
    amount: int,
    *,
    kind: WalletEntryKind,
    reference: str,
    actor: Actor | None,
    note: str = "",
) -> int:
    """Add ``amount`` to a wallet in the caller's transaction; return the new balance."""
    _check_reference(reference)
    balance = BOOK.apply(_CREDIT, wallet_id, amount)
    if balance is None:
        raise LookupError(f"no wallet {wallet_id}")
    BOOK.record(wallet_id, amount, balance, kind=kind, reference=reference, note=note, actor=actor)
    _expire(wallet_id)
    return balance


def debit(
    wallet_id: int,
    amount: int,
    *,
    kind: WalletEntryKind,
    reference: str,
    actor: Actor | None,
    note: str = "",
) -> int:
    """Take ``amount`` from a wallet in the caller's transaction; return the new balance.

    All or nothing: a wallet holding less raises :class:`InsufficientFunds` and nothing moves.
    Of several debits racing for one wallet, only those the balance covers match the update.
    """
    _check_reference(reference)
    balance = BOOK.apply(_DEBIT, wallet_id, amount)
    if balance is None:
        held = db.session.execute(
            select(Wallet.balance).where(Wallet.id == wallet_id)
        ).scalar_one_or_none()
        if held is None:
            raise LookupError(f"no wallet {wallet_id}")
        raise InsufficientFunds(held, amount)
    BOOK.record(wallet_id, -amount, balance, kind=kind, reference=reference, note=note, actor=actor)
    _expire(wallet_id)
    return balance


def _expire(wallet_id: int) -> None:
    """Have a loaded wallet reload its balance (the UPDATE bypassed the ORM)."""
    wallet = db.session.identity_map.get(identity_key(Wallet, wallet_id))
    if wallet is not None:
        db.session.expire(wallet, ["balance"])


def ledger_sum(wallet_id: int) -> int:
    """Return the sum of a wallet's entries (which must equal its balance)."""
    return BOOK.ledger_sum(wallet_id)


def history(wallet_id: int, limit: int | None = 200) -> list[WalletEntry]:
    """Return a wallet's entries, newest first."""
    query = (
        select(WalletEntry)
        .filter_by(wallet_id=wallet_id)
        .order_by(WalletEntry.created_at.desc(), WalletEntry.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


class AdjustmentRefused(WalletError):
    """An adjustment the operator may not make; ``reason`` names why, nothing moved."""

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


@dataclass(frozen=True)
class Adjusted:
    """An adjustment made (or found already made under the same key)."""

    wallet_id: int
    balance: int
    duplicate: bool


def adjust(wallet_id: int, amount: int, reason: str, key: str, actor: Actor) -> Adjusted:
    """Add (positive) or take (negative) ``amount`` with the operator's reason; commit.

    Never below zero: taking more than the balance is refused. ``key`` comes from the form,
    so a form sent twice adjusts once. Audited as ``wallet.adjusted``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise AdjustmentRefused("reason_missing")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise AdjustmentRefused("amount_invalid")
    if abs(amount) > ADJUSTMENT_MAX:
        raise AdjustmentRefused("amount_too_large", maximum=ADJUSTMENT_MAX)
    if not ADJUSTMENT_KEY.match(key or ""):
        raise AdjustmentRefused("key_invalid")
    reference = f"adjustment:{key}"
    begin_write(db.session)
    try:
        wallet = db.session.get(Wallet, wallet_id)
        if wallet is None:
            raise LookupError(f"no wallet {wallet_id}")
        done = db.session.execute(
            select(WalletEntry.id).filter_by(
                wallet_id=wallet_id, kind=WalletEntryKind.ADJUSTMENT, reference=reference
            )
        ).first()
        if done is not None:
            balance = wallet.balance
            db.session.rollback()
            return Adjusted(wallet_id, balance, True)
        move = credit if amount > 0 else debit
        try:
            balance = move(
                wallet_id,
                abs(amount),
                kind=WalletEntryKind.ADJUSTMENT,
                reference=reference,
                actor=actor,
                note=reason,
            )
        except InsufficientFunds as exc:
            raise AdjustmentRefused("below_zero", balance=exc.balance) from None
        except DataError:  # the balance would pass what the database's integer holds
            raise AdjustmentRefused("amount_too_large", maximum=ADJUSTMENT_MAX) from None
        record_event(
            "wallet.adjusted",
            actor,
            object_type="wallet",
            object_id=wallet_id,
            details={
                "user": wallet.user_id,
                "currency": wallet.currency,
                "amount": amount,
                "balance": balance,
                "reason": reason[:200],
            },
        )
    except IntegrityError:  # the same form sent twice at once: the other one adjusted
        db.session.rollback()
        wallet = db.session.get(Wallet, wallet_id)
        return Adjusted(wallet_id, wallet.balance, True)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return Adjusted(wallet_id, balance, False)


def search_wallets(email: str = "", limit: int = 100) -> list[Wallet]:
    """Return wallets whose owner's e-mail contains ``email`` (all of them if empty)."""
    query = select(Wallet).join(User, User.id == Wallet.user_id)
    needle = (email or "").strip().lower()
    if needle:
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(User.email).like(f"%{escaped}%", escape="\\"))
    return list(
        db.session.execute(query.order_by(User.email, Wallet.currency).limit(limit)).scalars()
    )
