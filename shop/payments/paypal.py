"""The PayPal gateway: Orders v2 for new payments, v1 for the payments recorded before.

``paypalrestsdk`` stays the HTTP client (its ``Api`` fetches and renews the OAuth token and calls
any path with our headers; :mod:`shop.payments.paypal_client` adds the timeout, the request ids
and the error mapping). Orders v2 bodies and answers live in :mod:`shop.payments.paypal_orders`,
the v1 calls kept for old payments in :mod:`shop.payments.paypal_v1`. Webhooks are verified by
:mod:`shop.payments.webhooks` (signature over the raw body) and then confirmed by PayPal's own
``verify-webhook-signature`` call, which vouches for the certificate.
"""

import json
import logging

from shop.payments import paypal_orders, paypal_v1
from shop.payments.gateway import (
    CreatedPayment,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookNotice,
    WebhookRejected,
)
from shop.payments.paypal_client import PayPalClient, PayPalRefusal, TimeoutApi
from shop.payments.settings import PayPalSettings
from shop.payments.webhooks import WebhookVerifier

log = logging.getLogger(__name__)

#: What PayPal's verify-webhook-signature call wants, from the headers PayPal sent.
VERIFY_FIELDS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


class PayPalGateway:
    """The :class:`~shop.payments.gateway.PaymentGateway` for PayPal."""

    name = "paypal"

    def __init__(self, settings: PayPalSettings, brand_name: str = ""):
        self.settings = settings
        self.brand_name = brand_name
        self.api = TimeoutApi(
            timeout=settings.timeout,
            mode="live" if settings.mode == "live" else "sandbox",
            endpoint=settings.endpoint,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
        self.client = PayPalClient(self.api)
        self.verifier = WebhookVerifier(
            settings.webhook_id,
            settings.cert_origins,
            timeout=settings.timeout,
            expected_common_name=settings.cert_common_name,
            confirm=self.confirm_webhook,
        )

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create an Orders v2 order (intent CAPTURE) for the buyer to approve."""
        return paypal_orders.create_order(self.client, request, self.brand_name)

    def execute_payment(
        self, provider_payment_id: str, payer_id: str, reference: str
    ) -> PaymentStatus:
        """Capture an approved order (execute an approved v1 payment); repeats are harmless."""
        if paypal_v1.is_v1_payment(provider_payment_id):
            return paypal_v1.execute_payment(self.client, provider_payment_id, payer_id, reference)
        return paypal_orders.capture_order(self.client, provider_payment_id, reference)

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Look an order (or a v1 payment) up at PayPal."""
        if paypal_v1.is_v1_payment(provider_payment_id):
            return paypal_v1.get_payment(self.client, provider_payment_id)
        return paypal_orders.get_order(self.client, provider_payment_id)

    def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a capture (or of a v1 sale)."""
        if paypal_v1.is_v1_payment(request.provider_payment_id):
            return paypal_v1.refund_sale(self.client, request)
        return paypal_orders.refund_capture(self.client, request)

    def verify_webhook(self, headers: dict[str, str], raw_body: bytes) -> WebhookNotice:
        """Verify a webhook's signature over its raw bytes, have PayPal confirm it, parse it."""
        return self.verifier.verify(headers, raw_body)

    def confirm_webhook(self, headers: dict[str, str], raw_body: bytes) -> None:
        """Ask PayPal whether it sent this webhook (its certificate chain is PayPal's to check).

        Raises WebhookRejected on a FAILURE answer, GatewayUnavailable when PayPal does not
        answer (the webhook is then refused with a 503, and PayPal delivers it again).
        """
        try:
            event = json.loads(raw_body)
        except ValueError:
            raise WebhookRejected("body is not JSON") from None
        body = {name: headers[header] for name, header in VERIFY_FIELDS.items()}
        body.update(webhook_id=self.settings.webhook_id, webhook_event=event)
        try:
            answer = self.client.call(
                "verify webhook", "POST", "/v1/notifications/verify-webhook-signature", body
            )
        except PayPalRefusal as refusal:
            log.warning("PayPal refused to verify a webhook: %s", refusal.code)
            raise WebhookRejected("PayPal refused to verify the webhook") from None
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookRejected("PayPal did not confirm the webhook's signature")
