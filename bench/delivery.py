"""Top-up delivery to the network: redemption-to-delivered latency, and redemption throughput.

    .venv/bin/python bench/delivery.py [--backend sqlite|postgresql] [--redemptions 200]

A fresh database (one pack, 2,000 cards, enough vouchers), the network simulator in this
process knowing every card (``--apply-delay`` seconds per pack), gunicorn serving the shop,
and the product's job worker (``flask --app wsgi jobs worker``, ``--worker-processes`` of
``--job-workers`` threads) on a queue (``--jobs-url``; default a SQLite file). Then, in one run:

1. ``--redemptions`` redemptions over HTTP, ``--clients`` at a time (each pausing ``--pace``
   seconds after each answer); each one's end-to-end time
   is its delivery's ``finished_at`` minus its top-up's ``created_at`` (both written by the
   shop: queueing, the worker's pick-up, the network call and the recording included);
2. wrk on ``POST /api/v1/redemptions`` with the worker and the simulator delivering;
3. the same with the worker stopped, once the simulator has sent its events (deliveries only
   written and dispatched: the redemption's own cost of delivery);
4. wrk on ``bench/bare_app.py`` as the reference the redemption benchmark divides by.
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import redeem  # noqa: E402
from bench.common import POSTGRES_ADMIN_URL, ROOT, SECRETS, gunicorn, make_app, wrk  # noqa: E402
from bench.redeem import CARDS, prepare  # noqa: E402

#: This benchmark's own PostgreSQL database, so that it never drops a
#: database another benchmark is using.
DATABASE_NAME = "shop_bench_delivery"


def own_database_url(backend: str, workdir: Path) -> str:
    """Return a fresh, empty database of ``backend`` named for this benchmark."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE_NAME}"))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE_NAME


def card_numbers() -> list[str]:
    """Return the numbers of the cards ``bench.redeem.prepare`` registers."""
    from shop.cards.numbers import luhn_check_digit

    return [f"894400{n:012d}" + luhn_check_digit(f"894400{n:012d}") for n in range(CARDS)]


def start_worker(env: dict, workers: int) -> subprocess.Popen:
    """Start the product's job worker."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"]
        + ["--workers", str(workers)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    """Stop a process started here."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def redeem_all(base: str, lines: list[str], clients: int, pace: float = 0.0) -> list[float]:
    """Redeem each ``pin,card`` line over HTTP, ``clients`` at a time; return answer times (ms)."""
    answers: list[float] = []
    lock = threading.Lock()
    queue = list(lines)

    def client():
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                pin, card = queue.pop().split(",")
            started = time.perf_counter()
            response = session.post(
                base + "/api/v1/redemptions", json={"pin": pin, "card": card}, timeout=30
            )
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 201:
                raise RuntimeError(f"redemption answered {response.status_code}")
            with lock:
                answers.append(elapsed)
            time.sleep(pace)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def delivery_times(url: str, workdir: Path, expected: int, wait: float) -> tuple[list, int]:
    """Wait until ``expected`` deliveries are done; return their end-to-end times (ms)."""
    from shop.cards.models import DeliveryStatus, TopUp, TopUpDelivery
    from shop.extensions import db

    app = make_app(url, workdir)
    deadline = time.monotonic() + wait
    with app.app_context():
        while True:
            rows = db.session.execute(
                db.select(TopUp.created_at, TopUpDelivery.finished_at)
                .join(TopUpDelivery, TopUpDelivery.topup_id == TopUp.id)
                .where(TopUpDelivery.status == DeliveryStatus.DELIVERED)
            ).all()
            db.session.rollback()
            if len(rows) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        pending = db.session.execute(
            db.select(db.func.count(TopUpDelivery.id)).where(
                TopUpDelivery.status != DeliveryStatus.DELIVERED
            )
        ).scalar_one()
        db.engine.dispose()
    return [(done - made).total_seconds() * 1000 for made, done in rows], pending


def drain_events(network, seconds: float = 120.0) -> None:
    """Wait until the simulator has sent every event it had waiting."""
    deadline = time.monotonic() + seconds
    while network.state.events and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the last one in flight


