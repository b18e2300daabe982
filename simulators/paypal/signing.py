"""PayPal's webhook signature scheme, as the simulator signs its events.

Events are signed over ``transmission_id|transmission_time|webhook_id|crc32(body)`` with
SHA256withRSA, exactly what :mod:`shop.payments.webhooks` verifies for real PayPal; the key and
certificate come from :mod:`simulators.keys`.
"""

import base64
import json
import uuid
import zlib
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from simulators import keys
from simulators.keys import SigningIdentity

CERT_ID = "CERT-SIM-1"
CERT_COMMON_NAME = "messageverificationcerts.simulator.invalid"


def make_signing_identity(
    common_name: str = CERT_COMMON_NAME, not_before=None, not_after=None
) -> SigningIdentity:
    """Generate a PayPal-style signing identity (tests pass names and dates to make bad ones)."""
    return keys.make_signing_identity(common_name, not_before, not_after)


def process_signing_identity() -> SigningIdentity:
    """Return the identity every PayPal simulator of this process shares."""
    return keys.process_signing_identity(CERT_COMMON_NAME)


def sign_event(
    identity: SigningIdentity, event: dict, webhook_id: str, cert_url: str
) -> tuple[dict[str, str], bytes]:
    """Return the headers and raw body PayPal would send for ``event``."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return sign_body(identity, body, webhook_id, cert_url), body


def sign_body(identity: SigningIdentity, body: bytes, webhook_id: str, cert_url: str) -> dict:
    """Return PayPal's signature headers for exactly these body bytes."""
    transmission_id = str(uuid.uuid4())
    transmission_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
    signature = identity.private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
