"""The operator sets up a pack and a partner shop, funds it and prints stock for it."""

import re

from shop.agents.ledger import ledger_sum
from shop.agents.services import get_agent_by_code


def test_admin_creates_a_pack_an_agent_credits_its_float_and_generates_inactive_stock(
    page, shop, login_as
):
    login_as(page, "admin")
    page.goto("/admin/")
    page.locator("main").get_by_role("link", name=re.compile("^Packs ")).click()
    page.get_by_role("link", name="New pack").click()
    page.get_by_label("SKU").fill("BALI-2GB-10D")
    page.get_by_label("Name").fill("Bali 2 GB / 10 days")
    page.get_by_label("Region").fill("Asia")
    page.get_by_label("Coverage").fill("ID")
    page.get_by_label("Data (MB").fill("2048")
    page.get_by_label("Validity").fill("10")
    page.get_by_label("Price").fill("8.50")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Save pack").click()
    row = page.locator("main tr", has_text="BALI-2GB-10D")
    assert "Bali 2 GB / 10 days" in row.inner_text()
    assert "$8.50" in row.inner_text()

    page.goto("/admin/")
    page.locator("main").get_by_role("link", name=re.compile("^Agents ")).click()
    page.get_by_label("Code").fill("BALI1")
    page.get_by_label("Name").fill("Kuta Beach Phone Shop")
    page.get_by_label("Discount").fill("800")
    page.get_by_label("Credit limit").fill("0")
    page.get_by_role("button", name="Create agent").click()
    page.wait_for_url("**/admin/agents/BALI1")
    assert "Agent BALI1 created." in page.get_by_role("status").inner_text()

    page.get_by_label("Amount").fill("25000")
    page.get_by_label("Note").fill("bank transfer 2024-118")
    page.get_by_role("button", name="Add float").click()
    assert "Float of BALI1 is now $250.00." in page.get_by_role("status").inner_text()
    assert "bank transfer 2024-118" in page.locator("main table").inner_text()
    with shop.database():
        agent = get_agent_by_code("BALI1")
        assert agent.balance == 25000 == ledger_sum(agent.id)

    page.goto("/admin/")
    page.locator("main").get_by_role("link", name=re.compile("^Vouchers ")).click()
    page.get_by_label("Pack SKU").fill("BALI-2GB-10D")
    page.get_by_label("Number of vouchers").fill("5")
    page.get_by_label("Agent code").fill("BALI1")
    page.get_by_label("Pre-printed stock").check()
    page.get_by_role("button", name="Generate vouchers").click()
    page.wait_for_url(re.compile(r"/admin/vouchers/batches/\d+$"))
    assert "5 vouchers" in page.get_by_role("status").inner_text()
    facts = page.locator(".facts").first.inner_text()
    assert "BALI-2GB-10D" in facts and "BALI1" in facts
    statuses = page.locator("main table tbody tr").all_inner_texts()
    assert len(statuses) == 5
    assert all("Not sold yet" in row for row in statuses), statuses
