"""PayPal webhook verification over the raw request bytes, with ``cryptography``.

PayPal signs ``transmission_id|transmission_time|webhook_id|crc32(body)`` with the private key of
the certificate named in ``PAYPAL-CERT-URL``. Everything a sender controls is checked before any
network access: every header present, a supported algorithm, and a certificate URL on an allowed
host. Only then is the certificate fetched (with a timeout and a size cap, cached per URL), checked
for validity dates and, for real PayPal, its subject; then the signature. A signature that holds
is then confirmed by the verifier's ``confirm`` callable (the gateway asks PayPal's
verify-webhook-signature, which checks the certificate's chain up to PayPal's trusted root), and
only after that is the body parsed (:mod:`shop.payments.paypal_events`). Any failure is a
:class:`WebhookRejected`, never another exception (PayPal not answering the confirmation is
GatewayUnavailable: the shop answers 503 and PayPal delivers again).
"""

import base64
import binascii
import logging
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from shop.payments.gateway import WebhookNotice, WebhookRejected
from shop.payments.paypal_events import parse_notice

log = logging.getLogger(__name__)

#: Hosts PayPal serves its webhook signing certificates from, per mode.
PAYPAL_CERT_HOSTS = {
    "live": ("api.paypal.com",),
    "sandbox": ("api.sandbox.paypal.com",),
}
#: The subject common name of PayPal's webhook signing certificates, per mode.
PAYPAL_CERT_COMMON_NAMES = {
    "live": "messageverificationcerts.paypal.com",
    "sandbox": "messageverificationcerts.sandbox.paypal.com",
}
CERT_PATH_PREFIX = "/v1/notifications/certs/"
SUPPORTED_ALGORITHMS = {"SHA256withRSA"}
#: A certificate chain is a few kilobytes; anything far larger is not one.
MAX_CERT_BYTES = 64 * 1024
REQUIRED_HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)


@dataclass(frozen=True)
class AllowedCertOrigin:
    """Where a signing certificate may be fetched from: scheme, host and port."""

    scheme: str
    host: str
    port: int

    def admits(self, url: str) -> bool:
        """Tell whether ``url`` is on this origin, under PayPal's certificate path."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        return (
            parts.scheme == self.scheme
            and (parts.hostname or "").lower() == self.host
            and port == self.port
            and not parts.username
            and not parts.password
            and parts.path.startswith(CERT_PATH_PREFIX)
            and ".." not in parts.path
        )


def origins_for_hosts(hosts) -> tuple[AllowedCertOrigin, ...]:
    """Return HTTPS on port 443 of each host: how real PayPal serves certificates."""
    return tuple(AllowedCertOrigin("https", host.strip().lower(), 443) for host in hosts)


def origin_of_url(url: str) -> AllowedCertOrigin:
    """Return the exact origin of a base URL (the simulator's own), scheme and port included."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return AllowedCertOrigin(parts.scheme, (parts.hostname or "").lower(), port)


def fetch_certificate_pem(url: str, timeout: float) -> bytes:
    """Download a certificate chain: no redirects, a timeout, at most ``MAX_CERT_BYTES``."""
    with requests.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
        if response.status_code != 200:
            raise WebhookRejected(f"certificate download answered {response.status_code}")
        data = response.raw.read(MAX_CERT_BYTES + 1, decode_content=True)
    if len(data) > MAX_CERT_BYTES:
        raise WebhookRejected("certificate download is too large")
    return data


class WebhookVerifier:
    """Verifies PayPal webhooks for one webhook id and one set of certificate origins."""

    def __init__(
        self,
        webhook_id: str,
        allowed_origins: tuple[AllowedCertOrigin, ...],
        *,
        timeout: float = 10.0,
        expected_common_name: str | None = None,
        confirm=None,
    ):
        self.webhook_id = webhook_id
        self.allowed_origins = allowed_origins
        self.timeout = timeout
        self.expected_common_name = expected_common_name
        #: ``confirm(headers, raw_body)``: a second opinion from the provider, or None.
        self.confirm = confirm
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def verify(self, headers, raw_body: bytes) -> WebhookNotice:
        """Verify the signature over ``raw_body`` and only then parse it into a notice."""
        if not isinstance(raw_body, bytes | bytearray):
            raise WebhookRejected("the body must be the raw request bytes")
        found = _lowercase_headers(headers)
        missing = [name for name in REQUIRED_HEADERS if not found.get(name)]
        if missing:
            raise WebhookRejected("missing header(s): " + ", ".join(h.upper() for h in missing))
        algorithm = found["paypal-auth-algo"]
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise WebhookRejected(f"unsupported signature algorithm {algorithm[:40]!r}")
        cert_url = found["paypal-cert-url"]
        if not any(origin.admits(cert_url) for origin in self.allowed_origins):
            raise WebhookRejected("certificate URL is not on an allowed PayPal host")
        try:
            signature = base64.b64decode(found["paypal-transmission-sig"], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected("signature is not base64") from None
        message = "|".join(
            (
                found["paypal-transmission-id"],
                found["paypal-transmission-time"],
                self.webhook_id,
                str(zlib.crc32(raw_body)),
            )
        ).encode()
        public_key = self._certificate(cert_url).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise WebhookRejected("certificate key is not RSA")
        try:
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookRejected("signature does not match") from None
        if self.confirm is not None:
            self.confirm(found, bytes(raw_body))
        return parse_notice(bytes(raw_body))

    def _certificate(self, url: str) -> x509.Certificate:
        """Return the (cached) leaf certificate at ``url``, checked for dates and subject."""
        with self._lock:
            certificate = self._certificates.get(url)
        if certificate is None:
            try:
                pem = fetch_certificate_pem(url, self.timeout)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                # The body is read from the raw stream: a connection cut short or a body that
                # does not decode fails in urllib3, not in requests.
                log.warning("Webhook certificate download failed: %s", exc.__class__.__name__)
                raise WebhookRejected("certificate could not be downloaded") from None
            try:
                certificate = x509.load_pem_x509_certificates(pem)[0]
            except (ValueError, IndexError):
                raise WebhookRejected("certificate is not a PEM certificate") from None
            self._check_subject(certificate)
            with self._lock:
                self._certificates[url] = certificate
        now = datetime.now(UTC)
        if now < certificate.not_valid_before_utc:
            raise WebhookRejected("certificate is not valid yet")
        if now > certificate.not_valid_after_utc:
            raise WebhookRejected("certificate has expired")
        return certificate

    def _check_subject(self, certificate: x509.Certificate) -> None:
        if self.expected_common_name is None:
            return
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [name.value for name in names] != [self.expected_common_name]:
            raise WebhookRejected("certificate is not PayPal's webhook signing certificate")


def _lowercase_headers(headers) -> dict[str, str]:
    try:
        return {str(name).lower(): str(value) for name, value in headers.items()}
    except (AttributeError, TypeError):
        raise WebhookRejected("headers are not a mapping") from None
