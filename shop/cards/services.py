"""Card rules: registering and suspending cards, applying packs, top-up history."""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import selectinload

from shop.audit.services import Actor, record_event
from shop.cards.models import (
    Card,
    CardStatus,
    CardUsageDay,
    DeliveryStatus,
    TopUp,
    TopUpDelivery,
    TopUpSource,
)
from shop.cards.numbers import InvalidCardNumber as InvalidCardNumber
from shop.cards.numbers import normalise_card_number
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow

_signals = Namespace()
#: Sent with ``card=`` when a person looks a card up: the network package, which sits above
#: this one, refreshes the card's figures from the network (rate limited) when it hears it.
card_looked_up = _signals.signal("cards.looked-up")

#: Days of usage the card page and the API show.
USAGE_DAYS = 30


class CardError(Exception):
    """Base of card errors."""


class CardNotFound(CardError):
    """No card with that number is registered."""


class CardExists(CardError):
    """The card is registered already."""


class CardSuspended(CardError):
    """The card is suspended; nothing can be applied to it."""


@dataclass(frozen=True)
class PackGrant:
    """What a top-up adds to a card: a pack's data and validity, as sold."""

    product_id: int
    data_mb: int
    validity_days: int

    @classmethod
    def of_product(cls, product) -> "PackGrant":
        """Return the grant of a catalog product as it is now."""
        return cls(product.id, product.data_mb, product.validity_days)


def find_card(number: str) -> Card:
    """Return the card with this number (any accepted spelling)."""
    normalised = normalise_card_number(number)
    query = db.select(Card).filter_by(number=normalised)
    card = db.session.execute(query).scalar_one_or_none()
    if card is None:
        raise CardNotFound(normalised)
    return card


def get_card(card_id: int) -> Card:
    """Return the card with this id."""
    card = db.session.get(Card, card_id)
    if card is None:
        raise CardNotFound(str(card_id))
    return card


def register_card(
    number: str,
    *,
    status: CardStatus = CardStatus.ACTIVE,
    region: str = "",
    owner_id: int | None = None,
    actor: Actor | None = None,
) -> Card:
    """Register a new card and commit."""
    begin_write(db.session)
    normalised = normalise_card_number(number)
    exists = db.session.execute(db.select(Card.id).filter_by(number=normalised)).first()
    if exists:
        raise CardExists(normalised)
    card = Card(
        number=normalised, status=status, region=(region or "").strip()[:60], owner_id=owner_id
    )
    db.session.add(card)
    db.session.flush()
    record_event(
        "card.created",
        actor,
        object_type="card",
        object_id=card.number,
        details={"status": status.value},
    )
    db.session.commit()
    return card


def set_card_status(card_id: int, status: CardStatus, actor: Actor | None = None) -> Card:
    """Suspend or reactivate a card and commit."""
    begin_write(db.session)
    card = get_card(card_id)
    if card.status != status:
        card.status = status
        action = "card.suspended" if status == CardStatus.SUSPENDED else "card.reactivated"
        record_event(action, actor, object_type="card", object_id=card.number)
        db.session.commit()
    return card


def extended_expiry(current: datetime | None, validity_days: int, now: datetime) -> datetime:
    """Return the new expiry: validity counts from now, or from the old expiry if that is later."""
    start = current if current is not None and current > now else now
    return start + timedelta(days=validity_days)


#: :func:`extended_expiry` as a PostgreSQL expression, for statements that update the card row
#: themselves; ``{current}``, ``{days}`` and ``{now}`` are SQL expressions. ``GREATEST`` skips a
#: NULL, and a day is 24 hours as in ``timedelta`` (not a calendar day of the session's zone).
#: ``tests/test_redemption.py`` checks both agree.
EXTENDED_EXPIRY_SQL = "GREATEST({current}, {now}) + make_interval(hours => 24 * {days})"


@dataclass(frozen=True)
class CardState:
    """A card's row as read under its lock: what a top-up needs, without ORM bookkeeping."""

    id: int
    number: str
    status: CardStatus
    data_balance_mb: int
    expires_at: datetime | None


@dataclass(frozen=True)
class AppliedTopUp:
    """A top-up just written, and the card as it is after it."""

    id: int
    product_id: int
    data_mb: int
    validity_days: int
    channel: str
    reference: str
    old_expires_at: datetime | None
    new_expires_at: datetime
    created_at: datetime
    card: CardState
    #: Its pending delivery to the network.
    delivery_id: int | None = None


_CARD = Card.__table__
_TOPUP = TopUp.__table__
#: Prepared statements of a top-up, compiled once per process.
_LOCK_CARD = (
    select(_CARD.c.id, _CARD.c.number, _CARD.c.status, _CARD.c.data_balance_mb, _CARD.c.expires_at)
    .where(_CARD.c.number == bindparam("card_number"))
    .with_for_update()
)
_CREDIT_CARD = (
    update(_CARD)
    .where(_CARD.c.id == bindparam("card_id"))
    .values(
        data_balance_mb=_CARD.c.data_balance_mb + bindparam("added_mb"),
        expires_at=bindparam("new_expiry"),
    )
)
_INSERT_TOPUP = insert(_TOPUP).returning(_TOPUP.c.id)
_DELIVERY = TopUpDelivery.__table__
_INSERT_DELIVERY = insert(_DELIVERY).returning(_DELIVERY.c.id)

#: ``session.info`` key: ids of deliveries written in the open transaction, to queue at commit.
NEW_DELIVERIES = "cards.new_deliveries"


