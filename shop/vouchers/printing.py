"""Printing voucher batches: small ones at once, large ones as print jobs with progress.

A request never waits minutes for a PDF: a batch above ``BACKGROUND_ABOVE`` vouchers becomes a
print job row, committed with the request; a job worker renders it (``shop.vouchers.print_jobs``)
and records its progress in the row; the page of the job shows it and offers the file when it
is done. The finished PDF holds PINs, so it is kept sealed with the PIN encryption key in the
print file store (``shop.vouchers.print_files``) and opened on download.
"""

from flask import current_app

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.vouchers import pdf
from shop.vouchers.crypto import pin_vault
from shop.vouchers.models import PrintJob, PrintJobStatus, VoucherBatch
from shop.vouchers.print_files import PrintFileMissing, print_files
from shop.vouchers.services import printable_batch

#: Batches larger than this print as a print job.
BACKGROUND_ABOVE = 300
LAYOUTS = ("a4", "receipt")


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


def sealed_file_name(job_id: int) -> str:
    """Return the one file name of a job's PDF: a second run replaces it, never adds one."""
    return f"print-job-{job_id}.pdf.sealed"


def _seal_context(job_id: int, file_name: str) -> str:
    return f"print-job:{job_id}:{file_name}"


def seal_print_file(job_id: int, content: bytes) -> tuple[str, bytes]:
    """Return the file name and the sealed bytes of a job's finished PDF."""
    file_name = sealed_file_name(job_id)
    vault = pin_vault()
    sealed = vault.seal(content, _seal_context(job_id, file_name))
    return file_name, f"{vault.current_encryption_key_id}:{sealed}".encode()


def start_print_job(batch: VoucherBatch, layout: str, actor: Actor) -> PrintJob:
    """Write a print job of ``batch`` and commit; a job worker renders it after the commit.

    The job remembers the language of the page that asked: the vouchers print in it.
    """
    job = PrintJob(
        batch_id=batch.id,
        layout=layout,
        locale=pdf.print_context(current_app.config).locale,
        total=batch.quantity,
        requested_by_id=actor.user_id,
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
    return job


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
    try:
        stored = print_files().read(job.file_name).decode()
    except PrintFileMissing:
        raise PrintJobNotFound(str(job.id)) from None
    key_id, _, sealed = stored.partition(":")
    content = pin_vault().unseal(sealed, _seal_context(job.id, job.file_name), key_id)
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
