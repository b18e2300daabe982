"""The agent API: a shop's till sells vouchers and tops cards up out of the agent's prepaid float.

Every sale is paid from the float at the agent's wholesale discount, in the same transaction as
what it issues; a sale the float cannot pay for issues nothing. An agent only ever sees its own
vouchers and batches.
"""

import io
import re
from datetime import datetime, timedelta

import pypdf
import pytest
from sqlalchemy import func, select, update

from shop.agents import services as agent_services
from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, AgentStatus, ApiKey, LedgerEntry, LedgerKind
from shop.cards.models import Card, CardStatus, TopUp, TopUpSource
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from shop.vouchers.pins import damm_valid, format_pin, make_serial
from tests.agents_helpers import auth, make_agent_with_key
from tests.factories import iccid, make_card, make_product

AGENT_URL = "/api/v1/agent"
VOUCHERS_URL = "/api/v1/vouchers"
TOPUPS_URL = "/api/v1/topups"
REDEMPTIONS_URL = "/api/v1/redemptions"
SKU = "ASIA-10GB"
PRICE = 1500
#: What an agent with the default 10 % discount pays for one ASIA-10GB voucher.
UNIT_COST = 1350


# --- helpers --------------------------------------------------------------------------------


def usd(amount: int) -> dict:
    return {"amount": amount, "currency": "USD"}


def sell(client, key, sku=SKU, quantity=1, **kwargs):
    return client.post(
        VOUCHERS_URL, json={"sku": sku, "quantity": quantity}, headers=auth(key), **kwargs
    )


def sold(client, key, sku=SKU, quantity=1) -> dict:
    """Sell vouchers and return the sale's body."""
    response = sell(client, key, sku, quantity)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def void(client, key, serial):
    return client.post(f"{VOUCHERS_URL}/{serial}/void", headers=auth(key))


def redeem(client, pin, card_number):
    return client.post(REDEMPTIONS_URL, json={"pin": pin, "card": card_number})


def assert_error(response, status: int, code: str) -> dict:
    """Check the API's JSON error shape, status and code; return the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def fresh():
    db.session.rollback()
    db.session.expire_all()


def agent_row(agent_id: int) -> Agent:
    fresh()
    return db.session.get(Agent, agent_id)


def ledger_of(agent_id: int) -> list[LedgerEntry]:
    fresh()
    return list(
        db.session.execute(
            select(LedgerEntry).filter_by(agent_id=agent_id).order_by(LedgerEntry.id)
        ).scalars()
    )


def vouchers_of_batch(batch_id) -> list[Voucher]:
    fresh()
    return list(
        db.session.execute(
            select(Voucher).filter_by(batch_id=int(batch_id)).order_by(Voucher.serial)
        ).scalars()
    )


def voucher_row(serial: str) -> Voucher:
    fresh()
    return db.session.execute(select(Voucher).filter_by(serial=serial)).scalar_one()


def count(model) -> int:
    fresh()
    return db.session.execute(select(func.count(model.id))).scalar_one()


def shop_state() -> tuple:
    """What a refused sale must leave exactly as it was: stock, floats, ledger, cards."""
    fresh()
    agents = db.session.execute(select(Agent.id, Agent.balance).order_by(Agent.id)).all()
    vouchers = db.session.execute(
        select(Voucher.id, Voucher.status, Voucher.voided_at, Voucher.redeemed_at).order_by(
            Voucher.id
        )
    ).all()
    cards = db.session.execute(
        select(Card.id, Card.status, Card.data_balance_mb, Card.expires_at).order_by(Card.id)
    ).all()
    return (
        [tuple(row) for row in agents],
        [tuple(row) for row in vouchers],
        [tuple(row) for row in cards],
        count(VoucherBatch),
        count(LedgerEntry),
        count(TopUp),
    )


def assert_float_matches_ledger(agent_id: int) -> int:
    """Invariant 3: the balance is the sum of the ledger and within the credit limit."""
    agent = agent_row(agent_id)
    assert agent.balance == ledger_sum(agent_id)
    assert agent.balance >= -agent.credit_limit
    return agent.balance


def timestamp(value: str) -> datetime:
    """Parse an API timestamp, which must be ISO 8601 with a UTC offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


