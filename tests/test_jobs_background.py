"""Background work happens on job workers only: requests queue it, tasks do it.

No request renders a large print or talks to SMTP; nothing in ``shop/`` starts a thread or an
executor for background work; the periodic tasks run on their schedules; the reaper hands on
the print job of a dead worker and fails it after its last attempt; the admin sees it all.
"""

import ast
import smtplib
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shop.extensions import db
from shop.jobs import tasks
from shop.jobs.models import PeriodicRun
from shop.jobs.queue import huey
from shop.mail.models import OutboxMessage, OutboxStatus
from shop.timeutil import utcnow
from shop.vouchers import pdf, print_jobs, printing
from shop.vouchers.models import PrintJob, PrintJobStatus, Voucher, VoucherBatch
from shop.vouchers.print_files import print_files
from tests.factories import make_product, make_user
from tests.vouchers_helpers import make_vouchers

SHOP = Path(__file__).resolve().parent.parent / "shop"

#: The only places in shop/ that start threads or executors, and why each is not background work.
THREADS_ALLOWED = {
    # The SQLite WAL checkpointer: database housekeeping inside each process, not a job.
    "wal.py",
    # The PayPal simulator: a stand-in server for development and tests, not the shop.
    "payments/simulator/routes.py",
    "payments/simulator/server.py",
    "payments/simulator/signing.py",
    # Voucher generation's "voucher-rows" pool: foreground work, joined before it returns.
    "vouchers/batches.py",
}
THREAD_STARTERS = {
    "Thread",
    "Timer",
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",
    "Process",
    "Pool",
    "start_new_thread",
    "fork",
}


def _name(node) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def modules_starting_threads() -> set[str]:
    found = set()
    for path in SHOP.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            starts = (isinstance(node, ast.Call) and _name(node.func) in THREAD_STARTERS) or (
                isinstance(node, ast.ClassDef) and any(_name(b) == "Thread" for b in node.bases)
            )
            imports = isinstance(node, ast.Import | ast.ImportFrom) and any(
                (getattr(node, "module", None) or alias.name).startswith("multiprocessing")
                for alias in node.names
            )
            if starts or imports:
                found.add(path.relative_to(SHOP).as_posix())
    return found


def test_nothing_in_the_shop_starts_a_thread_or_executor_for_background_work():
    found = modules_starting_threads()
    assert found <= THREADS_ALLOWED, f"new thread or executor in {found - THREADS_ALLOWED}"
    assert "vouchers/printing.py" not in found and "mail/services.py" not in found


def job_row(job_id: int) -> PrintJob:
    db.session.rollback()
    return db.session.get(PrintJob, job_id, populate_existing=True)


class TestRequestsOnlyQueue:
    """With a real queue (a SQLite file), a request leaves the work to a worker."""

    @pytest.fixture
    def app_config(self, tmp_path):
        return {
            "JOBS_IMMEDIATE": False,
            "JOBS_URL": f"sqlite:///{tmp_path / 'queue.db'}",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": 5199,
        }

    @pytest.fixture
    def work_log(self, monkeypatch):
        """Record which thread renders a PDF or opens an SMTP connection."""
        log = []
        render = pdf.render_a4_sheets

        def rendering(*args, **kwargs):
            log.append(("pdf", threading.get_ident()))
            return render(*args, **kwargs)

        class RecordingSMTP:
            def __init__(self, *args, **kwargs):
                log.append(("smtp", threading.get_ident()))

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def send_message(self, message):
                pass

        monkeypatch.setattr(pdf, "render_a4_sheets", rendering)
        monkeypatch.setattr(smtplib, "SMTP", RecordingSMTP)
        return log

    def test_a_large_print_request_returns_before_the_pdf_is_rendered(
        self, app, client, login, monkeypatch, work_log
    ):
        monkeypatch.setattr(printing, "BACKGROUND_ABOVE", 5)
        login("admin")
        make_vouchers(make_product(), count=12)
        batch_id = db.session.execute(db.select(Voucher.batch_id)).scalars().first()
        threads_before = set(threading.enumerate())
        response = client.post(f"/admin/vouchers/batches/{batch_id}/print", data={"format": "a4"})
        assert response.status_code == 302
        # A timer an earlier test left (the deliveries' dispatch) may end meanwhile: only new
        # threads count.
        assert set(threading.enumerate()) <= threads_before, "the request started no thread"
        job_id = db.session.execute(db.select(PrintJob.id)).scalar_one()
        assert (job_row(job_id).status, job_row(job_id).done) == (PrintJobStatus.QUEUED, 0)
        assert work_log == [] and print_files().names() == []
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Waiting for a job worker" in page

        huey.execute(huey.dequeue())  # what a worker does
        assert work_log == [("pdf", threading.get_ident())]
        assert job_row(job_id).status == PrintJobStatus.DONE

    def test_a_password_reset_request_returns_before_the_mail_is_sent(self, app, client, work_log):
        user = make_user()
        response = client.post("/password/forgot", data={"email": user.email})
        assert response.status_code == 302
        message = db.session.execute(db.select(OutboxMessage)).scalar_one()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
        assert work_log == [] and huey.pending_count() == 1

        huey.execute(huey.dequeue())
        assert [kind for kind, _ in work_log] == ["smtp"]
        db.session.rollback()
        db.session.refresh(message)
        assert message.status == OutboxStatus.SENT


