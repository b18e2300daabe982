"""A customer redeems a PIN on the redeem page; wrong PINs are refused with the right message."""

import pytest

from shop.vouchers.pins import damm_check_digit, format_pin
from tests.browser.conftest import REDEEM_CARD

BODY = "123456789012345"
#: The same digits with a check digit that does not fit: a typing mistake.
MISTYPED = format_pin(BODY + str((int(damm_check_digit(BODY)) + 1) % 10))


def redeem(page, pin: str, card: str = REDEEM_CARD) -> None:
    page.goto("/redeem")
    page.get_by_label("Voucher PIN").fill(pin)
    page.get_by_label("Card number").fill(card)
    page.get_by_role("button", name="Redeem").click()


def data_left(page) -> str:
    return page.locator(".facts-large div", has_text="Data left").locator("dd").inner_text()


def test_customer_redeems_a_pin_and_sees_the_new_balance(page, shop):
    page.goto(f"/card?number={REDEEM_CARD}")
    before = data_left(page)
    redeem(page, format_pin(shop.seed.pins[0]))
    page.wait_for_url("**/redeem/done")
    assert "Asia 1 GB / 7 days was added to card" in page.get_by_role("status").inner_text()
    assert data_left(page) != before
    assert data_left(page).endswith("GB")
    page.get_by_role("link", name="See the card").click()
    assert data_left(page) == page.locator("dd").nth(1).inner_text()


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        (MISTYPED, "This PIN has a typing mistake"),
        ("000000000001234" + damm_check_digit("000000000001234"), "No voucher has this PIN"),
    ],
    ids=["check-digit-wrong", "unknown-pin"],
)
def test_a_wrong_pin_is_refused_with_the_right_message(page, pin, message):
    redeem(page, pin)
    assert message in page.locator("#pin-errors").inner_text()
    assert page.locator("#pin").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Voucher PIN").input_value() == pin


def test_a_used_pin_says_it_was_redeemed_before(page, shop):
    redeem(page, shop.seed.pins[1])
    page.wait_for_url("**/redeem/done")
    redeem(page, shop.seed.pins[1])
    assert "has been used already" in page.locator("#pin-errors").inner_text()
