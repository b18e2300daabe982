"""PayPal-looking ids and times for the simulator's resources."""

import secrets
from datetime import UTC, datetime


def now_text() -> str:
    """Return the time as PayPal writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str, length: int = 24) -> str:
    """Return a PayPal-looking random id (v2 ids have no prefix and no hyphen)."""
    return prefix + secrets.token_hex(length // 2).upper()