def is_money(value) -> bool:
    return (
        set(value) == {"amount", "currency"}
        and type(value["amount"]) is int
        and value["currency"] == "USD"
    )


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def set_sold_at(serial: str, when: datetime) -> None:
    db.session.execute(update(Voucher).where(Voucher.serial == serial).values(sold_at=when))
    db.session.commit()


@pytest.fixture
def pack(app):
    return make_product(sku=SKU, price=PRICE, data_mb=10240, validity_days=30)


@pytest.fixture
def shop_a(app):
    """A counter shop with 1,000.00 of float and a 10 % discount: (agent, key)."""
    return make_agent_with_key(code="BKK-SIAM", balance=100_000)


@pytest.fixture
def shop_b(app):
    """A second, unrelated counter shop: (agent, key)."""
    return make_agent_with_key(code="HCM-D1", balance=100_000)


# --- who is calling: GET /agent and authentication -------------------------------------------


def test_agent_sees_its_own_float_limit_and_discount(client):
    agent, key = make_agent_with_key(
        code="BKK-SIAM", balance=25_000, credit_limit=5_000, discount_bps=1250
    )

    response = client.get(AGENT_URL, headers=auth(key))

    assert response.status_code == 200
    body = response.get_json()
    assert body["code"] == "BKK-SIAM"
    assert body["name"] == agent.name
    assert body["balance"] == usd(25_000) and is_money(body["balance"])
    assert body["credit_limit"] == usd(5_000) and is_money(body["credit_limit"])
    assert body["discount_bps"] == 1250


def _revoked_key(agent, key):
    key_id = db.session.execute(select(ApiKey.id).filter_by(agent_id=agent.id)).scalar_one()
    agent_services.revoke_api_key(agent.id, key_id)
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "headers_of",
    [
        pytest.param(lambda agent, key: {}, id="no-header"),
        pytest.param(lambda agent, key: {"Authorization": f"Basic {key}"}, id="wrong-scheme"),
        pytest.param(lambda agent, key: {"Authorization": key}, id="no-scheme"),
        pytest.param(lambda agent, key: {"Authorization": "Bearer "}, id="empty-key"),
        pytest.param(lambda agent, key: auth(key[:-4] + "AAAA"), id="unknown-key"),
        pytest.param(lambda agent, key: auth("wdk_" + "x" * 200), id="overlong-key"),
        pytest.param(_revoked_key, id="revoked-key"),
    ],
)
def test_calls_without_a_live_key_are_unauthorized(client, headers_of):
    agent, key = make_agent_with_key(balance=10_000)
    assert client.get(AGENT_URL, headers=auth(key)).status_code == 200
    headers = headers_of(agent, key)

    response = client.get(AGENT_URL, headers=headers)

    assert_error(response, 401, "unauthorized")
    assert set(response.get_json()) == {"error"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", VOUCHERS_URL, {"sku": SKU, "quantity": 1}),
        ("POST", TOPUPS_URL, {"sku": SKU, "card": iccid(1)}),
        ("GET", "/api/v1/batches/1.pdf", None),
        ("GET", f"{VOUCHERS_URL}/{make_serial(1, 1)}", None),
        ("POST", f"{VOUCHERS_URL}/{make_serial(1, 1)}/void", None),
    ],
)
def test_every_agent_endpoint_refuses_an_unauthenticated_call_and_changes_nothing(
    client, pack, shop_a, method, url, body
):
    agent, key = shop_a
    sold(client, key)
    make_card(iccid(1))
    before = shop_state()

    response = client.open(url, method=method, json=body, headers={"Authorization": "Bearer x"})

    assert_error(response, 401, "unauthorized")
    assert shop_state() == before


def test_a_revoked_key_can_no_longer_sell(client, pack, shop_a):
    agent, key = shop_a
    _revoked_key(agent, key)
    before = shop_state()

    assert_error(sell(client, key), 401, "unauthorized")

    assert shop_state() == before


# --- selling vouchers: POST /vouchers ----------------------------------------------------------


