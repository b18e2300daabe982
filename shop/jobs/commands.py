"""``flask --app wsgi jobs ...``: the job worker, and the reaper for a manual run."""

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from shop.jobs.queue import huey

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
    """Run a consumer of the job queue until stopped (SIGTERM or Ctrl-C finish the tasks)."""
    if current_app.config["JOBS_IMMEDIATE"]:
        raise click.ClickException("JOBS_IMMEDIATE is set: tasks run where they are queued.")
    logging.getLogger("huey").setLevel(logging.INFO)
    consumer = huey.create_consumer(
        workers=workers,
        periodic=not no_periodic,
        max_delay=current_app.config["JOBS_POLL_SECONDS"],
        check_worker_health=True,
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
