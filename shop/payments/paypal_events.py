"""PayPal webhook events, once verified, read into a :class:`WebhookNotice`.

Orders v2 sends capture events: ``PAYMENT.CAPTURE.COMPLETED`` / ``PENDING`` / ``DENIED`` (the
resource is the capture, naming its order in ``supplementary_data``) and ``REFUNDED`` /
``REVERSED`` (the resource is the refund, pointing "up" to its capture). v1 sale events
(``PAYMENT.SALE.*``) still come for the payments made through v1.
"""

import json

from shop.money import InvalidAmount
from shop.payments.gateway import (
    PaymentState,
    PaymentStatus,
    UnsupportedWebhookEvent,
    WebhookNotice,
    WebhookRejected,
)
from shop.payments.paypal_client import link, parse_paypal_amount

#: Event types and the state of the payment after them.
EVENT_STATES = {
    "PAYMENT.CAPTURE.COMPLETED": PaymentState.COMPLETED,
    "PAYMENT.CAPTURE.PENDING": PaymentState.PENDING,
    "PAYMENT.CAPTURE.DENIED": PaymentState.FAILED,
    "PAYMENT.CAPTURE.DECLINED": PaymentState.FAILED,
    "PAYMENT.CAPTURE.REFUNDED": PaymentState.REFUNDED,
    "PAYMENT.CAPTURE.REVERSED": PaymentState.REFUNDED,
    "PAYMENT.SALE.COMPLETED": PaymentState.COMPLETED,
    "PAYMENT.SALE.PENDING": PaymentState.PENDING,
    "PAYMENT.SALE.DENIED": PaymentState.FAILED,
    "PAYMENT.SALE.REFUNDED": PaymentState.REFUNDED,
    "PAYMENT.SALE.REVERSED": PaymentState.REFUNDED,
}
REFUND_EVENTS = frozenset(
    {
        "PAYMENT.CAPTURE.REFUNDED",
        "PAYMENT.CAPTURE.REVERSED",
        "PAYMENT.SALE.REFUNDED",
        "PAYMENT.SALE.REVERSED",
    }
)


def parse_notice(raw_body: bytes) -> WebhookNotice:
    """Turn a verified event body into a :class:`WebhookNotice`."""
    try:
        event = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookRejected("body is not a JSON object")
    event_id, event_type = event.get("id"), event.get("event_type")
    resource = event.get("resource")
    if not isinstance(event_id, str) or not event_id:
        raise WebhookRejected("event has no id")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookRejected("event has no event_type")
    if not isinstance(resource, dict):
        raise WebhookRejected("event has no resource")
    state = EVENT_STATES.get(event_type)
    if state is None:
        raise UnsupportedWebhookEvent(
            f"event type {event_type} is not handled", event_id, event_type
        )
    if event_type.startswith("PAYMENT.SALE."):
        status = _sale_status(event_type, state, resource)
    else:
        status = _capture_status(event_type, state, resource)
    return WebhookNotice(event_id, event_type, status, raw_resource=resource)


def _text(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise WebhookRejected(f"event resource has no {what}")
    return value


def _last_part(url: str | None, marker: str) -> str | None:
    """Return the id after ``marker`` in a link such as .../v2/payments/captures/<id>."""
    if not url or marker not in url:
        return None
    return url.split(marker, 1)[1].strip("/").split("/")[0] or None


def _capture_status(event_type: str, state: PaymentState, resource: dict) -> PaymentStatus:
    amount, currency = _amount(resource.get("amount"), "currency_code", "value")
    if event_type in REFUND_EVENTS:
        capture_id = _last_part(link(resource, "up"), "/v2/payments/captures/")
        return PaymentStatus(
            provider_payment_id="",
            state=state,
            amount=amount,
            currency=currency,
            sale_id=_text(capture_id, "capture link"),
            reason="reversed" if "REVERSED" in event_type else "",
            reference=resource.get("invoice_id") or None,
            refund_id=_text(resource.get("id"), "refund id"),
        )
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    order_id = related.get("order_id") if isinstance(related, dict) else None
    order_id = order_id or _last_part(link(resource, "up"), "/v2/checkout/orders/")
    details = (
        resource.get("status_details") if isinstance(resource.get("status_details"), dict) else {}
    )
    return PaymentStatus(
        provider_payment_id=_text(order_id, "order id"),
        state=state,
        amount=amount,
        currency=currency,
        sale_id=_text(resource.get("id"), "capture id"),
        reason=str(details.get("reason") or ""),
        reference=resource.get("invoice_id") or None,
    )


def _sale_status(event_type: str, state: PaymentState, resource: dict) -> PaymentStatus:
    refund_like = event_type in REFUND_EVENTS
    sale_id = resource.get("sale_id") if refund_like and resource.get("sale_id") else None
    sale_id = sale_id or resource.get("id")
    amount, currency = _amount(resource.get("amount"), "currency", "total")
    return PaymentStatus(
        provider_payment_id=_text(resource.get("parent_payment"), "parent_payment"),
        state=state,
        amount=amount,
        currency=currency,
        sale_id=_text(sale_id, "sale id"),
        reason=str(resource.get("reason_code") or ("reversed" if "REVERSED" in event_type else "")),
        reference=resource.get("invoice_number") or None,
        refund_id=resource.get("id") if refund_like and resource.get("sale_id") else None,
    )


def _amount(value, currency_key: str, amount_key: str) -> tuple[int, str]:
    """Return (minor units, currency) of an event's amount, never negative."""
    if not isinstance(value, dict):
        raise WebhookRejected("event resource has no amount")
    currency = value.get(currency_key)
    try:
        minor = parse_paypal_amount(value.get(amount_key), currency)
    except (InvalidAmount, TypeError):
        raise WebhookRejected("event amount is not a valid amount") from None
    return abs(minor), currency
