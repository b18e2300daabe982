"""Deciding and sending a card's alerts: once per card, pack period and kind.

A card's **pack period** is its latest delivered top-up (its id; 0 before any): a new pack on
the card starts a new period, and every kind may then fire again. A check reads the card's
figures (the network's last known ones), works out which kinds are reached, and for each new
one inserts a ``CardAlert`` row with "on conflict do nothing" before writing its e-mail and
text message in the same transaction: of checks running at once (20 copies of one event, the
sync and a callback together) only the one whose insert took the row sends. Of kinds reached
together, the most serious of a ladder is sent and the milder ones are only recorded.

The owner is the card's account (its e-mail, and its mobile number), else the buyer of the
latest order that topped the card up (the order's e-mail and language); a card that is itself
a phone number gets the text message when no account number is known. No alert carries a PIN.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from shop.alerts.messages import Contact, send_alert
from shop.alerts.models import AlertKind, AlertPreference, CardAlert
from shop.auth.models import User
from shop.cards import services as card_services
from shop.cards.models import Card, CardStatus
from shop.cards.numbers import card_number_kind
from shop.db import begin_write
from shop.extensions import db
from shop.storefront.models import Delivery, Order, OrderStatus
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_LOW_DATA_MB = 100
#: The "less than N MB" threshold an owner may choose.
LOW_DATA_RANGE = (1, 10_000)
#: A kind is not sent when a more serious one is reached too (sent or recorded already).
SUPERSEDED_BY = {
    AlertKind.USAGE_75: {AlertKind.USAGE_90, AlertKind.USED_UP},
    AlertKind.USAGE_90: {AlertKind.USED_UP},
    AlertKind.LOW_DATA: {AlertKind.USED_UP},
    AlertKind.EXPIRES_3_DAYS: {AlertKind.EXPIRES_1_DAY, AlertKind.EXPIRED},
    AlertKind.EXPIRES_1_DAY: {AlertKind.EXPIRED},
}
#: The network's events and what they report, beside the figures they carry.
EVENT_KINDS = {"data.exhausted": AlertKind.USED_UP, "validity.ended": AlertKind.EXPIRED}
#: Orders whose buyer is the card's contact (paid for and applied to it).
BUYER_STATUSES = (OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)


KIND_VALUES = frozenset(kind.value for kind in AlertKind)


class PreferenceError(ValueError):
    """An owner's choice that cannot be kept (threshold out of range, unknown kind)."""


@dataclass(frozen=True)
class Preference:
    """An owner's choice for one card: kinds turned off, the low-data threshold."""

    disabled: frozenset[AlertKind]
    low_data_mb: int

    def enabled(self, kind: AlertKind) -> bool:
        """Return whether the owner wants this kind."""
        return kind not in self.disabled


DEFAULT_PREFERENCE = Preference(frozenset(), DEFAULT_LOW_DATA_MB)


