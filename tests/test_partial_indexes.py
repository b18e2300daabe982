"""Partial indexes: they hold only the rows their queries look for, and those queries use them.

A partial index that no query can prove itself allowed to use is silently ignored, and the
query scans the table instead. These tests ask each backend's planner for the plans of the
real report queries, captured as the app sends them, with table scans discouraged.
"""

import pytest
from sqlalchemy import event, inspect, select, text

from shop.extensions import db
from shop.reports import periods, queries
from shop.vouchers import batches
from shop.vouchers.models import Voucher
from tests.factories import make_agent, make_product

PARTIAL = {
    "voucher": {
        "ix_voucher_inactive_agent": "status = 'inactive'",
        "ix_voucher_redeemed_card_id": "redeemed_card_id IS NOT NULL",
    },
    "topup": {"ix_topup_agent_created": "agent_id IS NOT NULL"},
    "audit_event": {"ix_audit_event_agent_id": "agent_id IS NOT NULL"},
}


def index_definitions(table: str) -> dict[str, str]:
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :table"),
            {"table": table},
        )
    else:
        rows = db.session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
            {"t": table},
        )
    return {name: sql or "" for name, sql in rows}


def normalised(sql: str) -> str:
    """Index SQL without the quoting and casts each backend adds."""
    for noise in ("(", ")", '"', "::text", "::character varying"):
        sql = sql.replace(noise, "")
    return " ".join(sql.split()).lower()


def test_the_migrated_indexes_are_partial_and_the_redundant_one_is_gone(app):
    for table, indexes in PARTIAL.items():
        definitions = index_definitions(table)
        for name, where in indexes.items():
            assert name in definitions, (table, name)
            assert normalised(f"WHERE {where}") in normalised(definitions[name]), definitions[name]
    assert "ix_topup_agent_id" not in index_definitions("topup")
    assert "ix_voucher_status_agent" not in index_definitions("voucher")
    assert not [
        i for i in inspect(db.engine).get_indexes("topup") if i["name"] == "ix_topup_agent_id"
    ]


def test_only_inactive_stock_is_in_the_stock_index(app):
    product = make_product()
    agent = make_agent()
    batches.generate_batch(product, 7, agent_id=agent.id, inactive=True)
    batches.generate_batch(product, 5, agent_id=agent.id)
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        hint = "SELECT count(*) FROM voucher INDEXED BY ix_voucher_inactive_agent"
        where = " WHERE status = 'inactive' AND agent_id IS NOT NULL"
        assert db.session.execute(text(hint + where)).scalar_one() == 7
    stock = queries.stock(agent_id=agent.id)
    assert [(line.count, line.sku) for line in stock] == [(7, product.sku)]


def captured_selects(run) -> list[tuple]:
    """Run ``run()`` and return every SELECT it sent, with its parameters."""
    statements = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    connection = db.session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    return statements


def captured_plans(run) -> list[str]:
    """Run ``run()`` and return the plan of every SELECT it sent, as its backend explains it."""
    statements = captured_selects(run)
    connection = db.session.connection()
    plans = []
    postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for statement, parameters in statements:
        prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        plans.append("\n".join(str(row[-1]) for row in rows))
    return plans


@pytest.mark.parametrize("one_agent", [True, False], ids=["one agent", "all agents"])
def test_reports_use_the_partial_agent_indexes(app, one_agent):
    agent = make_agent()
    agent_id = agent.id if one_agent else None
    period = periods.preset_period("this_week", periods.report_zone("UTC"))

    plans = captured_plans(lambda: queries.sales_report(period, agent_id=agent_id))
    plans += captured_plans(lambda: queries.stock(agent_id=agent_id))

    assert any("ix_topup_agent_created" in plan for plan in plans), plans
    assert any("ix_voucher_inactive_agent" in plan for plan in plans), plans


def test_the_stock_query_names_the_status_as_the_index_does(app):
    # With "status = ?" a prepared statement's generic plan could not use the partial index.
    (statement, _parameters), *_ = captured_selects(lambda: queries.stock())
    assert "status = 'inactive'" in statement


def test_a_card_s_vouchers_are_found_through_the_partial_card_index(app):
    plans = captured_plans(
        lambda: db.session.execute(select(Voucher.id).where(Voucher.redeemed_card_id == 1)).all()
    )
    assert any("ix_voucher_redeemed_card_id" in plan for plan in plans), plans
