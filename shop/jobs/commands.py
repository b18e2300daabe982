"""``flask --app wsgi jobs ...``: the job worker, and the reaper for a manual run."""

import logging
import secrets
import time

import click
from flask import current_app
from flask.cli import AppGroup

from shop.jobs.queue import huey

#: How long SIGTERM waits for running tasks before the worker stops anyway.
SHUTDOWN_SECONDS = 60

jobs_cli = AppGroup("jobs", help="Background jobs: print jobs, mail, periodic tasks.")


@jobs_cli.command("worker")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Worker threads."
)
@click.option(
    "--no-periodic",
    is_flag=True,
    help="Run no periodic tasks here (when another consumer runs them already).",
)
def worker_command(workers, no_periodic):
    """Run a consumer of the job queue until stopped.

    SIGTERM (what process managers send) lets running tasks finish, for up to a minute;
    Ctrl-C (SIGINT) stops at once. Either way the reaper hands an interrupted print job on.
    """
    if current_app.config["JOBS_IMMEDIATE"]:
        raise click.ClickException("JOBS_IMMEDIATE is set: tasks run where they are queued.")
    logging.getLogger("huey").setLevel(logging.INFO)
    consumer = huey.create_consumer(
        workers=workers,
        periodic=not no_periodic,
        max_delay=current_app.config["JOBS_POLL_SECONDS"],
        check_worker_health=True,
        graceful_signal="TERM",
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    click.echo(
        f"job worker: {workers} thread(s), queue {huey.storage.__class__.__name__}, "
        f"periodic tasks {'off' if no_periodic else 'on'}"
    )
    consumer.run()


@jobs_cli.command("reap")
def reap_command():
    """Requeue print jobs (and fail mails) whose worker died; the periodic reaper does it too."""
    from shop.jobs.tasks import reap

    report = reap()
    click.echo(
        f"requeued {len(report.requeued_print_jobs)} print job(s), "
        f"failed {len(report.failed_print_jobs)} print job(s), "
        f"{len(report.abandoned_mails)} mail(s) abandoned mid-send"
    )


@jobs_cli.command("ping")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait.")
def ping_command(timeout):
    """Check that a worker takes tasks off the queue; print how long the task waited."""
    from shop.jobs.tasks import ping, ping_key

    token = secrets.token_hex(8)
    ping(time.time(), token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waited = huey.get(ping_key(token))
        if waited is not None:
            click.echo(f"a worker took the task after {waited * 1000:.1f} ms")
            return
        time.sleep(0.01)
    raise click.ClickException(f"no worker took the task within {timeout:g} s")
