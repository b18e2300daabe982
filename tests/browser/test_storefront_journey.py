"""A guest buys two packs with a promotion code through the PayPal simulator and sees the PINs."""

import re

from shop.storefront.models import Order, OrderStatus
from shop.vouchers.models import Voucher
from shop.vouchers.pins import format_pin
from shop.vouchers.services import reveal_pin

PIN_PATTERN = re.compile(r"\d{4} \d{4} \d{4} \d{4}")


def test_guest_buys_two_packs_with_a_promotion_code(page, shop):
    page.goto("/packs/ASIA-10GB-30D")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/packs/ASIA-1GB-7D")
    page.get_by_role("button", name="Add to cart").click()
    assert "/cart" in page.url

    page.get_by_label("Promotion code").fill("welcome10")
    page.get_by_role("button", name="Apply").click()
    assert "Discount (WELCOME10)" in page.locator("main").inner_text()
    page.get_by_role("link", name="Go to checkout").click()

    page.get_by_label("PIN vouchers, to keep or give away").check()
    page.get_by_label("E-mail for your receipt and PINs").fill("traveller@example.com")
    page.get_by_role("button", name="Review order").click()
    confirmation = page.locator("main").inner_text()
    assert "Confirm and pay" in confirmation and "WELCOME10" in confirmation

    page.get_by_role("button", name=re.compile("^Pay .* with PayPal$")).click()
    page.get_by_role("button", name="Pay now").click()  # the simulator's approval page
    page.wait_for_url(re.compile(r"/orders/WD-"))

    main = page.locator("main").inner_text()
    assert "Completed" in main
    shown = set(PIN_PATTERN.findall(main))
    assert len(shown) == 2
    with shop.database() as session:
        order = session.execute(
            session.query(Order).filter_by(email="traveller@example.com").statement
        ).scalar_one()
        assert order.status == OrderStatus.FULFILLED
        assert order.discount > 0 and order.total == order.subtotal - order.discount
        batch_ids = [line.batch_id for line in order.lines]
        vouchers = session.query(Voucher).filter(Voucher.batch_id.in_(batch_ids)).all()
        assert {format_pin(reveal_pin(v)) for v in vouchers} == shown
