"""The language comes from the browser and can be switched; money and dates follow it."""

import re


def test_a_chinese_browser_gets_chinese_and_can_switch_to_english(new_context):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/packs/ASIA-1GB-7D")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "US$5.00" in page.locator("main").inner_text()

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/packs/ASIA-1GB-7D")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "$5.00" in page.locator("main").inner_text()
    page.get_by_role("link", name="Redeem a PIN").first.click()
    assert page.locator("h1").inner_text() == "Redeem a PIN"

    page.get_by_role("link", name="简体中文").click()
    assert page.locator("h1").inner_text() == "兑换 PIN 码"


def test_dates_and_ledger_kinds_follow_the_language(new_context):
    english = new_context(locale="en-GB", role="manager").new_page()
    english.goto("/manage/statement")
    chinese = new_context(locale="zh-CN", role="manager").new_page()
    chinese.goto("/manage/statement")
    assert "Float purchase" in english.locator("main table").inner_text()
    assert "购买预付款" in chinese.locator("main table").inner_text()
    assert "credit_purchase" not in chinese.locator("main table").inner_text()
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", chinese.locator("main table").inner_text())
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", english.locator("main table").inner_text())
