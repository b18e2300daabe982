"""A registered customer's saved cards: add by number, list with balance, remove.

Saving an unowned card makes the customer its owner, so the card page shows them its top-up
history; a card another account owns cannot be saved (the history is theirs). Removing it
gives the ownership up again.
"""

from sqlalchemy import select

from shop.audit.services import Actor, record_event
from shop.auth.models import User
from shop.cards import services as card_services
from shop.cards.models import Card
from shop.db import begin_write
from shop.extensions import db
from shop.storefront.models import SavedCard

MAX_SAVED_CARDS = 20


class SavedCardError(Exception):
    """A card that cannot be saved; ``reason`` picks the message."""

    def __init__(self, reason: str, error: Exception | None = None):
        super().__init__(reason)
        self.reason = reason
        self.error = error


def saved_cards(user_id: int) -> list[SavedCard]:
    """Return the customer's saved cards, oldest first."""
    return list(
        db.session.execute(
            select(SavedCard).filter_by(user_id=user_id).order_by(SavedCard.id)
        ).scalars()
    )


def get_saved_card(user_id: int, saved_id: int) -> SavedCard | None:
    """Return one of the customer's saved cards (None for anyone else's)."""
    saved = db.session.get(SavedCard, saved_id)
    return saved if saved is not None and saved.user_id == user_id else None


def save_card(user_id: int, number: str, label: str, actor: Actor) -> SavedCard:
    """Save a card by its number; raise SavedCardError (invalid, not_found, owned, exists, full).

    One customer's saves run one at a time (SQLite's write lock, or the customer's row locked on
    PostgreSQL), so two at once can neither save the same card twice nor pass the limit.
    """
    begin_write(db.session)
    try:
        return _save_locked(user_id, number, label, actor)
    except BaseException:
        db.session.rollback()  # let the next writer in at once
        raise


def _save_locked(user_id: int, number: str, label: str, actor: Actor) -> SavedCard:
    """Save the card in the open write transaction, the customer's row locked first."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    try:
        card = card_services.find_card(number)
    except card_services.CardNotFound as exc:
        raise SavedCardError("not_found") from exc
    except ValueError as exc:  # InvalidCardNumber
        raise SavedCardError("invalid", exc) from exc
    if card.owner_id is not None and card.owner_id != user_id:
        raise SavedCardError("owned")
    existing = saved_cards(user_id)
    if any(saved.card_id == card.id for saved in existing):
        raise SavedCardError("exists")
    if len(existing) >= MAX_SAVED_CARDS:
        raise SavedCardError("full")
    if card.owner_id is None:
        db.session.execute(
            db.update(Card)
            .where(Card.id == card.id, Card.owner_id.is_(None))
            .values(owner_id=user_id)
        )
        db.session.expire(card)
        if card.owner_id != user_id:  # someone else claimed it this instant
            raise SavedCardError("owned")
    saved = SavedCard(user_id=user_id, card_id=card.id, label=label.strip()[:60])
    db.session.add(saved)
    record_event("card.saved", actor, object_type="card", object_id=card.number)
    db.session.commit()
    return saved


def remove_saved_card(saved: SavedCard, actor: Actor) -> None:
    """Forget a saved card; the customer stops being its owner."""
    number = saved.card.number
    db.session.execute(
        db.update(Card)
        .where(Card.id == saved.card_id, Card.owner_id == saved.user_id)
        .values(owner_id=None)
    )
    db.session.delete(saved)
    record_event("card.unsaved", actor, object_type="card", object_id=number)
    db.session.commit()
