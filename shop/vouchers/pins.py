"""Voucher PINs and serials: generation, check digits, normalisation and display.

A PIN is 16 decimal digits: 15 from a CSPRNG and a Damm check digit that catches every single
mistyped digit and every swap of two adjacent digits before the attempt counts as a guess. The
check digit adds no secrecy. A serial is public and sequential: batch number, position, Luhn digit.
"""

import os
import re
import struct

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
#: How many random digits a PIN has before its check digit.
PIN_BODY_DIGITS = PIN_LENGTH - 1
_BODY_RANGE = 10**PIN_BODY_DIGITS
#: 64-bit draws at or above this are thrown away, so ``draw % 10**15`` is exactly uniform.
_UNBIASED_LIMIT = (2**64 // _BODY_RANGE) * _BODY_RANGE
PIN_SEPARATORS = re.compile(r"[\s\-]")
SERIAL_PATTERN = re.compile(r"^[0-9]{14}$")  # ASCII only: \d would take full-width digits


class InvalidPin(ValueError):
    """Not a well-formed PIN; ``problem`` is "format" or "check_digit"."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


def damm_interim(digits: str, interim: int = 0) -> int:
    """Return the Damm interim digit after ``digits`` (0 at the end means a valid string)."""
    for char in digits:
        interim = DAMM_TABLE[interim][ord(char) - 48]
    return interim


def _damm_by_three_digits() -> tuple[int, ...]:
    """Return the Damm table applied to three digits at once: entry ``interim * 1000 + group``."""
    return tuple(
        damm_interim(f"{group:03d}", interim) for interim in range(10) for group in range(1000)
    )


#: :data:`DAMM_TABLE` three digits at a time, so a PIN body takes five look-ups, not fifteen.
DAMM_BY_THREE = _damm_by_three_digits()


def damm_check_digit(digits: str) -> str:
    """Return the Damm check digit that completes ``digits``."""
    return str(damm_interim(digits))


def damm_valid(digits: str) -> bool:
    """Return whether a digit string ends in its correct Damm check digit."""
    return damm_interim(digits) == 0


def generate_pin() -> str:
    """Return a new 16-digit PIN: 15 CSPRNG digits and the Damm check digit."""
    return generate_pins(1)[0]


def generate_pins(count: int) -> list[str]:
    """Return ``count`` new PINs: 15 CSPRNG digits and the Damm check digit each.

    The bodies come from one ``os.urandom`` read per round (the source ``secrets`` uses),
    taken 64 bits at a time; draws that would favour some bodies over others are thrown away.
    The check digit is worked out three digits at a time.
    """
    bodies: list[int] = []
    while len(bodies) < count:
        wanted = count - len(bodies) + 8  # a few spare: 0.004 % of draws are thrown away
        draws = struct.unpack(f"<{wanted}Q", os.urandom(8 * wanted))
        bodies.extend(draw % _BODY_RANGE for draw in draws if draw < _UNBIASED_LIMIT)
    del bodies[count:]
    table = DAMM_BY_THREE
    pins = []
    for body in bodies:
        interim = table[body // 10**12]
        interim = table[interim * 1000 + body // 10**9 % 1000]
        interim = table[interim * 1000 + body // 10**6 % 1000]
        interim = table[interim * 1000 + body // 1000 % 1000]
        pins.append(f"{body:015d}{table[interim * 1000 + body % 1000]}")
    return pins


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


def _luhn_sums_of_three_digits(*, double_rightmost: bool) -> tuple[int, ...]:
    return tuple(
        luhn_sum(f"{group:03d}", double_rightmost=double_rightmost) for group in range(1000)
    )


#: Luhn sums of a serial's position digits: its last three (rightmost doubled) and first three.
_POSITION_LOW_SUMS = _luhn_sums_of_three_digits(double_rightmost=True)
_POSITION_HIGH_SUMS = _luhn_sums_of_three_digits(double_rightmost=False)


def serials(batch_id: int, start: int, stop: int) -> list[str]:
    """Return the serials of positions ``start..stop-1`` of a batch, as ``make_serial`` would.

    In the 13 digits before the check digit the rightmost is doubled, so the batch number's
    share of the Luhn sum is worked out once, and each position's from two tables of three
    digits: the last three doubled as the rightmost, the first three shifted by three places.
    """
    if not 0 < batch_id < 10**7 or not 0 < start <= stop <= 10**6:
        raise ValueError("batch id or positions out of the serial's range")
    prefix = f"{batch_id:07d}"
    prefix_sum = luhn_sum(prefix, double_rightmost=True)
    high, low = _POSITION_HIGH_SUMS, _POSITION_LOW_SUMS
    result = []
    for position in range(start, stop):
        check = -(prefix_sum + high[position // 1000] + low[position % 1000]) % 10
        result.append(f"{prefix}{position:06d}{check}")
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
