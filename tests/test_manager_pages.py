"""The agent manager's pages and the operator's agent pages.

Managers add and deactivate staff, create and revoke API keys, read the float statement and are
told when the float runs low; the operator creates, credits and suspends agents. A manager runs
their own shop only; the statement is the shop's float ledger, to the minor unit, on screen and
as a CSV that opens safely in a spreadsheet.
"""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from shop.agents import sales
from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, AgentStatus, ApiKey, LedgerEntry, LedgerKind
from shop.agents.services import create_api_key, credit_agent
from shop.audit.services import Actor
from shop.auth.models import Role, User
from shop.auth.services import set_user_active
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.vouchers.models import Voucher
from tests.agents_helpers import auth
from tests.factories import PASSWORD, make_agent, make_product, make_user

SKU = "ASIA-10GB"
PRICE = 1500
#: What a shop with a 10 % discount pays for one ASIA-10GB voucher.
UNIT_COST = 1350
NEW_PASSWORD = "counter-staff-42"


# --- helpers --------------------------------------------------------------------------------


def fresh():
    """Forget what the test's session loaded, so the next read sees what requests committed."""
    db.session.rollback()
    db.session.expire_all()


def client_of(app, user, password=PASSWORD):
    """Return a new browser logged in as ``user``."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def follow(client, response):
    """Follow a redirect by hand (the isolated test client runs each request on its own)."""
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.location)


def user_count() -> int:
    fresh()
    return db.session.execute(select(func.count()).select_from(User)).scalar_one()


def balance_of(agent) -> int:
    """Return the agent's balance, checking it equals the sum of its ledger (invariant 3)."""
    fresh()
    balance = db.session.get(Agent, agent.id).balance
    assert balance == ledger_sum(agent.id)
    return balance


def low_float_mails() -> list[str]:
    fresh()
    return sorted(
        db.session.execute(select(OutboxMessage.recipient).filter_by(kind="low_float")).scalars()
    )


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def backdate_last_entry(agent, when: datetime) -> None:
    """Move the agent's newest ledger entry back in time, as if it had been written then."""
    fresh()
    newest = db.session.execute(
        select(func.max(LedgerEntry.id)).filter_by(agent_id=agent.id)
    ).scalar_one()
    db.session.execute(update(LedgerEntry).where(LedgerEntry.id == newest).values(created_at=when))
    db.session.commit()


@pytest.fixture
def pack(app):
    return make_product(sku=SKU, name="Asia 10 GB / 30 days", price=PRICE, data_mb=10_240)


@pytest.fixture
def shop(app):
    return make_agent(name="Bangkok Airport Kiosk", discount_bps=1000)


@pytest.fixture
def manager(login, shop):
    return login("agent_manager", agent=shop)


# --- staff accounts -------------------------------------------------------------------------


def test_the_overview_lists_the_shops_staff_only(client, shop, manager):
    colleague = make_user("agent_staff", agent=shop)
    stranger = make_user("agent_staff", agent=make_agent())

    response = client.get("/manage/")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert manager.email in page and colleague.email in page
    assert stranger.email not in page


def test_a_manager_adds_a_staff_member_who_can_work_the_counter(app, client, shop, manager):
    response = client.post(
        "/manage/staff", data={"email": "Nok@Example.com", "password": NEW_PASSWORD}
    )

    assert response.status_code == 302
    fresh()
    new = db.session.execute(select(User).filter_by(email="nok@example.com")).scalar_one()
    assert (new.role, new.agent_id, new.active) == (Role.AGENT_STAFF, shop.id, True)
    assert "nok@example.com" in client.get("/manage/").get_data(as_text=True)
    assert client_of(app, new, NEW_PASSWORD).get("/counter").status_code == 200


