"""Money: integer minor units inside, parsing and formatting only at the edges."""

from decimal import Decimal

import pytest

from shop.money import (
    InvalidAmount,
    format_money,
    minor_unit_exponent,
    money_json,
    parse_major_amount,
    to_decimal,
)


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "USD", 1),
        (" 15.00 ", "EUR", 1500),
        ("1,000.00", "USD", 100000),
        ("0", "USD", 0),
        ("100", "JPY", 100),
        ("350", "THB", 35000),
    ],
)
def test_typed_price_becomes_minor_units(typed, currency, minor):
    amount = parse_major_amount(typed, currency)

    assert amount == minor
    assert type(amount) is int


def test_more_decimals_than_the_currency_has_are_refused():
    with pytest.raises(InvalidAmount, match="decimal places"):
        parse_major_amount("12.505", "USD")


def test_yen_has_no_decimals():
    assert minor_unit_exponent("JPY") == 0
    assert parse_major_amount("100", "JPY") == 100
    with pytest.raises(InvalidAmount):
        parse_major_amount("1.5", "JPY")


@pytest.mark.parametrize("typed", ["-1", "-0.01", "-12.50"])
def test_negative_amount_is_refused(typed):
    with pytest.raises(InvalidAmount):
        parse_major_amount(typed, "USD")


@pytest.mark.parametrize("typed", ["abc", "", "   ", "12.50 USD", "$12.50", "1.2.3", None])
def test_text_that_is_no_number_is_refused(typed):
    with pytest.raises(InvalidAmount):
        parse_major_amount(typed, "USD")


@pytest.mark.parametrize("typed", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_special_decimal_values_are_refused(typed):
    with pytest.raises(InvalidAmount):
        parse_major_amount(typed, "USD")


@pytest.mark.parametrize("typed", ["1e3", "1E-2", "1_000", "１２.５０"])
def test_exponent_underscore_or_full_width_notation_is_refused_as_not_a_plain_number(typed):
    with pytest.raises(InvalidAmount):
        parse_major_amount(typed, "USD")


@pytest.mark.parametrize("typed", ["12,50", "1,2"])
def test_decimal_comma_is_refused_rather_than_read_as_a_hundred_times_the_price(typed):
    with pytest.raises(InvalidAmount):
        parse_major_amount(typed, "USD")


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1500, "USD", "$15.00"),
        (1, "USD", "$0.01"),
        (123456, "USD", "$1,234.56"),
        (1500, "EUR", "€15.00"),
        (1500, "JPY", "¥1,500"),
    ],
)
def test_format_money_shows_major_units_in_english(minor, currency, shown):
    assert format_money(minor, currency, "en") == shown


def test_format_money_follows_the_locale():
    shown = format_money(1500, "USD", "zh_Hans_CN")

    assert "15.00" in shown
    assert "US$" in shown


@pytest.mark.parametrize("amount", [15.0, 15.5, Decimal("15"), "1500", True, None])
def test_format_money_refuses_anything_but_integer_minor_units(amount):
    with pytest.raises(TypeError):
        format_money(amount, "USD", "en")


@pytest.mark.parametrize(
    ("minor", "currency", "exact"),
    [
        (1, "USD", "0.01"),
        (10, "USD", "0.10"),
        (1250, "USD", "12.50"),
        (-1250, "USD", "-12.50"),
        (100, "JPY", "100"),
        # Beyond a float's 53-bit mantissa: only exact decimal arithmetic gets the cents right.
        (12345678901234567891, "USD", "123456789012345678.91"),
        (2**63 + 1, "USD", "92233720368547758.09"),
    ],
)
def test_to_decimal_is_exact(minor, currency, exact):
    value = to_decimal(minor, currency)

    assert isinstance(value, Decimal)
    assert value == Decimal(exact)
    assert str(value) == exact


def test_to_decimal_never_goes_through_float():
    # 0.1 + 0.2 style errors would show up here if a float were involved anywhere.
    total = sum((to_decimal(10, "USD") for _ in range(3)), Decimal(0))
    assert total == Decimal("0.30")
    with pytest.raises(TypeError):
        to_decimal(0.1, "USD")
    with pytest.raises(TypeError):
        to_decimal(False, "USD")


def test_money_json_is_amount_and_currency():
    assert money_json(1500, "USD") == {"amount": 1500, "currency": "USD"}
