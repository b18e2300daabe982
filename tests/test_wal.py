"""SQLite's write-ahead log is checkpointed by a background thread, off the request path."""

import shutil
import sqlite3
import time

import pytest

from shop import create_app, wal
from shop.extensions import db
from tests.conftest import make_config


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _sqlite_app(sqlite_template, tmp_path, checkpoint_seconds):
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        make_config(f"sqlite:///{path}", SQLITE_CHECKPOINT_SECONDS=checkpoint_seconds),
        instance_path=str(tmp_path / "instance"),
    )
    return app, str(path)


def _write_rows(count: int) -> None:
    for n in range(count):
        db.session.execute(
            db.text(
                "INSERT INTO audit_event (action, actor_label, object_type, object_id, details, "
                "ip_address, created_at) VALUES ('test.write', 'test', 'test', :n, '{}', '', "
                "'2026-11-22 10:00:00')"
            ),
            {"n": str(n)},
        )
        db.session.commit()


def _rows_in_database_file(path: str) -> int:
    """Count the test rows in the database file alone, ignoring whatever the log holds."""
    reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return reader.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'test.write'"
        ).fetchone()[0]
    finally:
        reader.close()


def test_the_background_checkpointer_copies_commits_into_the_database_file(
    sqlite_template, tmp_path
):
    app, path = _sqlite_app(sqlite_template, tmp_path, checkpoint_seconds=0.05)
    with app.app_context():
        try:
            autocheckpoint = db.session.execute(db.text("PRAGMA wal_autocheckpoint")).scalar()
            assert autocheckpoint == wal.INLINE_CHECKPOINT_PAGES
            _write_rows(200)
            checkpointer = wal.checkpointer_for(path)
            assert checkpointer is not None and checkpointer.is_alive()
            # Far below the inline threshold, so only the thread can have copied them.
            assert _wait_for(lambda: _rows_in_database_file(path) == 200)
            assert checkpointer.runs > 0 and checkpointer.last_checkpointed_frames >= 0
            assert checkpointer.failures == 0
        finally:
            db.session.remove()
            db.engine.dispose()
            wal.checkpointer_for(path).stop()


def test_without_a_checkpoint_interval_commits_checkpoint_inline(sqlite_template, tmp_path):
    app, path = _sqlite_app(sqlite_template, tmp_path, checkpoint_seconds=0)
    with app.app_context():
        try:
            autocheckpoint = db.session.execute(db.text("PRAGMA wal_autocheckpoint")).scalar()
            assert autocheckpoint == wal.DEFAULT_INLINE_CHECKPOINT_PAGES
            assert wal.checkpointer_for(path) is None
            _write_rows(20)
            assert _rows_in_database_file(path) == 0  # still in the log: nobody checkpointed
        finally:
            db.session.remove()
            db.engine.dispose()


def test_one_checkpointer_per_process_and_file(tmp_path):
    path = str(tmp_path / "one.db")
    sqlite3.connect(path).close()
    first = wal.ensure_checkpointer(path, 0.05)
    try:
        assert wal.ensure_checkpointer(path, 0.05) is first
    finally:
        first.stop()
        first.join(timeout=2)
    assert not first.is_alive()
    second = wal.ensure_checkpointer(path, 0.05)  # a dead one is replaced
    try:
        assert second is not first and second.is_alive()
    finally:
        second.stop()


def test_the_checkpointer_stops_when_its_database_file_is_gone(tmp_path):
    path = tmp_path / "gone.db"
    sqlite3.connect(path).close()
    checkpointer = wal.Checkpointer(str(path), 0.01)
    checkpointer.start()
    path.unlink()
    checkpointer.join(timeout=2)
    assert not checkpointer.is_alive()


def test_a_failing_checkpoint_is_counted_and_tried_again(tmp_path, caplog):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    checkpointer = wal.Checkpointer(str(path), 0.01)
    checkpointer.start()
    try:
        assert _wait_for(lambda: checkpointer.failures >= 2)
        assert checkpointer.is_alive()
    finally:
        checkpointer.stop()
        checkpointer.join(timeout=2)
    assert "WAL checkpoint of" in caplog.text


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_gets_no_checkpointer(url, tmp_path):
    app = create_app(
        make_config(url, SQLITE_CHECKPOINT_SECONDS=0.05), instance_path=str(tmp_path / "i")
    )
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        assert wal.checkpointer_for(db.engine.url.database or "") is None
        db.session.remove()
        db.engine.dispose()


def test_a_path_with_uri_characters_is_checkpointed_all_the_same(tmp_path):
    folder = tmp_path / "shop?#%"
    folder.mkdir()
    path = folder / "odd.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x)")
    writer.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(20)])
    checkpointer = wal.Checkpointer(str(path), 0.02)
    checkpointer.start()
    try:
        assert _wait_for(lambda: checkpointer.last_checkpointed_frames > 0)
        assert checkpointer.failures == 0
    finally:
        writer.close()
        checkpointer.stop()
        checkpointer.join(timeout=2)
