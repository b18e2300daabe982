"""The simulator's webhook signing identity and delivery, in PayPal's scheme.

A fresh RSA key and self-signed certificate per process; events are signed over
``transmission_id|transmission_time|webhook_id|crc32(body)`` with SHA256withRSA, exactly what
:mod:`shop.payments.webhooks` verifies for real PayPal.
"""

import base64
import functools
import json
import logging
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

CERT_ID = "CERT-SIM-1"
CERT_COMMON_NAME = "messageverificationcerts.simulator.invalid"
#: Pauses between delivery attempts of one webhook (PayPal retries for days; a demo needs less).
RETRY_PAUSES = (0.2, 0.5, 1.0)
DELIVERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and the certificate that publishes its public half."""

    private_key: rsa.RSAPrivateKey
    certificate_pem: bytes


def make_signing_identity(
    common_name: str = CERT_COMMON_NAME,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> SigningIdentity:
    """Generate an RSA key and a self-signed certificate (tests pass dates to make bad ones)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(hours=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key, certificate.public_bytes(serialization.Encoding.PEM))


@functools.cache
def process_signing_identity() -> SigningIdentity:
    """Return the identity shared by every simulator in this process (key generation is slow)."""
    return make_signing_identity()


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
    headers = {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    return headers


def deliver(url: str, headers: dict, body: bytes, pauses=RETRY_PAUSES) -> str:
    """POST one signed event, retrying on failure; return the last status code or error name."""
    outcome = "not sent"
    for pause in (0.0, *pauses):
        time.sleep(pause)
        try:
            response = requests.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT)
        except requests.RequestException as exc:
            outcome = exc.__class__.__name__
            continue
        outcome = str(response.status_code)
        if response.status_code < 500:
            break
    log.info("Simulator webhook to %s: %s", url, outcome)
    return outcome


def deliver_many(url: str, signed: list[tuple[dict, bytes]], concurrent: bool) -> list[str]:
    """Deliver each signed request, all at once (threads behind a barrier) or one by one."""
    if not concurrent:
        return [deliver(url, headers, body) for headers, body in signed]
    outcomes = [""] * len(signed)
    barrier = threading.Barrier(len(signed))

    def send(index, headers, body):
        barrier.wait()
        outcomes[index] = deliver(url, headers, body)

    threads = [
        threading.Thread(target=send, args=(i, h, b), daemon=True)
        for i, (h, b) in enumerate(signed)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
