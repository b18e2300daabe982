"""PostgreSQL connections are pinged before use only after sitting idle, not on every checkout."""

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from shop.extensions import db


@pytest.fixture
def app_config():
    return {"DATABASE_PING_IDLE_SECONDS": 0.5}


@pytest.fixture
def pings(app, backend, monkeypatch):
    """Count the pings of the app's engine (PostgreSQL only: SQLite has no server to lose)."""
    if backend != "postgresql":
        pytest.skip("SQLite connections are files, never pinged")
    dialect = db.engine.dialect
    counted = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda dbapi: counted.append(1) or real_ping(dbapi))
    return counted


def backend_pid() -> int:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_in_use_a_moment_ago_is_not_pinged(app, pings):
    first = backend_pid()
    for _ in range(5):
        assert backend_pid() == first
    assert pings == []


def test_an_idle_connection_the_server_dropped_is_pinged_and_replaced(app, pings):
    dropped = backend_pid()
    admin = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    admin.dispose()
    time.sleep(0.6)
    replacement = backend_pid()  # no error: the ping found the dead connection first
    assert replacement != dropped
    assert pings == [1]
