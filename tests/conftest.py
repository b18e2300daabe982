"""Fixtures: every app-level test runs on SQLite and, when reachable, on real PostgreSQL.

Each test gets a clean, fully migrated schema: a fresh copy of a migrated SQLite file, or the
PostgreSQL test database with every table emptied. The chain is
``backend -> app -> client / runner -> login(role)``.

Building the app costs more than most tests (about 100 routes compiled), so a test gets the app
of the test before it when that one was built with the same settings for the same backend, and
nothing has re-bound the shared extensions since; its configuration, extension slots, instance
folder and rate-limit counters are put back as they were when it was built. Tests of a module
run SQLite first, then PostgreSQL, so that one app per backend serves the whole module.

``make test`` runs the suite on two processes (pytest-xdist workers ``gw0``, ``gw1``; whole
modules per worker, ``--dist loadfile``). Each worker has databases of its own, derived from the
ones the environment names: PostgreSQL ``<database>_gw0``, ``<database>_gw1`` (created when
missing, migrated once per worker) and Redis db ``N``, ``N-1``, ... below ``TEST_REDIS_URL``'s
``N``. Without workers (plain ``pytest tests/test_x.py``) the named databases are used as they are.
"""

import contextvars
import copy
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from limits.storage import MemoryStorage
from sqlalchemy import create_engine, make_url, text

from shop import create_app
from shop.config import normalise_database_url
from shop.extensions import db, limiter

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-" + "x" * 32,
    "PIN_HMAC_KEY": "11" * 32,
    "PIN_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
}
_results: Counter = Counter()
_postgres_problem: list[str] = []


def xdist_worker() -> str | None:
    """The pytest-xdist worker this process is (``gw0``, ``gw1``, ...), or None without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def redis_url() -> str:
    """Return the Redis URL to test against: ``TEST_REDIS_URL``'s db, one lower per worker."""
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
    worker = xdist_worker()
    if worker is None:
        return url
    parsed = make_url(url)
    base = int(parsed.database or 0)
    number = base - int(worker.removeprefix("gw"))
    if number < 0:
        pytest.exit(f"Redis db {base} leaves no db for worker {worker}: use a higher db", 3)
    return parsed.set(database=str(number)).render_as_string(hide_password=False)


def empty_limit_store(storage, url: str) -> None:
    """Empty the app's rate-limit store; when it is Redis and unreachable, skip (fail on CI)."""
    try:
        storage.reset()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {url}: {exc}")
        pytest.skip(f"Redis not reachable at {url}")


#: PostgreSQL databases this worker has made sure exist.
_worker_databases: set[str] = set()


