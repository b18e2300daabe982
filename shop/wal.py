"""SQLite WAL checkpoints off the request path.

In WAL mode every commit appends to the write-ahead log, and by default the commit that takes the
log past 1,000 pages copies it back into the database file and syncs it: one redemption in a few
hundred waits 10-70 ms for that, holding the write lock while it does. With a background
checkpointer (``SQLITE_CHECKPOINT_SECONDS`` > 0), a thread in each process runs a *passive*
checkpoint every tenth of a second instead. Passive checkpoints never block readers or writers,
so the copy and the sync happen beside the requests, not inside one; done often, each one is
small (a busy shop writes thousands of log pages a second) and the log keeps being reused from
its start instead of growing. Measured in docs/BENCHMARKS.md: every 0.5 s was worse than inline.

Commits still checkpoint the log themselves once it reaches ``INLINE_CHECKPOINT_PAGES``, so the
log stays bounded even if the thread falls behind or is not running.
"""

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Log pages after which a committing writer checkpoints itself (about 40 MB at 4 KiB pages).
INLINE_CHECKPOINT_PAGES = 10_000
#: SQLite's own default, used when there is no background checkpointer.
DEFAULT_INLINE_CHECKPOINT_PAGES = 1_000


class Checkpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on one database file every ``interval`` seconds.

    It stops when asked to, or when the file is gone (a test's throwaway database). Like any
    SQLite connection it must not see its file replaced underneath it: restore a backup with the
    app stopped.
    """

    def __init__(self, path: str, interval: float):
        super().__init__(name=f"wal-checkpoint {os.path.basename(path)}", daemon=True)
        self.path = path
        self.interval = interval
        #: Checkpoints run, and how many log frames the last one found copied.
        self.runs = 0
        self.last_checkpointed_frames = 0
        self.failures = 0
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        """Ask the thread to finish after its current checkpoint."""
        self._stop_requested.set()

    def run(self) -> None:
        """Checkpoint until stopped; a failed checkpoint is logged and tried again next time."""
        connection = None
        try:
            while not self._stop_requested.wait(self.interval):
                if not os.path.exists(self.path):
                    return
                try:
                    if connection is None:
                        uri = Path(self.path).resolve().as_uri() + "?mode=rw"
                        connection = sqlite3.connect(uri, uri=True, timeout=1)
                    self.last_checkpointed_frames = self.checkpoint(connection)
                    self.runs += 1
                except sqlite3.Error as exc:
                    self.failures += 1
                    if self.failures == 1 or self.failures % 100 == 0:
                        log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            if connection is not None:
                connection.close()

    @staticmethod
    def checkpoint(connection: sqlite3.Connection) -> int:
        """Copy what the log holds into the database without waiting for anyone.

        Return how many frames of the log are in the database now (SQLite's running count for
        the current log, not this call's share).
        """
        _busy, _log_frames, checkpointed = connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        return max(checkpointed, 0)


_running: dict[tuple[int, str], Checkpointer] = {}
_running_lock = threading.Lock()


def ensure_checkpointer(path: str, interval: float) -> Checkpointer:
    """Return this process's checkpointer for ``path``, starting it if needed.

    Keyed by process id: a worker forked from a process that had one starts its own (threads do
    not survive a fork).
    """
    key = (os.getpid(), path)
    with _running_lock:
        checkpointer = _running.get(key)
        if checkpointer is None or not checkpointer.is_alive():
            checkpointer = Checkpointer(path, interval)
            checkpointer.start()
            _running[key] = checkpointer
        return checkpointer


def checkpointer_for(path: str) -> Checkpointer | None:
    """Return this process's checkpointer for ``path``, if one was started."""
    with _running_lock:
        return _running.get((os.getpid(), path))


def inline_checkpoint_pages(*, background: bool) -> int:
    """Return the ``wal_autocheckpoint`` setting, with or without a background checkpointer."""
    return INLINE_CHECKPOINT_PAGES if background else DEFAULT_INLINE_CHECKPOINT_PAGES