@pytest.mark.parametrize(
    "email, password, message",
    [
        ("not-an-address", NEW_PASSWORD, "This is not a valid e-mail address."),
        ("short@example.com", "short", "at least 10 characters"),
        ("TAKEN", NEW_PASSWORD, "An account with this e-mail exists already."),
    ],
)
def test_bad_staff_details_are_refused_and_create_nobody(client, manager, email, password, message):
    if email == "TAKEN":
        email = make_user("customer").email
    before = user_count()

    response = client.post("/manage/staff", data={"email": email, "password": password})

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert user_count() == before


def test_a_deactivated_staff_member_is_logged_out_and_cannot_log_in(app, client, shop, manager):
    member = make_user("agent_staff", agent=shop)
    counter = client_of(app, member)
    assert counter.get("/counter").status_code == 200

    response = client.post(f"/manage/staff/{member.id}/active", data={"active": "0"})

    assert response.status_code == 302
    fresh()
    assert db.session.get(User, member.id).active is False
    refused = counter.get("/counter")
    assert refused.status_code == 302 and refused.location.startswith("/login")
    again = app.test_client().post("/login", data={"email": member.email, "password": PASSWORD})
    assert again.status_code == 401


def test_a_manager_cannot_deactivate_themselves(app, client, manager):
    response = client.post(f"/manage/staff/{manager.id}/active", data={"active": "0"})

    assert "You cannot deactivate your own account." in follow(client, response).get_data(
        as_text=True
    )
    fresh()
    assert db.session.get(User, manager.id).active is True
    assert client.get("/manage/").status_code == 200