def contact_of(card: Card) -> Contact | None:
    """Return whom the card's alerts go to: its account, else its latest buyer; or None."""
    phone = card.number if card_number_kind(card.number) == "phone" else ""
    if card.owner_id is not None:
        owner = db.session.get(User, card.owner_id)
        if owner is not None and owner.active:
            locale = owner.preferred_locale or "en"
            return Contact(f"user:{owner.id}", owner.email, owner.phone or phone, locale)
    order = db.session.execute(
        select(Order)
        .where(
            Order.card_id == card.id,
            Order.delivery == Delivery.TOPUP,
            Order.status.in_(BUYER_STATUSES),
        )
        .order_by(Order.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if order is None:
        return None
    return Contact(f"email:{order.email.lower()}", order.email, phone, order.locale or "en")


def preference_for(card_id: int, owner_key: str) -> Preference:
    """Return the owner's choice for the card (the defaults when never changed)."""
    row = db.session.execute(
        select(AlertPreference).filter_by(card_id=card_id, owner_key=owner_key)
    ).scalar_one_or_none()
    if row is None:
        return DEFAULT_PREFERENCE
    disabled = frozenset(
        AlertKind(name) for name in row.disabled_kinds.split(",") if name in KIND_VALUES
    )
    return Preference(disabled, row.low_data_mb)


def save_preference(
    card_id: int, owner_key: str, enabled: set[AlertKind], low_data_mb: int
) -> Preference:
    """Keep an owner's choice of alerts for a card and commit."""
    low, high = LOW_DATA_RANGE
    if not low <= low_data_mb <= high:
        raise PreferenceError("low_data_mb")
    disabled = sorted(kind.value for kind in set(AlertKind) - set(enabled))
    begin_write(db.session)
    row = db.session.execute(
        select(AlertPreference).filter_by(card_id=card_id, owner_key=owner_key)
    ).scalar_one_or_none()
    if row is None:
        row = AlertPreference(card_id=card_id, owner_key=owner_key)
        db.session.add(row)
    row.disabled_kinds = ",".join(disabled)
    row.low_data_mb = low_data_mb
    row.updated_at = utcnow()
    db.session.commit()
    return preference_for(card_id, owner_key)


def reached_kinds(
    card: Card, low_data_mb: int, now: datetime, reported: set[AlertKind] = frozenset()
) -> set[AlertKind]:
    """Return the kinds the card's figures (and what the network reported) have reached."""
    reached = set(reported)
    used, left = card.data_used_mb or 0, card.data_balance_mb or 0
    total = used + left
    expired = card.expires_at is not None and card.expires_at <= now
    if total > 0:
        if used * 100 >= 75 * total:
            reached.add(AlertKind.USAGE_75)
        if used * 100 >= 90 * total:
            reached.add(AlertKind.USAGE_90)
        if left == 0:
            reached.add(AlertKind.USED_UP)
        elif left < low_data_mb and not expired:
            reached.add(AlertKind.LOW_DATA)
    if card.expires_at is not None:
        if expired:
            reached.add(AlertKind.EXPIRED)
        if card.expires_at <= now + timedelta(days=1):
            reached.add(AlertKind.EXPIRES_1_DAY)
        if card.expires_at <= now + timedelta(days=3):
            reached.add(AlertKind.EXPIRES_3_DAYS)
    return reached


def _claim(card_id: int, period: int, kind: AlertKind, sent: bool, recipients: str) -> bool:
    """Insert the alert's row unless it exists; return whether this transaction inserted it."""
    values = {
        "card_id": card_id,
        "period": period,
        "kind": kind.value,
        "sent": sent,
        "recipients": recipients[:300],
        "created_at": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(CardAlert).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(CardAlert).on_conflict_do_nothing()
    else:  # pragma: no cover - the shop runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    inserted = db.session.execute(statement.values(**values).returning(CardAlert.id))
    return inserted.first() is not None


def check_card(
    card_id: int, now: datetime | None = None, reported: set[AlertKind] = frozenset()
) -> list[AlertKind]:
    """Send the alerts the card has newly reached in its pack period and commit.

    Returns the kinds sent by this call (none when another check sent them first).
    """
    now = now or utcnow()
    begin_write(db.session)
    card = db.session.get(Card, card_id, populate_existing=True)
    contact = contact_of(card) if card is not None else None
    if contact is None or card.status != CardStatus.ACTIVE:
        db.session.rollback()
        return []
    period = card_services.pack_period(card.id)
    preference = preference_for(card.id, contact.owner_key)
    wanted = {
        kind
        for kind in reached_kinds(card, preference.low_data_mb, now, reported)
        if preference.enabled(kind)
    }
    recorded = set(
        db.session.execute(
            select(CardAlert.kind).filter_by(card_id=card.id, period=period)
        ).scalars()
    )
    sent = []
    for kind in sorted(wanted - recorded, key=list(AlertKind).index):
        superseded = bool(SUPERSEDED_BY.get(kind, set()) & (wanted | recorded))
        recipients = ", ".join(filter(None, (contact.email, contact.phone)))
        if not _claim(card.id, period, kind, not superseded, recipients):
            continue  # another check took it
        if not superseded:
            send_alert(card, kind, contact, preference.low_data_mb)
            sent.append(kind)
    db.session.commit()
    if sent:
        log.info("card %s: alerts %s sent (period %s)", card_id, [k.value for k in sent], period)
    return sent


def check_after_change(
    _sender, card_id: int, event_kind: str = "", payload: dict | None = None
) -> None:
    """Check a card whose figures the network just changed (``card_figures_changed``)."""
    reported = set()
    if event_kind in EVENT_KINDS:
        reported.add(EVENT_KINDS[event_kind])
    if event_kind == "usage.threshold":
        percent = (payload or {}).get("threshold_percent")
        if isinstance(percent, int | float) and percent >= 75:
            reported.add(AlertKind.USAGE_75)
        if isinstance(percent, int | float) and percent >= 90:
            reported.add(AlertKind.USAGE_90)
    check_card(card_id, reported=reported)


def cards_near_expiry(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Return ids of active cards whose validity ends within 3 days or ended in the last day."""
    now = now or utcnow()
    return list(
        db.session.execute(
            select(Card.id)
            .where(
                Card.status == CardStatus.ACTIVE,
                Card.expires_at > now - timedelta(days=1),
                Card.expires_at <= now + timedelta(days=3),
            )
            .order_by(Card.expires_at, Card.id)
            .limit(limit)
        ).scalars()
    )


def check_expiring_cards(now: datetime | None = None) -> int:
    """Check every card near its end of validity; return how many alerts went out."""
    card_ids = cards_near_expiry(now)
    db.session.commit()
    count = 0
    for card_id in card_ids:
        count += len(check_card(card_id, now))
    return count