def new_delivery(topup_id: int, card_id: int, now: datetime) -> dict:
    """Return the row of a top-up's pending delivery to the network, due at once."""
    give_up = timedelta(hours=current_app.config["NETWORK_DELIVERY_GIVE_UP_HOURS"])
    return {
        "topup_id": topup_id,
        "card_id": card_id,
        "request_id": "wd-" + secrets.token_hex(16),
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": None,
        "give_up_at": now + give_up,
        "last_error": "",
        "network_reference": "",
        "created_at": now,
        "finished_at": None,
    }


def lock_card(number: str) -> CardState:
    """Return a card's state, locked until the transaction ends.

    ``FOR UPDATE`` on PostgreSQL; on SQLite the write lock of the ``begin_write`` use case.
    """
    normalised = normalise_card_number(number)
    row = db.session.connection().execute(_LOCK_CARD, {"card_number": normalised}).first()
    if row is None:
        raise CardNotFound(normalised)
    return CardState(*row)


def apply_pack(
    card,
    grant: PackGrant,
    *,
    source: TopUpSource,
    channel: str,
    agent_id: int | None = None,
    reference: str = "",
    now: datetime | None = None,
) -> AppliedTopUp:
    """Add a pack's data and validity to a card inside the caller's transaction.

    The top-up's delivery to the network is written ``pending`` beside it; the job queue
    picks it up once the caller commits.

    ``card`` is a :class:`CardState` or a ``Card`` read under the card's lock (its row lock on
    PostgreSQL, the write lock of a ``begin_write`` use case on SQLite), so two top-ups of one
    card cannot both extend from the same old expiry. Two prepared statements, no ORM flush
    (voucher redemptions do the same in ``vouchers.redemption_sql``). The caller commits.
    """
    if card.status != CardStatus.ACTIVE:
        raise CardSuspended(card.number)
    now = now or utcnow()
    old_expiry = card.expires_at
    new_expiry = extended_expiry(old_expiry, grant.validity_days, now)
    connection = db.session.connection()
    connection.execute(
        _CREDIT_CARD, {"card_id": card.id, "added_mb": grant.data_mb, "new_expiry": new_expiry}
    )
    topup_id = connection.execute(
        _INSERT_TOPUP,
        {
            "card_id": card.id,
            "product_id": grant.product_id,
            "data_mb": grant.data_mb,
            "validity_days": grant.validity_days,
            "source": source,
            "channel": channel,
            "agent_id": agent_id,
            "reference": reference,
            "old_expires_at": old_expiry,
            "new_expires_at": new_expiry,
            "created_at": now,
        },
    ).scalar_one()
    delivery_id = connection.execute(
        _INSERT_DELIVERY, new_delivery(topup_id, card.id, now)
    ).scalar_one()
    db.session.info.setdefault(NEW_DELIVERIES, []).append(delivery_id)
    balance = card.data_balance_mb + grant.data_mb
    after = CardState(card.id, card.number, card.status, balance, new_expiry)
    if isinstance(card, Card):
        db.session.expire(card)  # the UPDATE bypassed the ORM; reload on next access
    return AppliedTopUp(
        topup_id,
        grant.product_id,
        grant.data_mb,
        grant.validity_days,
        channel,
        reference,
        old_expiry,
        new_expiry,
        now,
        after,
        delivery_id,
    )


def pack_period(card_id: int) -> int:
    """Return the card's pack period: the id of its latest delivered top-up, 0 before any.

    A new pack on the card, once the network has it, starts a new period: alerts fire once per
    period and kind, auto-renew renews once per period. Top-ups from before deliveries existed
    (no delivery row) count as delivered.
    """
    latest = db.session.execute(
        select(func.max(TopUp.id))
        .outerjoin(TopUpDelivery, TopUpDelivery.topup_id == TopUp.id)
        .where(
            TopUp.card_id == card_id,
            or_(TopUpDelivery.id.is_(None), TopUpDelivery.status == DeliveryStatus.DELIVERED),
        )
    ).scalar_one()
    return latest or 0


def top_up_history(card: Card, limit: int = 50) -> list[TopUp]:
    """Return the card's latest top-ups with their deliveries, newest first."""
    query = (
        db.select(TopUp)
        .options(selectinload(TopUp.delivery))
        .filter_by(card_id=card.id)
        .order_by(TopUp.created_at.desc(), TopUp.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def search_cards(number_prefix: str = "", limit: int = 100) -> list[Card]:
    """Return cards whose number starts with the given digits, newest first (admin)."""
    query = db.select(Card).order_by(Card.created_at.desc(), Card.id.desc()).limit(limit)
    prefix = "".join(ch for ch in (number_prefix or "") if ch.isdigit() or ch == "+")
    if prefix:
        query = query.filter(Card.number.startswith(prefix, autoescape=True))
    return list(db.session.execute(query).scalars())


def is_card_expired(card: Card, now: datetime | None = None) -> bool:
    """Return whether the card's data validity has run out."""
    return card.expires_at is not None and card.expires_at <= (now or utcnow())


def usage_by_day(card: Card, today: date | None = None, days: int = USAGE_DAYS) -> list[tuple]:
    """Return ``(day, used_mb)`` for each of the last ``days`` days up to today, zeros included."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    rows = db.session.execute(
        db.select(CardUsageDay.day, CardUsageDay.used_mb).where(
            CardUsageDay.card_id == card.id, CardUsageDay.day >= first, CardUsageDay.day <= today
        )
    ).all()
    used = dict(rows)
    every_day = (first + timedelta(days=n) for n in range(days))
    return [(day, used.get(day, 0)) for day in every_day]
