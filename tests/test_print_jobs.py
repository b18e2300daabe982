"""Large batches print as print jobs with progress; small ones print at once.

The job queue runs tasks at once here (``JOBS_IMMEDIATE``): the job is rendered right after
the request's commit, as a worker would. tests/test_jobs_*.py run real workers.
"""

import io

import pypdf

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.vouchers import print_jobs, printing
from shop.vouchers.models import PrintJob, PrintJobStatus, Voucher
from shop.vouchers.pins import format_pin
from shop.vouchers.print_files import print_files
from tests.factories import make_product
from tests.vouchers_helpers import make_vouchers


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_a_small_batch_prints_at_once(client, login):
    login("admin")
    vouchers = make_vouchers(make_product(), count=12)
    batch = db.session.execute(db.select(Voucher.batch_id)).scalars().first()
    response = client.post(f"/admin/vouchers/batches/{batch}/print", data={"format": "a4"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert all(format_pin(v.pin) in text for v in vouchers)
    assert db.session.execute(db.select(AuditEvent).filter_by(action="batch.printed")).scalar_one()
    assert db.session.execute(db.select(PrintJob)).first() is None, (
        "no background job for a small batch"
    )


def test_a_large_batch_prints_in_the_background_and_shows_its_progress(
    app, client, login, monkeypatch
):
    monkeypatch.setattr(printing, "BACKGROUND_ABOVE", 20)
    monkeypatch.setattr(print_jobs, "PROGRESS_EVERY", 10)
    login("admin")
    vouchers = make_vouchers(make_product(), count=35)
    batch = db.session.execute(db.select(Voucher.batch_id)).scalars().first()
    response = client.post(f"/admin/vouchers/batches/{batch}/print", data={"format": "receipt"})
    assert response.status_code == 302
    job_url = response.headers["Location"]
    db.session.rollback()
    job = db.session.execute(db.select(PrintJob)).scalar_one()
    assert (job.status, job.done, job.total, job.attempts) == (PrintJobStatus.DONE, 35, 35, 1)
    page = client.get(job_url).get_data(as_text=True)
    assert "is ready" in page and 'http-equiv="refresh"' not in page
    download = client.get(f"/admin/print-jobs/{job.id}.pdf")
    assert download.status_code == 200
    text = pdf_text(download.data)
    assert all(format_pin(v.pin) in text for v in vouchers)
    assert print_files().names() == [job.file_name]
    stored = print_files().read(job.file_name)
    assert all(v.pin.encode() not in stored for v in vouchers), "the file at rest is sealed"


def test_print_jobs_are_for_the_operator_only(client, login):
    login("agent_manager")
    assert client.get("/admin/print-jobs/1").status_code == 403
    assert client.post("/admin/vouchers/batches/1/print", data={"format": "a4"}).status_code == 403


def test_a_background_print_is_in_the_language_of_the_page_that_asked(
    app, client, login, monkeypatch
):
    monkeypatch.setattr(printing, "BACKGROUND_ABOVE", 2)
    login("admin")
    make_vouchers(make_product(), count=3)
    batch = db.session.execute(db.select(Voucher.batch_id)).scalars().first()
    response = client.post(
        f"/admin/vouchers/batches/{batch}/print",
        data={"format": "a4"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == 302
    db.session.rollback()
    job = db.session.execute(db.select(PrintJob)).scalar_one()
    text = "".join(pdf_text(client.get(f"/admin/print-jobs/{job.id}.pdf").data).split())
    assert text.count("序列号") == 3 and "Serial" not in text
