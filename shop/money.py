"""Money as integer minor units; formatting and parsing happen only at the edges."""

import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

#: A plain amount: ASCII digits, optional thousands commas in groups of three, optional decimals.
PLAIN_AMOUNT = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$", re.ASCII)

#: Currencies the shop prices packs in.
CURRENCIES = ("USD", "EUR", "GBP", "CNY", "HKD", "SGD", "THB", "JPY")


class InvalidAmount(ValueError):
    """An amount that is not a valid number of the currency's units."""


def minor_unit_exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has (2 for USD, 0 for JPY)."""
    return get_currency_precision(currency)


def to_decimal(amount: int, currency: str) -> Decimal:
    """Return the exact major-unit value of an integer minor-unit amount."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("money amounts are integers of minor units")
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))


def format_money(amount: int, currency: str, locale: str = "en") -> str:
    """Format minor units for display in ``locale`` (``1500, "USD"`` -> ``$15.00``)."""
    return format_currency(to_decimal(amount, currency), currency, locale=locale)


def parse_major_amount(text: str, currency: str) -> int:
    """Parse a typed major-unit amount (``"12.50"``) into minor units (``1250``).

    Refuses negative values, more decimals than the currency has, and anything that
    is not a plain number.
    """
    cleaned = (text or "").strip()
    if cleaned.startswith("-"):
        raise InvalidAmount("must be zero or more")
    if not PLAIN_AMOUNT.match(cleaned):
        raise InvalidAmount("not a plain number such as 12.50")
    value = Decimal(cleaned.replace(",", ""))
    minor = value.scaleb(minor_unit_exponent(currency))
    if minor != minor.to_integral_value():
        raise InvalidAmount(f"too many decimal places for {currency}")
    return int(minor)


def money_json(amount: int, currency: str) -> dict:
    """Return the API's money object."""
    return {"amount": amount, "currency": currency}
