"""Webhook verification: only a genuine PayPal signature over the exact bytes is accepted.

Every refusal is a WebhookRejected; refusals decided by the headers alone fetch nothing.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.datastructures import Headers

from shop.payments import webhooks
from shop.payments.gateway import PaymentState, UnsupportedWebhookEvent, WebhookRejected
from shop.payments.settings import SIMULATOR_WEBHOOK_ID, paypal_settings
from shop.payments.webhooks import WebhookVerifier, origin_of_url
from simulators.paypal.signing import (
    CERT_ID,
    make_signing_identity,
    process_signing_identity,
    sign_body,
    sign_event,
)
from tests.payments_helpers import WebhookReceiver, running_simulator

SALE = {
    "id": "4RR959492F879224U",
    "state": "completed",
    "amount": {"total": "35.00", "currency": "USD", "details": {"subtotal": "35.00"}},
    "parent_payment": "PAYID-LM2ZIWQ1A",
    "invoice_number": "ORD-1001",
}


def event(event_type="PAYMENT.SALE.COMPLETED", resource=None, event_id="WH-2WR32451HC0233532"):
    return {
        "id": event_id,
        "event_version": "1.0",
        "resource_type": "sale",
        "event_type": event_type,
        "resource": SALE if resource is None else resource,
    }


@pytest.fixture
def simulator():
    yield from running_simulator()


@pytest.fixture
def cert_url(simulator):
    return f"{simulator.url}/v1/notifications/certs/{CERT_ID}"


@pytest.fixture
def verifier(simulator):
    return WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),), timeout=1)


@pytest.fixture
def fetches(monkeypatch):
    """Count certificate downloads (and let them happen)."""
    urls = []
    real_fetch = webhooks.fetch_certificate_pem

    def counting_fetch(url, timeout):
        urls.append(url)
        return real_fetch(url, timeout)

    monkeypatch.setattr(webhooks, "fetch_certificate_pem", counting_fetch)
    return urls


def signed(cert_url, body_event=None, identity=None, webhook_id=SIMULATOR_WEBHOOK_ID):
    return sign_event(
        identity or process_signing_identity(), body_event or event(), webhook_id, cert_url
    )


def test_a_genuine_webhook_is_accepted_and_parsed(verifier, cert_url, fetches):
    headers, body = signed(cert_url)
    notice = verifier.verify(headers, body)
    assert (notice.event_id, notice.event_type) == (
        "WH-2WR32451HC0233532",
        "PAYMENT.SALE.COMPLETED",
    )
    status = notice.status
    assert status.provider_payment_id == "PAYID-LM2ZIWQ1A"
    assert (status.state, status.amount, status.currency) == (PaymentState.COMPLETED, 3500, "USD")
    assert (status.sale_id, status.reference) == ("4RR959492F879224U", "ORD-1001")
    assert notice.raw_resource["id"] == "4RR959492F879224U"
    # Headers as Flask gives them (case-insensitive), and the certificate is fetched once.
    verifier.verify(Headers({k.lower(): v for k, v in signed(cert_url)[0].items()}), body)
    assert fetches == [cert_url]


def test_a_refund_names_the_sale_it_refunds(verifier, cert_url):
    refund = {
        "id": "0P209507D6694645N",
        "state": "completed",
        "amount": {"total": "35.00", "currency": "USD"},
        "sale_id": "4RR959492F879224U",
        "parent_payment": "PAYID-LM2ZIWQ1A",
    }
    headers, body = signed(cert_url, event("PAYMENT.SALE.REFUNDED", refund))
    status = verifier.verify(headers, body).status
    assert (status.state, status.sale_id, status.amount) == (
        PaymentState.REFUNDED,
        "4RR959492F879224U",
        3500,
    )


@pytest.mark.parametrize("missing", webhooks.REQUIRED_HEADERS)
def test_a_missing_header_is_refused_without_a_fetch(verifier, cert_url, fetches, missing):
    headers, body = signed(cert_url)
    headers = {k: v for k, v in headers.items() if k.lower() != missing}
    with pytest.raises(WebhookRejected, match="missing header"):
        verifier.verify(headers, body)
    assert fetches == []


def test_a_wrong_signature_is_refused(verifier, cert_url):
    impostor = make_signing_identity()
    headers, body = signed(cert_url, identity=impostor)
    with pytest.raises(WebhookRejected, match="signature does not match"):
        verifier.verify(headers, body)


def test_a_signature_that_is_not_base64_is_refused(verifier, cert_url):
    headers, body = signed(cert_url)
    headers["PAYPAL-TRANSMISSION-SIG"] = "not base64!"
    with pytest.raises(WebhookRejected, match="base64"):
        verifier.verify(headers, body)


def test_a_tampered_body_is_refused(verifier, cert_url):
    headers, body = signed(cert_url)
    tampered = body.replace(b'"35.00"', b'"0.01"')
    assert tampered != body
    with pytest.raises(WebhookRejected, match="signature does not match"):
        verifier.verify(headers, tampered)


def test_a_signature_for_another_webhook_id_is_refused(verifier, cert_url):
    headers, body = signed(cert_url, webhook_id="WH-SOMEONE-ELSE")
    with pytest.raises(WebhookRejected, match="signature does not match"):
        verifier.verify(headers, body)


def test_replayed_headers_on_another_body_are_refused(verifier, cert_url):
    headers, _ = signed(cert_url)
    _, other_body = signed(cert_url, event(event_id="WH-OTHER"))
    with pytest.raises(WebhookRejected):
        verifier.verify(headers, other_body)


def test_a_certificate_on_a_foreign_host_is_refused_with_no_outbound_fetch(verifier, fetches):
    with WebhookReceiver() as foreign:  # any request to it would be recorded
        foreign_cert = foreign.url.replace(
            "/payments/paypal/webhook", f"/v1/notifications/certs/{CERT_ID}"
        )
        headers, body = signed(foreign_cert)
        with pytest.raises(WebhookRejected, match="not on an allowed PayPal host"):
            verifier.verify(headers, body)
        assert foreign.requests == []
    assert fetches == []


@pytest.mark.parametrize(
    "url",
    [
        "http://api.paypal.com/v1/notifications/certs/CERT-1",  # not https
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/notifications/certs/../../evil",
        "https://api.paypal.com/somewhere/else.pem",
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",  # the sandbox's, in live
        "file:///etc/passwd",
        "",
    ],
)
def test_live_mode_fetches_certificates_only_over_https_from_paypal(monkeypatch, url):
    fetched = []
    monkeypatch.setattr(webhooks, "fetch_certificate_pem", lambda u, t: fetched.append(u))
    settings = paypal_settings(
        {
            "PAYPAL_MODE": "live",
            "PAYPAL_CLIENT_ID": "id",
            "PAYPAL_CLIENT_SECRET": "secret",
            "PAYPAL_WEBHOOK_ID": "WH-LIVE",
        }
    )
    verifier = WebhookVerifier(settings.webhook_id, settings.cert_origins)
    headers, body = signed(url or "https://x", webhook_id="WH-LIVE")
    headers["PAYPAL-CERT-URL"] = url
    with pytest.raises(WebhookRejected):
        verifier.verify(headers, body)
    assert fetched == []


def live_verifier(monkeypatch, identity):
    monkeypatch.setattr(
        webhooks, "fetch_certificate_pem", lambda url, timeout: identity.certificate_pem
    )
    return WebhookVerifier(
        "WH-LIVE",
        webhooks.origins_for_hosts(webhooks.PAYPAL_CERT_HOSTS["live"]),
        expected_common_name=webhooks.PAYPAL_CERT_COMMON_NAMES["live"],
    )


LIVE_CERT = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270"


def test_live_mode_accepts_paypals_certificate(monkeypatch):
    identity = make_signing_identity("messageverificationcerts.paypal.com")
    verifier = live_verifier(monkeypatch, identity)
    headers, body = signed(LIVE_CERT, identity=identity, webhook_id="WH-LIVE")
    assert verifier.verify(headers, body).event_id == "WH-2WR32451HC0233532"


def test_live_mode_refuses_a_certificate_for_another_subject(monkeypatch):
    identity = make_signing_identity("www.paypal.com")
    verifier = live_verifier(monkeypatch, identity)
    headers, body = signed(LIVE_CERT, identity=identity, webhook_id="WH-LIVE")
    with pytest.raises(WebhookRejected, match="not PayPal's"):
        verifier.verify(headers, body)


@pytest.mark.parametrize(
    ("days_from_now", "reason"),
    [((-30, -1), "expired"), ((1, 30), "not valid yet")],
)
def test_a_certificate_outside_its_dates_is_refused(monkeypatch, days_from_now, reason):
    now = datetime.now(UTC)
    identity = make_signing_identity(
        "messageverificationcerts.paypal.com",
        not_before=now + timedelta(days=days_from_now[0]),
        not_after=now + timedelta(days=days_from_now[1]),
    )
    verifier = live_verifier(monkeypatch, identity)
    headers, body = signed(LIVE_CERT, identity=identity, webhook_id="WH-LIVE")
    with pytest.raises(WebhookRejected, match=reason):
        verifier.verify(headers, body)


@pytest.mark.parametrize("algorithm", ["SHA1withRSA", "none", "SHA256withECDSA"])
def test_an_unsupported_algorithm_is_refused_without_a_fetch(
    verifier, cert_url, fetches, algorithm
):
    headers, body = signed(cert_url)
    headers["PAYPAL-AUTH-ALGO"] = algorithm
    with pytest.raises(WebhookRejected, match="algorithm"):
        verifier.verify(headers, body)
    assert fetches == []


def test_a_certificate_that_cannot_be_downloaded_is_refused(simulator, fetches):
    verifier = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(simulator.url),), timeout=1)
    headers, body = signed(f"{simulator.url}/v1/notifications/certs/CERT-UNKNOWN")
    with pytest.raises(WebhookRejected, match="certificate"):
        verifier.verify(headers, body)


@pytest.mark.parametrize(
    "body_event",
    [
        "not json",
        ["a", "list"],
        {"event_type": "PAYMENT.SALE.COMPLETED", "resource": SALE},  # no id
        {"id": "WH-1", "resource": SALE},  # no type
        event(resource="not an object"),
        event(resource={**SALE, "parent_payment": None}),
        event(resource={**SALE, "amount": {"total": "1e3", "currency": "USD"}}),
        event(resource={**SALE, "amount": {"total": "35.001", "currency": "USD"}}),
        event(resource={**SALE, "amount": {"total": "35.00", "currency": "???"}}),
        event(resource={**SALE, "amount": None}),
    ],
)
def test_a_signed_but_malformed_body_is_refused(verifier, cert_url, body_event):
    raw = body_event.encode() if isinstance(body_event, str) else json.dumps(body_event).encode()
    headers = sign_body(process_signing_identity(), raw, SIMULATOR_WEBHOOK_ID, cert_url)
    with pytest.raises(WebhookRejected):
        verifier.verify(headers, raw)


def test_a_genuine_event_of_another_type_is_unsupported_not_an_error(verifier, cert_url):
    headers, body = signed(cert_url, event("BILLING.SUBSCRIPTION.CREATED", {"id": "I-1"}))
    with pytest.raises(UnsupportedWebhookEvent) as refused:
        verifier.verify(headers, body)
    assert refused.value.event_type == "BILLING.SUBSCRIPTION.CREATED"
    assert refused.value.event_id == "WH-2WR32451HC0233532"


@pytest.mark.parametrize("headers", [None, "text", 42])
def test_headers_that_are_not_a_mapping_are_refused(verifier, headers):
    with pytest.raises(WebhookRejected):
        verifier.verify(headers, b"{}")


def test_a_body_that_is_not_bytes_is_refused(verifier, cert_url):
    headers, body = signed(cert_url)
    with pytest.raises(WebhookRejected):
        verifier.verify(headers, body.decode())


class _CertificateServer:
    """A one-route HTTP server on loopback that answers every request with ``response`` bytes."""

    def __init__(self, response: bytes):
        import socket
        import threading

        self.response = response
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.response)

    def close(self):
        self.sock.close()


def _served(response: bytes):
    server = _CertificateServer(response)
    verifier = WebhookVerifier(SIMULATOR_WEBHOOK_ID, (origin_of_url(server.url),), timeout=2)
    headers, body = signed(f"{server.url}/v1/notifications/certs/{CERT_ID}")
    return server, verifier, headers, body


@pytest.mark.parametrize(
    "response, reason",
    [
        # The connection closes 4,900 bytes short of the promised length.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"-" * 100, "downloaded"),
        # A gzip body that is not gzip: decoding fails while the body is read.
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n"
            + b"not gzip at all....",
            "downloaded",
        ),
        # Far larger than any certificate chain: refused once the cap is read, not buffered.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"A" * 200_000,
            "too large",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot a PEM", "not a PEM"),
        (b"HTTP/1.1 302 Found\r\nLocation: http://evil.example/\r\n\r\n", "answered 302"),
    ],
)
def test_a_broken_certificate_download_is_a_refusal_not_a_crash(response, reason):
    server, verifier, headers, body = _served(response)
    try:
        with pytest.raises(WebhookRejected, match=reason):
            verifier.verify(headers, body)
    finally:
        server.close()
