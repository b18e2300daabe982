"""What the admin's page of jobs shows, and the retry and resend it offers."""

from dataclasses import dataclass

from sqlalchemy import func

from shop.audit.services import Actor
from shop.extensions import db
from shop.jobs.models import PeriodicRun
from shop.jobs.tasks import SCHEDULE, Periodic, render_print_job, send_outbox_message
from shop.mail import services as mail
from shop.mail.models import OutboxMessage, OutboxStatus
from shop.vouchers import print_jobs
from shop.vouchers.models import PrintJob, PrintJobStatus

#: Rows shown per list; the oldest failures first, so none hides behind new ones.
LIST_LIMIT = 100


@dataclass
class PeriodicState:
    """A periodic task and its last run (None before the first)."""

    task: Periodic
    last: PeriodicRun | None


@dataclass
class JobsOverview:
    """Everything the page of jobs lists."""

    queued: list[PrintJob]
    running: list[PrintJob]
    failed: list[PrintJob]
    periodic: list[PeriodicState]
    failed_mail: list[OutboxMessage]
    #: Mails by status, for the ones waiting to be sent.
    mail_counts: dict[OutboxStatus, int]


def _print_jobs(status: PrintJobStatus) -> list[PrintJob]:
    return list(
        db.session.execute(
            db.select(PrintJob).filter_by(status=status).order_by(PrintJob.id).limit(LIST_LIMIT)
        ).scalars()
    )


def jobs_overview() -> JobsOverview:
    """Return the print jobs not done, the periodic tasks' last runs and the failed mails."""
    runs = {run.name: run for run in db.session.execute(db.select(PeriodicRun)).scalars()}
    counts = dict(
        db.session.execute(
            db.select(OutboxMessage.status, func.count(OutboxMessage.id))
            .where(
                OutboxMessage.status.in_(
                    (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.RETRY)
                )
            )
            .group_by(OutboxMessage.status)
        ).all()
    )
    failed_mail = db.session.execute(
        db.select(OutboxMessage)
        .filter_by(status=OutboxStatus.FAILED)
        .order_by(OutboxMessage.id)
        .limit(LIST_LIMIT)
    ).scalars()
    return JobsOverview(
        queued=_print_jobs(PrintJobStatus.QUEUED),
        running=_print_jobs(PrintJobStatus.RUNNING),
        failed=_print_jobs(PrintJobStatus.FAILED),
        periodic=[PeriodicState(task, runs.get(name)) for name, task in SCHEDULE.items()],
        failed_mail=list(failed_mail),
        mail_counts=counts,
    )


def retry_print_job(job_id: int, actor: Actor) -> PrintJob:
    """Queue a failed print job again and hand it to a worker."""
    job = print_jobs.retry_print_job(job_id, actor)
    render_print_job(job.id)
    return job


def resend_mail(message_id: int, actor: Actor) -> OutboxMessage:
    """Queue a failed mail again and hand it to a worker."""
    message = mail.resend_message(message_id, actor)
    send_outbox_message(message.id)
    return message
