"""The job queue (huey), built from the app's configuration, and tasks that run in the app.

One huey instance for the process, so that tasks can be declared where they live
(``shop.jobs.tasks``); :func:`init_app` points its storage at ``JOBS_URL``:

- unset: a SQLite queue file ``instance/jobs.db`` (the embedded default, no extra service);
- ``sqlite:///path``: a SQLite queue file elsewhere;
- ``redis://...`` / ``rediss://...``: Redis (consumers on several machines; wakes at once);
- ``postgresql://...``: tables ``huey_*`` in that PostgreSQL database (several machines;
  LISTEN/NOTIFY wakes consumers at once).

With ``JOBS_IMMEDIATE`` every task runs at once in the process that queues it (the tests).
"""

from functools import wraps
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import PostgresStorage, RedisStorage, SqliteStorage

QUEUE_NAME = "wanderdata"

#: Tasks are declared on this instance at import; ``init_app`` gives it its storage.
huey = Huey(QUEUE_NAME, results=False, immediate=True)
_apps: list[Flask] = []


class InvalidJobsUrl(ValueError):
    """``JOBS_URL`` names no queue storage the shop knows."""


def storage_for(url: str, instance_path: str) -> tuple[type, dict]:
    """Return huey's storage class and its arguments for ``JOBS_URL``."""
    if not url:
        return SqliteStorage, {"filename": str(Path(instance_path) / "jobs.db")}
    if url.startswith("sqlite:///"):
        return SqliteStorage, {"filename": url.removeprefix("sqlite:///")}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url}
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return PostgresStorage, {"dsn": "postgresql://" + url.removeprefix(prefix)}
    raise InvalidJobsUrl(f"JOBS_URL must be sqlite:///, redis:// or postgresql://, got {url!r}")


def init_app(app: Flask) -> None:
    """Point the queue at the app's ``JOBS_URL`` (or run tasks at once with ``JOBS_IMMEDIATE``)."""
    storage_class, arguments = storage_for(app.config["JOBS_URL"], app.instance_path)
    if storage_class is SqliteStorage:
        Path(arguments["filename"]).parent.mkdir(parents=True, exist_ok=True)
    huey.storage_class = storage_class
    huey.storage_kwargs = arguments
    huey._immediate = bool(app.config["JOBS_IMMEDIATE"])
    huey.storage = huey.create_storage()
    app.extensions["jobs"] = huey
    _apps[:] = [app]


def task_app() -> Flask:
    """Return the app a task runs in: the caller's (immediate mode), else the worker's."""
    if has_app_context() and "jobs" in current_app.extensions:
        return current_app._get_current_object()
    if not _apps:
        raise RuntimeError("the job queue was not set up: create the app first")
    return _apps[0]


def in_app_context(func):
    """Run ``func`` in a fresh application context of its own (its own database session)."""

    @wraps(func)
    def run(*args, **kwargs):
        with task_app().app_context():
            return func(*args, **kwargs)

    return run


def app_task(**options):
    """Declare a huey task that runs in the app (``options`` as for ``huey.task``)."""

    def decorator(func):
        return huey.task(**options)(in_app_context(func))

    return decorator


def jobs_enabled() -> bool:
    """Return whether the current app has a job queue (tasks may be queued)."""
    return has_app_context() and "jobs" in current_app.extensions
