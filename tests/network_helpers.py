"""Helpers for network tests: the simulator in a thread, deliveries and cards as stored."""

from sqlalchemy import update

from shop.cards.models import Card, TopUpDelivery
from shop.extensions import db
from shop.timeutil import utcnow
from simulators.network import NetworkSimulator


def empty_network() -> NetworkSimulator:
    """Return the network simulator on a free loopback port, knowing no card, sending no events.

    Use it in a ``with`` block (it serves from entering to leaving).
    """
    return NetworkSimulator(CARDS=(), SUSPENDED_CARDS=())


def delivery_of(topup_id: int) -> TopUpDelivery:
    """Return a top-up's delivery as committed."""
    db.session.rollback()
    return db.session.execute(
        db.select(TopUpDelivery)
        .filter_by(topup_id=topup_id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def card_row(card_id: int) -> Card:
    """Return a card as committed."""
    db.session.rollback()
    return db.session.get(Card, card_id, populate_existing=True)


def make_due(delivery_id: int) -> None:
    """Let time pass until a delivery's next attempt (and any claim on it) is due."""
    db.session.execute(
        update(TopUpDelivery)
        .where(TopUpDelivery.id == delivery_id)
        .values(next_attempt_at=utcnow(), claimed_until=None)
    )
    db.session.commit()
