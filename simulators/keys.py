"""Signing identities: an RSA key and a self-signed certificate that publishes its public half.

A simulator signs its webhooks with one, as the real provider does with its own. Tests use a
fresh identity per process (:func:`process_signing_identity`); ``python -m simulators`` keeps
one per provider in the instance folder (:func:`instance_signing_identity`), made on first
start, so a restarted simulator signs with the certificate the shop may have cached.
"""

import functools
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

#: Certificates made here are valid this long; an expired one is replaced on the next start.
VALIDITY = timedelta(days=365)


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and the certificate that publishes its public half."""

    private_key: rsa.RSAPrivateKey
    certificate_pem: bytes


def make_signing_identity(
    common_name: str,
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
        .not_valid_after(not_after or now + VALIDITY)
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key, certificate.public_bytes(serialization.Encoding.PEM))


@functools.cache
def process_signing_identity(common_name: str) -> SigningIdentity:
    """Return the identity shared by every simulator in this process (key generation is slow)."""
    return make_signing_identity(common_name)


def instance_signing_identity(instance_path: Path, name: str, common_name: str) -> SigningIdentity:
    """Return the identity kept in ``instance_path/simulators/``, made there on first use.

    The key file is readable by its owner only. A certificate that has expired, or whose
    files cannot be read, is replaced by a new one.
    """
    folder = Path(instance_path) / "simulators"
    key_path = folder / f"{name}-signing-key.pem"
    cert_path = folder / f"{name}-signing-cert.pem"
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        pem = cert_path.read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
        if (
            isinstance(key, rsa.RSAPrivateKey)
            and certificate.public_key() == key.public_key()
            and certificate.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)
        ):
            return SigningIdentity(key, pem)
    except (OSError, ValueError):
        pass
    identity = make_signing_identity(common_name)
    folder.mkdir(parents=True, exist_ok=True)
    key_bytes = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_bytes)
    cert_path.write_bytes(identity.certificate_pem)
    return identity