def test_a_sale_returns_the_vouchers_with_their_pins_the_cost_the_balance_and_a_print_link(
    client, pack, shop_a
):
    agent, key = shop_a
    started = utcnow()

    response = sell(client, key, quantity=3)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"batch", "vouchers", "cost", "balance", "pdf_url"}
    assert isinstance(body["batch"], str) and body["batch"].isdigit()
    assert body["pdf_url"] == f"/api/v1/batches/{body['batch']}.pdf"
    assert body["cost"] == usd(3 * UNIT_COST) and is_money(body["cost"])
    assert body["balance"] == usd(100_000 - 3 * UNIT_COST) and is_money(body["balance"])
    assert len(body["vouchers"]) == 3
    for voucher in body["vouchers"]:
        assert set(voucher) == {"serial", "pin", "sku", "status", "expires_at", "face_value"}
        assert re.fullmatch(r"\d{16}", voucher["pin"]) and damm_valid(voucher["pin"])
        assert voucher["sku"] == SKU
        assert voucher["status"] == "active"
        assert voucher["face_value"] == usd(PRICE) and is_money(voucher["face_value"])
        assert timestamp(voucher["expires_at"]) > started
    assert len({v["pin"] for v in body["vouchers"]}) == 3
    assert len({v["serial"] for v in body["vouchers"]}) == 3


def test_a_sale_debits_the_float_writes_one_sale_entry_and_marks_the_vouchers_sold(
    client, pack, shop_a
):
    agent, key = shop_a
    started = utcnow()

    body = sold(client, key, quantity=3)

    assert agent_row(agent.id).balance == 100_000 - 3 * UNIT_COST
    credit, sale = ledger_of(agent.id)
    assert credit.kind == LedgerKind.CREDIT_PURCHASE
    assert sale.kind == LedgerKind.SALE
    assert sale.amount == -3 * UNIT_COST
    assert sale.balance_after == 100_000 - 3 * UNIT_COST
    assert sale.reference == f"batch:{body['batch']}"
    assert assert_float_matches_ledger(agent.id) == body["balance"]["amount"]
    vouchers = vouchers_of_batch(body["batch"])
    assert sorted(v.serial for v in vouchers) == sorted(v["serial"] for v in body["vouchers"])
    for voucher in vouchers:
        assert voucher.agent_id == agent.id
        assert voucher.status == VoucherStatus.ACTIVE
        assert voucher.cost == UNIT_COST
        assert voucher.face_value == PRICE
        assert started <= voucher.sold_at <= utcnow()
    batch = db.session.get(VoucherBatch, int(body["batch"]))
    assert batch.agent_id == agent.id and batch.quantity == 3


