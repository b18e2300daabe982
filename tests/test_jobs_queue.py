"""The job queue is built from ``JOBS_URL``: a SQLite file by default, Redis or PostgreSQL."""

import os

import pytest
from huey.storage import PostgresStorage, RedisStorage, SqliteStorage
from sqlalchemy import create_engine, text

from shop import create_app
from shop.extensions import db
from shop.jobs.queue import InvalidJobsUrl, huey, storage_for
from shop.mail.models import OutboxMessage, OutboxStatus
from shop.mail.services import send_mail
from tests.conftest import make_config, postgres_url, redis_url

REDIS_URL = redis_url()  # TEST_REDIS_URL, or a db of its own per xdist worker
QUEUE_SCHEMA = "jobs_queue_test"


@pytest.mark.parametrize(
    ("url", "storage", "arguments"),
    [
        ("", SqliteStorage, {"filename": "/srv/shop/instance/jobs.db"}),
        ("sqlite:////var/queue.db", SqliteStorage, {"filename": "/var/queue.db"}),
        ("redis://127.0.0.1:6379/2", RedisStorage, {"url": "redis://127.0.0.1:6379/2"}),
        ("postgresql://shop@db/shop", PostgresStorage, {"dsn": "postgresql://shop@db/shop"}),
        ("postgres://shop@db/shop", PostgresStorage, {"dsn": "postgresql://shop@db/shop"}),
        (
            "postgresql+psycopg://shop@db/shop",
            PostgresStorage,
            {"dsn": "postgresql://shop@db/shop"},
        ),
    ],
)
def test_the_queue_storage_follows_jobs_url(url, storage, arguments):
    assert storage_for(url, "/srv/shop/instance") == (storage, arguments)


def test_an_unknown_jobs_url_stops_the_app_with_a_clear_error(tmp_path):
    with pytest.raises(InvalidJobsUrl, match="JOBS_URL must be"):
        create_app(make_config("sqlite://", JOBS_URL="amqp://queue"), instance_path=str(tmp_path))


def test_without_jobs_url_the_queue_is_a_sqlite_file_in_the_instance_folder(tmp_path):
    create_app(make_config("sqlite://", JOBS_IMMEDIATE=False), instance_path=str(tmp_path))
    assert isinstance(huey.storage, SqliteStorage)
    assert huey.storage.filename == str(tmp_path / "jobs.db")


def mail_goes_through_the_queue(app) -> None:
    """Queue a mail after commit, take it off the queue as a worker does, and run it."""
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = 1  # nothing listens: the attempt fails and is retried later
    huey.flush()
    message = send_mail("someone@example.com", "Hello", "Body")
    db.session.commit()
    assert huey.pending_count() == 1
    huey.execute(huey.dequeue())
    db.session.rollback()
    row = db.session.get(OutboxMessage, message.id, populate_existing=True)
    assert (row.status, row.attempts) == (OutboxStatus.RETRY, 1)
    retry = huey.dequeue()
    assert retry.args == (message.id,) and retry.eta is not None, "the next attempt is queued"
    assert huey.dequeue() is None
    huey.flush()


class TestRedisQueue:
    @pytest.fixture
    def app_config(self):
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"Redis not reachable at {REDIS_URL}")
        return {"JOBS_IMMEDIATE": False, "JOBS_URL": REDIS_URL}

    def test_a_task_travels_through_redis(self, app):
        assert isinstance(huey.storage, RedisStorage)
        mail_goes_through_the_queue(app)


class TestPostgresqlQueue:
    @pytest.fixture
    def app_config(self):
        url = postgres_url()
        if url is None:
            pytest.skip("PostgreSQL not reachable")
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {QUEUE_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {QUEUE_SCHEMA}"))
        # The queue's tables go to a schema of their own, away from the migrated test schema.
        yield {
            "JOBS_IMMEDIATE": False,
            "JOBS_URL": f"{url}?options=-csearch_path%3D{QUEUE_SCHEMA}",
        }
        huey.storage.close()
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {QUEUE_SCHEMA} CASCADE"))
        engine.dispose()

    def test_a_task_travels_through_postgresql(self, app):
        assert isinstance(huey.storage, PostgresStorage)
        mail_goes_through_the_queue(app)


def test_jobs_ping_answers_when_tasks_run(runner):
    result = runner.invoke(args=["jobs", "ping"])
    assert result.exit_code == 0, result.output
    assert "a worker took the task after" in result.output


class TestWithoutAWorker:
    @pytest.fixture
    def app_config(self):
        return {"JOBS_IMMEDIATE": False}

    def test_jobs_ping_says_when_no_worker_takes_the_task(self, runner):
        result = runner.invoke(args=["jobs", "ping", "--timeout", "0.05"])
        assert result.exit_code == 1
        assert "no worker took the task within 0.05 s" in result.output

    def test_jobs_worker_refuses_to_run_in_immediate_mode(self, app, runner):
        app.config["JOBS_IMMEDIATE"] = True
        result = runner.invoke(args=["jobs", "worker"])
        assert result.exit_code == 1
        assert "JOBS_IMMEDIATE is set" in result.output
