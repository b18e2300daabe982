"""Printing voucher batches: small ones at once, large ones in the background with progress.

A request never waits minutes for a PDF: a batch above ``BACKGROUND_ABOVE`` vouchers becomes a
print job, rendered by a worker thread that records its progress in the job row; the page of
the job shows it and offers the file when it is done. The finished PDF holds PINs, so it is
kept sealed with the PIN encryption key under ``instance/prints/`` and opened on download.
"""

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import pdf
from shop.vouchers.crypto import pin_vault
from shop.vouchers.models import PrintJob, PrintJobStatus, VoucherBatch
from shop.vouchers.services import printable_batch

log = logging.getLogger(__name__)

#: Batches larger than this print in the background.
BACKGROUND_ABOVE = 300
#: How often (in vouchers) a running job writes its progress.
PROGRESS_EVERY = 100
LAYOUTS = ("a4", "receipt")
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="print-job")


class PrintJobNotFound(Exception):
    """No such print job, or its file is not ready."""


def render_batch(
    batch: VoucherBatch, layout: str, progress=None, context: pdf.PrintContext | None = None
) -> bytes:
    """Return the PDF of a whole batch (PINs decrypted for this authorised print).

    ``context`` defaults to the shop's, in the language of the request asking.
    """
    agent_name = batch.agent.name if batch.agent else ""
    printable = printable_batch(batch.id, agent_name=agent_name)
    render = pdf.render_receipts if layout == "receipt" else pdf.render_a4_sheets
    return render(printable, context or pdf.print_context(current_app.config), progress)


def print_batch(batch: VoucherBatch, layout: str, actor: Actor) -> bytes:
    """Render a batch now and record the print (every print and reprint is audited)."""
    content = render_batch(batch, layout)
    record_event(
        "batch.printed",
        actor,
        object_type="batch",
        object_id=batch.id,
        agent_id=batch.agent_id,
        details={"format": layout, "count": batch.quantity},
    )
    db.session.commit()
    return content


def _prints_folder() -> Path:
    folder = Path(current_app.instance_path) / "prints"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(job_id: int, file_name: str) -> str:
    return f"print-job:{job_id}:{file_name}"


def start_print_job(batch: VoucherBatch, layout: str, actor: Actor) -> PrintJob:
    """Queue a background print of ``batch`` and commit; the job row shows its progress."""
    job = PrintJob(
        batch_id=batch.id, layout=layout, total=batch.quantity, requested_by_id=actor.user_id
    )
    db.session.add(job)
    db.session.flush()
    record_event(
        "batch.print_queued",
        actor,
        object_type="batch",
        object_id=batch.id,
        agent_id=batch.agent_id,
        details={"format": layout, "job": job.id},
    )
    db.session.commit()
    # The job renders in the language of the page that asked for it, without that request.
    context = pdf.print_context(current_app.config)
    _executor.submit(_run, current_app._get_current_object(), job.id, context)
    return job


def _set(job_id: int, **values) -> None:
    db.session.execute(
        update(PrintJob)
        .where(PrintJob.id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _run(app, job_id: int, context: pdf.PrintContext) -> None:
    """Render a job inside its own application context (a worker thread)."""
    with app.app_context():
        try:
            job = db.session.get(PrintJob, job_id)
            _set(job_id, status=PrintJobStatus.RUNNING)
            last = [0]

            def progress(done: int) -> None:
                if done - last[0] >= PROGRESS_EVERY or done == job.total:
                    last[0] = done
                    _set(job_id, done=done)

            batch = db.session.get(VoucherBatch, job.batch_id)
            content = render_batch(batch, job.layout, progress, context)
            file_name = secrets.token_hex(16) + ".pdf.sealed"
            vault = pin_vault()
            sealed = vault.seal(content, _context(job_id, file_name))
            (_prints_folder() / file_name).write_text(f"{vault.current_encryption_key_id}:{sealed}")
            _set(
                job_id,
                status=PrintJobStatus.DONE,
                done=job.total,
                file_name=file_name,
                finished_at=utcnow(),
            )
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
            log.exception("print job %s failed", job_id)
            db.session.rollback()
            _set(job_id, status=PrintJobStatus.FAILED, error=str(exc)[:200], finished_at=utcnow())
        finally:
            db.session.remove()


def get_job(job_id: int) -> PrintJob:
    """Return a print job."""
    job = db.session.get(PrintJob, job_id)
    if job is None:
        raise PrintJobNotFound(str(job_id))
    return job


def job_pdf(job: PrintJob, actor: Actor) -> bytes:
    """Return the finished PDF of a job (each download is audited)."""
    if job.status != PrintJobStatus.DONE or not job.file_name:
        raise PrintJobNotFound(str(job.id))
    key_id, _, sealed = (_prints_folder() / job.file_name).read_text().partition(":")
    content = pin_vault().unseal(sealed, _context(job.id, job.file_name), key_id)
    record_event(
        "batch.printed",
        actor,
        object_type="batch",
        object_id=job.batch_id,
        agent_id=job.batch.agent_id,
        details={"format": job.layout, "job": job.id},
    )
    db.session.commit()
    return content
