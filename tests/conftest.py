"""Fixtures: every app-level test runs on SQLite and, when reachable, on real PostgreSQL.

Each test gets a clean, fully migrated schema: a fresh copy of a migrated SQLite file, or the
PostgreSQL test database with every table truncated. The chain is
``backend -> app -> client / runner -> login(role)``.
"""

import contextvars
import os
import shutil
from collections import Counter

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from shop import create_app
from shop.config import normalise_database_url
from shop.extensions import db

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-" + "x" * 32,
    "PIN_HMAC_KEY": "11" * 32,
    "PIN_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
}
_results: Counter = Counter()
_postgres_problem: list[str] = []


def postgres_url() -> str | None:
    """Return the PostgreSQL URL to test against, or None when none answers."""
    url = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL)
    try:
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

    app = create_app(
        make_config(url), instance_path=os.environ.get("PYTEST_INSTANCE", "/tmp/shop-test-instance")
    )
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
        # Hundreds of throwaway SQLite files: no checkpoint thread each (see tests/test_wal.py).
        "SQLITE_CHECKPOINT_SECONDS": 0,
        # Tasks run where they are queued; tests of the queue itself turn this off.
        "JOBS_IMMEDIATE": True,
        # No operator's network answers unless a test starts the simulator: deliveries wait.
        "NETWORK_API_URL": "http://127.0.0.1:1",
        **TEST_SECRETS,
    }
    config.update(extra)
    return config


#: Per test database URL: an engine, and whether its role is a superuser (asked once).
_cleaning_engines: dict[str, tuple[object, bool]] = {}


def truncate_all(url: str) -> None:
    """Empty every table of the PostgreSQL test database and restart its id sequences.

    ``DELETE`` with foreign-key triggers off (``session_replication_role``, a superuser's right;
    others get ``TRUNCATE``) rather than ``TRUNCATE``: a test leaves a few rows, and ``TRUNCATE``
    of every table costs new files for all of them (about 0.1 s a test, a minute a run).
    """
    if url not in _cleaning_engines:
        engine = create_engine(url, pool_size=1)
        with engine.connect() as connection:
            superuser = connection.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        _cleaning_engines[url] = (engine, bool(superuser))
    engine, superuser = _cleaning_engines[url]
    with engine.begin() as connection:
        tables = (
            connection.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        sequences = (
            connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            )
            .scalars()
            .all()
        )
        names = ", ".join(f'"{name}"' for name in tables)
        if not names:
            return
        if not superuser:  # only a superuser may switch foreign-key triggers off
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for name in tables:
            connection.execute(text(f'DELETE FROM "{name}"'))
        for name in sequences:
            connection.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """The database kind under test."""
    return request.param


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
    return f"sqlite:///{path}"


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


@pytest.fixture
def app(database_url, tmp_path, app_config):
    """The app bound to a clean database, inside an application context."""
    application = create_app(
        make_config(database_url, **app_config), instance_path=str(tmp_path / "instance")
    )
    application.test_client_class = IsolatedClient
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
    """Tag each test with its backend for the closing summary."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            item.user_properties.append(("backend", callspec.params["backend"]))


def pytest_runtest_logreport(report):
    """Count outcomes per backend."""
    backend = dict(report.user_properties).get("backend")
    if backend is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results[(backend, report.outcome)] += 1


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
