"""Redemption throughput and latency, beside a bare Flask endpoint served the same way.

    .venv/bin/python bench/redeem.py [--backend sqlite|postgresql|both] [--seconds 15]

For each backend: a fresh database with one pack, 2,000 cards and enough distinct vouchers;
gunicorn (``--workers``, ``--threads``; default 2 sync workers, as the prototype measured) serves
the shop with rate limits off, and wrk (a separate load process, ``--connections`` open
connections) sends one distinct valid PIN per request. The same gunicorn settings then serve
``bench/bare_app.py`` and wrk measures its ``return "ok"``. Needs wrk (``apt-get install wrk``).
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SECRETS, database_url, gunicorn, make_app, wrk  # noqa: E402

CARDS = 2_000


def prepare(backend: str, workdir: Path, vouchers: int) -> tuple[str, Path]:
    """Create the database with a pack, cards and vouchers; write the PINs for wrk."""
    from flask_migrate import upgrade

    from shop.cards.numbers import luhn_check_digit
    from shop.cards.services import register_card
    from shop.catalog.services import ProductData, create_product
    from shop.extensions import db
    from shop.vouchers.batches import generate_batch

    url = database_url(backend, workdir)
    app = make_app(url, workdir)
    pin_file = workdir / "pins.csv"
    with app.app_context():
        upgrade()
        product = create_product(
            ProductData(
                sku="BENCH-1GB", name="Bench 1 GB", data_mb=1024, validity_days=30, price=500
            )
        )
        numbers = []
        for n in range(CARDS):
            partial = f"894400{n:012d}"
            numbers.append(register_card(partial + luhn_check_digit(partial)).number)
        pins = [v.pin for v in generate_batch(product, vouchers, keep_pins=True).vouchers]
        db.engine.dispose()
    pin_file.write_text("".join(f"{pin},{numbers[i % CARDS]}\n" for i, pin in enumerate(pins)))
    return url, pin_file


def count_redeemed(url: str, workdir: Path) -> int:
    """Return how many vouchers the database says were redeemed."""
    from shop.extensions import db
    from shop.vouchers.models import Voucher, VoucherStatus

    app = make_app(url, workdir)
    with app.app_context():
        count = db.session.execute(
            db.select(db.func.count(Voucher.id)).filter_by(status=VoucherStatus.REDEEMED)
        ).scalar_one()
        db.engine.dispose()
    return count


def run(backend: str, args) -> dict:
    """Measure one backend and the bare endpoint; return both results."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, pin_file = prepare(backend, workdir, args.vouchers)
        env = {"DATABASE_URL": url, "RATELIMIT_ENABLED": "0", **SECRETS}
        serve = {"workers": args.workers, "threads": args.threads}
        app_spec = getattr(args, "app", "wsgi:app")
        with gunicorn(app_spec, env, probe="/api/v1/products", **serve) as base:
            shop = wrk(
                base + "/api/v1/redemptions",
                args.seconds,
                args.connections,
                args.wrk_threads,
                script=[str(ROOT / "bench" / "redeem.lua"), str(pin_file), str(args.wrk_threads)],
            )
        redeemed = count_redeemed(url, workdir)
        with gunicorn("bench.bare_app:app", {}, probe="/ok", **serve) as base:
            bare = wrk(base + "/ok", args.seconds, args.connections, args.wrk_threads)
    return {"backend": backend, "shop": shop, "bare": bare, "redeemed": redeemed}


def main() -> None:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--vouchers", type=int, default=60_000)
    parser.add_argument(
        "--app",
        default="wsgi:app",
        help="the shop's WSGI app to serve (bench.lean_app:app: without its hooks and session)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"gunicorn --workers {args.workers} --threads {args.threads}; wrk -t{args.wrk_threads} "
        f"-c{args.connections} -d{args.seconds}s; rate limits off"
    )
    print(
        f"{'backend':<11} {'endpoint':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
    )
    for backend in backends:
        result = run(backend, args)
        for name, figures in (
            ("redemptions", result["shop"]),
            ("bare 'ok' (reference)", result["bare"]),
        ):
            print(
                f"{backend:<11} {name:<22} {figures['rps']:>9.0f} {figures['p50']:>8.2f} "
                f"{figures['p99']:>8.2f} {figures['non_2xx']:>8}"
            )
        ratio = result["shop"]["rps"] / result["bare"]["rps"]
        print(
            f"{backend:<11} ratio redemptions/bare = {ratio:.2f} (goal >= 0.30); "
            f"vouchers redeemed in the database: {result['redeemed']} "
            f"(responses: {result['shop']['requests']}, non-2xx: {result['shop']['non_2xx']})"
        )


if __name__ == "__main__":
    main()
