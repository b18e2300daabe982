"""Money as integer minor units; formatting and parsing happen only at the edges."""

import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, is_currency

#: A plain amount: ASCII digits, optional thousands commas in groups of three, optional decimals.
PLAIN_AMOUNT = re.compile(r"^(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$", re.ASCII)

#: A machine amount as providers write it: optional minus, ASCII digits, optional decimals.
MACHINE_AMOUNT = re.compile(r"^-?\d+(?:\.\d+)?$", re.ASCII)

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
    return _decimal_to_minor(Decimal(cleaned.replace(",", "")), currency)


def _decimal_to_minor(value: Decimal, currency: str) -> int:
    """Return ``value`` (major units) in minor units, refusing a fraction of a minor unit."""
    minor = value.scaleb(minor_unit_exponent(currency))
    if minor != minor.to_integral_value():
        raise InvalidAmount(f"too many decimal places for {currency}")
    return int(minor)


def _check_currency(currency: str) -> None:
    """Refuse a currency code that is not an ISO 4217 code Babel knows."""
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency, re.ASCII):
        raise InvalidAmount(f"not a currency code: {currency!r}")
    if not is_currency(currency):
        raise InvalidAmount(f"unknown currency {currency}")


def format_minor(amount: int, currency: str) -> str:
    """Write minor units as the exact major-unit string a provider expects.

    ``1500, "USD"`` -> ``"15.00"``; ``1500, "JPY"`` -> ``"1500"``; ``1500, "BHD"`` ->
    ``"1.500"``; negative amounts (a discount line) keep their sign. Integer arithmetic only.
    """
    _check_currency(currency)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("money amounts are integers of minor units")
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def parse_major(text: str, currency: str) -> int:
    """Parse a provider's major-unit amount (``"15.00"``, ``"-5.00"``, ``"1500"``) exactly.

    The strict machine form: no spaces, no thousands separators, no exponent. Trailing zero
    decimals beyond the currency's exponent are accepted (``"1500.00"`` JPY is 1500); a
    fraction of a minor unit is refused.
    """
    _check_currency(currency)
    if not isinstance(text, str) or not MACHINE_AMOUNT.match(text):
        raise InvalidAmount(f"not a plain amount: {text!r}")
    return _decimal_to_minor(Decimal(text), currency)


def money_json(amount: int, currency: str) -> dict:
    """Return the API's money object."""
    return {"amount": amount, "currency": currency}
