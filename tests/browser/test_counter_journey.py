"""Counter staff sell vouchers, print them, reprint one and void one; a sale by keyboard only."""

import io
import re

from pypdf import PdfReader

from shop.vouchers.pins import normalise_pin
from shop.vouchers.services import find_voucher_by_pin

PRINTED_PIN = re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b")


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF"), content[:40]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_staff_sells_three_vouchers_prints_reprints_one_and_voids_one(page, shop, login_as):
    login_as(page, "staff")
    page.goto("/counter")
    page.get_by_label("Pack").first.select_option("JP-3GB-7D")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Sell and print").click()
    page.wait_for_url(re.compile(r"/counter/batches/\d+"))
    assert "Sold 3 vouchers." in page.get_by_role("status").inner_text()
    serials = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert len(serials) == 3

    receipts = page.get_by_role("link", name="Print receipts (80 mm)")
    response = page.context.request.get(receipts.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.body())
    pins = {normalise_pin(pin) for pin in PRINTED_PIN.findall(text)}
    assert len(pins) == 3
    with shop.database():
        sold = {find_voucher_by_pin(pin).serial for pin in pins}
    assert sold == set(serials)
    assert all(serial in text for serial in serials)

    page.get_by_role("link", name=serials[0]).click()
    # The reprint opens in a new tab, in Chromium's own PDF viewer, which hides the PDF's bytes
    # from the page: the request goes through the context, which keeps the bytes on the way.
    printed = []

    def keep_pdf(route):
        response = route.fetch()
        printed.append(response.body())
        route.fulfill(response=response)

    page.context.route("**/reprint", keep_pdf)
    with page.expect_popup() as popup:
        page.get_by_role("button", name="Reprint").click()
    popup.value.wait_for_load_state()
    popup.value.close()
    reprint = pdf_text(printed[0])
    assert serials[0] in reprint
    assert len(PRINTED_PIN.findall(reprint)) == 1

    page.get_by_role("button", name="Void and refund").click()
    assert f"Voucher {serials[0]} is void" in page.get_by_role("status").inner_text()
    assert "Void" in page.locator(".facts").inner_text()
    assert page.get_by_role("button", name="Reprint").count() == 0


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def tab_to(page, element_id: str, limit: int = 30) -> int:
    """Press Tab until the element with ``element_id`` has the focus; return how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if focused_id(page) == element_id:
            return presses
    raise AssertionError(f"#{element_id} not reached with {limit} presses of Tab")


def test_a_counter_sale_needs_only_the_keyboard(new_context):
    page = new_context(role="staff").new_page()
    page.goto("/counter")
    assert tab_to(page, "sku") <= 20
    page.keyboard.press("ArrowDown")
    pack = page.locator("#sku option:checked").inner_text().split(" · ")[0]
    page.keyboard.press("Tab")
    assert focused_id(page) == "quantity"
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/counter/batches/\d+"))
    assert "Sold 2 vouchers." in page.get_by_role("status").inner_text()
    assert f"2 × {pack}" in page.locator("h1").inner_text()
    # The receipt button has the focus, so the next Enter prints.
    assert page.evaluate("document.activeElement.textContent").strip() == "Print receipts (80 mm)"
    assert page.locator("main tbody tr").count() == 2
