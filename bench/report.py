"""Sales reports on 1,000,000 sales across 50 agents, beside ``SELECT count(*)`` of the same table.

    .venv/bin/python bench/report.py [--backend sqlite|postgresql|both] [--sales 1000000]

Loads the sales straight into a fresh database (COPY on PostgreSQL, executemany on SQLite;
PIN columns hold placeholders, reports never read them), spread over the last 365 days, 2 % of
them voided and a third redeemed. Then times the functions the pages and the API call
(``shop.reports.queries.sales_report``) for last month: one agent, and all agents. Each figure
is the median of five runs after one warm-up, as is the ``count(*)`` reference.
PostgreSQL is the ``bench`` database (``BENCH_REPORT_POSTGRES_URL``), SQLite a file in /tmp.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402

from shop.vouchers.bulk import BATCH_COLUMNS, OWN_COLUMNS  # noqa: E402

POSTGRES_URL = os.environ.get(
    "BENCH_REPORT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
)
AGENTS = 50
PACKS = ((500, "ASIA-1GB"), (1299, "ASIA-10GB"), (2500, "WORLD-20GB"), (900, "EU-5GB"))
GOALS = {"one agent": 0.2, "all agents": 2.0}


def fresh_postgres() -> str:
    """Create (or empty) the database ``BENCH_REPORT_POSTGRES_URL`` names and return its URL."""
    admin = create_engine(
        POSTGRES_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    name = POSTGRES_URL.rsplit("/", 1)[1]
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL


#: The voucher columns the loader fills, in the order of its row tuples: here every column
#: varies from row to row (the shop's own writer shares a batch's values between its rows).
LOADED_COLUMNS = OWN_COLUMNS + BATCH_COLUMNS


def insert_rows(connection, rows: list[tuple]) -> None:
    """Insert sold-voucher rows whose every column varies: COPY, or executemany on SQLite."""
    columns = ", ".join(LOADED_COLUMNS)
    if connection.dialect.name == "postgresql":
        driver_connection = connection.connection.driver_connection
        with (
            driver_connection.cursor() as cursor,
            cursor.copy(f"COPY voucher ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in LOADED_COLUMNS)
    connection.exec_driver_sql(f"INSERT INTO voucher ({columns}) VALUES ({marks})", rows)  # noqa: S608


def load(app, sales: int) -> None:
    """Create 50 agents with a seller each, four packs, and ``sales`` sold vouchers."""
    import random

    from shop.agents.services import create_agent
    from shop.auth.models import Role
    from shop.auth.services import create_user
    from shop.catalog.services import ProductData, create_product
    from shop.extensions import db
    from shop.vouchers.models import BatchPurpose, VoucherBatch, VoucherStatus

    rng = random.Random(6)
    products = [
        create_product(ProductData(sku=sku, name=sku, data_mb=1024, validity_days=30, price=price))
        for price, sku in PACKS
    ]
    agents, sellers, batches = [], [], []
    now = datetime.now(UTC)
    for number in range(AGENTS):
        agent = create_agent(f"B{number:02d}", f"Bench shop {number}", discount_bps=1000)
        user = create_user(
            f"seller{number}@bench.example",
            "bench-password-1",
            Role.AGENT_STAFF,
            agent_id=agent.id,
        )
        agent_batches = [
            VoucherBatch(
                product_id=product.id,
                agent_id=agent.id,
                purpose=BatchPurpose.SALE,
                quantity=0,
                initial_status=VoucherStatus.ACTIVE,
                expires_at=now + timedelta(days=730),
            )
            for product in products
        ]
        db.session.add_all(agent_batches)
        db.session.flush()
        agents.append(agent.id)
        sellers.append(user.id)
        batches.append([batch.id for batch in agent_batches])  # a voucher's pack is its batch's
    db.session.commit()

    sqlite = db.engine.dialect.name == "sqlite"

    def stamp(moment: datetime):
        return moment.replace(tzinfo=None).isoformat(sep=" ") if sqlite else moment

    expires = stamp(now + timedelta(days=730))
    chunk = 50_000
    started = time.perf_counter()
    for first in range(0, sales, chunk):
        rows = []
        for number in range(first, min(first + chunk, sales)):
            slot = rng.randrange(AGENTS)
            price, _ = PACKS[number % len(PACKS)]
            sold = now - timedelta(seconds=rng.randrange(365 * 86_400))
            roll = rng.random()
            status = "void" if roll < 0.02 else "redeemed" if roll < 0.35 else "active"
            rows.append(
                (
                    f"B{number:014d}",
                    f"{number:064x}",
                    "-",
                    batches[slot][number % len(PACKS)],
                    products[number % len(PACKS)].id,
                    agents[slot],
                    status,
                    price,
                    price - price // 10,
                    "USD",
                    1024,
                    30,
                    "bench",
                    "k1",
                    expires,
                    stamp(sold),
                    stamp(sold),
                    sellers[slot],
                )
            )
        with db.engine.begin() as connection:
            insert_rows(connection, rows)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    print(f"  loaded {sales:,} sales in {time.perf_counter() - started:.1f} s", flush=True)


def timed(function, runs: int = 5) -> float:
    """Return the median wall time of ``function`` in seconds, after one warm-up call."""
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(backend: str, sales: int, workdir: Path) -> dict:
    """Load one backend and return its timings."""
    from flask_migrate import upgrade

    from bench.common import make_app
    from shop.extensions import db
    from shop.reports import periods, queries

    url = f"sqlite:///{workdir / 'report-bench.db'}" if backend == "sqlite" else fresh_postgres()
    app = make_app(url, workdir)
    with app.app_context():
        upgrade()
        load(app, sales)
        period = periods.preset_period("last_month", periods.report_zone("UTC"))
        agent_id = db.session.execute(text("SELECT min(id) FROM agent")).scalar_one()

        def one_agent():
            report = queries.sales_report(period, agent_id=agent_id)
            db.session.rollback()
            return report

        def all_agents():
            report = queries.sales_report(period, currency="USD")
            db.session.rollback()
            return report

        def count():
            value = db.session.execute(text("SELECT count(*) FROM voucher")).scalar_one()
            db.session.rollback()
            return value

        figures = {
            "one agent": timed(one_agent),
            "all agents": timed(all_agents),
            "count(*)": timed(count),
            "rows": count(),
            "agent sales": one_agent().totals.count,
            "all sales": all_agents().totals.count,
            "period": f"{period.first} to {period.last}",
        }
        db.engine.dispose()
    return figures


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sales", type=int, default=1_000_000)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        for backend in backends:
            print(f"{backend}:", flush=True)
            figures = run(backend, args.sales, Path(tmp))
            print(
                f"  {figures['rows']:,} voucher rows; last month ({figures['period']}): "
                f"{figures['agent sales']:,} sales of one agent, {figures['all sales']:,} of all"
            )
            for name in ("one agent", "all agents", "count(*)"):
                goal = GOALS.get(name)
                met = "met" if goal and figures[name] < goal else "NOT met"
                verdict = f" (goal < {goal * 1000:.0f} ms: {met})" if goal else " (reference)"
                print(f"  {name:>10}: {figures[name] * 1000:9.1f} ms{verdict}")


if __name__ == "__main__":
    main()