# --- API keys -------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(app, client, manager):
    response = client.post("/manage/keys", data={"label": "front till"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    [key] = re.findall(r"wdk_[A-Za-z0-9_-]{20,}", response.get_data(as_text=True))
    api = app.test_client()
    assert api.get("/api/v1/agent", headers=auth(key)).status_code == 200

    fresh()
    stored = db.session.execute(select(ApiKey).filter_by(label="front till")).scalar_one()
    later = client.get("/manage/").get_data(as_text=True)
    assert key not in later
    assert stored.prefix in later and key.startswith(stored.prefix)

    revoked = client.post(f"/manage/keys/{stored.id}/revoke")

    assert revoked.status_code == 302
    fresh()
    assert db.session.get(ApiKey, stored.id).revoked_at is not None
    assert api.get("/api/v1/agent", headers=auth(key)).status_code == 401


# --- the float statement --------------------------------------------------------------------


@pytest.fixture
def history(shop, pack, manager):
    """A float history across February 2024, one entry backdated at a time."""
    credit_agent(shop.code, 10_000, note="January top-up")
    backdate_last_entry(shop, at(2024, 1, 10, 9, 0))
    credit_agent(shop.code, 2_000, note='=HYPERLINK("http://evil.example","click")')
    backdate_last_entry(shop, at(2024, 2, 1, 0, 0))
    sales.sell_vouchers(shop.id, SKU, 1, Actor.for_user(manager))
    backdate_last_entry(shop, at(2024, 2, 29, 23, 59, 59))
    credit_agent(shop.code, 500, note="March top-up")
    backdate_last_entry(shop, at(2024, 3, 1, 0, 0))
    return {"opening": 10_000, "closing": 10_000 + 2_000 - UNIT_COST}


FEBRUARY = "/manage/statement?from=2024-02-01&to=2024-02-29"


def test_the_statement_page_shows_opening_and_closing_balances(client, history):
    response = client.get("/manage/statement")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Opening balance" in page and "Closing balance" in page


def test_a_statement_covers_whole_days_with_the_balance_before_as_opening(client, history):
    response = client.get(FEBRUARY)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "$100.00" in page  # opening: January's credit
    assert "$106.50" in page  # closing: after the sale on the last day
    assert "HYPERLINK" in page and "-$13.50" in page
    assert "January top-up" not in page and "March top-up" not in page


@pytest.mark.parametrize(
    "query",
    [
        "from=2024-02-30&to=2024-03-01",
        "from=yesterday&to=2024-03-01",
        "from=2024-03-01&to=2024-02-01",
        "from=2022-01-01&to=2024-01-01",
        "from=2023-01-01&to=2024-01-02",
    ],
)
def test_bad_periods_are_refused_with_a_message(client, manager, query):
    response = client.get(f"/manage/statement?{query}")

    assert response.status_code == 422
    assert "Choose a valid period of at most a year" in response.get_data(as_text=True)


def test_a_full_year_is_the_longest_statement(client, manager):
    assert client.get("/manage/statement?from=2024-01-01&to=2024-12-31").status_code == 200


def test_the_csv_statement_has_the_same_rows_and_sums_to_the_movement(client, shop, history):
    response = client.get(FEBRUARY + "&format=csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header == [
        "time_utc",
        "kind",
        "reference",
        "note",
        "amount_minor",
        "balance_after_minor",
        "currency",
    ]
    fresh()
    entries = db.session.execute(
        select(LedgerEntry)
        .filter_by(agent_id=shop.id)
        .where(LedgerEntry.created_at >= at(2024, 2, 1), LedgerEntry.created_at < at(2024, 3, 1))
        .order_by(LedgerEntry.id)
    ).scalars()
    assert [(r[1], r[2], int(r[4]), int(r[5]), r[6]) for r in rows] == [
        (e.kind.value, e.reference, e.amount, e.balance_after, "USD") for e in entries
    ]
    assert [r[1] for r in rows] == [LedgerKind.CREDIT_PURCHASE.value, LedgerKind.SALE.value]
    assert sum(int(r[4]) for r in rows) == history["closing"] - history["opening"]


def test_a_formula_in_a_ledger_note_stays_text_in_the_csv(client, history):
    response = client.get(FEBRUARY + "&format=csv")

    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    notes = [row[3] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","click")' in notes
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


# --- low-float alerts -----------------------------------------------------------------------


def test_managers_are_told_once_per_crossing_below_the_low_float_threshold(app, pack, shop):
    app.config["LOW_FLOAT_THRESHOLD"] = 10_000
    first = make_user("agent_manager", agent=shop, email="first-manager@example.com")
    make_user("agent_manager", agent=shop, email="second-manager@example.com")
    gone = make_user("agent_manager", agent=shop, email="gone-manager@example.com")
    set_user_active(gone.id, False)
    make_user("agent_manager", agent=make_agent(), email="other-shop@example.com")
    credit_agent(shop.code, 11_000)
    counter = client_of(app, make_user("agent_staff", agent=shop))
    managers = ["first-manager@example.com", "second-manager@example.com"]

    def sell():
        response = counter.post("/counter/sell", data={"sku": SKU, "quantity": 1})
        assert response.status_code == 302, response.get_data(as_text=True)

    sell()  # 11,000 -> 9,650: crossed
    assert balance_of(shop) == 9_650
    assert low_float_mails() == managers

    sell()  # 9,650 -> 8,300: still below
    sell()
    assert low_float_mails() == managers

    credit_agent(shop.code, 5_000)  # 6,950 -> 11,950: above again
    sell()  # 10,600: above
    assert low_float_mails() == managers
    sell()  # 9,250: crossed again
    assert balance_of(shop) == 9_250
    assert low_float_mails() == sorted(managers * 2)
    assert first.email in managers


# --- the operator's agent pages -------------------------------------------------------------


def test_an_admin_creates_an_agent_with_an_upper_case_code(client, login):
    login("admin")

    response = client.post(
        "/admin/agents",
        data={"code": "bkk-kiosk", "name": "Bangkok Kiosk", "discount_bps": 800, "credit_limit": 0},
    )

    assert response.status_code == 302
    assert response.location == "/admin/agents/BKK-KIOSK"
    fresh()
    agent = db.session.execute(select(Agent).filter_by(code="BKK-KIOSK")).scalar_one()
    assert (agent.name, agent.discount_bps, agent.balance) == ("Bangkok Kiosk", 800, 0)


def test_a_taken_agent_code_is_refused(client, login):
    login("admin")
    make_agent(code="BKK-KIOSK")

    response = client.post(
        "/admin/agents",
        data={"code": "bkk-kiosk", "name": "Another", "discount_bps": 0, "credit_limit": 0},
    )

    assert response.status_code == 400
    assert "Another agent already has this code." in response.get_data(as_text=True)
    fresh()
    assert db.session.execute(select(func.count()).select_from(Agent)).scalar_one() == 1


def test_an_admin_credits_an_agent_and_sees_it_in_the_ledger(client, login, shop):
    admin = login("admin")

    response = client.post(
        f"/admin/agents/{shop.code}/credit", data={"amount": 25_000, "note": "wire 42"}
    )

    assert response.status_code == 302
    fresh()
    [entry] = db.session.execute(select(LedgerEntry).filter_by(agent_id=shop.id)).scalars().all()
    assert (entry.kind, entry.amount, entry.balance_after, entry.note, entry.user_id) == (
        LedgerKind.CREDIT_PURCHASE,
        25_000,
        25_000,
        "wire 42",
        admin.id,
    )
    assert balance_of(shop) == 25_000
    page = client.get(f"/admin/agents/{shop.code}")
    assert page.status_code == 200
    assert "wire 42" in page.get_data(as_text=True) and "$250.00" in page.get_data(as_text=True)


def test_a_suspended_agent_sells_nothing_at_the_counter_or_through_the_api(
    app, client, login, pack, shop
):
    login("admin")
    credit_agent(shop.code, 20_000)
    _, key = create_api_key(shop.code, label="till")
    counter = client_of(app, make_user("agent_staff", agent=shop))

    response = client.post(f"/admin/agents/{shop.code}/status", data={"status": "suspended"})

    assert response.status_code == 302
    fresh()
    assert db.session.get(Agent, shop.id).status == AgentStatus.SUSPENDED
    at_counter = counter.post("/counter/sell", data={"sku": SKU, "quantity": 1})
    assert at_counter.status_code == 409
    assert "suspended" in at_counter.get_data(as_text=True)
    by_api = app.test_client().post(
        "/api/v1/vouchers", json={"sku": SKU, "quantity": 1}, headers=auth(key)
    )
    assert by_api.status_code == 403
    assert by_api.get_json()["error"]["code"] == "agent_suspended"
    fresh()
    assert db.session.execute(select(func.count()).select_from(Voucher)).scalar_one() == 0
    assert balance_of(shop) == 20_000


def test_an_unknown_agent_status_is_refused(client, login, shop):
    login("admin")

    response = client.post(f"/admin/agents/{shop.code}/status", data={"status": "closed"})

    assert response.status_code == 400
    fresh()
    assert db.session.get(Agent, shop.id).status == AgentStatus.ACTIVE


def test_admin_sets_discount_and_limit_and_a_bad_discount_changes_nothing(client, login):
    from shop.agents import services as agent_services
    from shop.agents.models import Agent

    login("admin")
    agent = agent_services.create_agent("TERMS", "Terms shop", discount_bps=500, credit_limit=5000)
    agent_services.credit_agent("TERMS", 1000)
    response = client.post(
        "/admin/agents/TERMS/terms", data={"discount_bps": 1200, "credit_limit": 20000}
    )
    assert response.status_code == 302
    db.session.rollback()
    agent = db.session.get(Agent, agent.id)
    assert (agent.discount_bps, agent.credit_limit) == (1200, 20000)
    assert (
        client.post(
            "/admin/agents/TERMS/terms", data={"discount_bps": 20000, "credit_limit": 0}
        ).status_code
        == 302
    )
    db.session.rollback()
    assert db.session.get(Agent, agent.id).discount_bps == 1200
