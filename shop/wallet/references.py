"""What a wallet entry was for, written in its ``reference``: an order, a refund, a renewal.

The reference is unique per wallet and kind, so it is what keeps an order, a refund or a
renewal from moving a wallet twice; this module is the one place that writes and reads it.
"""

import re

#: An order's reference (``WD-`` and ten characters) after ``order:`` or ``refund:``.
_ORDER = re.compile(r"^(?:order|refund):(WD-[0-9A-Z]{10})")
_RENEWAL = "renewal:"


def for_order(order_reference: str) -> str:
    """Return the reference of an order's top-up, or of its payment from the wallet."""
    return f"order:{order_reference}"


def for_refund(order_reference: str, key: str) -> str:
    """Return the reference of a refund (``key``: the refund's own) of an order."""
    return f"refund:{order_reference}:{key}"


def for_renewal(renewal_key: str) -> str:
    """Return the reference of an automatic renewal's payment."""
    return f"{_RENEWAL}{renewal_key}"


def order_of(reference: str) -> str | None:
    """Return the order an order's or refund's reference names, else None."""
    match = _ORDER.match(reference)
    return match.group(1) if match else None


def renewal_of(reference: str) -> str | None:
    """Return the renewal key a renewal's reference names, else None."""
    return reference.removeprefix(_RENEWAL) if reference.startswith(_RENEWAL) else None
