"""A card's figures from the network: recorded from answers and events, refreshed, synced.

``data_balance_mb``, ``data_used_mb`` and ``expires_at`` of a card are the network's last
known figures, with the time they were true (``network_as_of``); an older answer never
overwrites a newer one. Daily usage is kept per card and day for the 30-day chart.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import or_, update

from shop.audit.services import Actor, record_event
from shop.cards.models import Card, CardStatus, CardUsageDay
from shop.cards.services import USAGE_DAYS
from shop.db import begin_write
from shop.extensions import db
from shop.network.gateway import CardFigures, NetworkError, UsageRecord, gateway
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

NETWORK_ACTOR = Actor.system("network")

_signals = Namespace()
#: Sent after the commit that recorded new figures of a card, with ``card_id=``, and for an
#: event ``event_kind=`` and ``payload=``: the alerts package, above this one, listens.
card_figures_changed = _signals.signal("network.card-figures-changed")


def announce_figures(card_id: int, event_kind: str = "", payload: dict | None = None) -> None:
    """Tell listeners that a card's figures changed (after the commit); never raise."""
    try:
        card_figures_changed.send(None, card_id=card_id, event_kind=event_kind, payload=payload)
    except Exception:  # a listener's failure must not undo what the network told us
        db.session.rollback()
        log.exception("a listener to new figures of card %s failed", card_id)


def record_figures(card: Card, figures: CardFigures) -> bool:
    """Take the network's figures of a card unless newer ones are recorded; the caller commits.

    A card the network reports suspended is suspended here too (audited); the network never
    reactivates a card in the shop, that stays the operator's decision.
    """
    if figures.suspended and card.status == CardStatus.ACTIVE:
        card.status = CardStatus.SUSPENDED
        record_event("card.suspended", NETWORK_ACTOR, object_type="card", object_id=card.number)
    if card.network_as_of is not None and figures.as_of < card.network_as_of:
        return False
    card.data_balance_mb = figures.remaining_mb
    card.data_used_mb = figures.used_mb
    if figures.expires_at is not None:
        card.expires_at = figures.expires_at
    card.network_as_of = figures.as_of
    return True


def record_usage(card: Card, records: list[UsageRecord]) -> None:
    """Keep the network's daily usage of a card (a day's figure replaces the older one)."""
    for record in records:
        db.session.merge(CardUsageDay(card_id=card.id, day=record.day, used_mb=record.used_mb))


def _ask_network(card: Card, timeout: float | None) -> bool:
    network = gateway()
    try:
        figures = network.card_figures(card.number, timeout=timeout)
        usage = network.usage(card.number, USAGE_DAYS)
    except NetworkError as exc:
        log.warning("network figures of card %s not read: %s", card.id, exc)
        return False
    begin_write(db.session)
    card = db.session.get(Card, card.id, populate_existing=True)
    changed = record_figures(card, figures)
    record_usage(card, usage)
    db.session.commit()
    if changed:
        announce_figures(card.id)
    return True


def refresh_card(card: Card) -> bool:
    """Ask the network about a card a person is looking at, at most once a refresh interval.

    The time of asking is claimed by a conditional update, so of many people looking at once
    only one asks. Returns whether new figures were recorded; a network that does not answer
    quickly leaves the last known figures (and their "as of" time) on show.
    """
    now = utcnow()
    interval = timedelta(seconds=current_app.config["NETWORK_REFRESH_SECONDS"])
    begin_write(db.session)
    claimed = db.session.execute(
        update(Card)
        .where(
            Card.id == card.id,
            or_(Card.network_asked_at.is_(None), Card.network_asked_at < now - interval),
        )
        .values(network_asked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return False
    return _ask_network(card, current_app.config["NETWORK_REFRESH_TIMEOUT_SECONDS"])


@dataclass
class SyncReport:
    """What one periodic sync did."""

    asked: int = 0
    updated: int = 0
    unanswered: int = 0


def cards_to_sync(limit: int, now=None) -> list[int]:
    """Return ids of active cards whose data is still valid (or ended in the last day).

    Those are the cards that can be using data; least recently synced first.
    """
    now = now or utcnow()
    query = (
        db.select(Card.id)
        .where(Card.status == CardStatus.ACTIVE, Card.expires_at > now - timedelta(days=1))
        .order_by(Card.network_as_of.is_not(None), Card.network_as_of, Card.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def sync_recent_cards(limit: int | None = None) -> SyncReport:
    """Read figures and usage of recently active cards from the network, one card at a time."""
    report = SyncReport()
    card_ids = cards_to_sync(limit or current_app.config["NETWORK_SYNC_BATCH"])
    db.session.commit()
    for card_id in card_ids:
        card = db.session.get(Card, card_id)
        report.asked += 1
        if _ask_network(card, None):
            report.updated += 1
        else:
            report.unanswered += 1
    return report


def refresh_on_look(_sender, card: Card) -> None:
    """Refresh a card a person looked up (``cards.services.card_looked_up``); never raise."""
    try:
        refresh_card(card)
    except Exception:  # the page shows the last known figures whatever happens here
        db.session.rollback()
        log.exception("refreshing card %s from the network failed", card.id)
