"""Where one redemption's microseconds go, part by part: the WSGI app driven in-process.

    .venv/bin/python bench/breakdown_redeem.py [--backend sqlite|postgresql] [--requests 3000]
        [--redis redis://127.0.0.1:6379/N]

A fresh database as ``bench/redeem.py`` makes it, the app built as gunicorn builds it (rate limits
off, as in the gunicorn benchmark, unless ``--redis`` turns them on with that store), and
``POST /api/v1/redemptions`` called through ``app.wsgi_app`` one request at a time. First the
whole request is timed with nothing wrapped; then every part below is wrapped in a timer that
counts its own time only (time in a wrapped part inside it goes to that inner part), so the
parts add up to the wrapped whole, which is a little slower than the unwrapped one (the timers).
SQL statements (by their first words) and Redis commands are counted per request. Beside it, the
bare ``return "ok"`` app (``bench/bare_app.py``) driven the same way.
"""

import argparse
import importlib
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.profile_redeem import bare_environs, drive, environ, redeeming_app  # noqa: E402

#: The clock of the parts: ``time.perf_counter`` (wall) or ``time.thread_time`` (CPU, ``--cpu``).
CLOCK = {"now": time.perf_counter}
OWN: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
_stack: list[list] = []


def part(name: str, function):
    """Return ``function`` wrapped to add its own time (less wrapped parts inside) to ``name``."""

    def wrapper(*args, **kwargs):
        frame = [0.0]  # time spent in wrapped parts called from here
        _stack.append(frame)
        clock = CLOCK["now"]
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = clock() - start
            _stack.pop()
            OWN[name] += elapsed - frame[0]
            CALLS[name] += 1
            if _stack:
                _stack[-1][0] += elapsed

    wrapper.__wrapped__ = function
    return wrapper


def _name(function) -> str:
    return getattr(function, "__name__", None) or "Flask-Limiter: " + function.func.__name__


def patch(owner, attribute: str, name: str) -> None:
    """Wrap ``owner.attribute`` as part ``name``."""
    setattr(owner, attribute, part(name, getattr(owner, attribute)))


def instrument(app, backend: str) -> None:
    """Wrap every part of a redemption's path in a timer."""
    import flask
    import flask.ctx
    import psycopg
    import redis
    import werkzeug.wrappers

    shop_db = importlib.import_module("shop.db")
    from shop.api import idempotency, redemptions
    from shop.extensions import db
    from shop.network import delivery
    from shop.session_cookie import SessionCookieInterface
    from shop.vouchers import redemption_sql, services
    from shop.vouchers.crypto import PinVault

    patch(flask.Flask, "wsgi_app", "Flask/Werkzeug: the rest (dispatch, context, routing)")
    patch(flask.Flask, "request_context", "request context: environ -> Request")
    patch(flask.ctx.RequestContext, "match_request", "URL routing (match)")
    patch(SessionCookieInterface, "open_session", "session: open (cookie)")
    patch(SessionCookieInterface, "save_session", "session: save (cookie)")
    names = {
        "csrf_protect": "before_request: CSRF check",
        "refuse_nul_characters": "before_request: NUL guard (reads the body)",
        "_update_remember_cookie": "after_request: Flask-Login remember cookie",
        "add_security_headers": "after_request: security headers",
    }
    for registry in (app.before_request_funcs, app.after_request_funcs):
        for functions in registry.values():
            functions[:] = [part(names.get(_name(f), _name(f)), f) for f in functions]
    app.teardown_appcontext_funcs[:] = [
        part("teardown: ORM session remove", f) for f in app.teardown_appcontext_funcs
    ]
    view = app.view_functions["api.create_redemption"]
    app.view_functions["api.create_redemption"] = part(
        "view wrappers (rate limit, idempotency)", view
    )
    patch(idempotency, "_claim", "idempotency: claim")
    patch(redemptions.services, "redeem_voucher", "service: redeem_voucher (own code)")
    patch(services, "_redeem", "service: _redeem (own code)")
    patch(redemptions, "json_body", "JSON parse")
    patch(redemptions, "required_string", "JSON validation")
    patch(redemptions, "client_ip", "view: actor, client address")
    patch(redemptions, "topup_json", "JSON response: build dict")
    patch(redemptions, "card_json", "JSON response: build dict")
    patch(redemptions, "jsonify", "JSON response: jsonify")
    patch(services, "normalise_pin", "PIN shape + Damm check")
    patch(services, "normalise_card_number", "card number shape + Luhn check")
    patch(services, "_guess_limits", "guess limits: keys")
    patch(services, "reserve_all", "guess limits: reserve (Redis script)")
    patch(services, "release_all", "guess limits: release (Redis script)")
    patch(PinVault, "lookup_hashes", "PIN hashes (HMAC)")
    patch(services, "end_transaction", "ORM session: end transaction")
    patch(services, "_sku_of", "SKU (cached)")
    patch(delivery.deliveries_committed, "send", "delivery dispatch (signal, queue)")
    patch(redemption_sql, "redeem", "SQL: Python around the statements")
    if hasattr(redemption_sql, "_SqliteRedemption"):
        patch(redemption_sql._SqliteRedemption, "__init__", "SQL: values converted before the lock")
    patch(redemption_sql, "begin_driver_write", "SQL: BEGIN IMMEDIATE (+ write gate)")
    patch(werkzeug.wrappers.Response, "__call__", "WSGI response (headers, body)")
    patch(flask.Flask, "process_response", "Flask: process_response")
    with app.app_context():
        engine = db.engine
        engine.raw_connection = part("pool checkout", engine.raw_connection)
    from sqlalchemy.pool.base import _ConnectionFairy

    patch(_ConnectionFairy, "close", "pool checkin")
    if backend == "sqlite":
        gated = shop_db.GatedSQLiteConnection
        patch(gated, "commit", "SQL: COMMIT (+ write gate)")
        original = gated.execute

        def execute(self, sql, *args):
            words = " ".join(sql.split()[:3]) if not sql.startswith("PRAGMA") else sql
            if words.startswith("SELECT id, number"):
                words = "SELECT card"
            elif words.startswith("UPDATE voucher"):
                words = "UPDATE voucher"
            elif words.startswith("UPDATE card"):
                words = "UPDATE card"
            return part(f"SQL: {words}", original)(self, sql, *args)

        gated.execute = execute
    else:
        original = psycopg.Connection.execute

        def pg_execute(self, query, *args, **kwargs):
            name = "SQL: the redemption statement (autocommit)"
            if not str(query).lstrip().startswith("WITH locked_card"):
                name = "SQL: " + " ".join(str(query).split()[:3])
            return part(name, original)(self, query, *args, **kwargs)

        psycopg.Connection.execute = pg_execute
        patch(psycopg.Connection, "commit", "SQL: COMMIT")
    original_command = redis.Redis.execute_command

    def execute_command(self, *args, **kwargs):
        CALLS["Redis command"] += 1
        return original_command(self, *args, **kwargs)

    redis.Redis.execute_command = execute_command


