"""A real job worker process dies half-way through a print job; the next one finishes it once.

The worker is the product's own command (``flask --app wsgi jobs worker``), started by the
test against the test's database (a SQLite file, or PostgreSQL) with a SQLite queue file; the
test kills it with SIGKILL while it renders, lets the reaper hand the job on, starts a second
worker and checks the outcome: one file, progress 100 %, the right page count, two attempts.
"""

import io
import time
from datetime import timedelta

import pypdf
import pytest

from shop.extensions import db
from shop.jobs.queue import huey
from shop.jobs.tasks import reap
from shop.timeutil import utcnow
from shop.vouchers.models import PrintJob, PrintJobStatus, Voucher
from shop.vouchers.print_files import print_files
from tests.factories import make_product
from tests.vouchers_helpers import make_vouchers
from tests.worker_helpers import WorkerProcess

pytestmark = pytest.mark.slow

VOUCHERS = 2000
STALE_SECONDS = 3


@pytest.fixture
def app_config(tmp_path):
    return {
        "JOBS_IMMEDIATE": False,
        "JOBS_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "PRINT_FILES_DIR": str(tmp_path / "prints"),
        "JOBS_STALE_SECONDS": STALE_SECONDS,
        "JOBS_HEARTBEAT_SECONDS": 0.5,
    }


def Worker(app) -> WorkerProcess:  # noqa: N802 - reads as the worker it starts
    """Start a worker with this test's print settings."""
    return WorkerProcess(app, ("PRINT_FILES_DIR", "JOBS_STALE_SECONDS", "JOBS_HEARTBEAT_SECONDS"))


def job_row(job_id: int) -> PrintJob:
    db.session.rollback()
    return db.session.get(PrintJob, job_id, populate_existing=True)


def wait_for_job(job_id, condition, worker: WorkerProcess, seconds: float = 180.0) -> PrintJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = job_row(job_id)
        if condition(job):
            return job
        if worker.process.poll() is not None:
            pytest.fail("the job worker exited:\n" + worker.output())
        time.sleep(0.05)
    pytest.fail(f"print job {job_id} stopped at {job.status} {job.done}:\n{worker.output()}")


def test_a_print_job_whose_worker_is_killed_half_way_is_finished_once_by_the_next(
    app, client, login
):
    login("admin")
    make_vouchers(make_product(), count=VOUCHERS)
    batch_id = db.session.execute(db.select(Voucher.batch_id)).scalars().first()
    response = client.post(f"/admin/vouchers/batches/{batch_id}/print", data={"format": "a4"})
    assert response.status_code == 302
    job_id = db.session.execute(db.select(PrintJob.id)).scalar_one()
    assert job_row(job_id).status == PrintJobStatus.QUEUED
    assert huey.pending_count() == 1, "the request queued the job and rendered nothing"

    first = Worker(app)
    try:
        half_way = wait_for_job(job_id, lambda job: job.done >= VOUCHERS // 2, first)
        first.kill()
    finally:
        first.stop()
    killed = job_row(job_id)
    assert half_way.done < VOUCHERS, "killed half-way, not after the end"
    assert (killed.status, killed.attempts) == (PrintJobStatus.RUNNING, 1)
    assert print_files().names() == [], "nothing stored by the killed worker"

    # The periodic reaper's pass, once the dead worker's heartbeat is older than the stale age.
    report = reap(now=utcnow() + timedelta(seconds=STALE_SECONDS + 1))
    assert report.requeued_print_jobs == [job_id]
    assert job_row(job_id).status == PrintJobStatus.QUEUED

    second = Worker(app)
    try:
        job = wait_for_job(job_id, lambda job: job.status == PrintJobStatus.DONE, second)
    finally:
        second.stop()
    assert (job.done, job.total, job.attempts, job.error) == (VOUCHERS, VOUCHERS, 2, "")
    assert print_files().names() == [job.file_name], "exactly one file"
    assert huey.pending_count() == 0

    download = client.get(f"/admin/print-jobs/{job_id}.pdf")
    assert download.status_code == 200
    pages = pypdf.PdfReader(io.BytesIO(download.data)).pages
    assert len(pages) == VOUCHERS // 10, "ten vouchers an A4 page"