@pytest.mark.parametrize(
    ("price", "discount_bps", "quantity", "cost"),
    [
        (1500, 1000, 1, 1350),
        (555, 1000, 3, 3 * (555 - 55)),  # the discount rounds down, in the operator's favour
        (999, 333, 2, 2 * (999 - 33)),
        (1000, 0, 100, 100_000),
        (7, 9999, 1, 1),
    ],
)
def test_the_float_pays_the_wholesale_cost_quantity_times_price_less_discount(
    client, app, price, discount_bps, quantity, cost
):
    assert cost == quantity * (price - price * discount_bps // 10_000)
    make_product(sku="PACK-X", price=price)
    agent, key = make_agent_with_key(balance=200_000, discount_bps=discount_bps)

    body = sold(client, key, "PACK-X", quantity)

    assert body["cost"] == usd(cost)
    assert body["balance"] == usd(200_000 - cost)
    assert assert_float_matches_ledger(agent.id) == 200_000 - cost
    assert len(body["vouchers"]) == quantity


def test_a_sale_the_float_cannot_pay_for_issues_nothing_and_debits_nothing(client, pack):
    agent, key = make_agent_with_key(balance=2 * UNIT_COST + 1)
    before = shop_state()

    response = sell(client, key, quantity=3)

    assert_error(response, 402, "insufficient_credit")
    assert shop_state() == before
    assert agent_row(agent.id).balance == 2 * UNIT_COST + 1
    assert sold(client, key, quantity=2)["balance"] == usd(1), "two of them it can pay for"


@pytest.mark.parametrize(("price", "paid"), [(900, True), (1000, True), (1100, False)])
def test_the_credit_limit_lets_the_float_go_below_zero_but_no_further(client, app, price, paid):
    make_product(sku="PACK-X", price=price)
    agent, key = make_agent_with_key(balance=0, credit_limit=1000, discount_bps=0)
    before = shop_state()

    response = sell(client, key, "PACK-X")

    if paid:
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["balance"] == usd(-price)
        assert assert_float_matches_ledger(agent.id) == -price
        assert count(Voucher) == 1
    else:
        assert_error(response, 402, "insufficient_credit")
        assert shop_state() == before
        assert assert_float_matches_ledger(agent.id) == 0


def test_an_unknown_sku_is_not_found_and_costs_nothing(client, pack, shop_a):
    agent, key = shop_a
    before = shop_state()

    assert_error(sell(client, key, "EUROPE-1GB"), 404, "product_not_found")

    assert shop_state() == before


def test_a_pack_taken_off_sale_cannot_be_sold(client, pack, shop_a):
    agent, key = shop_a
    catalog_services.set_product_active(pack.id, False)
    before = shop_state()

    assert_error(sell(client, key), 404, "product_not_found")

    assert shop_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1}, "sku"),
        ({"sku": "", "quantity": 1}, "sku"),
        ({"sku": 42, "quantity": 1}, "sku"),
        ({"sku": SKU, "quantity": 0}, "quantity"),
        ({"sku": SKU, "quantity": -1}, "quantity"),
        ({"sku": SKU, "quantity": 101}, "quantity"),
        ({"sku": SKU, "quantity": "3"}, "quantity"),
        ({"sku": SKU, "quantity": True}, "quantity"),
        ({"sku": SKU, "quantity": 2.0}, "quantity"),
        ({"sku": SKU, "quantity": None}, "quantity"),
    ],
)
def test_a_malformed_sale_is_refused_field_by_field_and_costs_nothing(
    client, pack, shop_a, body, field
):
    agent, key = shop_a
    before = shop_state()

    response = client.post(VOUCHERS_URL, json=body, headers=auth(key))

    error = assert_error(response, 422, "invalid_request")
    assert field in error["fields"]
    assert shop_state() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("sku=ASIA-10GB&quantity=1", "application/x-www-form-urlencoded"),
        ('{"sku": "ASIA-10GB", "quantity": 1', "application/json"),
        ('["ASIA-10GB", 1]', "application/json"),
        ("", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_invalid(client, pack, shop_a, data, content_type):
    agent, key = shop_a
    before = shop_state()

    response = client.post(VOUCHERS_URL, data=data, content_type=content_type, headers=auth(key))

    assert_error(response, 422, "invalid_request")
    assert shop_state() == before


def test_a_suspended_agent_can_sell_nothing(client, pack, shop_a):
    agent, key = shop_a
    agent_services.set_agent_status(agent.code, AgentStatus.SUSPENDED)
    before = shop_state()

    assert_error(sell(client, key), 403, "agent_suspended")

    assert shop_state() == before


def test_a_suspended_agent_cannot_top_up_a_card_either(client, pack, shop_a):
    agent, key = shop_a
    card = make_card()
    agent_services.set_agent_status(agent.code, AgentStatus.SUSPENDED)
    before = shop_state()

    response = client.post(TOPUPS_URL, json={"sku": SKU, "card": card.number}, headers=auth(key))

    assert_error(response, 403, "agent_suspended")
    assert shop_state() == before


# --- Idempotency-Key -------------------------------------------------------------------------


def test_a_repeated_sale_with_the_same_idempotency_key_returns_the_same_pins_once(
    client, pack, shop_a
):
    agent, key = shop_a
    headers = {**auth(key), "Idempotency-Key": "till-1-receipt-0042"}
    sale = {"sku": SKU, "quantity": 2}

    first = client.post(VOUCHERS_URL, json=sale, headers=headers)
    again = client.post(VOUCHERS_URL, json=sale, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(VoucherBatch) == 1
    assert count(Voucher) == 2
    sales = [entry for entry in ledger_of(agent.id) if entry.kind == LedgerKind.SALE]
    assert len(sales) == 1
    assert assert_float_matches_ledger(agent.id) == 100_000 - 2 * UNIT_COST


def test_an_idempotency_key_reused_for_a_different_sale_is_refused(client, pack, shop_a):
    agent, key = shop_a
    headers = {**auth(key), "Idempotency-Key": "till-1-receipt-0042"}
    client.post(VOUCHERS_URL, json={"sku": SKU, "quantity": 1}, headers=headers)
    before = shop_state()

    response = client.post(VOUCHERS_URL, json={"sku": SKU, "quantity": 5}, headers=headers)

    assert_error(response, 422, "idempotency_key_reused")
    assert shop_state() == before


def test_idempotency_keys_are_per_agent(client, pack, shop_a, shop_b):
    agent_a, key_a = shop_a
    agent_b, key_b = shop_b
    sale = {"sku": SKU, "quantity": 1}
    first = client.post(VOUCHERS_URL, json=sale, headers={**auth(key_a), "Idempotency-Key": key_a})

    second = client.post(VOUCHERS_URL, json=sale, headers={**auth(key_b), "Idempotency-Key": key_a})

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.get_json()["batch"] != first.get_json()["batch"]
    assert second.get_json()["vouchers"][0]["pin"] != first.get_json()["vouchers"][0]["pin"]
    assert count(VoucherBatch) == 2
    assert assert_float_matches_ledger(agent_a.id) == 100_000 - UNIT_COST
    assert assert_float_matches_ledger(agent_b.id) == 100_000 - UNIT_COST
    assert {v.agent_id for v in vouchers_of_batch(second.get_json()["batch"])} == {agent_b.id}


def test_a_repeated_void_with_the_same_idempotency_key_refunds_once(client, pack, shop_a):
    agent, key = shop_a
    serial = sold(client, key)["vouchers"][0]["serial"]
    headers = {**auth(key), "Idempotency-Key": "void-1"}

    first = client.post(f"{VOUCHERS_URL}/{serial}/void", headers=headers)
    again = client.post(f"{VOUCHERS_URL}/{serial}/void", headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    refunds = [e for e in ledger_of(agent.id) if e.kind == LedgerKind.VOID_REFUND]
    assert len(refunds) == 1
    assert assert_float_matches_ledger(agent.id) == 100_000


# --- printing: GET /batches/<id>.pdf -----------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?format=a4", "?format=receipt"])
def test_a_batch_prints_as_a_pdf_with_every_pin_in_groups_of_four(client, pack, shop_a, query):
    agent, key = shop_a
    body = sold(client, key, quantity=3)

    response = client.get(body["pdf_url"] + query, headers=auth(key))

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    for voucher in body["vouchers"]:
        assert format_pin(voucher["pin"]) in text
        assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", format_pin(voucher["pin"]))
        assert voucher["serial"] in text


def test_an_unknown_print_format_is_invalid(client, pack, shop_a):
    agent, key = shop_a
    body = sold(client, key)

    response = client.get(body["pdf_url"] + "?format=letter", headers=auth(key))

    error = assert_error(response, 422, "invalid_request")
    assert "format" in error["fields"]


def test_an_unknown_batch_is_not_found(client, pack, shop_a):
    agent, key = shop_a
    body = sold(client, key)

    response = client.get(f"/api/v1/batches/{int(body['batch']) + 1}.pdf", headers=auth(key))

    assert response.status_code == 404
    assert response.is_json


# --- looking a voucher up: GET /vouchers/<serial> --------------------------------------------


def test_a_sold_voucher_is_looked_up_by_serial_without_its_pin(client, pack, shop_a):
    agent, key = shop_a
    sale = sold(client, key)
    (issued,) = sale["vouchers"]

    response = client.get(f"{VOUCHERS_URL}/{issued['serial']}", headers=auth(key))

    assert response.status_code == 200
    body = response.get_json()
    assert {
        "serial",
        "sku",
        "status",
        "expires_at",
        "sold_at",
        "redeemed_at",
        "face_value",
    } <= set(body)
    assert "pin" not in body
    assert issued["pin"] not in response.get_data(as_text=True)
    assert body["serial"] == issued["serial"]
    assert body["sku"] == SKU
    assert body["status"] == "active"
    assert body["expires_at"] == issued["expires_at"]
    assert timestamp(body["sold_at"]) <= utcnow()
    assert body["redeemed_at"] is None
    assert body["face_value"] == usd(PRICE)


def test_a_serial_is_found_however_it_is_spaced(client, pack, shop_a):
    agent, key = shop_a
    serial = sold(client, key)["vouchers"][0]["serial"]
    spaced = f"{serial[:7]}-{serial[7:]}"

    response = client.get(f"{VOUCHERS_URL}/{spaced}", headers=auth(key))

    assert response.status_code == 200
    assert response.get_json()["serial"] == serial


@pytest.mark.parametrize("serial", [make_serial(9_999, 1), "12345", "not-a-serial"])
def test_an_unknown_serial_is_not_found(client, pack, shop_a, serial):
    agent, key = shop_a
    sold(client, key)

    assert_error(
        client.get(f"{VOUCHERS_URL}/{serial}", headers=auth(key)), 404, "voucher_not_found"
    )


# --- voiding a sale: POST /vouchers/<serial>/void --------------------------------------------


def test_voiding_a_fresh_sale_refunds_its_cost_to_the_float(client, pack, shop_a):
    agent, key = shop_a
    sale = sold(client, key, quantity=2)
    voided, kept = sale["vouchers"]

    response = void(client, key, voided["serial"])

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["serial"] == voided["serial"]
    assert body["status"] == "void"
    assert "pin" not in body
    assert voucher_row(voided["serial"]).status == VoucherStatus.VOID
    assert voucher_row(kept["serial"]).status == VoucherStatus.ACTIVE
    refund = ledger_of(agent.id)[-1]
    assert refund.kind == LedgerKind.VOID_REFUND
    assert refund.amount == UNIT_COST
    assert refund.reference == voided["serial"]
    assert refund.balance_after == 100_000 - UNIT_COST
    assert assert_float_matches_ledger(agent.id) == 100_000 - UNIT_COST


def test_a_voided_voucher_can_no_longer_be_redeemed(client, pack, shop_a):
    agent, key = shop_a
    (issued,) = sold(client, key)["vouchers"]
    card = make_card()
    void(client, key, issued["serial"])

    assert_error(redeem(client, issued["pin"], card.number), 409, "voucher_void")

    assert db.session.get(Card, card.id).data_balance_mb == 0


def test_a_voucher_is_voided_and_refunded_only_once(client, pack, shop_a):
    agent, key = shop_a
    serial = sold(client, key)["vouchers"][0]["serial"]
    assert void(client, key, serial).status_code == 200
    before = shop_state()

    assert_error(void(client, key, serial), 409, "voucher_void")

    assert shop_state() == before
    assert assert_float_matches_ledger(agent.id) == 100_000


def test_a_redeemed_voucher_cannot_be_voided(client, pack, shop_a):
    agent, key = shop_a
    (issued,) = sold(client, key)["vouchers"]
    assert redeem(client, issued["pin"], make_card().number).status_code == 201
    before = shop_state()

    assert_error(void(client, key, issued["serial"]), 409, "voucher_already_redeemed")

    assert shop_state() == before
    assert voucher_row(issued["serial"]).status == VoucherStatus.REDEEMED
    assert assert_float_matches_ledger(agent.id) == 100_000 - UNIT_COST


def test_a_sale_older_than_the_void_window_cannot_be_voided(client, pack, shop_a):
    agent, key = shop_a
    serial = sold(client, key)["vouchers"][0]["serial"]
    set_sold_at(serial, utcnow() - timedelta(hours=25))
    before = shop_state()

    assert_error(void(client, key, serial), 409, "void_window_passed")

    assert shop_state() == before
    assert voucher_row(serial).status == VoucherStatus.ACTIVE
    assert assert_float_matches_ledger(agent.id) == 100_000 - UNIT_COST


def test_a_sale_just_inside_the_void_window_can_still_be_voided(client, pack, shop_a):
    agent, key = shop_a
    serial = sold(client, key)["vouchers"][0]["serial"]
    set_sold_at(serial, utcnow() - timedelta(hours=23))

    assert void(client, key, serial).status_code == 200

    assert assert_float_matches_ledger(agent.id) == 100_000


def test_with_a_zero_hour_void_window_nothing_can_be_voided(client, app, pack, shop_a):
    agent, key = shop_a
    app.config["VOID_WINDOW_HOURS"] = 0
    serial = sold(client, key)["vouchers"][0]["serial"]
    before = shop_state()

    assert_error(void(client, key, serial), 409, "void_window_passed")

    assert shop_state() == before


def test_voiding_an_unknown_serial_is_not_found(client, pack, shop_a):
    agent, key = shop_a
    sold(client, key)
    before = shop_state()

    assert_error(void(client, key, make_serial(9_999, 1)), 404, "voucher_not_found")

    assert shop_state() == before


# --- counter top-ups: POST /topups -------------------------------------------------------------


def test_a_counter_top_up_adds_the_pack_to_the_card_and_debits_the_float(client, pack, shop_a):
    agent, key = shop_a
    card = make_card()
    started = utcnow()

    response = client.post(TOPUPS_URL, json={"sku": SKU, "card": card.number}, headers=auth(key))

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert {"id", "sku", "data_mb", "validity_days", "expires_at"} <= set(body["topup"])
    assert body["topup"]["sku"] == SKU
    assert body["topup"]["data_mb"] == 10240
    assert body["topup"]["validity_days"] == 30
    assert body["card"]["number"] == card.number
    assert body["card"]["status"] == "active"
    assert body["card"]["data_balance_mb"] == 10240
    expiry = timestamp(body["card"]["expires_at"])
    assert started + timedelta(days=30) <= expiry <= utcnow() + timedelta(days=30)
    assert body["topup"]["expires_at"] == body["card"]["expires_at"]

    fresh()
    card = db.session.get(Card, card.id)
    assert card.data_balance_mb == 10240
    assert card.expires_at == expiry
    (topup,) = db.session.execute(select(TopUp)).scalars()
    assert topup.id == body["topup"]["id"]
    assert topup.source == TopUpSource.COUNTER
    assert topup.agent_id == agent.id
    assert topup.card_id == card.id
    sale = ledger_of(agent.id)[-1]
    assert sale.kind == LedgerKind.SALE
    assert sale.amount == -UNIT_COST
    assert sale.reference == f"topup:{topup.id}"
    assert assert_float_matches_ledger(agent.id) == 100_000 - UNIT_COST
    assert count(Voucher) == 0, "a counter top-up issues no voucher"


def test_a_second_counter_top_up_extends_the_card_from_its_current_expiry(client, pack, shop_a):
    agent, key = shop_a
    card = make_card()
    payload = {"sku": SKU, "card": card.number}
    first = client.post(TOPUPS_URL, json=payload, headers=auth(key)).get_json()

    second = client.post(TOPUPS_URL, json=payload, headers=auth(key)).get_json()

    assert second["card"]["data_balance_mb"] == 2 * 10240
    assert timestamp(second["card"]["expires_at"]) == timestamp(
        first["card"]["expires_at"]
    ) + timedelta(days=30)
    assert assert_float_matches_ledger(agent.id) == 100_000 - 2 * UNIT_COST


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unregistered card", 404, "card_not_found"),
        ("suspended card", 409, "card_suspended"),
        ("malformed number", 422, "invalid_card_number"),
        ("luhn mistake", 422, "invalid_card_number"),
        ("float too small", 402, "insufficient_credit"),
        ("unknown sku", 404, "product_not_found"),
        ("missing card", 422, "invalid_request"),
    ],
)
def test_a_refused_counter_top_up_leaves_card_and_float_unchanged(client, pack, case, status, code):
    agent, key = make_agent_with_key(balance=UNIT_COST if case != "float too small" else 100)
    card = make_card(iccid(7))
    make_card(iccid(8), status=CardStatus.SUSPENDED)
    payload = {"sku": SKU, "card": card.number}
    if case == "unregistered card":
        payload["card"] = iccid(9)
    elif case == "suspended card":
        payload["card"] = iccid(8)
    elif case == "malformed number":
        payload["card"] = "12345"
    elif case == "luhn mistake":
        payload["card"] = card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    elif case == "unknown sku":
        payload["sku"] = "EUROPE-1GB"
    elif case == "missing card":
        del payload["card"]
    before = shop_state()

    response = client.post(TOPUPS_URL, json=payload, headers=auth(key))

    assert_error(response, status, code)
    assert shop_state() == before


# --- tenant isolation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/batches/{batch}.pdf"),
        ("GET", "/api/v1/batches/{batch}.pdf?format=receipt"),
        ("GET", "/api/v1/vouchers/{serial}"),
        ("POST", "/api/v1/vouchers/{serial}/void"),
    ],
)
def test_another_agents_objects_do_not_exist_for_an_agent(
    client, pack, shop_a, shop_b, method, path
):
    agent_a, key_a = shop_a
    agent_b, key_b = shop_b
    sale_a = sold(client, key_a, quantity=2)
    sold(client, key_b)
    url = path.format(batch=sale_a["batch"], serial=sale_a["vouchers"][0]["serial"])
    before = shop_state()

    response = client.open(url, method=method, headers=auth(key_b))

    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.is_json
    text = response.get_data(as_text=True)
    assert all(v["pin"] not in text for v in sale_a["vouchers"])
    assert shop_state() == before
    assert voucher_row(sale_a["vouchers"][0]["serial"]).status == VoucherStatus.ACTIVE
    assert client.open(url, method=method, headers=auth(key_a)).status_code == 200, (
        "the owner still can"
    )


