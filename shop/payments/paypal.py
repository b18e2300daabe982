"""PayPal (REST v1 payments, intent ``sale``) through ``paypalrestsdk``, with its defects covered.

The SDK sets no HTTP timeout, makes a random ``PayPal-Request-Id`` per call, answers a 400 with
``False`` and ``.error`` instead of raising, logs request headers (credentials) at debug level,
and its webhook verification no longer works. Here: :class:`TimeoutApi` replaces its HTTP call
(timeout, no header logging), request ids come from the order's reference, every SDK outcome is
turned into a :class:`PaymentStatus` or a :class:`PaymentError` subclass, and webhooks are
verified by :mod:`shop.payments.webhooks`.
"""

import logging
import threading
import time
from urllib.parse import urlsplit

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as sdk_errors
from paypalrestsdk.resource import Resource

from shop.money import InvalidAmount, format_minor, parse_major
from shop.payments.gateway import (
    CreatedPayment,
    GatewayUnavailable,
    PaymentDeclined,
    PaymentError,
    PaymentRejected,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    WebhookNotice,
)
from shop.payments.settings import PayPalSettings
from shop.payments.webhooks import WebhookVerifier

log = logging.getLogger(__name__)

#: PayPal error names meaning the buyer's payment was refused (the request itself was fine).
DECLINE_NAMES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "CREDIT_CARD_REFUSED",
        "CREDIT_CARD_CVV_CHECK_FAILED",
        "EXPIRED_CREDIT_CARD",
        "INSUFFICIENT_FUNDS",
        "PAYER_CANNOT_PAY",
        "PAYMENT_NOT_APPROVED_FOR_EXECUTION",
        "PAYMENT_EXPIRED",
        "PAYMENT_DENIED",
        "TRANSACTION_REFUSED",
        "TRANSACTION_REFUSED_BY_PAYPAL_RISK",
        "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
        "PAYER_ACCOUNT_RESTRICTED",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
    }
)
#: PayPal error names meaning PayPal itself is in trouble: try again later.
UNAVAILABLE_NAMES = frozenset({"INTERNAL_SERVICE_ERROR", "SERVICE_UNAVAILABLE"})
#: Currencies PayPal takes without decimals although ISO 4217 gives them two.
PAYPAL_WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "TWD"})
#: PayPal's limit on item names, SKUs and descriptions.
MAX_TEXT = 127

PAYMENT_STATES = {
    "created": PaymentState.CREATED,
    "failed": PaymentState.FAILED,
    "canceled": PaymentState.CANCELLED,
    "cancelled": PaymentState.CANCELLED,
    "expired": PaymentState.CANCELLED,
}
SALE_STATES = {
    "completed": PaymentState.COMPLETED,
    "partially_refunded": PaymentState.COMPLETED,
    "pending": PaymentState.PENDING,
    "denied": PaymentState.FAILED,
    "failed": PaymentState.FAILED,
    "refunded": PaymentState.REFUNDED,
    "reversed": PaymentState.REFUNDED,
}

UNAVAILABLE_MESSAGE = "PayPal is not answering right now; please try again in a few minutes."
DECLINED_MESSAGE = "PayPal declined the payment; please choose another way to pay."
REJECTED_MESSAGE = "The payment could not be set up with PayPal; please contact us."