def worker_database_url(url: str) -> str:
    """Return ``url`` for this worker: the database ``<name>_<worker>``, created when missing."""
    worker = xdist_worker()
    if worker is None:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    own = parsed.set(database=name).render_as_string(hide_password=False)
    if own not in _worker_databases:
        engine = create_engine(
            url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        _worker_databases.add(own)
    return own


def postgres_url() -> str | None:
    """Return the PostgreSQL URL to test against, or None when none answers."""
    url = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL)
    try:
        url = worker_database_url(url)
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        _postgres_problem.append(f"{url}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        if os.environ.get("TEST_DATABASE_URL") or os.environ.get("CI"):
            pytest.exit(f"PostgreSQL required but not reachable: {_postgres_problem[-1]}", 3)
        return None
    return url


@pytest.fixture(scope="session")
def postgres_database():
    """Migrate the PostgreSQL test database from empty once per session; None if unavailable."""
    url = postgres_url()
    if url is None:
        return None
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate_database(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """Migrate one SQLite file from empty; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate_database(f"sqlite:///{path}")
    return path


def migrate_database(url: str) -> None:
    """Apply every migration to the database at ``url``."""
    from flask_migrate import upgrade

    instance = os.environ.get("PYTEST_INSTANCE", "/tmp/shop-test-instance")
    if xdist_worker() is not None:
        instance = f"{instance}-{xdist_worker()}"
    app = create_app(make_config(url), instance_path=instance)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def make_config(url: str, **extra) -> dict:
    """Return the configuration of an app under test."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": True,
        "PASSWORD_MIN_LENGTH": 10,
        # scrypt at N=2**10 instead of 2**15: the same code path at a 32nd of the cost (a hash
        # takes 0.6 s on a loaded 2-core machine at the default, and most tests log someone in).
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        # Hundreds of throwaway SQLite files: no checkpoint thread each (see tests/test_wal.py).
        "SQLITE_CHECKPOINT_SECONDS": 0,
        # Tasks run where they are queued; tests of the queue itself turn this off.
        "JOBS_IMMEDIATE": True,
        # One-time codes at payment are tested on their own (tests/test_payment_codes.py).
        "PAYMENT_CODE_ENABLED": False,
        # No operator's network answers unless a test starts the simulator: deliveries wait.
        "NETWORK_API_URL": "http://127.0.0.1:1",
        **TEST_SECRETS,
    }
    config.update(extra)
    return config


#: Per test database URL: an engine, and whether its role is a superuser (asked once).
_cleaning_engines: dict[str, tuple[object, bool]] = {}

#: Empties every table and rewinds every used id sequence, in one round trip. ``DELETE`` with
#: foreign-key triggers off (``session_replication_role``, a superuser's right) rather than
#: ``TRUNCATE``: a test leaves a few rows, and ``TRUNCATE`` of every table costs new files for
#: all of them. ``setval`` rather than ``ALTER SEQUENCE ... RESTART``, which also makes a new file.
EMPTY_EVERY_TABLE = """
DO $$
DECLARE r record;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR r IN SELECT tablename FROM pg_tables
             WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
        EXECUTE format('DELETE FROM public.%I', r.tablename);
    END LOOP;
    FOR r IN SELECT sequencename FROM pg_sequences
             WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
        PERFORM setval(format('public.%I', r.sequencename), 1, false);
    END LOOP;
END $$
"""

#: The same for a role that may not switch triggers off: ``TRUNCATE``, slower but allowed.
TRUNCATE_EVERY_TABLE = """
DO $$
DECLARE names text;
BEGIN
    SELECT string_agg(format('public.%I', tablename), ', ') INTO names FROM pg_tables
    WHERE schemaname = 'public' AND tablename <> 'alembic_version';
    IF names IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || names || ' RESTART IDENTITY CASCADE';
    END IF;
END $$
"""


def truncate_all(url: str) -> None:
    """Empty every table of the PostgreSQL test database and restart its id sequences."""
    if url not in _cleaning_engines:
        engine = create_engine(url, pool_size=1)
        with engine.connect() as connection:
            superuser = connection.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        _cleaning_engines[url] = (engine, bool(superuser))
    engine, superuser = _cleaning_engines[url]
    pooled = engine.raw_connection()
    try:  # the driver itself: no parameters, so its format's % signs stay the server's
        pooled.driver_connection.execute(EMPTY_EVERY_TABLE if superuser else TRUNCATE_EVERY_TABLE)
        pooled.commit()
    finally:
        pooled.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """The database kind under test."""
    return request.param


@pytest.fixture(scope="session")
def sqlite_link(tmp_path_factory):
    """The one SQLite path every test's database is reached by: a link to that test's copy."""
    return tmp_path_factory.mktemp("sqlite-current") / "shop.db"


@pytest.fixture
def database_url(backend, request, tmp_path):
    """A clean, migrated database of the current backend."""
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_database")
        if url is None:
            pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432 (set TEST_DATABASE_URL)")
        truncate_all(url)
        return url
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "shop.db"
    shutil.copyfile(template, path)
    # The URL stays the same from test to test, so an app can serve the next test too; SQLite
    # follows the link, and keeps its -wal and -shm files beside this test's own copy.
    link = request.getfixturevalue("sqlite_link")
    staged = link.with_name("staged.db")
    staged.unlink(missing_ok=True)
    staged.symlink_to(path)
    staged.replace(link)
    return f"sqlite:///{link}"


@pytest.fixture
def app_config():
    """Extra settings a test module wants; override the fixture to change them."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose requests run in their own application context, as in production.

    The test itself holds an app context (for factories and assertions); without this, Flask
    would reuse it for every request, sharing ``g`` (the logged-in user) and the database
    session between requests and between clients.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.rollback()  # end the test's transaction so the request sees committed data
        return contextvars.Context().run(super().open, *args, **kwargs)


@dataclass
class BuiltApp:
    """An app kept for the next test, with what it looked like when it was built."""

    settings: dict
    app: Flask
    config: dict
    extensions: dict
    limiter_storage: object


#: Per backend, the app of the last test.
_built_apps: dict[str, BuiltApp] = {}


def app_for(backend: str, settings: dict, instance_path: str) -> Flask:
    """Return an app built with ``settings``: the last test's if it may serve, else a new one.

    An app may serve again if it was built with the same settings and no app was built since
    (building one re-binds the shared extensions, the rate limiter's store among them).
    """
    built = _built_apps.get(backend)
    if built is None or built.settings != settings or limiter.storage is not built.limiter_storage:
        _built_apps.clear()  # every kept app now has the limiter's store of the app built now
        # A copy: the factory fills in defaults (SQLite's connection factory) where it is given.
        application = create_app(copy.deepcopy(settings), instance_path=instance_path)
        application.test_client_class = IsolatedClient
        built = BuiltApp(
            settings,
            application,
            dict(application.config),
            dict(application.extensions),
            limiter.storage,
        )
        _built_apps[backend] = built
        return application
    application = built.app
    application.config.clear()
    application.config.update(built.config)
    application.extensions.clear()
    application.extensions.update(built.extensions)
    application.instance_path = instance_path
    if isinstance(limiter.storage, MemoryStorage):
        limiter.storage.reset()  # a new app started with no counted attempts
    return application


@pytest.fixture
def app(backend, database_url, tmp_path, app_config):
    """The app bound to a clean database, inside an application context."""
    application = app_for(
        backend, make_config(database_url, **app_config), str(tmp_path / "instance")
    )
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture
def login(client):
    """Log the test client in as a new user of a role: ``login("admin")`` returns the user."""
    from tests.factories import make_user

    def log_in(role="customer", **kwargs):
        user = make_user(role=role, **kwargs)
        response = client.post("/login", data={"email": user.email, "password": "correct-horse-9"})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return log_in


def pytest_collection_modifyitems(items):
    """Tag each test with its backend; run a module's SQLite tests before its PostgreSQL ones.

    Modules run in a fixed order of expected cost: the browser tests, then modules holding a
    ``slow`` test, then the rest, each group in collection order. Under xdist (``--dist loadfile
    --no-loadscope-reorder``) a worker takes the next whole module when it is free, so the long
    modules start first and the two workers end together on short ones.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            item.user_properties.append(("backend", callspec.params["backend"]))
    modules = {}
    for item in items:
        modules.setdefault(item.path, len(modules))
    browser = Path(__file__).resolve().parent / "browser"
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(
        key=lambda item: (
            0 if browser in item.path.parents else 1 if item.path in slow else 2,
            modules[item.path],
            dict(item.user_properties).get("backend") == "postgresql",
        )
    )


def pytest_runtest_logreport(report):
    """Count outcomes per backend (under xdist, the controller counts its workers' reports)."""
    backend = dict(report.user_properties).get("backend")
    if backend is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results[(backend, report.outcome)] += 1


def pytest_sessionfinish(session):
    """On an xdist worker, hand why PostgreSQL was missing to the controller that reports."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["postgres_problem"] = list(_postgres_problem)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller, collect a finished worker's PostgreSQL problem, if it had one."""
    problem = getattr(node, "workeroutput", {}).get("postgres_problem") or []
    _postgres_problem.extend(p for p in problem if p not in _postgres_problem)


def pytest_terminal_summary(terminalreporter):
    """Say how many tests ran on each backend, and loudly when PostgreSQL was missing."""
    for backend in ("sqlite", "postgresql"):
        parts = ", ".join(f"{_results[(backend, o)]} {o}" for o in ("passed", "failed", "skipped"))
        terminalreporter.write_line(f"backend {backend}: {parts}")
    if _postgres_problem:
        terminalreporter.write_line(
            "WARNING: PostgreSQL was NOT tested (fell back to SQLite only): "
            + _postgres_problem[0],
            red=True,
            bold=True,
        )