def test_a_rolled_back_transaction_queues_nothing(app, tmp_path):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    huey.flush()
    from shop.mail.services import send_mail

    huey.immediate = False
    try:
        send_mail("someone@example.com", "Hello", "Body")
        db.session.flush()
        db.session.rollback()
        db.session.commit()
        assert huey.pending_count() == 0
    finally:
        huey.immediate = True


def minutes_of_a_day():
    start = datetime(2026, 12, 7)
    return [start + timedelta(minutes=n) for n in range(24 * 60)]


def test_the_periodic_tasks_run_on_their_schedules():
    periodic = {task.name: task for task in huey._registry.periodic_tasks}
    assert (
        set(periodic)
        == set(tasks.SCHEDULE)
        == {
            "reconcile_orders",
            "purge_expired",
            "reap_stale_jobs",
            "send_due_mail",
            "deliver_due_topups",
            "sync_network_cards",
            "send_expiry_alerts",
            "renew_due_cards",
        }
    )

    def runs(name):
        return [m for m in minutes_of_a_day() if periodic[name].validate_datetime(m)]

    reconcile = runs("reconcile_orders")
    assert len(reconcile) == 24 * 12 and all(m.minute % 5 == 0 for m in reconcile)
    assert runs("purge_expired") == [datetime(2026, 12, 7, 3, 0)]
    assert len(runs("reap_stale_jobs")) == len(runs("send_due_mail")) == 24 * 60
    assert len(runs("deliver_due_topups")) == 24 * 60
    assert len(runs("sync_network_cards")) == 24 * 6
    assert len(runs("send_expiry_alerts")) == 24 * 4
    assert len(runs("renew_due_cards")) == 24 * 6