def percentile(values: list[float], share: float) -> float:
    """Return the value below which ``share`` of ``values`` lie."""
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def main() -> None:
    """Parse arguments, run, print the figures."""
    from simulators.network import NetworkSimulator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--redemptions", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pace", type=float, default=0.0, help="a client's pause after each")
    parser.add_argument("--apply-delay", type=float, default=0.0)
    parser.add_argument("--jobs-url", default="")
    parser.add_argument("--job-workers", type=int, default=2, help="threads per worker")
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--vouchers", type=int, default=30_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's access log
    redeem.database_url = own_database_url  # prepare() makes its database here

    with (
        tempfile.TemporaryDirectory() as tmp,
        NetworkSimulator(
            CARDS=card_numbers(), SUSPENDED_CARDS=(), APPLY_DELAY=args.apply_delay
        ) as network,
    ):
        workdir = Path(tmp)
        url, pin_file = prepare(args.backend, workdir, args.vouchers)
        lines = pin_file.read_text().splitlines()
        first, rest = lines[: args.redemptions], lines[args.redemptions :]
        half = len(rest) // 2
        on_file, off_file = workdir / "on.csv", workdir / "off.csv"
        on_file.write_text("\n".join(rest[:half]) + "\n")
        off_file.write_text("\n".join(rest[half:]) + "\n")
        env = {
            "DATABASE_URL": url,
            "RATELIMIT_ENABLED": "0",
            "JOBS_URL": args.jobs_url or f"sqlite:///{workdir / 'queue.db'}",
            "JOBS_POLL_SECONDS": "0.1",
            **{name: str(value) for name, value in network.shop_config().items()},
            **SECRETS,
        }
        with make_app(url, workdir, JOBS_URL=env["JOBS_URL"]).app_context():
            from shop.jobs.queue import huey

            huey.flush()  # a Redis queue may hold an earlier run's tasks
        serve = {"workers": 2, "threads": 1}
        with gunicorn("wsgi:app", env, probe="/api/v1/products", **serve) as base:
            network.app.config["WEBHOOK_URL"] = base + "/network/events"
            workers = [start_worker(env, args.job_workers) for _ in range(args.worker_processes)]
            try:
                answers = redeem_all(base, first, args.clients, args.pace)
                times, pending = delivery_times(url, workdir, len(first), wait=120)
                lua = str(ROOT / "bench" / "redeem.lua")
                delivering = wrk(
                    base + "/api/v1/redemptions", args.seconds, 4, 2, [lua, str(on_file), "2"]
                )
            finally:
                for worker in workers:
                    stop(worker)
            drain_events(network)
            queued_only = wrk(
                base + "/api/v1/redemptions", args.seconds, 4, 2, [lua, str(off_file), "2"]
            )
        with gunicorn("bench.bare_app:app", {}, probe="/ok", **serve) as bare_base:
            bare = wrk(bare_base + "/ok", args.seconds, 4, 2)

    print(
        f"backend {args.backend}; {args.clients} client(s), pace {args.pace} s; "
        f"simulator apply delay {args.apply_delay} s; "
        f"{args.worker_processes} job worker process(es) of {args.job_workers} thread(s); "
        "gunicorn 2 sync workers"
    )
    print(
        f"redemption -> delivered, {len(times)} of {len(first)} delivered ({pending} not): "
        f"p50 {percentile(times, 0.5):.0f} ms, p95 {percentile(times, 0.95):.0f} ms, "
        f"max {max(times):.0f} ms; redemption answer p50 {statistics.median(answers):.1f} ms"
    )
    print(f"{'redemptions':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in (
        ("with the worker delivering", delivering),
        ("worker stopped (queued only)", queued_only),
        ("bare 'ok' (reference)", bare),
    ):
        print(
            f"{name:<34} {figures['rps']:>8.0f} {figures['p50']:>8.2f} {figures['p99']:>8.2f} "
            f"{figures['non_2xx']:>8}"
        )
    print(
        f"ratio to bare: delivering {delivering['rps'] / bare['rps']:.3f}, "
        f"queued only {queued_only['rps'] / bare['rps']:.3f}"
    )


if __name__ == "__main__":
    main()
