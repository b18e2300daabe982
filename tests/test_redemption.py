"""Redeeming a PIN onto a card: the service, the JSON API, the redeem page, limits and replays."""

import json
import logging
import secrets
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update

from shop.api.models import IdempotencyRecord
from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.cards.forms import CARD_NUMBER_PROBLEMS
from shop.cards.models import Card, CardStatus, TopUp, TopUpSource
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import lifecycle, services
from shop.vouchers.messages import REDEMPTION_MESSAGES
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import damm_check_digit, format_pin
from tests.factories import iccid, make_card, make_product
from tests.vouchers_helpers import make_vouchers, pin_spellings

ACTOR = Actor(label="test", ip_address="192.0.2.1")
URL = "/api/v1/redemptions"


# --- helpers --------------------------------------------------------------------------------


def pin_nobody_has() -> str:
    body = f"{secrets.randbelow(10**15):015d}"
    return body + damm_check_digit(body)


def mistyped(pin: str) -> str:
    """The PIN with its last digit changed: the check digit fails."""
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)


def redeem(client, pin, card, address=None, **kwargs):
    if address is not None:
        kwargs["environ_base"] = {"REMOTE_ADDR": address}
    return client.post(URL, json={"pin": pin, "card": card}, **kwargs)


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def reload_card(card_id: int) -> Card:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Card, card_id)


def voucher_row(voucher_id: int) -> Voucher:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Voucher, voucher_id)


def topups() -> list[TopUp]:
    db.session.rollback()
    return list(db.session.execute(select(TopUp).order_by(TopUp.id)).scalars())


def database_state() -> tuple:
    """What a refused redemption must leave exactly as it was."""
    db.session.rollback()
    db.session.expire_all()
    cards = db.session.execute(
        select(Card.id, Card.status, Card.data_balance_mb, Card.expires_at).order_by(Card.id)
    ).all()
    vouchers = db.session.execute(
        select(Voucher.id, Voucher.status, Voucher.redeemed_card_id, Voucher.redeemed_at).order_by(
            Voucher.id
        )
    ).all()
    topup_count = db.session.execute(select(func.count(TopUp.id))).scalar_one()
    return [tuple(row) for row in cards], [tuple(row) for row in vouchers], topup_count


def set_card_expiry(card: Card, when) -> None:
    db.session.execute(update(Card).where(Card.id == card.id).values(expires_at=when))
    db.session.commit()