def test_each_key_sees_its_own_agent_only(client, shop_a, shop_b):
    agent_a, key_a = shop_a
    agent_b, key_b = shop_b
    credit = agent_services.credit_agent(agent_b.code, 2_345)

    body_b = client.get(AGENT_URL, headers=auth(key_b)).get_json()
    body_a = client.get(AGENT_URL, headers=auth(key_a)).get_json()

    assert body_b["code"] == "HCM-D1" and body_b["name"] == agent_b.name
    assert body_b["balance"] == usd(credit) == usd(102_345)
    assert body_a["code"] == "BKK-SIAM" and body_a["name"] == agent_a.name
    assert body_a["balance"] == usd(100_000)


def test_an_agents_void_refunds_its_own_float_only(client, pack, shop_a, shop_b):
    agent_a, key_a = shop_a
    agent_b, key_b = shop_b
    serial_a = sold(client, key_a)["vouchers"][0]["serial"]
    sold(client, key_b)

    assert void(client, key_a, serial_a).status_code == 200

    assert assert_float_matches_ledger(agent_a.id) == 100_000
    assert assert_float_matches_ledger(agent_b.id) == 100_000 - UNIT_COST


# --- from the counter to the customer's card -------------------------------------------------


def test_a_voucher_sold_through_the_api_is_redeemed_and_then_shows_redeemed(client, pack, shop_a):
    agent, key = shop_a
    (issued,) = sold(client, key)["vouchers"]
    card = make_card()

    redeemed = redeem(client, format_pin(issued["pin"]), card.number)

    assert redeemed.status_code == 201, redeemed.get_data(as_text=True)
    assert redeemed.get_json()["voucher"] == {"serial": issued["serial"]}
    assert redeemed.get_json()["card"]["data_balance_mb"] == 10240
    body = client.get(f"{VOUCHERS_URL}/{issued['serial']}", headers=auth(key)).get_json()
    assert body["status"] == "redeemed"
    assert timestamp(body["redeemed_at"]) >= timestamp(body["sold_at"])
    assert assert_float_matches_ledger(agent.id) == 100_000 - UNIT_COST, (
        "redemption costs the agent nothing more"
    )