class TimeoutApi(paypalrestsdk.Api):
    """The SDK's API client with a timeout on every call and nothing secret in the log."""

    def __init__(self, *, timeout: float, **options):
        super().__init__(**options)
        self.timeout = timeout
        self._retries = threading.local()

    def request(self, url, method, body=None, headers=None, refresh_token=None):
        """Make one API call; the SDK retries a 401 once with a new token, never endlessly."""
        depth = getattr(self._retries, "depth", 0)
        if depth > 1:
            log.error("PayPal refused a fresh token twice in a row")
            raise PaymentRejected(REJECTED_MESSAGE)
        self._retries.depth = depth + 1
        try:
            return super().request(url, method, body, headers, refresh_token)
        finally:
            self._retries.depth = depth

    def http_call(self, url, method, **kwargs):
        """Send one request; a timeout or refused connection is GatewayUnavailable."""
        started = time.monotonic()
        path = urlsplit(url).path
        try:
            response = requests.request(
                method,
                url,
                proxies=self.proxies,
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout:
            log.warning("PayPal %s %s: no answer within %ss", method, path, self.timeout)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except requests.RequestException as exc:
            log.warning("PayPal %s %s: %s", method, path, exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        log.info(
            "PayPal %s %s -> %s in %.3fs (debug id %s)",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
            response.headers.get("PayPal-Debug-Id", "-"),
        )
        return self.handle_response(response, response.content.decode("utf-8", "replace"))


def paypal_amount(amount: int, currency: str) -> str:
    """Format minor units the way PayPal takes them (HUF and TWD in whole units)."""
    if currency in PAYPAL_WHOLE_UNIT_CURRENCIES:
        if amount % 100:
            raise PaymentRejected(f"PayPal takes {currency} in whole units only")
        return str(amount // 100)
    try:
        return format_minor(amount, currency)
    except InvalidAmount as exc:
        raise PaymentRejected(str(exc)) from None


def parse_paypal_amount(text, currency) -> int:
    """Parse an amount PayPal wrote back into minor units (exact, no float)."""
    if currency in PAYPAL_WHOLE_UNIT_CURRENCIES:
        return parse_major(text, "JPY") * 100
    return parse_major(text, currency)


def payment_body(request: PaymentRequest) -> dict:
    """Build PayPal's create-payment body for ``request`` (itemised, discount as its own line).

    PayPal requires sum(price * quantity of the items) == details.subtotal and
    subtotal + tax + shipping ... == total; the discount is a negative-price item, so the
    subtotal is the total.
    """
    gross = sum(item.quantity * item.unit_price for item in request.items)
    if request.discount < 0 or gross - request.discount != request.total:
        raise PaymentRejected("order total does not equal its lines less the discount")
    if request.total <= 0:
        raise PaymentRejected("order total must be above zero")
    if any(item.quantity <= 0 or item.unit_price < 0 for item in request.items):
        raise PaymentRejected("order lines need a positive quantity and a price")
    currency = request.currency
    items = [
        {
            "sku": item.sku[:MAX_TEXT],
            "name": item.name[:MAX_TEXT],
            "quantity": str(item.quantity),
            "price": paypal_amount(item.unit_price, currency),
            "currency": currency,
        }
        for item in request.items
    ]
    if request.discount:
        items.append(
            {
                "sku": "DISCOUNT",
                "name": "Discount",
                "quantity": "1",
                "price": paypal_amount(-request.discount, currency),
                "currency": currency,
            }
        )
    total = paypal_amount(request.total, currency)
    return {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "redirect_urls": {"return_url": request.return_url, "cancel_url": request.cancel_url},
        "transactions": [
            {
                "amount": {"total": total, "currency": currency, "details": {"subtotal": total}},
                "item_list": {"items": items},
                "invoice_number": request.reference,
                "description": request.description[:MAX_TEXT],
            }
        ],
    }


def status_from_payment(data: dict) -> PaymentStatus:
    """Map a PayPal payment resource to a :class:`PaymentStatus`."""
    payment_id = data.get("id")
    if not isinstance(payment_id, str) or not payment_id:
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    transactions = data.get("transactions") or [{}]
    transaction = transactions[0] if isinstance(transactions[0], dict) else {}
    sale = {}
    for related in transaction.get("related_resources") or []:
        if isinstance(related, dict) and isinstance(related.get("sale"), dict):
            sale = related["sale"]
    amount = currency = None
    money = transaction.get("amount")
    if isinstance(money, dict):
        currency = money.get("currency")
        try:
            amount = parse_paypal_amount(money.get("total"), currency)
        except (InvalidAmount, TypeError):
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
    payment_state = data.get("state")
    if sale:
        state = SALE_STATES.get(sale.get("state"), PaymentState.PENDING)
    elif payment_state == "approved":
        state = PaymentState.APPROVED
    else:
        state = PAYMENT_STATES.get(payment_state, PaymentState.CREATED)
    return PaymentStatus(
        provider_payment_id=payment_id,
        state=state,
        amount=amount,
        currency=currency,
        sale_id=sale.get("id") or None,
        reason=str(sale.get("reason_code") or data.get("failure_reason") or ""),
        reference=transaction.get("invoice_number") or None,
    )


def error_from_paypal(error: dict, operation: str) -> PaymentError:
    """Turn the SDK's ``.error`` (a PayPal 400 body) into the right PaymentError."""
    name = str(error.get("name") or "") if isinstance(error, dict) else ""
    log.warning(
        "PayPal refused %s: %s (debug id %s)",
        operation,
        name or "unnamed error",
        error.get("debug_id", "-") if isinstance(error, dict) else "-",
    )
    if name in DECLINE_NAMES:
        return PaymentDeclined(DECLINED_MESSAGE)
    if name in UNAVAILABLE_NAMES:
        return GatewayUnavailable(UNAVAILABLE_MESSAGE)
    return PaymentRejected(REJECTED_MESSAGE)


class PayPalGateway:
    """The :class:`~shop.payments.gateway.PaymentGateway` for PayPal REST v1."""

    name = "paypal"

    def __init__(self, settings: PayPalSettings):
        self.settings = settings
        self.api = TimeoutApi(
            timeout=settings.timeout,
            mode="live" if settings.mode == "live" else "sandbox",
            endpoint=settings.endpoint,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
        self.verifier = WebhookVerifier(
            settings.webhook_id,
            settings.cert_origins,
            timeout=settings.timeout,
            expected_common_name=settings.cert_common_name,
        )

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create the payment; the same reference always gets the same PayPal request id."""
        body = payment_body(request)
        payment = paypalrestsdk.Payment(body, api=self.api)
        payment.request_id = f"{request.reference}:create"
        ok = self._call("create", payment.create)
        if not ok:
            raise error_from_paypal(payment.error, "create")
        approval = next(
            (link.href for link in payment.links or [] if link.rel == "approval_url"), None
        )
        if not payment.id or not approval:
            log.warning("PayPal create answered without an id or approval link")
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        return CreatedPayment(provider_payment_id=payment.id, approval_url=approval)

    def execute_payment(
        self, provider_payment_id: str, payer_id: str, reference: str
    ) -> PaymentStatus:
        """Execute (capture) an approved payment; a repeat returns the current status."""
        payment = paypalrestsdk.Payment({"id": provider_payment_id}, api=self.api)
        attributes = Resource({"payer_id": payer_id}, api=self.api)
        attributes.request_id = f"{reference}:execute"
        ok = self._call("execute", lambda: payment.post("execute", attributes, payment))
        if not ok:
            name = payment.error.get("name") if isinstance(payment.error, dict) else None
            if name == "PAYMENT_ALREADY_DONE":
                return self.get_payment(provider_payment_id)
            raise error_from_paypal(payment.error, "execute")
        status = status_from_payment(payment.to_dict())
        if status.state == PaymentState.FAILED:
            raise PaymentDeclined(DECLINED_MESSAGE)
        return status

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Look the payment up at PayPal."""
        payment = self._call(
            "get", lambda: paypalrestsdk.Payment.find(provider_payment_id, api=self.api)
        )
        if payment.error:
            raise error_from_paypal(payment.error, "get")
        return status_from_payment(payment.to_dict())

    def verify_webhook(self, headers: dict[str, str], raw_body: bytes) -> WebhookNotice:
        """Verify a webhook's signature over its raw bytes, then parse it."""
        return self.verifier.verify(headers, raw_body)

    def _call(self, operation: str, call):
        """Run one SDK call, turning every exception it may raise into a PaymentError."""
        try:
            return call()
        except PaymentError:
            raise
        except (sdk_errors.UnauthorizedAccess, sdk_errors.ForbiddenAccess):
            log.error(
                "PayPal refused the credentials on %s (check PAYPAL_CLIENT_ID/SECRET)", operation
            )
            raise PaymentRejected(REJECTED_MESSAGE) from None
        except sdk_errors.ServerError as exc:
            log.warning("PayPal %s: server error %s", operation, _status_of(exc))
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except sdk_errors.ClientError as exc:
            log.warning("PayPal %s: client error %s", operation, _status_of(exc))
            raise PaymentRejected(REJECTED_MESSAGE) from None
        except (sdk_errors.ConnectionError, ValueError, KeyError, TypeError) as exc:
            log.warning("PayPal %s: unreadable answer (%s)", operation, exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None


def _status_of(exc) -> str:
    return str(getattr(getattr(exc, "response", None), "status_code", "?"))