def keys_of(value) -> set[str]:
    """Every key of every object nested in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


@pytest.fixture
def pack(app):
    return make_product(sku="ASIA-2GB", data_mb=2048, validity_days=30)


# --- the service: what a redemption does to a card -------------------------------------------


def test_redeeming_a_fresh_voucher_adds_the_pack_to_a_card_without_expiry(pack):
    card = make_card()
    (voucher,) = make_vouchers(pack)
    before = utcnow()

    result = services.redeem_voucher(voucher.pin, card.number, channel="web", actor=ACTOR)

    after = utcnow()
    card = reload_card(card.id)
    assert card.data_balance_mb == 2048
    assert before + timedelta(days=30) <= card.expires_at <= after + timedelta(days=30)
    (topup,) = topups()
    assert topup.id == result.topup.id
    assert (topup.card_id, topup.product_id) == (card.id, pack.id)
    assert (topup.data_mb, topup.validity_days) == (2048, 30)
    assert topup.source == TopUpSource.VOUCHER
    assert topup.channel == "web"
    assert topup.reference == voucher.serial
    assert topup.old_expires_at is None
    assert topup.new_expires_at == card.expires_at
    stored = voucher_row(voucher.id)
    assert stored.status == VoucherStatus.REDEEMED
    assert stored.redeemed_card_id == card.id
    assert before <= stored.redeemed_at <= after
    event = db.session.execute(select(AuditEvent).filter_by(action="voucher.redeemed")).scalar_one()
    assert event.object_id == voucher.serial
    assert event.details["card"] == card.number


def test_a_pack_redeemed_before_the_card_runs_out_extends_from_the_old_expiry(pack):
    card = make_card()
    old_expiry = utcnow() + timedelta(days=10)
    set_card_expiry(card, old_expiry)
    (voucher,) = make_vouchers(pack)

    services.redeem_voucher(format_pin(voucher.pin), card.number, channel="api", actor=ACTOR)

    card = reload_card(card.id)
    assert card.expires_at == old_expiry + timedelta(days=30)
    (topup,) = topups()
    assert topup.old_expires_at == old_expiry
    assert topup.new_expires_at == old_expiry + timedelta(days=30)
    assert topup.channel == "api"


def test_a_pack_redeemed_after_the_card_ran_out_counts_from_now(pack):
    card = make_card()
    old_expiry = utcnow() - timedelta(days=5)
    set_card_expiry(card, old_expiry)
    (voucher,) = make_vouchers(pack)
    before = utcnow()

    services.redeem_voucher(voucher.pin, card.number, channel="web", actor=ACTOR)

    after = utcnow()
    card = reload_card(card.id)
    assert before + timedelta(days=30) <= card.expires_at <= after + timedelta(days=30)
    (topup,) = topups()
    assert topup.old_expires_at == old_expiry


def test_two_packs_on_one_card_add_up(pack):
    card = make_card()
    first, second = make_vouchers(pack, 2)

    services.redeem_voucher(first.pin, card.number, channel="web", actor=ACTOR)
    expiry_after_first = reload_card(card.id).expires_at
    services.redeem_voucher(second.pin, card.number, channel="web", actor=ACTOR)

    card = reload_card(card.id)
    assert card.data_balance_mb == 4096
    assert card.expires_at == expiry_after_first + timedelta(days=30)


def test_second_redemption_of_a_pin_is_refused(pack):
    card, other_card = make_card(), make_card()
    (voucher,) = make_vouchers(pack)
    services.redeem_voucher(voucher.pin, card.number, channel="web", actor=ACTOR)

    with pytest.raises(services.VoucherAlreadyRedeemed):
        services.redeem_voucher(voucher.pin, other_card.number, channel="web", actor=ACTOR)

    assert reload_card(card.id).data_balance_mb == 2048
    assert reload_card(other_card.id).data_balance_mb == 0
    assert voucher_row(voucher.id).redeemed_card_id == card.id
    assert len(topups()) == 1


# --- the JSON API: success ------------------------------------------------------------------


def test_api_redemption_answers_201_with_the_documented_body_and_no_pin(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack)

    response = client.post(
        URL, json={"pin": "-".join(format_pin(voucher.pin).split()), "card": card.number}
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"topup", "card", "voucher", "delivery"}
    assert body["delivery"]["status"] == "pending"
    card = reload_card(card.id)
    (topup,) = topups()
    assert {"id", "sku", "data_mb", "validity_days", "expires_at"} <= set(body["topup"])
    assert body["topup"]["id"] == topup.id
    assert body["topup"]["sku"] == "ASIA-2GB"
    assert (body["topup"]["data_mb"], body["topup"]["validity_days"]) == (2048, 30)
    assert body["topup"]["expires_at"] == card.expires_at.isoformat()
    assert body["card"] == {
        "number": card.number,
        "status": "active",
        "data_balance_mb": 2048,
        "expires_at": card.expires_at.isoformat(),
    }
    assert body["voucher"] == {"serial": voucher.serial}
    assert card.expires_at.isoformat().endswith("+00:00")
    assert "pin" not in keys_of(body)
    raw = response.get_data(as_text=True)
    for spelling in pin_spellings(voucher.pin):
        assert spelling not in raw
    assert voucher_row(voucher.id).status == VoucherStatus.REDEEMED


# --- the JSON API: every refusal, with the database unchanged ----------------------------------


def scenario(code):
    """Build the situation that makes a redemption fail with ``code``: (pin, card number)."""
    product = make_product(data_mb=1024, validity_days=7)
    card = make_card()
    if code == "invalid_pin":
        (voucher,) = make_vouchers(product)
        return mistyped(voucher.pin), card.number
    if code == "voucher_not_found":
        make_vouchers(product)
        return pin_nobody_has(), card.number
    if code == "voucher_already_redeemed":
        (voucher,) = make_vouchers(product)
        services.redeem_voucher(voucher.pin, make_card().number, channel="web", actor=ACTOR)
        return voucher.pin, card.number
    if code == "voucher_void":
        (voucher,) = make_vouchers(product)
        assert lifecycle.transition_one(db.session.get(Voucher, voucher.id), VoucherStatus.VOID)
        db.session.commit()
        return voucher.pin, card.number
    if code == "voucher_inactive":
        (voucher,) = make_vouchers(product, inactive=True)
        return voucher.pin, card.number
    if code == "voucher_expired":
        (voucher,) = make_vouchers(product, shelf_life_days=1)
        past = utcnow() - timedelta(hours=1)
        db.session.execute(update(Voucher).where(Voucher.id == voucher.id).values(expires_at=past))
        db.session.commit()
        return voucher.pin, card.number
    (voucher,) = make_vouchers(product)
    if code == "card_not_found":
        return voucher.pin, iccid(999_999_999)
    if code == "card_suspended":
        return voucher.pin, make_card(status=CardStatus.SUSPENDED).number
    if code == "invalid_card_number":
        return voucher.pin, card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    raise AssertionError(code)


REFUSALS = [
    ("invalid_pin", 422),
    ("voucher_not_found", 404),
    ("voucher_already_redeemed", 409),
    ("voucher_void", 409),
    ("voucher_inactive", 409),
    ("voucher_expired", 410),
    ("card_not_found", 404),
    ("card_suspended", 409),
    ("invalid_card_number", 422),
]


@pytest.mark.parametrize(("code", "status"), REFUSALS, ids=[code for code, _ in REFUSALS])
def test_api_refusals_have_their_status_and_code_and_change_nothing(client, app, code, status):
    pin, card_number = scenario(code)
    cards_before, vouchers_before, topups_before = database_state()

    response = redeem(client, pin, card_number)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    cards_after, vouchers_after, topups_after = database_state()
    assert cards_after == cards_before
    assert topups_after == topups_before
    if code != "voucher_expired":  # an expired voucher is marked so, see below
        assert vouchers_after == vouchers_before


def test_an_expired_voucher_is_refused_and_marked_expired(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack, shelf_life_days=1)
    past = utcnow() - timedelta(minutes=1)
    db.session.execute(update(Voucher).where(Voucher.id == voucher.id).values(expires_at=past))
    db.session.commit()

    response = redeem(client, voucher.pin, card.number)

    assert response.status_code == 410
    assert error_code(response) == "voucher_expired"
    stored = voucher_row(voucher.id)
    assert stored.status == VoucherStatus.EXPIRED
    assert stored.expired_at is not None and stored.redeemed_at is None
    assert reload_card(card.id).data_balance_mb == 0
    assert topups() == []
    again = redeem(client, voucher.pin, card.number)
    assert (again.status_code, error_code(again)) == (410, "voucher_expired")


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"card": "8944000000000000001"}},
        {"json": {"pin": "1234 5678 9012 3456"}},
        {"json": {"pin": 1234567890123456, "card": "8944000000000000001"}},
        {"json": {"pin": "1234 5678 9012 3456", "card": 8944000000000000001}},
        {"json": {"pin": "", "card": "   "}},
        {"json": ["1234 5678 9012 3456", "8944000000000000001"]},
        {"data": "pin=1234567890123456&card=8944000000000000001", "content_type": "text/plain"},
        {"data": "{not json", "content_type": "application/json"},
    ],
    ids=[
        "missing-pin",
        "missing-card",
        "pin-not-a-string",
        "card-not-a-string",
        "blank",
        "array",
        "form-body",
        "broken-json",
    ],
)
def test_api_malformed_requests_are_invalid_request(client, pack, request_kwargs):
    card = make_card()
    make_vouchers(pack)
    before = database_state()

    response = client.post(URL, **request_kwargs)

    assert response.status_code == 422
    assert response.mimetype == "application/json"
    assert error_code(response) == "invalid_request"
    assert database_state() == before
    assert reload_card(card.id).data_balance_mb == 0


def test_a_missing_field_is_named_in_the_error(client, pack):
    response = client.post(URL, json={"card": make_card().number})
    assert response.get_json()["error"]["fields"] == {"pin": "required, a non-empty string"}


def test_mistyped_pins_do_not_count_as_guesses(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack)
    wrong = mistyped(voucher.pin)

    for _ in range(15):
        response = redeem(client, wrong, card.number)
        assert (response.status_code, error_code(response)) == (422, "invalid_pin")
    response = redeem(client, voucher.pin, card.number)

    assert response.status_code == 201
    assert reload_card(card.id).data_balance_mb == 2048


# --- guessing is bounded (invariant 8) ----------------------------------------------------------


def test_a_client_guessing_pins_is_stopped_after_ten_failures(client, pack):
    cards = [make_card() for _ in range(12)]
    (voucher,) = make_vouchers(pack)

    for card in cards[:10]:
        response = redeem(client, pin_nobody_has(), card.number)
        assert (response.status_code, error_code(response)) == (404, "voucher_not_found")
    blocked = redeem(client, pin_nobody_has(), cards[10].number)

    assert (blocked.status_code, error_code(blocked)) == (429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) > 0
    # Even a real PIN is not looked at from this client any more...
    also_blocked = redeem(client, voucher.pin, cards[11].number)
    assert also_blocked.status_code == 429
    assert voucher_row(voucher.id).status == VoucherStatus.ACTIVE
    # ...while another client is not affected.
    elsewhere = redeem(client, voucher.pin, cards[11].number, address="10.9.9.9")
    assert elsewhere.status_code == 201


def test_guesses_against_one_card_are_stopped_whatever_the_client_address(client, pack):
    card, other_card = make_card(), make_card()
    (voucher,) = make_vouchers(pack)

    for host in range(1, 11):
        response = redeem(client, pin_nobody_has(), card.number, address=f"10.0.0.{host}")
        assert (response.status_code, error_code(response)) == (404, "voucher_not_found")
    blocked = redeem(client, pin_nobody_has(), card.number, address="10.0.0.11")

    assert (blocked.status_code, error_code(blocked)) == (429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) > 0
    assert redeem(client, voucher.pin, card.number, address="10.0.0.12").status_code == 429
    assert reload_card(card.id).data_balance_mb == 0
    other = redeem(client, voucher.pin, other_card.number, address="10.0.0.13")
    assert other.status_code == 201


def test_successful_redemptions_do_not_use_up_the_guess_limit(client, pack):
    card = make_card()
    vouchers = make_vouchers(pack, 5)

    for _ in range(9):
        assert redeem(client, pin_nobody_has(), card.number).status_code == 404
    for voucher in vouchers:
        assert redeem(client, voucher.pin, card.number).status_code == 201
    tenth = redeem(client, pin_nobody_has(), card.number)
    eleventh = redeem(client, pin_nobody_has(), card.number)

    assert (tenth.status_code, error_code(tenth)) == (404, "voucher_not_found")
    assert (eleventh.status_code, error_code(eleventh)) == (429, "rate_limited")
    assert reload_card(card.id).data_balance_mb == 5 * 2048


def test_refusals_that_are_not_guesses_do_not_use_up_the_limit(client, pack):
    card = make_card()
    (redeemed,) = make_vouchers(pack)
    (inactive,) = make_vouchers(pack, inactive=True)
    (fresh,) = make_vouchers(pack)
    assert redeem(client, redeemed.pin, card.number).status_code == 201

    for _ in range(6):
        assert redeem(client, redeemed.pin, card.number).status_code == 409
        assert redeem(client, inactive.pin, card.number).status_code == 409
    for _ in range(9):
        assert redeem(client, pin_nobody_has(), card.number).status_code == 404

    assert redeem(client, fresh.pin, card.number).status_code == 201


# --- Idempotency-Key ------------------------------------------------------------------------


def test_a_repeated_request_with_the_same_key_replays_the_first_answer(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack)
    headers = {"Idempotency-Key": "till-7-sale-42"}

    first = client.post(URL, json={"pin": voucher.pin, "card": card.number}, headers=headers)
    second = client.post(URL, json={"pin": voucher.pin, "card": card.number}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(topups()) == 1
    assert reload_card(card.id).data_balance_mb == 2048


def test_the_same_key_with_another_body_is_refused(client, pack):
    card = make_card()
    first_voucher, second_voucher = make_vouchers(pack, 2)
    headers = {"Idempotency-Key": "till-7-sale-43"}
    client.post(URL, json={"pin": first_voucher.pin, "card": card.number}, headers=headers)

    response = client.post(
        URL, json={"pin": second_voucher.pin, "card": card.number}, headers=headers
    )

    assert (response.status_code, error_code(response)) == (422, "idempotency_key_reused")
    assert voucher_row(second_voucher.id).status == VoucherStatus.ACTIVE
    assert reload_card(card.id).data_balance_mb == 2048
    assert len(topups()) == 1


def test_a_key_stored_for_a_conflict_replays_the_same_conflict(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack, inactive=True)
    headers = {"Idempotency-Key": "till-7-sale-44"}
    body = {"pin": voucher.pin, "card": card.number}

    first = client.post(URL, json=body, headers=headers)
    # The voucher is sold in the meantime: the key still answers what it answered first.
    assert lifecycle.transition_one(voucher_row(voucher.id), VoucherStatus.ACTIVE, ACTOR)
    db.session.commit()
    second = client.post(URL, json=body, headers=headers)

    assert (first.status_code, error_code(first)) == (409, "voucher_inactive")
    assert second.status_code == 409
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert voucher_row(voucher.id).status == VoucherStatus.ACTIVE
    assert reload_card(card.id).data_balance_mb == 0
    fresh_key = client.post(URL, json=body, headers={"Idempotency-Key": "till-7-sale-45"})
    assert fresh_key.status_code == 201


def test_idempotency_records_hold_no_pin(client, pack):
    card = make_card()
    vouchers = make_vouchers(pack, 3)
    for number, voucher in enumerate(vouchers):
        client.post(
            URL,
            json={"pin": voucher.pin, "card": card.number},
            headers={"Idempotency-Key": f"key-{number}"},
        )
    client.post(
        URL,
        json={"pin": vouchers[0].pin, "card": card.number},
        headers={"Idempotency-Key": "key-refused"},
    )

    db.session.rollback()
    rows = db.session.execute(select(IdempotencyRecord.__table__)).all()
    assert len(rows) == 4
    assert {row.status_code for row in rows} == {201, 409}
    dump = "\n".join("|".join(str(value) for value in row) for row in rows)
    for voucher in vouchers:
        for spelling in pin_spellings(voucher.pin):
            assert spelling not in dump


# --- the redeem page --------------------------------------------------------------------------


def english(app, message) -> str:
    with app.test_request_context():
        return str(escape(str(message)))


PAGE_REFUSALS = [
    ("invalid_pin", 422, REDEMPTION_MESSAGES["invalid_pin"]),
    ("voucher_not_found", 404, REDEMPTION_MESSAGES["voucher_not_found"]),
    ("voucher_already_redeemed", 409, REDEMPTION_MESSAGES["voucher_already_redeemed"]),
    ("voucher_void", 409, REDEMPTION_MESSAGES["voucher_void"]),
    ("voucher_inactive", 409, REDEMPTION_MESSAGES["voucher_inactive"]),
    ("voucher_expired", 410, REDEMPTION_MESSAGES["voucher_expired"]),
    ("card_not_found", 404, REDEMPTION_MESSAGES["card_not_found"]),
    ("card_suspended", 409, REDEMPTION_MESSAGES["card_suspended"]),
    ("invalid_card_number", 422, CARD_NUMBER_PROBLEMS["iccid_check_digit"]),
]


@pytest.mark.parametrize(
    ("code", "status", "message"), PAGE_REFUSALS, ids=[code for code, *_ in PAGE_REFUSALS]
)
def test_the_redeem_page_explains_each_refusal(app, client, code, status, message):
    pin, card_number = scenario(code)
    cards_before, vouchers_before, topups_before = database_state()

    response = client.post("/redeem", data={"pin": pin, "card": card_number})

    assert response.status_code == status
    assert english(app, message) in response.get_data(as_text=True)
    cards_after, vouchers_after, topups_after = database_state()
    assert (cards_after, topups_after) == (cards_before, topups_before)
    if code != "voucher_expired":
        assert vouchers_after == vouchers_before


def test_the_redeem_page_asks_for_both_fields(client, pack):
    response = client.post("/redeem", data={"pin": "", "card": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_redeeming_on_the_page_shows_the_new_balance(client, pack):
    card = make_card()
    (voucher,) = make_vouchers(pack)

    response = client.post("/redeem", data={"pin": format_pin(voucher.pin), "card": card.number})

    assert response.status_code == 302
    assert response.headers["Location"] == "/redeem/done"
    page = client.get("/redeem/done")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "2 GB" in text
    assert card.number in text
    assert voucher.serial in text
    for spelling in pin_spellings(voucher.pin):
        assert spelling not in text
    assert reload_card(card.id).data_balance_mb == 2048
    assert voucher_row(voucher.id).status == VoucherStatus.REDEEMED


def test_the_redeem_page_stops_a_guesser_with_429(app, client, pack):
    card = make_card()
    for _ in range(10):
        page = client.post("/redeem", data={"pin": pin_nobody_has(), "card": card.number})
        assert page.status_code == 404

    blocked = client.post("/redeem", data={"pin": pin_nobody_has(), "card": card.number})

    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed attempts." in blocked.get_data(as_text=True)


# --- logs never hold a PIN --------------------------------------------------------------------


def test_redemptions_never_write_a_pin_to_the_logs(client, pack, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    card = make_card()
    good_api, good_page = make_vouchers(pack, 2)
    (inactive,) = make_vouchers(pack, inactive=True)
    unknown = pin_nobody_has()
    with caplog.at_level(logging.DEBUG):
        assert redeem(client, good_api.pin, card.number).status_code == 201
        assert redeem(client, good_api.pin, card.number).status_code == 409
        assert redeem(client, mistyped(good_page.pin), card.number).status_code == 422
        assert redeem(client, unknown, card.number).status_code == 404
        assert redeem(client, good_page.pin, iccid(999_999_998)).status_code == 404
        page = client.post("/redeem", data={"pin": good_page.pin, "card": card.number})
        assert page.status_code == 302
        assert redeem(client, inactive.pin, card.number).status_code == 409
        with pytest.raises(services.VoucherAlreadyRedeemed):
            services.redeem_voucher(good_page.pin, card.number, channel="web", actor=ACTOR)

    assert caplog.records, "nothing was logged: the test would prove nothing"
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    for pin in (good_api.pin, good_page.pin, inactive.pin, unknown):
        for spelling in [*pin_spellings(pin), mistyped(pin)]:
            assert spelling not in logged
    assert json.dumps(good_api.pin) not in logged


def test_postgresql_twin_of_the_expiry_rule_agrees_with_python(app, backend):
    if backend != "postgresql":
        pytest.skip("the SQL twin runs only on PostgreSQL")
    from shop.cards.services import EXTENDED_EXPIRY_SQL, extended_expiry

    now = utcnow()
    expression = EXTENDED_EXPIRY_SQL.format(current=":current", now=":now", days=":days")
    for current in (None, now - timedelta(days=3), now, now + timedelta(days=400, seconds=7)):
        for days in (1, 30, 365):
            in_sql = db.session.execute(
                db.text(f"SELECT {expression}"), {"current": current, "now": now, "days": days}
            ).scalar_one()
            assert in_sql == extended_expiry(current, days, now), (current, days)


def test_postgresql_keeps_the_prepared_plan_of_the_redemption_statement(app, backend, pack):
    """Planned once, not per redemption, in a stock the size of a real shop's.

    With the PIN's hashes as one array parameter, PostgreSQL planned the statement anew on every
    redemption once the voucher table held some 30,000 rows (a third of the server's time).
    """
    if backend != "postgresql":
        pytest.skip("prepared plans are PostgreSQL's")
    from shop.vouchers import redemption_sql
    from shop.vouchers.crypto import pin_vault

    card = make_card()
    vouchers = make_vouchers(pack, 12)
    make_vouchers(pack, 50_000)  # the rest of the stock, which the planner's estimates weigh
    db.session.commit()
    with db.engine.connect() as connection:
        connection.execute(db.text("ANALYZE"))
        connection.commit()
    pooled = db.engine.raw_connection()
    try:
        driver = pooled.driver_connection
        for voucher in vouchers:
            redemption_sql.redeem(
                driver,
                db.engine,
                card_number=card.number,
                pin_hashes=pin_vault().lookup_hashes(voucher.pin),
                serial=None,
                channel="api",
                actor=ACTOR,
                agent_id=None,
                now=utcnow(),
                audit_details={"card": card.number, "channel": "api"},
            )
        generic, custom = driver.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%%locked_card AS%%'"
        ).fetchone()
        driver.rollback()
    finally:
        pooled.close()

    assert reload_card(card.id).data_balance_mb == 12 * 2048
    # PostgreSQL tries five custom plans before it weighs the generic one against them.
    assert (generic, custom) == (7, 5)
