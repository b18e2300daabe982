"""HMAC-SHA256 signatures over a timestamp and a raw body, both ways.

The shop signs its requests to the network with its API key; the network signs its callbacks
to the shop with the webhook secret. The signed text is ``<unix seconds>.<raw body>``; the
header carries ``t=<unix seconds>,v1=<hex digest>``.
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Network-Signature"


class BadSignature(Exception):
    """The signature is missing, malformed, stale or does not match."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return the signature header's value for ``body`` at ``timestamp`` (default: now)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, max_age: float, now: float | None = None):
    """Return the signed timestamp, or raise :class:`BadSignature`."""
    if not secret:
        raise BadSignature("no secret configured")
    parts = dict(part.split("=", 1) for part in (header or "").split(",") if part.count("=") == 1)
    try:
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise BadSignature("malformed signature header") from None
    current = time.time() if now is None else now
    if abs(current - stamp) > max_age:
        raise BadSignature("timestamp outside the replay window")
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise BadSignature("signature does not match")
    return stamp
