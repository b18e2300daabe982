"""Helpers for auto-renew tests: an owned card in a pack period, a funded wallet, the outcome."""

from datetime import timedelta

from sqlalchemy import func, select, update

from shop.auth.models import User
from shop.autorenew import services as autorenew
from shop.autorenew.models import Renewal, RenewalOutcome
from shop.cards import services as card_services
from shop.cards.models import Card, DeliveryStatus, TopUp, TopUpDelivery, TopUpSource
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.timeutil import utcnow
from shop.wallet.models import Wallet, WalletEntry, WalletEntryKind
from tests.factories import make_card, make_product, make_user

PHONE = "+66812345678"
PACK_MB = 2048
PRICE = 500


def owner(locale=None, phone=PHONE):
    """Return a registered customer with a mobile number."""
    user = make_user()
    db.session.execute(
        update(User).where(User.id == user.id).values(phone=phone, preferred_locale=locale)
    )
    db.session.commit()
    return user


def deliver_all(card_id: int) -> None:
    """Let the network confirm every top-up of the card: a new pack period begins."""
    db.session.execute(
        update(TopUpDelivery)
        .where(TopUpDelivery.card_id == card_id)
        .values(status=DeliveryStatus.DELIVERED)
    )
    db.session.commit()


def owned_card(user=None):
    """Return (owner, card): a card of the owner with one delivered pack on it."""
    user = user or owner()
    card = make_card(owner=user)
    card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant(make_product(data_mb=PACK_MB).id, PACK_MB, 30),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()
    deliver_all(card.id)
    return user, card


def set_figures(card_id, left=0, expires_in=timedelta(days=20)):
    """Record the network's figures of a card."""
    db.session.execute(
        update(Card)
        .where(Card.id == card_id)
        .values(data_balance_mb=left, data_used_mb=PACK_MB - left, expires_at=utcnow() + expires_in)
    )
    db.session.commit()


def rule_for(user, card, product=None, trigger="used_up", **choice):
    """Set up the card's rule as its owner would."""
    product = product or make_product(price=PRICE, data_mb=PACK_MB)
    return autorenew.save_rule(user.id, card.id, product.id, trigger, **choice)


def renewal_entries(user_id: int) -> list[WalletEntry]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(WalletEntry)
            .join(Wallet, Wallet.id == WalletEntry.wallet_id)
            .where(Wallet.user_id == user_id, WalletEntry.kind == WalletEntryKind.RENEWAL)
        ).scalars()
    )


def renewals(card_id: int, outcome: RenewalOutcome | None = None) -> list[Renewal]:
    db.session.rollback()
    query = select(Renewal).filter_by(card_id=card_id).order_by(Renewal.id)
    if outcome is not None:
        query = query.filter_by(outcome=outcome)
    return list(db.session.execute(query).scalars())


def auto_topups(card_id: int) -> list[TopUp]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(TopUp).filter_by(card_id=card_id, source=TopUpSource.AUTO_RENEW)
        ).scalars()
    )


def deliveries_of_auto_topups(card_id: int) -> int:
    db.session.rollback()
    return db.session.execute(
        select(func.count(TopUpDelivery.id))
        .join(TopUp, TopUp.id == TopUpDelivery.topup_id)
        .where(TopUp.card_id == card_id, TopUp.source == TopUpSource.AUTO_RENEW)
    ).scalar_one()


def messages(kind_prefix="autorenew_") -> list[OutboxMessage]:
    db.session.rollback()
    return list(
        db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.kind.like(f"{kind_prefix}%"))
            .order_by(OutboxMessage.id)
        ).scalars()
    )
