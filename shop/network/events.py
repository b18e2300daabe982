"""The network's signed callbacks: verified over the raw body, kept once, then acted on.

The signature (HMAC-SHA256 of ``<timestamp>.<body>`` with ``NETWORK_WEBHOOK_SECRET``) must
match and its timestamp be within the replay window. A verified event is kept as a
``NetworkEvent`` under its id, in the same transaction as what it changes: an id seen before,
an event of a card the shop does not know, or a kind it does not know changes nothing.
"""

import json
import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError

from shop.audit.services import record_event
from shop.cards.models import Card, CardStatus, DeliveryStatus, TopUpDelivery
from shop.cards.numbers import InvalidCardNumber, normalise_card_number
from shop.db import begin_write
from shop.extensions import db
from shop.network import delivery as deliveries
from shop.network.http import figures_from_json, parse_timestamp
from shop.network.models import NetworkEvent, NetworkEventKind
from shop.network.signing import SIGNATURE_HEADER, BadSignature, verify
from shop.network.status import NETWORK_ACTOR, announce_figures, record_figures
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

#: The secret simulator mode uses when ``NETWORK_WEBHOOK_SECRET`` is empty (the simulator's).
SIMULATOR_WEBHOOK_SECRET = "simulator-network-webhook-secret"  # noqa: S105 - public demo value


class EventRejected(Exception):
    """The callback does not verify or cannot be read: nothing was done."""


@dataclass(frozen=True)
class EventOutcome:
    """What became of a verified callback: ``applied``, ``duplicate`` or ``ignored``."""

    outcome: str
    event_id: str = ""


def webhook_secret() -> str:
    """Return the secret callbacks are signed with."""
    config = current_app.config
    if config["NETWORK_WEBHOOK_SECRET"]:
        return config["NETWORK_WEBHOOK_SECRET"]
    return SIMULATOR_WEBHOOK_SECRET if config["NETWORK_MODE"] == "simulator" else ""


def _parse(raw_body: bytes) -> tuple[str, str, dict, object]:
    try:
        event = json.loads(raw_body)
        event_id = str(event["id"])[:64]
        kind = str(event["type"])
        data = event["data"]
        occurred_at = parse_timestamp(event.get("created_at")) or utcnow()
    except (ValueError, KeyError, TypeError) as exc:
        raise EventRejected(f"unreadable event: {exc.__class__.__name__}") from None
    if not event_id or not isinstance(data, dict):
        raise EventRejected("unreadable event: no id or data")
    return event_id, kind, data, occurred_at


def receive_event(headers, raw_body: bytes) -> EventOutcome:
    """Verify, record and apply one callback of the network, and commit."""
    try:
        verify(
            webhook_secret(),
            headers.get(SIGNATURE_HEADER),
            raw_body,
            current_app.config["NETWORK_EVENT_MAX_AGE_SECONDS"],
        )
    except BadSignature as exc:
        raise EventRejected(str(exc)) from None
    event_id, kind_name, data, occurred_at = _parse(raw_body)
    try:
        kind = NetworkEventKind(kind_name)
        number = normalise_card_number(str(data.get("iccid", "")))
    except (ValueError, InvalidCardNumber):
        log.info("network event %s (%s) ignored: unknown kind or card number", event_id, kind_name)
        return EventOutcome("ignored", event_id)
    begin_write(db.session)
    card = db.session.execute(db.select(Card).filter_by(number=number)).scalar_one_or_none()
    if card is None:
        db.session.rollback()
        log.info("network event %s ignored: card unknown to the shop", event_id)
        return EventOutcome("ignored", event_id)
    seen = db.session.execute(db.select(NetworkEvent.id).filter_by(event_id=event_id)).first()
    if seen:
        db.session.rollback()
        return EventOutcome("duplicate", event_id)
    request_id = str(data.get("request_id", ""))[:40] if "pack" in kind.value else ""
    card_id = card.id
    db.session.add(
        NetworkEvent(
            event_id=event_id,
            kind=kind,
            card_id=card.id,
            request_id=request_id,
            payload=data,
            occurred_at=occurred_at,
        )
    )
    try:
        db.session.flush()
        _apply(kind, card, data, request_id)
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at once
        db.session.rollback()
        return EventOutcome("duplicate", event_id)
    except (KeyError, TypeError, ValueError) as exc:
        db.session.rollback()
        raise EventRejected(f"unreadable event data: {exc.__class__.__name__}") from None
    announce_figures(card_id, kind.value, data)
    return EventOutcome("applied", event_id)


def _apply(kind: NetworkEventKind, card: Card, data: dict, request_id: str) -> None:
    if isinstance(data.get("card"), dict):
        figures = figures_from_json(data["card"])
        if figures.card_number != card.number:
            raise ValueError("figures of another card")
        record_figures(card, figures)
    if kind in (NetworkEventKind.PACK_APPLIED, NetworkEventKind.PACK_FAILED):
        delivery = db.session.execute(
            db.select(TopUpDelivery).filter_by(request_id=request_id, card_id=card.id)
        ).scalar_one_or_none()
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        if kind == NetworkEventKind.PACK_APPLIED:
            deliveries.mark_delivered(delivery, str(data.get("reference", "")))
        else:
            deliveries.mark_failed(delivery, f"network: {data.get('reason', 'pack failed')}")
    elif kind == NetworkEventKind.CARD_SUSPENDED and card.status == CardStatus.ACTIVE:
        card.status = CardStatus.SUSPENDED
        record_event("card.suspended", NETWORK_ACTOR, object_type="card", object_id=card.number)
