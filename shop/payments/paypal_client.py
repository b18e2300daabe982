"""PayPal's REST API through ``paypalrestsdk``'s HTTP client, with its defects covered.

The SDK sets no HTTP timeout, makes a random ``PayPal-Request-Id`` per call, answers a 400 with
``{"error": ...}`` and raises on other errors, and logs request headers (credentials) at debug
level. Here: :class:`TimeoutApi` replaces its HTTP call (timeout, no header logging), and
:class:`PayPalClient` calls any path with the caller's request id and turns every outcome into
the answer's JSON, a :class:`PayPalRefusal` (PayPal said no, with its error name) or a
:class:`~shop.payments.gateway.PaymentError`. Both API generations use it: Orders v2
(:mod:`shop.payments.paypal_orders`) and the v1 payments still on record
(:mod:`shop.payments.paypal_v1`).
"""

import json
import logging
import threading
import time
from urllib.parse import urlsplit

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as sdk_errors

from shop.money import InvalidAmount, format_minor, parse_major
from shop.payments.gateway import (
    GatewayUnavailable,
    PaymentDeclined,
    PaymentError,
    PaymentRejected,
)

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
        # Orders v2 names (the "issue" of a 422 answer).
        "ORDER_NOT_APPROVED",
        "PAYER_ACTION_REQUIRED",
        "ORDER_EXPIRED",
        "ORDER_CANNOT_BE_CAPTURED",
        "COMPLIANCE_VIOLATION",
    }
)
#: PayPal error names meaning PayPal itself is in trouble: try again later.
UNAVAILABLE_NAMES = frozenset({"INTERNAL_SERVICE_ERROR", "SERVICE_UNAVAILABLE"})
#: Currencies PayPal takes without decimals although ISO 4217 gives them two.
PAYPAL_WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "TWD"})
#: PayPal's limit on item names, SKUs and descriptions.
MAX_TEXT = 127

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


class PayPalRefusal(PaymentError):
    """PayPal answered with an error: its HTTP status, error name and (v2) issue."""

    def __init__(self, status: int, name: str, issue: str, debug_id: str = "-"):
        super().__init__(REJECTED_MESSAGE)
        self.status = status
        self.name = name
        self.issue = issue
        self.debug_id = debug_id

    @property
    def code(self) -> str:
        """Return what the refusal is about: the v2 issue, or the v1 error name."""
        return self.issue or self.name


def refusal_from_body(status: int, body) -> PayPalRefusal:
    """Read PayPal's error body (v1: ``name``; v2: ``name`` and ``details[0].issue``)."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            body = {}
    body = body if isinstance(body, dict) else {}
    details = body.get("details")
    first = details[0] if isinstance(details, list) and details else {}
    issue = first.get("issue") if isinstance(first, dict) else ""
    return PayPalRefusal(
        status, str(body.get("name") or ""), str(issue or ""), str(body.get("debug_id") or "-")
    )


def error_for(refusal: PayPalRefusal, operation: str) -> PaymentError:
    """Turn a refusal into the PaymentError the storefront understands."""
    log.warning(
        "PayPal refused %s: %s %s (debug id %s)",
        operation,
        refusal.name or "unnamed error",
        refusal.issue,
        refusal.debug_id,
    )
    if refusal.code in DECLINE_NAMES or refusal.name in DECLINE_NAMES:
        return PaymentDeclined(DECLINED_MESSAGE)
    if refusal.code in UNAVAILABLE_NAMES or refusal.name in UNAVAILABLE_NAMES:
        return GatewayUnavailable(UNAVAILABLE_MESSAGE)
    return PaymentRejected(REJECTED_MESSAGE)


class PayPalClient:
    """Calls PayPal's REST paths with a stable request id; answers JSON or raises."""

    def __init__(self, api: TimeoutApi):
        self.api = api

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        body: dict | None = None,
        request_id: str | None = None,
    ) -> dict:
        """Make one call; raise PayPalRefusal for PayPal's "no", PaymentError for trouble."""
        headers = {"Prefer": "return=representation"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        url = self.api.endpoint.rstrip("/") + path
        try:
            if body is None and method != "GET":
                body = {}  # a POST without a body still sends "{}"; a GET sends what the SDK does
            answer = self.api.request(url, method, body, headers)
        except PaymentError:
            raise
        except (sdk_errors.ResourceNotFound, sdk_errors.ResourceInvalid) as exc:
            raise refusal_from_body(int(_status_of(exc)), exc.content) from None
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
        if not isinstance(answer, dict):
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        if "error" in answer and len(answer) == 1:  # the SDK's shape of a 400
            raise refusal_from_body(400, answer["error"])
        return answer


def _status_of(exc) -> str:
    return str(getattr(getattr(exc, "response", None), "status_code", "?"))


def link(resource: dict, rel: str) -> str | None:
    """Return the href of a resource's link with ``rel``, if any."""
    for item in resource.get("links") or []:
        if isinstance(item, dict) and item.get("rel") == rel and isinstance(item.get("href"), str):
            return item["href"]
    return None
