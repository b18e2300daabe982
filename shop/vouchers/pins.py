"""Voucher PINs and serials: generation, check digits, normalisation and display.

A PIN is 16 decimal digits: 15 from a CSPRNG and a Damm check digit that catches every single
mistyped digit and every swap of two adjacent digits before the attempt counts as a guess. The
check digit adds no secrecy. A serial is public and sequential: batch number, position, Luhn digit.
"""

import re
import secrets

from shop.cards.numbers import luhn_check_digit, luhn_checksum_ok, luhn_sum

PIN_LENGTH = 16
#: The Damm algorithm's quasigroup of order 10 (totally anti-symmetric).
DAMM_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
PIN_SEPARATORS = re.compile(r"[\s\-]")
SERIAL_PATTERN = re.compile(r"^[0-9]{14}$")  # ASCII only: \d would take full-width digits


class InvalidPin(ValueError):
    """Not a well-formed PIN; ``problem`` is "format" or "check_digit"."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


def damm_interim(digits: str) -> int:
    """Return the Damm interim digit of a digit string (0 means the string is valid)."""
    interim = 0
    for char in digits:
        interim = DAMM_TABLE[interim][ord(char) - 48]
    return interim


def damm_check_digit(digits: str) -> str:
    """Return the Damm check digit that completes ``digits``."""
    return str(damm_interim(digits))


def damm_valid(digits: str) -> bool:
    """Return whether a digit string ends in its correct Damm check digit."""
    return damm_interim(digits) == 0


def generate_pin() -> str:
    """Return a new 16-digit PIN: 15 CSPRNG digits and the Damm check digit."""
    body = f"{secrets.randbelow(10**15):015d}"
    return body + damm_check_digit(body)


def normalise_pin(text: str) -> str:
    """Return the 16 digits of a typed PIN, or raise :class:`InvalidPin`.

    Spaces and dashes between digits are accepted (``1234-5678-9012-3456``); anything
    else, or a wrong check digit, is refused before the PIN is ever looked up.
    """
    if not isinstance(text, str):
        raise InvalidPin("format", "a PIN is text")
    digits = PIN_SEPARATORS.sub("", text.strip())
    if len(digits) != PIN_LENGTH or not digits.isascii() or not digits.isdigit():
        raise InvalidPin("format", "a PIN is 16 digits")
    if not damm_valid(digits):
        raise InvalidPin(
            "check_digit", "the PIN's check digit is wrong; check for a mistyped digit"
        )
    return digits


def format_pin(pin: str) -> str:
    """Return a PIN grouped 4-4-4-4 for printing."""
    return " ".join(pin[i : i + 4] for i in range(0, len(pin), 4))


def serials(batch_id: int, start: int, stop: int) -> list[str]:
    """Return the serials of positions ``start..stop-1`` of a batch, as ``make_serial`` would.

    The batch number's share of the Luhn sum is worked out once, not once per voucher: in the
    13 digits before the check digit the rightmost is doubled, so the batch number's digits are
    doubled exactly as they would be on their own.
    """
    if not 0 < batch_id < 10**7 or not 0 < start <= stop <= 10**6:
        raise ValueError("batch id or positions out of the serial's range")
    prefix = f"{batch_id:07d}"
    prefix_sum = luhn_sum(prefix, double_rightmost=True)
    result = []
    for position in range(start, stop):
        tail = f"{position:06d}"
        check = -(prefix_sum + luhn_sum(tail, double_rightmost=True)) % 10
        result.append(f"{prefix}{tail}{check}")
    return result


def make_serial(batch_id: int, position: int) -> str:
    """Return the serial of the voucher at ``position`` (1-based) of batch ``batch_id``."""
    if not 0 < batch_id < 10**7 or not 0 < position < 10**6:
        raise ValueError("batch id or position out of the serial's range")
    partial = f"{batch_id:07d}{position:06d}"
    return partial + luhn_check_digit(partial)


def normalise_serial(text: str) -> str | None:
    """Return a serial's 14 digits (spaces and dashes ignored), or None if it cannot be one."""
    if not isinstance(text, str):
        return None
    digits = PIN_SEPARATORS.sub("", text.strip())
    if not SERIAL_PATTERN.match(digits) or not luhn_checksum_ok(digits):
        return None
    return digits
