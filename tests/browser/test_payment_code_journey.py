"""The admin turns one-time codes on; a guest's first order asks for one before PayPal.

The guest reads the code where a demo without SMTP keeps it (the development outbox), types it,
pays at the PayPal simulator and gets the PIN. The admin's rules are removed afterwards, so the
other journeys pay without a code.
"""

import re

import pytest

from shop.storefront.models import Order, OrderStatus, PaymentCheck, PaymentCodePolicy


@pytest.fixture
def codes_on(new_context, shop):
    admin = new_context(role="admin").new_page()
    admin.goto("/admin/payment-codes")
    admin.get_by_label("Ask for a one-time code when a rule below applies").check()
    admin.get_by_label("A customer's first paid order").check()
    # Only that rule: the journeys before this one placed orders from the same loopback address,
    # and how many depends on which of them this session (or xdist worker) ran first.
    admin.get_by_label("More orders than this from one address within an hour").fill("0")
    admin.get_by_role("button", name="Save the rules").click()
    assert "The one-time code rules are saved." in admin.locator("main").inner_text()
    yield
    with shop.database() as session:
        session.query(PaymentCodePolicy).delete()
        session.commit()


def test_a_first_order_is_paid_after_typing_the_code_from_the_outbox(codes_on, page, shop):
    page.goto("/packs/ASIA-1GB-7D")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name="Go to checkout").click()
    page.get_by_label("PIN vouchers, to keep or give away").check()
    page.get_by_label("E-mail for your receipt and PINs").fill("first.timer@example.com")
    page.get_by_role("button", name="Review order").click()
    assert "with a one-time code sent by e-mail" in page.locator("main").inner_text()
    assert "f***@example.com" in page.locator("main").inner_text()

    page.get_by_role("button", name=re.compile("^Pay .* with PayPal$")).click()
    page.wait_for_url(re.compile(r"/orders/WD-\w+/code"))
    code_page = page.url

    page.get_by_role("link", name="Read the code in the outbox").click()
    mail = page.locator("article", has_text="first.timer@example.com").first.inner_text()
    code = re.search(r"\b(\d{6})\b", mail).group(1)
    page.goto(code_page)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Confirm and pay").click()
    page.get_by_role("button", name="Pay now").click()  # the simulator's approval page
    page.wait_for_url(re.compile(r"/orders/WD-\w+\?"))
    assert "Completed" in page.locator("main").inner_text()

    with shop.database() as session:
        order = session.query(Order).filter_by(email="first.timer@example.com").one()
        check = session.query(PaymentCheck).filter_by(order_id=order.id).one()
        assert order.status == OrderStatus.FULFILLED
        assert check.reason_list == ["first_order"] and check.verified_at is not None
        assert code not in check.code_hash
