"""Where one redemption's time goes: the WSGI app driven in-process, one request at a time.

    .venv/bin/python bench/profile_redeem.py [--backend sqlite|postgresql] [--requests 2000]

A fresh database as ``bench/redeem.py`` makes it; the app is built as gunicorn builds it (rate
limits off unless ``--redis URL`` turns them on with that store), and ``POST /api/v1/redemptions``
is called through ``app.wsgi_app`` with one distinct valid PIN per request. Printed: wall and CPU
time per request, and the wall time of the phases of a redemption, each measured by wrapping the
function that does it: the pool checkout (with its pre-ping), the database statements, the commit,
the guess-limit counters. What is left is Flask, routing, JSON, validation and hashing. The same
app's bare ``GET /api/v1/ping``-like cost is the reference: a ``return "ok"`` app driven the same
way (``bench/bare_app.py``). Run it under ``strace -f -c -e trace=sendto`` to count round trips.
"""

import argparse
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import limits_on, make_app  # noqa: E402
from bench.redeem import prepare  # noqa: E402

PHASES: dict[str, float] = defaultdict(float)


def timed(name: str, function):
    """Return ``function`` wrapped to add its wall time to ``PHASES[name]``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            PHASES[name] += time.perf_counter() - start

    return wrapper


def instrument(app) -> None:
    """Wrap the phases of a redemption in timers."""
    import psycopg

    from shop import throttle
    from shop.extensions import db
    from shop.vouchers import redemption_sql, services
    from shop.vouchers.crypto import PinVault

    with app.app_context():
        engine = db.engine
        engine.raw_connection = timed("pool checkout (with pre-ping)", engine.raw_connection)
    redemption_sql.redeem = timed("statements", redemption_sql.redeem)
    redemption_sql.begin_driver_write = timed("begin", redemption_sql.begin_driver_write)
    psycopg.Connection.commit = timed("commit", psycopg.Connection.commit)
    services.reserve_all = timed("guess limits: reserve", services.reserve_all)
    if hasattr(services, "release_all"):
        services.release_all = timed("guess limits: release", services.release_all)
    else:  # the code before release_all
        throttle.FailureLimit.release = timed(
            "guess limits: release", throttle.FailureLimit.release
        )
    PinVault.lookup_hashes = timed("PIN hashes", PinVault.lookup_hashes)


def environ(body: bytes) -> dict:
    """Return a WSGI environ of a JSON POST to the redemption endpoint."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/api/v1/redemptions",
        method="POST",
        data=body,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    return builder.get_environ()


def redeeming_app(backend: str, workdir: Path, count: int, redis: str | None = None):
    """Return the shop app on a fresh database and ``count`` bodies redeeming distinct PINs.

    The app is built as gunicorn builds it: rate limits off, or on in ``redis`` (emptied first).
    """
    url, pin_file = prepare(backend, workdir, count)
    app = make_app(
        url, workdir, SQLITE_CHECKPOINT_SECONDS=0.1, **(limits_on(redis) if redis else {})
    )
    if redis:
        from shop.extensions import limiter

        with app.app_context():
            limiter.storage.reset()
    bodies = [
        json.dumps({"pin": pin, "card": card}).encode()
        for pin, card in (line.split(",") for line in pin_file.read_text().splitlines())
    ]
    return app, bodies


def bare_environs(count: int) -> list[dict]:
    """Return ``count`` requests of the bare app's ``GET /ok``."""
    return [{**environ(b""), "PATH_INFO": "/ok", "REQUEST_METHOD": "GET"} for _ in range(count)]


def drive(wsgi_app, environs: list[dict]) -> tuple[float, float, list[str]]:
    """Call the app with each environ; return wall and CPU seconds and the statuses."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    wall, cpu = time.perf_counter(), time.process_time()
    for env in environs:
        env["wsgi.input"] = io.BytesIO(env["wsgi.input"].getvalue())
        body = wsgi_app(env, start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
    return time.perf_counter() - wall, time.process_time() - cpu, statuses


def main() -> None:
    """Prepare, drive, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis", help="rate limits on, counted in this Redis (redis://...)")
    parser.add_argument("--no-instrument", action="store_true", help="time the whole only")
    args = parser.parse_args()
    from bench.bare_app import app as bare_app

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app, bodies = redeeming_app(args.backend, workdir, args.requests + 200, args.redis)
        warm, measured = bodies[:200], bodies[200 : 200 + args.requests]
        drive(app.wsgi_app, [environ(body) for body in warm])
        if not args.no_instrument:
            instrument(app)
        wall, cpu, statuses = drive(app.wsgi_app, [environ(body) for body in measured])
        assert all(status.startswith("201") for status in statuses), set(statuses)
        bare_wall, bare_cpu, _ = drive(bare_app.wsgi_app, bare_environs(args.requests))
    n = args.requests
    print(f"{args.backend}, {n} redemptions in-process, one at a time")
    print(f"{'':<34} {'ms/request':>10}")
    print(f"{'wall':<34} {wall / n * 1000:>10.3f}")
    print(f"{'CPU of this process':<34} {cpu / n * 1000:>10.3f}")
    accounted = 0.0
    for name, seconds in PHASES.items():
        if name in ("begin",):
            continue
        accounted += seconds
        print(f"{'  ' + name:<34} {seconds / n * 1000:>10.3f}")
    print(f"{'  the rest (Flask, JSON, checks)':<34} {(wall - accounted) / n * 1000:>10.3f}")
    print(f"{'bare app wall (reference)':<34} {bare_wall / n * 1000:>10.3f}")
    print(f"ratio bare/redemption wall: {bare_wall / wall:.3f}")


if __name__ == "__main__":
    main()
