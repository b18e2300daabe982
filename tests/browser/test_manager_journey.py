"""A reseller manager downloads what their shop did this month.

Each download is one entry of ``MONTHLY_DOWNLOADS``: the link's name on the page it is on and a
check of the file. The sales reports (CSV and PDF) join the list when they exist.
"""

import csv
import io

import pytest

from shop.timeutil import utcnow
from tests.browser.conftest import OPENING_FLOAT


def check_float_statement(content: bytes) -> None:
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    kinds = [row["kind"] for row in rows]
    assert "credit_purchase" in kinds, kinds
    assert "sale" in kinds, kinds
    opening = next(row for row in rows if row["note"] == "opening float")
    assert int(opening["amount_minor"]) == OPENING_FLOAT
    assert {row["currency"] for row in rows} == {"USD"}


#: (page with a From/To period form, name of the download link, check of the file)
MONTHLY_DOWNLOADS = [
    ("/manage/statement", "Download CSV", check_float_statement),
]


def check_sales_csv(content: bytes) -> None:
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) >= 4, rows  # the seeded sale of four vouchers, at least
    assert all(row["agent_code"] == "DEMO" for row in rows), rows[:2]


def check_sales_pdf(content: bytes) -> None:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 1
    assert "DEMO" in text


@pytest.mark.parametrize(
    ("link", "check"),
    [("Download CSV", check_sales_csv), ("Download PDF", check_sales_pdf)],
    ids=["sales-csv", "sales-pdf"],
)
def test_manager_downloads_this_months_sales_report(page, login_as, link, check):
    login_as(page, "manager")
    page.goto("/reports/sales")
    page.get_by_label("Period").select_option("this_month")
    page.get_by_role("button", name="Show").click()
    # The PDF opens in the browser's viewer rather than downloading: fetch what the link
    # points to with the page's own session, as the viewer does.
    answer = page.request.get(page.get_by_role("link", name=link).get_attribute("href"))
    assert answer.status == 200
    check(answer.body())


@pytest.mark.parametrize(("path", "link", "check"), MONTHLY_DOWNLOADS, ids=["float-statement"])
def test_manager_downloads_this_months_files(page, login_as, path, link, check):
    login_as(page, "manager")
    page.goto("/manage/")
    page.goto(path)
    today = utcnow().date()
    page.get_by_label("From").fill(today.replace(day=1).isoformat())
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    with page.expect_download() as download:
        page.get_by_role("link", name=link).click()
    assert today.replace(day=1).isoformat() in download.value.suggested_filename
    check(download.value.path().read_bytes())
