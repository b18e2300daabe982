"""Running print jobs on job workers: claimed once, alive by heartbeat, handed on when dead.

A worker claims a queued job by a conditional update that writes a fresh claim token; every
later write of that worker (progress, heartbeat, the finished state) holds only while the row
still carries its token. A worker that dies leaves a stale heartbeat: the reaper puts the job
back in the queue (or fails it after ``MAX_ATTEMPTS``), and the next worker renders it from
the start. The file is named after the job, so a second run replaces it: there is never a
second file, and a worker that lost its claim cannot mark the job done.
"""

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, update

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import pdf
from shop.vouchers.models import PrintJob, PrintJobStatus, VoucherBatch
from shop.vouchers.print_files import print_files
from shop.vouchers.printing import PrintJobNotFound, render_batch, seal_print_file

log = logging.getLogger(__name__)

#: How often (in vouchers) a running job writes its progress.
PROGRESS_EVERY = 100
#: Claims of one job before it is left failed for an admin to retry.
MAX_ATTEMPTS = 3
#: The error of a job whose last worker died (the page of jobs shows it translated).
WORKER_DIED = "The worker stopped responding."


class ClaimLost(Exception):
    """The reaper handed the job to another worker: this one must stop and write nothing."""


class PrintJobNotRetriable(Exception):
    """Only a failed print job can be queued again."""


def _update(job_id: int, claim: str | None = None):
    statement = update(PrintJob).where(PrintJob.id == job_id)
    if claim is not None:
        statement = statement.where(PrintJob.claim == claim)
    return statement.execution_options(synchronize_session=False)


def claim_print_job(job_id: int) -> str | None:
    """Take a queued job for this worker and commit; return its claim, or None if not queued."""
    claim = secrets.token_hex(16)
    now = utcnow()
    claimed = db.session.execute(
        _update(job_id)
        .where(PrintJob.status == PrintJobStatus.QUEUED)
        .values(
            status=PrintJobStatus.RUNNING,
            claim=claim,
            attempts=PrintJob.attempts + 1,
            heartbeat_at=now,
            started_at=now,
            done=0,
        )
    ).rowcount
    db.session.commit()
    return claim if claimed else None


@dataclass
class _Heartbeat:
    """Writes progress and a sign of life, at most every ``PROGRESS_EVERY`` or ``seconds``."""

    job_id: int
    claim: str
    total: int
    seconds: float
    last_done: int = 0
    last_beat: float = field(default_factory=time.monotonic)

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        due = done - self.last_done >= PROGRESS_EVERY or now - self.last_beat >= self.seconds
        if not (due or done == self.total):
            return
        written = db.session.execute(
            _update(self.job_id, self.claim).values(done=done, heartbeat_at=utcnow())
        ).rowcount
        db.session.commit()
        if not written:
            raise ClaimLost(str(self.job_id))
        self.last_done, self.last_beat = done, now


def run_print_job(job_id: int) -> PrintJobStatus | None:
    """Render a queued job to its sealed file and commit; return its new status.

    None when the job was not this worker's to run (not queued, or its claim was lost). A
    failure puts the job back in the queue with its error, or fails it after its last attempt.
    """
    claim = claim_print_job(job_id)
    if claim is None:
        log.info("print job %s is not queued; nothing to do", job_id)
        return None
    job = db.session.get(PrintJob, job_id)
    try:
        heartbeat = _Heartbeat(
            job_id, claim, job.total, current_app.config["JOBS_HEARTBEAT_SECONDS"]
        )
        batch = db.session.get(VoucherBatch, job.batch_id)
        context = pdf.print_context(current_app.config, job.locale or None)
        content = render_batch(batch, job.layout, heartbeat, context)
        file_name, sealed = seal_print_file(job_id, content)
        print_files().write(file_name, sealed)
        finished = db.session.execute(
            _update(job_id, claim).values(
                status=PrintJobStatus.DONE,
                done=job.total,
                file_name=file_name,
                error="",
                claim="",
                heartbeat_at=utcnow(),
                finished_at=utcnow(),
            )
        ).rowcount
        db.session.commit()
        if not finished:
            raise ClaimLost(str(job_id))
        return PrintJobStatus.DONE
    except ClaimLost:
        db.session.rollback()
        log.warning("print job %s was handed to another worker; this run stops", job_id)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
        log.exception("print job %s failed", job_id)
        db.session.rollback()
        return _record_failure(job_id, claim, str(exc) or exc.__class__.__name__)


