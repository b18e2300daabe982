"""The network's signed callbacks: what verifies changes the shop once, anything else nothing."""

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func

from shop.cards import services as card_services
from shop.cards.models import CardStatus, DeliveryStatus, TopUpSource
from shop.extensions import db
from shop.network.models import NetworkEvent, NetworkEventKind
from shop.network.signing import SIGNATURE_HEADER, sign
from shop.timeutil import utcnow
from tests.factories import make_card, make_product
from tests.network_helpers import card_row, delivery_of

SECRET = "test-network-webhook-secret"  # noqa: S105 - a test value
URL = "/network/events"


@pytest.fixture
def app_config():
    return {"NETWORK_WEBHOOK_SECRET": SECRET}


def event(kind, number, event_id="evt_1", **data):
    figures = data.pop("card", None)
    body = {"id": event_id, "type": kind, "created_at": utcnow().isoformat()}
    body["data"] = {"iccid": number, **({"card": figures} if figures else {}), **data}
    return json.dumps(body).encode()


def figures(number, remaining, used, as_of=None):
    return {
        "iccid": number,
        "status": "active",
        "total_mb": remaining + used,
        "used_mb": used,
        "remaining_mb": remaining,
        "expires_at": (utcnow() + timedelta(days=10)).isoformat(),
        "as_of": (as_of or utcnow()).isoformat(),
    }


def post(client, body, secret=SECRET, timestamp=None):
    headers = {SIGNATURE_HEADER: sign(secret, body, timestamp), "Content-Type": "application/json"}
    return client.post(URL, data=body, headers=headers)


def events_stored() -> int:
    db.session.rollback()
    return db.session.execute(db.select(func.count(NetworkEvent.id))).scalar_one()


def test_a_usage_threshold_event_is_kept_and_updates_the_cards_figures(app, client):
    card = make_card()
    body = event(
        "usage.threshold", card.number, threshold_percent=80, card=figures(card.number, 200, 824)
    )

    response = post(client, body)

    assert response.status_code == 200 and response.get_json()["outcome"] == "applied"
    (stored,) = db.session.execute(db.select(NetworkEvent)).scalars()
    assert stored.kind == NetworkEventKind.USAGE_THRESHOLD and stored.card_id == card.id
    assert stored.payload["threshold_percent"] == 80
    card = card_row(card.id)
    assert (card.data_balance_mb, card.data_used_mb) == (200, 824)


def test_a_forged_signature_is_refused_and_changes_nothing(app, client):
    card = make_card()
    body = event("card.suspended", card.number)

    response = post(client, body, secret="not-the-secret")  # noqa: S106 - a forger's guess

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "event_rejected"
    assert events_stored() == 0 and card_row(card.id).status == CardStatus.ACTIVE


def test_a_body_changed_after_signing_is_refused(app, client):
    card = make_card()
    signed = event("card.suspended", card.number)
    header = sign(SECRET, signed)
    tampered = signed.replace(b"evt_1", b"evt_2")

    response = client.post(URL, data=tampered, headers={SIGNATURE_HEADER: header})

    assert response.status_code == 400 and events_stored() == 0


@pytest.mark.parametrize("age", [301, -301])
def test_a_timestamp_outside_five_minutes_is_refused(app, client, age):
    card = make_card()

    response = post(client, event("card.suspended", card.number), timestamp=time.time() - age)

    assert response.status_code == 400
    assert events_stored() == 0 and card_row(card.id).status == CardStatus.ACTIVE


def test_a_missing_or_malformed_signature_is_refused(app, client):
    card = make_card()
    body = event("card.suspended", card.number)
    assert client.post(URL, data=body).status_code == 400
    assert client.post(URL, data=body, headers={SIGNATURE_HEADER: "v1=00"}).status_code == 400
    assert events_stored() == 0


def test_a_replayed_event_id_changes_nothing(app, client):
    card = make_card()
    first = event("usage.threshold", card.number, card=figures(card.number, 500, 500))
    assert post(client, first).get_json()["outcome"] == "applied"
    later = utcnow() + timedelta(minutes=1)
    replay = event("usage.threshold", card.number, card=figures(card.number, 1, 999, later))

    response = post(client, replay)

    assert response.status_code == 200 and response.get_json()["outcome"] == "duplicate"
    assert events_stored() == 1
    assert card_row(card.id).data_balance_mb == 500


def test_an_event_of_a_card_unknown_to_the_shop_is_ignored(app, client):
    response = post(client, event("data.exhausted", "8944000000000000027"))

    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    assert events_stored() == 0


def test_an_event_of_an_unknown_kind_is_ignored(app, client):
    card = make_card()

    response = post(client, event("card.teleported", card.number))

    assert response.get_json()["outcome"] == "ignored" and events_stored() == 0


def test_unreadable_json_is_refused(app, client):
    assert post(client, b"{not json").status_code == 400
    assert post(client, b'{"id": "x", "type": "card.suspended"}').status_code == 400


def test_older_figures_never_overwrite_newer_ones(app, client):
    card = make_card()
    now = utcnow()
    post(
        client,
        event("usage.threshold", card.number, "evt_new", card=figures(card.number, 10, 90, now)),
    )
    stale = figures(card.number, 100, 0, now - timedelta(minutes=5))
    post(client, event("usage.threshold", card.number, "evt_old", card=stale))

    assert card_row(card.id).data_balance_mb == 10
    assert events_stored() == 2, "both are kept; only the newer figures count"


def test_the_network_suspending_a_card_suspends_it_in_the_shop(app, client):
    card = make_card()

    assert post(client, event("card.suspended", card.number)).status_code == 200

    assert card_row(card.id).status == CardStatus.SUSPENDED


def test_a_pack_applied_event_marks_the_delivery_delivered_once(app, client):
    card = make_card()
    applied = card_services.apply_pack(
        card_services.lock_card(card.number),
        card_services.PackGrant.of_product(make_product()),
        source=TopUpSource.ADMIN,
        channel="cli",
    )
    db.session.commit()  # the network at 127.0.0.1:1 does not answer: it stays pending
    delivery = delivery_of(applied.id)
    assert delivery.status == DeliveryStatus.PENDING
    body = event("pack.applied", card.number, request_id=delivery.request_id, reference="NW-REF-1")

    assert post(client, body).get_json()["outcome"] == "applied"

    delivery = delivery_of(applied.id)
    assert (delivery.status, delivery.network_reference) == (DeliveryStatus.DELIVERED, "NW-REF-1")
    other = event("pack.failed", card.number, "evt_2", request_id=delivery.request_id)
    assert post(client, other).get_json()["outcome"] == "applied"
    assert delivery_of(applied.id).status == DeliveryStatus.DELIVERED, "delivered stays delivered"
