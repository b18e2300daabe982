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


#: Luhn's doubled digit, with 9 subtracted when it has two digits.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_sum(digits: str, double_first_from_right: bool) -> int:
    total = 0
    double = double_first_from_right
    for char in reversed(digits):
        value = ord(char) - 48
        total += _DOUBLED[value] if double else value
        double = not double
    return total


def luhn_checksum_ok(digits: str) -> bool:
    """Return whether a string of digits passes the Luhn check (its last digit is the check)."""
    return _luhn_sum(digits, False) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn digit that completes ``partial``."""
    return str((10 - _luhn_sum(partial, True) % 10) % 10)


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
