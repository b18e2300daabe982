"""The SQLite write gate never stays shut after a writer failed to begin."""

import sqlite3

import pytest

from shop.db import GatedSQLiteConnection, _gate_for
from shop.extensions import db


def test_a_writer_that_cannot_begin_lets_the_next_writer_through(app, backend):
    if backend != "sqlite":
        pytest.skip("the write gate is SQLite's")
    path = db.engine.url.database
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer = sqlite3.connect(path, factory=GatedSQLiteConnection, isolation_level=None)
    writer.execute("PRAGMA busy_timeout=50")
    try:
        with pytest.raises(sqlite3.OperationalError):
            writer.begin_immediate(path)
        gate = _gate_for(path)
        assert gate._threads.acquire(timeout=1), "the gate was left shut"
        gate._threads.release()
    finally:
        blocker.rollback()
        blocker.close()
        writer.close()
    writer = sqlite3.connect(path, factory=GatedSQLiteConnection, isolation_level=None)
    writer.begin_immediate(path)
    writer.commit()
    writer.close()
