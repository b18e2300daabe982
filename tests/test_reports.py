"""Sales reports: totals against the ledger and the vouchers, periods, CSV, PDF and access."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, LedgerEntry, LedgerKind
from shop.cards.models import TopUp
from shop.catalog.models import Product
from shop.extensions import db
from shop.reports import periods, queries
from shop.reports.pdf import render_sales_report
from shop.reports.sales_csv import sales_csv
from shop.vouchers.models import Voucher, VoucherStatus
from tests.agents_helpers import auth, make_agent_with_key
from tests.factories import PASSWORD, make_user
from tests.reports_helpers import sales_world

UTC_ZONE = ZoneInfo("UTC")


def today_period(zone=UTC_ZONE):
    return periods.preset_period("today", zone)


def ledger_total(agent_id, kind):
    return db.session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.agent_id == agent_id, LedgerEntry.kind == kind
        )
    ).scalar_one()


def voucher_sums(agent_id, *statuses):
    return db.session.execute(
        select(func.count(), func.coalesce(func.sum(Voucher.face_value), 0)).where(
            Voucher.agent_id == agent_id,
            Voucher.cost.is_not(None),
            Voucher.status.in_(statuses),
        )
    ).one()


def login_as(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def read_csv(content: bytes) -> list[dict]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_report_totals_equal_the_ledger_and_the_vouchers_to_the_cent(app):
    world = sales_world()
    period = today_period()

    report = queries.sales_report(period, agent_id=world.agent.id)

    sold = VoucherStatus.ACTIVE, VoucherStatus.REDEEMED
    count, face = voucher_sums(world.agent.id, *sold)
    topup_face, topup_cost = db.session.execute(
        select(func.sum(TopUp.face_value), func.sum(TopUp.cost)).where(
            TopUp.agent_id == world.agent.id
        )
    ).one()
    assert report.totals.count == count + 1 == 3 - 1 + 2 + 1 + 1 + 1
    assert report.totals.face_value == face + topup_face
    sales_paid = -ledger_total(world.agent.id, LedgerKind.SALE)
    refunds = ledger_total(world.agent.id, LedgerKind.VOID_REFUND)
    assert report.totals.cost == sales_paid - refunds
    assert report.voids.count == 1 and report.voids.cost == refunds == 425
    assert report.by_kind["topup"].cost == topup_cost
    assert report.totals.margin == report.totals.face_value - report.totals.cost
    for breakdown in (report.by_product, report.by_day, report.by_staff):
        assert sum(line.figures.cost for line in breakdown) == report.totals.cost
        assert sum(line.figures.face_value for line in breakdown) == report.totals.face_value
    assert {line.label for line in report.by_staff} == {"", *(u.email for u in world.staff)}
    assert (report.vouchers_sold, report.vouchers_redeemed) == (6, 1)

    other = queries.sales_report(period, agent_id=world.other.id)
    everyone = queries.sales_report(period, currency="USD")
    assert everyone.totals == queries.Figures(
        report.totals.count + other.totals.count,
        report.totals.face_value + other.totals.face_value,
        report.totals.cost + other.totals.cost,
    )
    assert {line.code for line in everyone.by_agent} == {world.agent.code, world.other.code}

    settled = {row.agent.code: row for row in queries.settlements(period)}
    for agent in (world.agent, world.other):
        row = settled[agent.code]
        db.session.refresh(agent)
        assert row.closing == ledger_sum(agent.id) == agent.balance
        assert row.opening == 0 and row.credit_purchased in (100_000, 50_000)
    assert settled[world.agent.code].sales_at_cost == sales_paid
    assert settled[world.agent.code].refunds == refunds

    (line,) = queries.stock(agent_id=world.agent.id)
    assert (line.count, line.face_value) == (3, 1500)


def test_days_are_inclusive_in_the_operator_time_zone(app):
    zone = ZoneInfo("Asia/Bangkok")  # UTC+7
    world = sales_world()
    late, early = db.session.execute(
        select(Voucher.id).where(Voucher.agent_id == world.other.id).order_by(Voucher.id).limit(2)
    ).scalars()
    moments = {
        late: datetime(2026, 3, 1, 16, 59, 59, tzinfo=UTC),  # 23:59:59 on 1 March in Bangkok
        early: datetime(2026, 3, 1, 17, 0, 0, tzinfo=UTC),  # 00:00 on 2 March in Bangkok
    }
    for voucher_id, moment in moments.items():
        db.session.execute(update(Voucher).where(Voucher.id == voucher_id).values(sold_at=moment))
    db.session.commit()

    first = queries.sales_report(
        periods.parse_period("2026-03-01", "2026-03-01", zone), agent_id=world.other.id
    )
    second = queries.sales_report(
        periods.parse_period("2026-03-02", "2026-03-02", zone), agent_id=world.other.id
    )
    both = queries.sales_report(
        periods.parse_period("2026-02-28", "2026-03-02", zone), agent_id=world.other.id
    )
    empty = queries.sales_report(
        periods.parse_period("2026-01-01", "2026-01-31", zone), agent_id=world.other.id
    )

    assert first.totals.count == 1 and second.totals.count == 1
    assert [line.figures.count for line in both.by_day] == [0, 1, 1]
    assert [line.label for line in both.by_day] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert empty.totals == queries.Figures() and len(empty.by_day) == 31
    assert empty.redemption_rate_bps is None


def test_a_day_when_the_clocks_change_has_its_own_length():
    london = ZoneInfo("Europe/London")
    spring = periods.parse_period("2026-03-29", "2026-03-29", london)
    autumn = periods.parse_period("2026-10-25", "2026-10-25", london)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("first", "last", "problems"),
    [
        (None, "2026-01-01", {"from": "required"}),
        ("2026-02-30", "2026-03-01", {"from": "not_a_date"}),
        ("20260101", "2026-03-01", {"from": "not_a_date"}),
        ("2026-03-02", "2026-03-01", {"to": "after_to"}),
        ("2025-01-01", "2026-01-02", {"to": "too_long"}),
        ("0001-01-01", "0001-01-02", {"from": "not_a_date", "to": "not_a_date"}),
    ],
)
def test_bad_periods_are_refused_with_the_field_at_fault(first, last, problems):
    with pytest.raises(periods.InvalidPeriod) as refused:
        periods.parse_period(first, last, UTC_ZONE)
    assert refused.value.problems == problems


def test_presets_name_whole_days():
    now = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)  # Wednesday; already Thursday in Bangkok
    bangkok = ZoneInfo("Asia/Bangkok")
    assert periods.preset_period("today", bangkok, now).first == date(2026, 3, 5)
    assert periods.preset_period("yesterday", UTC_ZONE, now).first == date(2026, 3, 3)
    week = periods.preset_period("this_week", UTC_ZONE, now)
    assert (week.first, week.last) == (date(2026, 3, 2), date(2026, 3, 4))
    last_month = periods.preset_period("last_month", UTC_ZONE, now)
    assert (last_month.first, last_month.last) == (date(2026, 2, 1), date(2026, 2, 28))


def test_csv_parses_back_to_the_report_totals(app):
    world = sales_world()
    period = today_period()
    report = queries.sales_report(period, agent_id=world.agent.id)

    rows = read_csv(sales_csv(period, agent_id=world.agent.id))

    counted = [row for row in rows if row["counted"] == "1"]
    assert len(counted) == report.totals.count
    assert sum(int(row["face_value_minor"]) for row in counted) == report.totals.face_value
    assert sum(int(row["cost_minor"]) for row in counted) == report.totals.cost
    assert sum(int(row["margin_minor"]) for row in counted) == report.totals.margin
    assert [row["status"] for row in rows if row["counted"] == "0"] == ["void"]
    assert {row["kind"] for row in rows} == {"voucher", "topup"}
    assert {row["agent_name"] for row in rows} == {"Lotus 旅行社"}
    assert "亚洲 10 GB" in {row["pack"] for row in rows}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_names_that_look_like_formulas_stay_text_in_the_csv(app, start):
    world = sales_world()
    agent_name, pack_name = f"{start}HYPERLINK(1)", f"{start}cmd|' /C calc'!A0"
    # Written straight to the database: the forms trim spaces, the CSV must not rely on it.
    db.session.execute(update(Agent).where(Agent.id == world.agent.id).values(name=agent_name))
    db.session.execute(
        update(Product).where(Product.id == world.packs[1].id).values(name=pack_name)
    )
    db.session.commit()

    rows = read_csv(sales_csv(today_period(), agent_id=world.agent.id))

    assert {row["agent_name"] for row in rows} == {"'" + agent_name}
    assert "'" + pack_name in {row["pack"] for row in rows}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\x00"))


def test_a_nul_before_a_formula_is_dropped_and_the_formula_neutralised():
    from shop.csv_export import safe_cell

    assert safe_cell("\x00=1+1") == "'=1+1"
    assert safe_cell("-2") == "'-2" and safe_cell(-2) == "-2"


def test_pdf_holds_the_totals_and_renders(app, tmp_path):
    import pypdfium2

    world = sales_world()
    report = queries.sales_report(today_period(), agent_id=world.agent.id)

    content = render_sales_report(
        report, shop_name="Wanderdata", scope_label=world.agent.name, generated_at=datetime.now(UTC)
    )

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Lotus" in text and "旅行社" in text  # Latin and Chinese runs are set in two fonts
    assert f"${report.totals.face_value / 100:,.2f}" in text
    assert f"${report.totals.cost / 100:,.2f}" in text
    assert f"${report.totals.margin / 100:,.2f}" in text
    page = pypdfium2.PdfDocument(content)[0]
    image = page.render(scale=1.5).to_pil()
    image.save(tmp_path / "report.png")
    assert image.size[0] > 800


def test_managers_see_only_their_own_agent(app, client):
    world = sales_world()
    other_manager = make_user(role="agent_manager", agent=world.other)
    login_as(client, world.manager)

    pages = [
        client.get("/reports/"),
        client.get("/reports/sales?preset=today"),
        client.get(f"/reports/sales?preset=today&agent={world.other.code}"),
    ]
    for response in pages:
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert world.agent.name in body and world.other.name not in body
    rows = read_csv(
        client.get(f"/reports/sales?preset=today&format=csv&agent={world.other.code}").data
    )
    assert {row["agent_code"] for row in rows} == {world.agent.code}
    pdf = client.get("/reports/sales?preset=today&format=pdf")
    assert pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert world.agent.code in text and world.other.code not in text

    client.post("/logout")
    login_as(client, other_manager)
    rows = read_csv(client.get("/reports/sales?preset=today&format=csv").data)
    assert {row["agent_code"] for row in rows} == {world.other.code}
    assert client.get("/reports/settlement").status_code == 403


def test_staff_see_no_reports_and_admins_see_every_agent(app, client, login):
    world = sales_world()
    login_as(client, world.staff[0])
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/sales").status_code == 403
    client.post("/logout")

    login("admin")
    body = client.get("/reports/sales?preset=today").get_data(as_text=True)
    assert world.agent.code in body and world.other.code in body
    one = client.get(f"/reports/sales?preset=today&agent={world.other.code}").get_data(as_text=True)
    assert world.other.name in one and world.agent.code not in one
    assert client.get("/reports/sales?agent=NOPE").status_code == 404
    assert client.get("/reports/").status_code == 200
    for path in ("/reports/settlement?preset=this_month", "/reports/stock"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert world.agent.code in response.get_data(as_text=True)


def test_dashboard_chart_is_svg_without_inline_style_or_script(app, client):
    world = sales_world()
    login_as(client, world.manager)
    body = client.get("/reports/").get_data(as_text=True)
    assert "<svg" in body and body.count('class="chart-bar"') == 30
    assert " style=" not in body and "<script" not in body


def test_a_report_opened_without_a_period_says_it_shows_this_month(app, client, login):
    login("admin")
    month = periods.preset_period("this_month", UTC_ZONE)
    for path in ("/reports/sales", "/reports/settlement", "/reports/storefront"):
        body = client.get(path).get_data(as_text=True)
        assert '<option value="this_month" selected>' in body, path
        assert body.count(" selected>") == 1, path
        assert f'value="{month.first.isoformat()}"' in body, path


def test_bad_dates_on_the_pages_are_a_form_error_not_a_crash(app, client, login):
    world = sales_world()
    login_as(client, world.manager)
    for query in (
        "preset=custom&from=2026-02-30&to=2026-03-01",
        "from=x&to=y",
        "preset=nope",
        "preset=custom&from=2026-03-02&to=2026-03-01",
        "preset=custom&from=2020-01-01&to=2026-01-01",
    ):
        response = client.get(f"/reports/sales?{query}")
        assert response.status_code == 422, query
        assert "field-errors" in response.get_data(as_text=True)
    client.post("/logout")
    login("admin")
    assert client.get("/reports/settlement?from=2026-01-40&to=2026-02-01").status_code == 422


def test_api_sales_report_is_the_agents_own(app, client):
    world = sales_world()
    agent, key = make_agent_with_key(balance=10_000)
    from shop.agents import sales
    from shop.audit.services import Actor

    sales.sell_vouchers(agent.id, world.packs[0].sku, 2, Actor(label="api"))
    today = periods.local_today(UTC_ZONE).isoformat()

    response = client.get(f"/api/v1/reports/sales?from={today}&to={today}", headers=auth(key))

    assert response.status_code == 200
    body = response.get_json()
    assert body["from"] == body["to"] == today
    assert body["totals"] == {
        "count": 2,
        "face_value": {"amount": 1000, "currency": "USD"},
        "cost": {"amount": 900, "currency": "USD"},
        "margin": {"amount": 100, "currency": "USD"},
    }
    assert [line["sku"] for line in body["by_product"]] == [world.packs[0].sku]
    assert body["by_day"][0]["date"] == today
    csv_response = client.get(
        f"/api/v1/reports/sales?from={today}&to={today}&format=csv", headers=auth(key)
    )
    assert csv_response.mimetype == "text/csv"
    rows = read_csv(csv_response.data)
    assert len(rows) == 2 and {row["agent_code"] for row in rows} == {agent.code}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("from=2026-01-01", {"to"}),
        ("from=2026-13-01&to=2026-12-31", {"from"}),
        ("from=2026-03-02&to=2026-03-01", {"to"}),
        ("from=2024-01-01&to=2026-01-01", {"to"}),
        ("from=2026-01-01&to=2026-01-02&format=xml", {"format"}),
    ],
)
def test_api_refuses_bad_periods_with_422(app, client, query, fields):
    _, key = make_agent_with_key()
    response = client.get(f"/api/v1/reports/sales?{query}", headers=auth(key))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and set(error["fields"]) == fields
    assert client.get("/api/v1/reports/sales?from=2026-01-01&to=2026-01-02").status_code == 401


def test_reports_do_not_load_sales_into_python(app, monkeypatch):
    """The report is a handful of grouped queries, whatever the number of sales.

    Three group: voucher sales, top-up sales, and the earnings per level of the tree.
    """
    from sqlalchemy import event

    world = sales_world()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        queries.sales_report(today_period(), agent_id=world.agent.id)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    grouped = [sql for sql in statements if "GROUP BY" in sql]
    assert len(grouped) == 3 and len(statements) <= 9


def test_nobody_sees_an_agent_row_of_another_currency(app):
    world = sales_world()
    db.session.execute(update(Agent).where(Agent.id == world.other.id).values(currency="EUR"))
    db.session.execute(update(Product).values(currency="USD"))
    db.session.commit()
    report = queries.sales_report(today_period(), currency="USD")
    assert {line.code for line in report.by_agent} == {world.agent.code}