def main() -> None:
    """Prepare, drive unwrapped, drive wrapped, print the parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--redis", help="rate limits on, counted in this Redis (redis://...)")
    parser.add_argument("--cpu", action="store_true", help="parts in CPU time, not wall time")
    args = parser.parse_args()
    if args.cpu:
        CLOCK["now"] = time.thread_time
    from bench.bare_app import app as bare_app

    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        app, bodies = redeeming_app(args.backend, workdir, 2 * n + 500, args.redis)
        drive(app.wsgi_app, [environ(body) for body in bodies[:500]])
        plain_wall, plain_cpu, statuses = drive(
            app.wsgi_app, [environ(body) for body in bodies[500 : 500 + n]]
        )
        assert all(status.startswith("201") for status in statuses), set(statuses)
        bare_wall, bare_cpu, _ = drive(bare_app.wsgi_app, bare_environs(n))
        instrument(app, args.backend)
        wall, _cpu, statuses = drive(app.wsgi_app, [environ(body) for body in bodies[500 + n :]])
        assert all(status.startswith("201") for status in statuses), set(statuses)
    print(
        f"{args.backend}, {n} redemptions in-process, one at a time; rate limits "
        f"{'on, Redis ' + args.redis if args.redis else 'off'}"
    )
    clock = "CPU" if args.cpu else "wall"
    print(f"{'part (' + clock + ' time)':<58} {'us/request':>10} {'calls/req':>9}")
    for name, seconds in sorted(OWN.items(), key=lambda item: -item[1]):
        print(f"{name:<58} {seconds / n * 1e6:>10.1f} {CALLS[name] / n:>9.2f}")
    print(f"{'sum of parts (wrapped whole)':<58} {sum(OWN.values()) / n * 1e6:>10.1f}")
    print(f"{'unwrapped whole, wall':<58} {plain_wall / n * 1e6:>10.1f}")
    print(f"{'unwrapped whole, CPU of this process':<58} {plain_cpu / n * 1e6:>10.1f}")
    print(f"{'Redis commands':<58} {'':>10} {CALLS['Redis command'] / n:>9.2f}")
    print(f"{'bare app, wall (reference)':<58} {bare_wall / n * 1e6:>10.1f}")
    print(f"{'bare app, CPU of this process (reference)':<58} {bare_cpu / n * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
