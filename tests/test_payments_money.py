"""Provider amounts: minor units written and read back exactly, with each currency's exponent."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.demo import DEMO_PRODUCTS
from shop.money import InvalidAmount, format_minor, parse_major
from shop.payments.gateway import PaymentRejected
from shop.payments.paypal_client import parse_paypal_amount, paypal_amount


@pytest.mark.parametrize("product", DEMO_PRODUCTS, ids=lambda product: product[0])
@pytest.mark.parametrize("currency", ["USD", "EUR", "CNY", "JPY", "BHD"])
def test_every_demo_catalog_price_round_trips_exactly(product, currency):
    price = product[5]
    text = format_minor(price, currency)
    assert parse_major(text, currency) == price
    assert "e" not in text.lower()


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1500, "USD", "15.00"),
        (1, "USD", "0.01"),
        (0, "USD", "0.00"),
        (-500, "USD", "-5.00"),
        (123456789012345678, "USD", "1234567890123456.78"),
        (1500, "JPY", "1500"),
        (7, "KRW", "7"),
        (1500, "BHD", "1.500"),
        (1, "KWD", "0.001"),
        (-25, "OMR", "-0.025"),
    ],
)
def test_amounts_are_written_with_the_currency_exponent(minor, currency, text):
    assert format_minor(minor, currency) == text
    assert parse_major(text, currency) == minor


def test_trailing_zero_decimals_are_accepted_but_a_fraction_of_a_minor_unit_is_not():
    assert parse_major("1500.00", "JPY") == 1500
    with pytest.raises(InvalidAmount):
        parse_major("1500.5", "JPY")
    with pytest.raises(InvalidAmount):
        parse_major("0.001", "USD")


@pytest.mark.parametrize(
    "text", ["", " 1.00", "1,000.00", "1e3", "NaN", "Infinity", "+1", "1.", None]
)
def test_provider_amounts_must_be_plain_numbers(text):
    with pytest.raises(InvalidAmount):
        parse_major(text, "USD")


def test_amounts_must_be_integers_and_currencies_real():
    with pytest.raises(TypeError):
        format_minor(15.0, "USD")
    with pytest.raises(TypeError):
        format_minor(True, "USD")
    with pytest.raises(InvalidAmount):
        format_minor(100, "usd")
    with pytest.raises(InvalidAmount):
        format_minor(100, "ZZZ")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "BHD"]))
def test_any_amount_round_trips(minor, currency):
    assert parse_major(format_minor(minor, currency), currency) == minor


def test_paypal_takes_huf_and_twd_in_whole_units():
    assert paypal_amount(150000, "TWD") == "1500"
    assert parse_paypal_amount("1500", "TWD") == 150000
    with pytest.raises(PaymentRejected):
        paypal_amount(150050, "HUF")
    assert paypal_amount(1500, "JPY") == "1500"
