"""What the reseller tree costs a sale: by an agent of the operator, and three levels down.

One-voucher sales by the operator's agent and by a sub-sub-agent (whose sale also credits two
commissions and writes three earnings rows).

    .venv/bin/python bench/agent_tree.py [--database-url URL] [--sales 300]

Without ``--database-url`` it runs on a fresh SQLite file; a PostgreSQL URL must name an empty
database of your own (its tables are created by the migrations, and left behind).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(url: str | None, count: int) -> None:
    """Sell ``count`` vouchers one by one at each depth and print the median time per sale."""
    from flask_migrate import upgrade

    from bench.common import make_app
    from shop.agents import sales, transfers, tree
    from shop.agents import services as agent_services
    from shop.audit.services import Actor
    from shop.catalog.services import ProductData, create_product

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app = make_app(url or f"sqlite:///{workdir / 'bench.db'}", workdir)
        with app.app_context():
            upgrade()
            actor = Actor(label="bench")
            create_product(
                ProductData(
                    sku="BENCH-1",
                    name="Bench pack",
                    data_mb=1024,
                    validity_days=7,
                    price=1000,
                    currency="USD",
                    region="Asia",
                    coverage=["TH"],
                )
            )
            top = agent_services.create_agent("TOP", "Top", discount_bps=2000)
            agent_services.credit_agent("TOP", 10_000_000)
            middle, leaf = top, None
            for code, discount in (("MID", 1500), ("LEAF", 1000)):
                leaf = tree.create_sub_agent(
                    middle,
                    code,
                    code,
                    discount_bps=discount,
                    credit_limit=0,
                    manager_email=f"{code.lower()}@bench.example",
                    manager_password="bench-password-1",
                )
                transfers.transfer_float(middle.id, code, 3_000_000, actor)
                middle = leaf
            for label, agent_id in (("depth 1", top.id), ("depth 3", leaf.id)):
                timings = []
                for _ in range(count):
                    started = time.perf_counter()
                    sales.sell_vouchers(agent_id, "BENCH-1", 1, actor)
                    timings.append(time.perf_counter() - started)
                print(
                    f"{label}: median {statistics.median(timings) * 1000:.2f} ms per sale, "
                    f"p90 {statistics.quantiles(timings, n=10)[-1] * 1000:.2f} ms ({count} sales)"
                )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sales", type=int, default=300)
    args = parser.parse_args()
    run(args.database_url, args.sales)


if __name__ == "__main__":
    main()