def test_a_periodic_run_is_recorded_and_shown_to_the_admin(app, client, login):
    tasks.purge_expired()
    tasks.reconcile_orders()
    runs = {run.name: run for run in db.session.execute(db.select(PeriodicRun)).scalars()}
    assert runs["purge_expired"].ok and runs["purge_expired"].finished_at is not None
    assert runs["purge_expired"].outcome == "deleted 0 expired idempotency keys"
    assert runs["reconcile_orders"].ok
    login("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "every 5 minutes" in page and "daily at 03:00 UTC" in page
    assert "deleted 0 expired idempotency keys" in page
    assert page.count("Not run yet") == len(tasks.SCHEDULE) - 2


def make_print_job(count=12) -> PrintJob:
    make_vouchers(make_product(), count=count)
    batch = db.session.execute(db.select(VoucherBatch)).scalar_one()
    huey.immediate = False  # written, not yet taken by a worker
    try:
        huey.flush()
        job = PrintJob(batch_id=batch.id, layout="a4", total=count, locale="en")
        db.session.add(job)
        db.session.commit()
    finally:
        huey.immediate = True
    return job


def stale(job_id: int, minutes: int = 3) -> None:
    db.session.execute(
        db.update(PrintJob)
        .filter_by(id=job_id)
        .values(heartbeat_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def test_the_reaper_hands_the_job_of_a_dead_worker_to_another(app, runner):
    job = make_print_job()
    assert print_jobs.claim_print_job(job.id)  # a worker took it ... and died
    assert tasks.reap().requeued_print_jobs == [], "a fresh heartbeat is alive"
    stale(job.id)
    result = runner.invoke(args=["jobs", "reap"])
    assert result.exit_code == 0, result.output
    assert "requeued 1 print job(s)" in result.output
    done = job_row(job.id)
    assert (done.status, done.attempts, done.done) == (PrintJobStatus.DONE, 2, 12)
    assert print_files().names() == [done.file_name]


def test_a_worker_that_lost_its_claim_writes_nothing(app):
    job = make_print_job()
    old_claim = print_jobs.claim_print_job(job.id)
    stale(job.id)
    tasks.reap()  # requeued and rendered by the next worker (at once here)
    assert job_row(job.id).status == PrintJobStatus.DONE
    heartbeat = print_jobs._Heartbeat(job.id, old_claim, total=12, seconds=0)
    with pytest.raises(print_jobs.ClaimLost):
        heartbeat(12)
    assert job_row(job.id).attempts == 2


def test_after_three_dead_workers_a_job_is_failed_and_the_admin_can_retry_it(app, client, login):
    job = make_print_job()
    for attempt in range(1, print_jobs.MAX_ATTEMPTS + 1):
        assert print_jobs.claim_print_job(job.id)
        assert job_row(job.id).attempts == attempt
        stale(job.id)
        report = print_jobs.reap_print_jobs(utcnow() - timedelta(minutes=2))
        assert (report.failed == [job.id]) == (attempt == print_jobs.MAX_ATTEMPTS)
    failed = job_row(job.id)
    assert failed.status == PrintJobStatus.FAILED
    assert failed.error == "The worker stopped responding."
    assert print_jobs.claim_print_job(job.id) is None, "a failed job is not taken"

    login("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "The worker stopped responding." in page
    page_zh = client.get("/admin/jobs", headers={"Accept-Language": "zh-CN"})
    assert "任务进程无响应。" in page_zh.get_data(as_text=True)
    assert f"Retry job {job.id}" in page
    response = client.post(f"/admin/jobs/print/{job.id}/retry")
    assert response.status_code == 302
    retried = job_row(job.id)
    assert (retried.status, retried.attempts) == (PrintJobStatus.DONE, 1)
    again = client.post(f"/admin/jobs/print/{job.id}/retry", follow_redirects=True)
    assert "Only a failed print job can be retried." in again.get_data(as_text=True)
    assert client.post("/admin/jobs/print/999999/retry").status_code == 404


def test_a_render_that_fails_is_retried_then_left_failed_with_its_error(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("printer font missing")

    monkeypatch.setattr(pdf, "render_a4_sheets", broken)
    job = make_print_job()
    tasks.render_print_job(job.id)
    failed = job_row(job.id)
    assert (failed.status, failed.attempts) == (PrintJobStatus.FAILED, print_jobs.MAX_ATTEMPTS)
    assert failed.error == "printer font missing"
    assert print_files().names() == []


@pytest.mark.parametrize("role", ["agent_manager", "agent_staff", "customer"])
def test_the_page_of_jobs_is_for_the_operator_only(client, login, role):
    login(role)
    assert client.get("/admin/jobs").status_code == 403
    assert client.post("/admin/jobs/print/1/retry").status_code == 403
    assert client.post("/admin/jobs/mail/1/resend").status_code == 403


def test_the_page_of_jobs_speaks_chinese(client, login):
    login("admin")
    page = client.get("/admin/jobs", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "后台任务" in page and "每 5 分钟" in page


def test_a_reconcile_that_could_not_reach_the_provider_is_shown_as_failed(
    app, client, login, monkeypatch
):
    from shop.storefront import payment_flow

    report = payment_flow.ReconcileReport()
    report.unreachable.append("WD-ORDER-1")
    monkeypatch.setattr(payment_flow, "reconcile", lambda: report)
    tasks.reconcile_orders()
    run = db.session.get(PeriodicRun, "reconcile_orders")
    assert not run.ok and run.outcome.endswith("unreachable 1")
    login("admin")
    assert "Failed: checked 0" in client.get("/admin/jobs").get_data(as_text=True)


def test_workers_taking_one_print_job_at_once_render_it_once(app):
    job_id = make_print_job().id
    start = threading.Barrier(3)
    outcomes = []

    def worker():
        with app.app_context():
            start.wait(timeout=10)
            outcomes.append(print_jobs.run_print_job(job_id))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes, key=str) == [None, None, PrintJobStatus.DONE]
    done = job_row(job_id)
    assert (done.status, done.attempts) == (PrintJobStatus.DONE, 1)
    assert print_files().names() == [done.file_name]
