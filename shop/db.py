"""Declarative base, naming convention and column types shared by every model."""

import fcntl
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import DateTime, Index, MetaData, event, exc, text
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.types import TypeDecorator

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
SQLITE_IMMEDIATE = "shop_sqlite_immediate"

#: Named constraints so that migrations can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def partial_index(name: str, *columns: str, where: str) -> Index:
    """Return an index of only the rows matching ``where`` (SQL), on SQLite and PostgreSQL.

    Rows outside it cost no index write. A query uses the index only when its own conditions
    imply ``where``: ``col = ?`` implies ``col IS NOT NULL``, for example.
    """
    return Index(name, *columns, sqlite_where=text(where), postgresql_where=text(where))


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the offset itself; SQLite stores naive text, so values are
    normalised to UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive datetimes and store every value in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use shop.timeutil.utcnow()")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of all models."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def begin_write(session) -> None:
    """Open a write use case's transaction; on SQLite it holds the write lock from the start.

    Any read-only transaction the session has open (loading the current user, say) is ended
    first, so the use case reads and writes one consistent, locked state. PostgreSQL needs
    nothing here: its services lock the rows they change.
    """
    session = session() if callable(session) else session  # a scoped_session's current session
    if session.get_bind().dialect.name != "sqlite":
        return
    end_transaction(session)
    session.connection(execution_options={SQLITE_IMMEDIATE: True})


def end_transaction(session) -> None:
    """End the session's open transaction, so that its next read sees what others committed.

    Used before a use case writes on a connection of its own: on SQLite a read transaction
    keeps its snapshot, and would neither see that write nor be allowed to write after it.
    A scoped session that this request never used has nothing to end and is not created.
    """
    if callable(session):  # a scoped_session: its current session, if this request has one
        if not session.registry.has():
            return
        session = session()
    if session.in_transaction():
        session.commit()


class _WriteGate:
    """Serialises a database file's write use cases across threads and processes.

    SQLite lets one writer in at a time; a writer that finds the lock taken sleeps in growing
    steps (1, 2, 5, 10 ms...) and often wakes long after the lock was freed. Waiting on a
    thread lock and an ``flock`` instead wakes the next writer the moment the last commits.
    """

    def __init__(self, path: str):
        self._threads = threading.Lock()
        self._fd = os.open(path + ".write-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


_gates: dict[str, _WriteGate] = {}
_gates_lock = threading.Lock()


def _gate_for(path: str) -> _WriteGate:
    with _gates_lock:
        if path not in _gates:
            _gates[path] = _WriteGate(path)
        return _gates[path]


class GatedSQLiteConnection(sqlite3.Connection):
    """A pysqlite connection whose ``BEGIN IMMEDIATE`` transactions pass a :class:`_WriteGate`."""

    _gate: _WriteGate | None = None
    _holding = False

    def enter_gate(self, path: str) -> None:
        """Wait for the file's write gate (called just before ``BEGIN IMMEDIATE``)."""
        gate = _gate_for(path)
        gate.acquire()
        self._gate, self._holding = gate, True

    def begin_immediate(self, path: str | None) -> None:
        """Pass the write gate (for a database file) and take SQLite's write lock.

        If ``BEGIN IMMEDIATE`` fails (the lock stayed taken past the busy timeout), the gate is
        let go at once: a writer that never began must not keep every other writer waiting.
        """
        if path:
            self.enter_gate(path)
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._leave_gate()
            raise

    def _leave_gate(self) -> None:
        if self._holding:
            self._holding = False
            self._gate.release()

    def commit(self):
        """Commit, then let the next writer in."""
        try:
            return super().commit()
        finally:
            self._leave_gate()

    def rollback(self):
        """Roll back, then let the next writer in."""
        try:
            return super().rollback()
        finally:
            self._leave_gate()

    def close(self):
        """Close, never leaving the gate shut."""
        try:
            return super().close()
        finally:
            self._leave_gate()


def begin_driver_write(driver, engine) -> None:
    """Open a write transaction on a pooled driver connection of ``engine``, for raw-SQL hot paths.

    SQLite passes the write gate and takes the write lock (``BEGIN IMMEDIATE``); psycopg opens
    its transaction with the first statement and the statements lock the rows they read.
    """
    if engine.dialect.name != "sqlite":
        return
    if isinstance(driver, GatedSQLiteConnection):
        driver.begin_immediate(engine.url.database)
    else:
        driver.execute("BEGIN IMMEDIATE")


#: Where a pooled connection's record keeps the moment it went back to the pool.
_CHECKED_IN_AT = "shop_checked_in_at"


def ping_when_idle(engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle longer than ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` costs a ``SELECT 1`` round trip on every checkout, as much as
    a statement of the redemption itself. A connection that was in use a moment ago is not worth
    asking: a server restart or an idle timeout is what kills connections, and those leave them
    idle first. A ping that finds the connection dead raises ``DisconnectionError``, and the pool
    replaces the connection with a fresh one, as pre-ping does.
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record):
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, _proxy):
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error
            raise