# --- bad input of any kind gets a 4xx, never a server error (DESIGN invariant 7) -------------


@pytest.mark.parametrize("what", ["sale", "top-up"])
def test_an_agent_with_a_full_discount_gets_a_clear_answer_never_a_server_error(client, pack, what):
    """A 100 % discount (10,000 bps) is a discount agents may be given: the wholesale cost is 0."""
    agent, key = make_agent_with_key(balance=10_000, discount_bps=10_000)
    card = make_card()
    before = shop_state()

    if what == "sale":
        response = sell(client, key)
    else:
        response = client.post(
            TOPUPS_URL, json={"sku": SKU, "card": card.number}, headers=auth(key)
        )

    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    if response.status_code == 201:
        assert assert_float_matches_ledger(agent.id) == 10_000, "nothing to pay, nothing paid"
    else:
        assert shop_state() == before, "refused: nothing issued, nothing debited"


@pytest.mark.parametrize("batch_id", [2**31, 2**63, 10**20])
def test_a_batch_id_beyond_any_stored_id_is_not_found(client, pack, shop_a, batch_id):
    agent, key = shop_a
    sold(client, key)

    response = client.get(f"/api/v1/batches/{batch_id}.pdf", headers=auth(key))

    # Ids beyond any row id do not match the route at all: a plain JSON 404, never a 500.
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] in ("batch_not_found", "not_found")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (VOUCHERS_URL, "sku"),
        (TOPUPS_URL, "sku"),
        (TOPUPS_URL, "card"),
    ],
)
def test_a_nul_character_in_a_field_is_refused_as_bad_input(client, pack, shop_a, url, field):
    agent, key = shop_a
    card = make_card()
    payload = {"sku": SKU, "quantity": 1, "card": card.number}
    payload[field] = payload[field][:3] + "\x00"
    before = shop_state()

    response = client.post(url, json=payload, headers=auth(key))

    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json and "error" in response.get_json()
    assert shop_state() == before
