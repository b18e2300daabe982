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
