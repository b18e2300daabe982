"""One ledger mechanism for every balance the shop keeps: agents' floats and customers' wallets.

A book is an account table with a ``balance`` column and an append-only entry table whose rows
name the account, the signed amount and the balance right after it. Every movement is one
conditional ``UPDATE ... SET balance = balance + :amount WHERE id = :id AND <conditions>
RETURNING balance`` followed by one entry row, in the caller's transaction:

- a debit's condition includes the account's floor (``balance - :amount >= floor``), so of
  several racing debits only those the balance can pay for match, whatever the concurrency;
- the entry records the balance the update returned, so the balance always equals the sum of
  the entries (checked by ``ledger_sum``).

Callers own the transaction and commit it. Amounts are whole minor units greater than zero.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, select, update

from shop.extensions import db
from shop.timeutil import utcnow


class InvalidAmount(ValueError):
    """Amounts are whole minor units greater than zero."""


def check_amount(amount: int) -> None:
    """Refuse anything but a whole number of minor units greater than zero."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidAmount("a whole number of minor units greater than zero")


class Mover(Protocol):
    """Who moves a balance (``shop.audit.services.Actor``): a user, or none for the system."""

    user_id: int | None


@dataclass(frozen=True)
class Book:
    """An account table and its entry table (``account_column`` names the account)."""

    accounts: Table
    entries: Table
    account_column: str

    def debit(self, *conditions: ColumnElement, floor: ColumnElement | int = 0):
        """Build a debit: ``amount`` off the balance if it stays at ``floor`` or above."""
        table = self.accounts
        return self._move(
            -bindparam("amount"), table.c.balance - bindparam("amount") >= floor, *conditions
        )

    def credit(self, *conditions: ColumnElement):
        """Build a credit: ``amount`` onto the balance if ``conditions`` hold."""
        return self._move(bindparam("amount"), *conditions)

    def _move(self, delta, *conditions: ColumnElement):
        table = self.accounts
        return (
            update(table)
            .where(table.c.id == bindparam("account_id"), *conditions)
            .values(balance=table.c.balance + delta)
            .returning(table.c.balance)
        )

    def apply(self, statement, account_id: int, amount: int) -> int | None:
        """Run a debit or credit of this book; the new balance, or None if it did not match."""
        check_amount(amount)
        return (
            db.session.connection()
            .execute(statement, {"account_id": account_id, "amount": amount})
            .scalar()
        )

    def record(
        self,
        account_id: int,
        amount: int,
        balance_after: int,
        *,
        kind: str,
        reference: str,
        note: str = "",
        actor: Mover | None = None,
    ) -> None:
        """Append the entry of a movement (signed ``amount``) that left ``balance_after``.

        Every book's entries name why (``kind``), what for (``reference``, up to 64 characters),
        a note (up to 200) and who moved it (the actor's user, none for the system).
        """
        row = {
            self.account_column: account_id,
            "amount": amount,
            "balance_after": balance_after,
            "kind": kind,
            "reference": reference[:64],
            "note": note[:200],
            "user_id": actor.user_id if actor else None,
            "created_at": utcnow(),
        }
        db.session.connection().execute(insert(self.entries), row)

    def ledger_sum(self, account_id: int) -> int:
        """Return the sum of an account's entries (which must equal its balance)."""
        column = self.entries.c[self.account_column]
        return db.session.execute(
            select(func.coalesce(func.sum(self.entries.c.amount), 0)).where(column == account_id)
        ).scalar_one()

    def mismatches(self, account_ids: Sequence[int] | None = None) -> list[tuple[int, int, int]]:
        """Return (account id, balance, ledger sum) of each account not equal to its sum."""
        column = self.entries.c[self.account_column]
        sums = (
            select(column.label("account_id"), func.sum(self.entries.c.amount).label("total"))
            .group_by(column)
            .subquery()
        )
        total = func.coalesce(sums.c.total, 0)
        query = (
            select(self.accounts.c.id, self.accounts.c.balance, total)
            .select_from(self.accounts.outerjoin(sums, sums.c.account_id == self.accounts.c.id))
            .where(self.accounts.c.balance != total)
        )
        if account_ids is not None:
            query = query.where(self.accounts.c.id.in_(list(account_ids)))
        return [tuple(row) for row in db.session.execute(query)]
