"""Helpers for voucher tests: generate vouchers and keep their clear PINs."""

from shop.vouchers.batches import IssuedVoucher, generate_batch
from shop.vouchers.pins import format_pin


def make_vouchers(product, count=1, **kwargs) -> list[IssuedVoucher]:
    """Generate ``count`` vouchers of ``product`` and return them with their PINs in clear."""
    return generate_batch(product, count, keep_pins=True, **kwargs).vouchers


def pin_spellings(pin: str) -> list[str]:
    """Return the ways a PIN could leak: the bare digits and the printed 4-4-4-4 groups."""
    return [pin, format_pin(pin), "-".join(format_pin(pin).split())]