def _record_failure(job_id: int, claim: str, error: str) -> PrintJobStatus | None:
    job = db.session.get(PrintJob, job_id)
    final = job.attempts >= MAX_ATTEMPTS
    status = PrintJobStatus.FAILED if final else PrintJobStatus.QUEUED
    written = db.session.execute(
        _update(job_id, claim).values(
            status=status,
            error=error[:200],
            claim="",
            finished_at=utcnow() if final else None,
        )
    ).rowcount
    db.session.commit()
    return status if written else None


@dataclass
class ReaperReport:
    """What one pass of the reaper did."""

    #: Jobs to hand to a worker: back in the queue from a dead worker, or queued too long.
    requeued: list[int] = field(default_factory=list)
    #: Jobs whose dead worker had used their last attempt.
    failed: list[int] = field(default_factory=list)


def reap_print_jobs(stale_before: datetime) -> ReaperReport:
    """Requeue or fail running jobs whose heartbeat is older than ``stale_before``; commit.

    Queued jobs that no worker took since ``stale_before`` are returned too, so that a task
    lost on its way to the queue is sent again (a second task for a job is harmless: only one
    claim succeeds).
    """
    report = ReaperReport()
    stale = db.session.execute(
        db.select(PrintJob.id, PrintJob.claim, PrintJob.attempts)
        .where(PrintJob.status == PrintJobStatus.RUNNING, PrintJob.heartbeat_at < stale_before)
        .order_by(PrintJob.id)
    ).all()
    for job_id, claim, attempts in stale:
        final = attempts >= MAX_ATTEMPTS
        values = {"claim": ""}
        if final:
            values |= {
                "status": PrintJobStatus.FAILED,
                "error": WORKER_DIED,
                "finished_at": utcnow(),
            }
        else:
            values |= {"status": PrintJobStatus.QUEUED}
        taken = db.session.execute(
            _update(job_id, claim)
            .where(PrintJob.status == PrintJobStatus.RUNNING, PrintJob.heartbeat_at < stale_before)
            .values(**values)
        ).rowcount
        if taken:
            (report.failed if final else report.requeued).append(job_id)
            outcome = "failed" if final else "requeued"
            log.warning("print job %s lost its worker; %s", job_id, outcome)
    waiting = db.session.execute(
        db.select(PrintJob.id)
        .where(
            PrintJob.status == PrintJobStatus.QUEUED,
            or_(PrintJob.heartbeat_at < stale_before, PrintJob.heartbeat_at.is_(None)),
            PrintJob.created_at < stale_before,
        )
        .order_by(PrintJob.id)
    ).scalars()
    report.requeued.extend(job_id for job_id in waiting if job_id not in report.requeued)
    db.session.commit()
    return report


def retry_print_job(job_id: int, actor: Actor) -> PrintJob:
    """Queue a failed job again with fresh attempts and commit (audited)."""
    job = db.session.get(PrintJob, job_id)
    if job is None:
        raise PrintJobNotFound(str(job_id))
    retried = db.session.execute(
        _update(job_id)
        .where(PrintJob.status == PrintJobStatus.FAILED)
        .values(status=PrintJobStatus.QUEUED, attempts=0, done=0, heartbeat_at=utcnow())
    ).rowcount
    if not retried:
        db.session.rollback()
        raise PrintJobNotRetriable(str(job_id))
    record_event(
        "batch.print_retried",
        actor,
        object_type="batch",
        object_id=job.batch_id,
        agent_id=job.batch.agent_id,
        details={"job": job_id, "error": job.error},
    )
    db.session.commit()
    db.session.refresh(job)
    return job
