"""The customer's wallet in tests: fund it, read it, top it up through the storefront."""

import itertools

from shop.audit.services import Actor
from shop.extensions import db
from shop.wallet import services as wallet_services
from shop.wallet.models import WalletEntry, WalletEntryKind
from tests.storefront_helpers import path_of

_references = itertools.count(1)


def _id_of(user) -> int:
    """Return the id of a user given as a ``User`` or as its id."""
    return getattr(user, "id", user)


def fund(user, amount: int, currency: str = "USD", reference: str | None = None) -> int:
    """Put ``amount`` in the user's wallet (an adjustment) and commit; return the wallet id.

    ``user`` is a ``User`` or its id; each call has a reference of its own unless one is given.
    """
    reference = reference or f"adjustment:test-{next(_references)}"
    wallet = wallet_services.wallet_for(_id_of(user), currency)
    wallet_services.credit(
        wallet.id,
        amount,
        kind=WalletEntryKind.ADJUSTMENT,
        reference=reference,
        actor=Actor.system("test"),
        note="test money",
    )
    db.session.commit()
    return wallet.id


def balance(user, currency: str = "USD") -> int:
    """Return the user's (or user id's) balance in ``currency`` as the database has it now."""
    db.session.rollback()
    wallet = wallet_services.find_wallet(_id_of(user), currency)
    return wallet.balance if wallet is not None else 0


def entries(user, currency: str = "USD", kind: WalletEntryKind | None = None) -> list:
    """Return the user's wallet entries (optionally of one kind), oldest first."""
    db.session.rollback()
    wallet = wallet_services.find_wallet(user.id, currency)
    if wallet is None:
        return []
    query = db.select(WalletEntry).filter_by(wallet_id=wallet.id).order_by(WalletEntry.id)
    if kind is not None:
        query = query.filter_by(kind=kind)
    return list(db.session.execute(query).scalars())


def ledger_holds(user, currency: str = "USD") -> bool:
    """Return whether the wallet's balance equals its ledger's sum and is not negative."""
    db.session.rollback()
    wallet = wallet_services.find_wallet(user.id, currency)
    return (
        wallet.balance >= 0
        and wallet.balance == wallet_services.ledger_sum(wallet.id)
        and not wallet_services.BOOK.mismatches([wallet.id])
    )


def ask_topup(client, amount: str, currency: str = "USD", method: str = "paypal"):
    """Send the top-up form; return the response."""
    return client.post(
        "/account/wallet/top-up",
        data={"currency": currency, "amount": amount, "payment_method": method},
    )


def place_topup(client, amount: str, currency: str = "USD", method: str = "paypal") -> str:
    """Place a top-up order; return its order page path."""
    response = ask_topup(client, amount, currency, method)
    assert response.status_code == 303, response.get_data(as_text=True)
    return path_of(response.headers["Location"])
