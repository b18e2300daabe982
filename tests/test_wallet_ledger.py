"""A wallet never goes below zero and always equals its ledger, whatever the concurrency.

The wallet is the shop's second book of the one ledger mechanism (``shop.ledger``): these
tests race debits and credits on one wallet and check every entry.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import IntegrityError

from shop import ledger
from shop.audit.services import Actor
from shop.db import begin_write
from shop.extensions import db
from shop.wallet import services as wallets
from shop.wallet.models import Wallet, WalletEntry, WalletEntryKind
from tests.factories import make_user

ACTOR = Actor(label="test", ip_address="10.1.1.2")
WORKERS = 12


@pytest.fixture
def app_config():
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": WORKERS + 4,
            "max_overflow": 0,
            "pool_timeout": 60,
        }
    }


def funded_wallet(amount: int, currency: str = "USD") -> int:
    user = make_user()
    wallet = wallets.wallet_for(user.id, currency)
    wallets.credit(
        wallet.id, amount, kind=WalletEntryKind.TOPUP, reference="order:seed", actor=ACTOR
    )
    db.session.commit()
    return wallet.id


def entries(wallet_id: int) -> list[WalletEntry]:
    return list(
        db.session.execute(
            db.select(WalletEntry).filter_by(wallet_id=wallet_id).order_by(WalletEntry.id)
        ).scalars()
    )


def test_a_wallet_is_opened_once_per_user_and_currency(app):
    user = make_user()
    first = wallets.wallet_for(user.id, "usd")
    again = wallets.wallet_for(user.id, "USD")
    other = wallets.wallet_for(user.id, "CNY")
    db.session.commit()
    assert first.id == again.id != other.id
    assert first.balance == 0 and first.currency == "USD"
    assert [w.currency for w in wallets.user_wallets(user.id)] == ["CNY", "USD"]


def test_a_debit_larger_than_the_balance_takes_nothing(app):
    wallet_id = funded_wallet(500)
    with pytest.raises(wallets.InsufficientFunds) as refused:
        wallets.debit(
            wallet_id, 501, kind=WalletEntryKind.PURCHASE, reference="order:A", actor=ACTOR
        )
    db.session.commit()
    assert (refused.value.balance, refused.value.amount) == (500, 501)
    assert db.session.get(Wallet, wallet_id).balance == 500
    assert [e.amount for e in entries(wallet_id)] == [500]


def test_a_debit_of_exactly_the_balance_leaves_zero(app):
    wallet_id = funded_wallet(500)
    balance = wallets.debit(
        wallet_id, 500, kind=WalletEntryKind.PURCHASE, reference="order:B", actor=ACTOR
    )
    db.session.commit()
    assert (
        balance == 0 == db.session.get(Wallet, wallet_id).balance == wallets.ledger_sum(wallet_id)
    )
    assert [(e.amount, e.balance_after) for e in entries(wallet_id)] == [(500, 500), (-500, 0)]


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "100"])
def test_amounts_are_whole_minor_units_above_zero(app, amount):
    wallet_id = funded_wallet(500)
    with pytest.raises(ledger.InvalidAmount):
        wallets.credit(
            wallet_id, amount, kind=WalletEntryKind.ADJUSTMENT, reference="adj:1", actor=ACTOR
        )
    db.session.rollback()
    assert db.session.get(Wallet, wallet_id).balance == 500


def test_the_same_reference_cannot_move_a_wallet_twice(app):
    wallet_id = funded_wallet(1000)
    wallets.debit(wallet_id, 100, kind=WalletEntryKind.PURCHASE, reference="order:C", actor=ACTOR)
    db.session.commit()
    with pytest.raises(IntegrityError):
        wallets.debit(
            wallet_id, 100, kind=WalletEntryKind.PURCHASE, reference="order:C", actor=ACTOR
        )
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Wallet, wallet_id).balance == 900 == wallets.ledger_sum(wallet_id)


@pytest.mark.slow
def test_racing_debits_take_only_what_the_wallet_holds(app):
    """Twelve threads each try to take 300 from a wallet of 1,000: exactly three succeed."""
    wallet_id = funded_wallet(1000)
    barrier = threading.Barrier(WORKERS)

    def take(number):
        with app.app_context():
            barrier.wait()
            begin_write(db.session)
            try:
                wallets.debit(
                    wallet_id,
                    300,
                    kind=WalletEntryKind.PURCHASE,
                    reference=f"order:R{number}",
                    actor=ACTOR,
                )
                db.session.commit()
                return True
            except wallets.InsufficientFunds:
                db.session.rollback()
                return False

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(take, range(WORKERS)))
    db.session.rollback()  # end this thread's read snapshot (SQLite)
    wallet = db.session.get(Wallet, wallet_id)
    assert outcomes.count(True) == 3
    assert wallet.balance == 100 == wallets.ledger_sum(wallet_id)
    rows = entries(wallet_id)
    assert sorted(e.balance_after for e in rows[1:]) == [100, 400, 700]
    assert all(e.balance_after >= 0 for e in rows)
    assert wallets.BOOK.mismatches() == []
