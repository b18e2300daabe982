"""A sale opens the print dialog on its PDF: the page frames the PDF, nothing else may be framed."""

from shop.agents import services as agent_services
from tests.factories import make_agent, make_product


def test_a_new_sale_prints_its_receipts_from_a_same_origin_frame(client, login):
    make_product(sku="PRINT-1")
    agent = make_agent(code="PRN", discount_bps=0)
    agent_services.credit_agent("PRN", 10_000)
    login("agent_staff", agent=agent)
    sale = client.post("/counter/sell", data={"sku": "PRINT-1", "quantity": 2})
    page = client.get(sale.headers["Location"])
    html = page.get_data(as_text=True)
    assert "data-autoprint" in html and "js/print-sale.js" in html
    assert page.headers["X-Frame-Options"] == "DENY", "pages themselves are never framed"
    pdf_url = sale.headers["Location"].split("?")[0] + ".pdf?format=receipt"
    document = client.get(pdf_url)
    assert document.mimetype == "application/pdf"
    assert document.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert document.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert document.headers["Cache-Control"] == "no-store"
    reprint_page = client.get(sale.headers["Location"].split("?")[0])
    assert "data-autoprint" not in reprint_page.get_data(as_text=True), (
        "only a new sale prints by itself"
    )
