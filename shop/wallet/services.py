"""Wallet rules: the balance moves only through the shop's ledger, never below zero.

``credit`` and ``debit`` run inside the caller's transaction (an order's settlement, a
renewal, a refund) and leave the commit to it: the wallet moves together with what it paid
for, or not at all. Each movement names its reference ("order:WD-...", "renewal:<key>"),
unique per wallet and kind, so a retried or racing caller cannot move a wallet twice.
"""

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key

from shop import ledger
from shop.audit.services import Actor
from shop.extensions import db
from shop.timeutil import utcnow
from shop.wallet.models import Wallet, WalletEntry, WalletEntryKind

BOOK = ledger.Book(Wallet.__table__, WalletEntry.__table__, "wallet_id")
_DEBIT = BOOK.debit(floor=0)
_CREDIT = BOOK.credit()

InvalidAmount = ledger.InvalidAmount


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


def _record(wallet_id, amount, balance_after, kind, reference, note, actor) -> None:
    if not reference:
        raise ValueError("every wallet movement names its reference")
    BOOK.record(
        wallet_id,
        amount,
        balance_after,
        kind=kind,
        reference=reference[:64],
        note=note[:200],
        user_id=actor.user_id if actor else None,
    )


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
    balance = BOOK.apply(_CREDIT, wallet_id, amount)
    if balance is None:
        raise LookupError(f"no wallet {wallet_id}")
    _record(wallet_id, amount, balance, kind, reference, note, actor)
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
    balance = BOOK.apply(_DEBIT, wallet_id, amount)
    if balance is None:
        held = db.session.execute(
            select(Wallet.balance).where(Wallet.id == wallet_id)
        ).scalar_one_or_none()
        if held is None:
            raise LookupError(f"no wallet {wallet_id}")
        raise InsufficientFunds(held, amount)
    _record(wallet_id, -amount, balance, kind, reference, note, actor)
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
