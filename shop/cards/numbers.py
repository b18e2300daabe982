"""Card numbers: ICCIDs (ITU-T E.118, Luhn-checked) and E.164 phone numbers."""

import re

ICCID_PATTERN = re.compile(r"^\d{18,22}$")
E164_PATTERN = re.compile(r"^\+[1-9]\d{7,14}$")
SEPARATORS = re.compile(r"[\s\-.()]")


class InvalidCardNumber(ValueError):
    """Not an ICCID with a valid Luhn digit, nor an E.164 phone number; ``problem`` says why."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


ASCII_DIGITS = "0123456789"
#: Luhn's doubled digit, with 9 subtracted when it has two digits, as a digit-to-digit mapping.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn_sum(digits: str, *, double_rightmost: bool) -> int:
    """Return the Luhn sum of ASCII digits (every second digit from the right doubled)."""
    if digits.strip(ASCII_DIGITS):
        raise ValueError("Luhn sums are of ASCII digits only")
    backwards = digits[::-1]
    doubled, plain = (backwards[0::2], backwards[1::2])
    if not double_rightmost:
        doubled, plain = plain, doubled
    return sum(map(int, doubled.translate(_DOUBLED) + plain))


def luhn_checksum_ok(digits: str) -> bool:
    """Return whether a string of digits passes the Luhn check (its last digit is the check)."""
    try:
        return luhn_sum(digits, double_rightmost=False) % 10 == 0
    except ValueError:  # not ASCII digits: no check passes
        return False


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn digit that completes ``partial``."""
    return str((10 - luhn_sum(partial, double_rightmost=True) % 10) % 10)


def normalise_card_number(text: str) -> str:
    """Return the canonical card number, or raise :class:`InvalidCardNumber` saying why.

    Spaces, dashes, dots and brackets are ignored. A leading ``+`` means a phone number.
    """
    if not isinstance(text, str):
        raise InvalidCardNumber("not_text", "a card number is text")
    cleaned = SEPARATORS.sub("", text.strip())
    if cleaned.startswith("+"):
        if not E164_PATTERN.match(cleaned):
            raise InvalidCardNumber(
                "phone_format", "a phone number is + and 8 to 15 digits, country code first"
            )
        return cleaned
    if not cleaned.isdigit() or not cleaned.isascii():
        raise InvalidCardNumber(
            "characters", "an ICCID has only digits; a phone number starts with +"
        )
    if not ICCID_PATTERN.match(cleaned):
        raise InvalidCardNumber("iccid_length", "an ICCID has 18 to 22 digits")
    if not luhn_checksum_ok(cleaned):
        raise InvalidCardNumber(
            "iccid_check_digit", "the ICCID's check digit is wrong; check for a mistyped digit"
        )
    return cleaned


def card_number_kind(number: str) -> str:
    """Return "phone" or "iccid" for a normalised number."""
    return "phone" if number.startswith("+") else "iccid"
