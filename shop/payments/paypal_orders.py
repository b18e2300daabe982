"""PayPal Orders v2: create an order (intent ``CAPTURE``), capture it, look it up, refund.

Bodies and answers only; the calls go through :class:`~shop.payments.paypal_client.PayPalClient`
with a ``PayPal-Request-Id`` derived from the shop's order (``<reference>:create``,
``<reference>:capture``, ``<reference>:refund:<key>``), so a retried call does nothing twice.
"""

import logging

from shop.money import InvalidAmount
from shop.payments.gateway import (
    CreatedPayment,
    GatewayUnavailable,
    PaymentDeclined,
    PaymentRejected,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundResult,
)
from shop.payments.paypal_client import (
    DECLINED_MESSAGE,
    MAX_TEXT,
    UNAVAILABLE_MESSAGE,
    PayPalClient,
    PayPalRefusal,
    error_for,
    link,
    parse_paypal_amount,
    paypal_amount,
)

log = logging.getLogger(__name__)

ORDER_STATES = {
    "CREATED": PaymentState.CREATED,
    "SAVED": PaymentState.CREATED,
    "PAYER_ACTION_REQUIRED": PaymentState.CREATED,
    "APPROVED": PaymentState.APPROVED,
    "VOIDED": PaymentState.CANCELLED,
}
CAPTURE_STATES = {
    "COMPLETED": PaymentState.COMPLETED,
    "PARTIALLY_REFUNDED": PaymentState.COMPLETED,
    "PENDING": PaymentState.PENDING,
    "DECLINED": PaymentState.FAILED,
    "FAILED": PaymentState.FAILED,
    "REFUNDED": PaymentState.REFUNDED,
}


def money(amount: int, currency: str) -> dict:
    """Return PayPal's v2 money object for minor units."""
    return {"currency_code": currency, "value": paypal_amount(amount, currency)}


def read_money(value) -> tuple[int, str]:
    """Return (minor units, currency) of a v2 money object; GatewayUnavailable if unreadable."""
    if not isinstance(value, dict):
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    currency = value.get("currency_code")
    try:
        return parse_paypal_amount(value.get("value"), currency), currency
    except (InvalidAmount, TypeError):
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None


def order_body(request: PaymentRequest, brand_name: str = "") -> dict:
    """Build the create-order body: items, their total and the discount in the breakdown.

    PayPal requires sum(unit_amount * quantity) == breakdown.item_total and
    item_total - discount == amount.value, all in the order's currency.
    """
    gross = sum(item.quantity * item.unit_price for item in request.items)
    if request.discount < 0 or gross - request.discount != request.total:
        raise PaymentRejected("order total does not equal its lines less the discount")
    if request.total <= 0:
        raise PaymentRejected("order total must be above zero")
    if any(item.quantity <= 0 or item.unit_price < 0 for item in request.items):
        raise PaymentRejected("order lines need a positive quantity and a price")
    currency = request.currency
    breakdown = {"item_total": money(gross, currency)}
    if request.discount:
        breakdown["discount"] = money(request.discount, currency)
    context = {
        "return_url": request.return_url,
        "cancel_url": request.cancel_url,
        "shipping_preference": "NO_SHIPPING",
        "user_action": "PAY_NOW",
    }
    if brand_name:
        context["brand_name"] = brand_name[:MAX_TEXT]
    return {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": request.reference,
                "invoice_id": request.reference,
                "custom_id": request.reference,
                "description": request.description[:MAX_TEXT],
                "amount": {**money(request.total, currency), "breakdown": breakdown},
                "items": [
                    {
                        "name": item.name[:MAX_TEXT],
                        "sku": item.sku[:MAX_TEXT],
                        "quantity": str(item.quantity),
                        "unit_amount": money(item.unit_price, currency),
                        "category": "DIGITAL_GOODS",
                    }
                    for item in request.items
                ],
            }
        ],
        "payment_source": {"paypal": {"experience_context": context}},
    }


def latest_capture(unit: dict) -> dict:
    """Return the purchase unit's last capture, or {}."""
    payments = unit.get("payments") if isinstance(unit.get("payments"), dict) else {}
    captures = payments.get("captures") or []
    return captures[-1] if captures and isinstance(captures[-1], dict) else {}


def status_from_order(data: dict) -> PaymentStatus:
    """Map a v2 order resource to a :class:`PaymentStatus`."""
    order_id = data.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    units = data.get("purchase_units") or [{}]
    unit = units[0] if isinstance(units[0], dict) else {}
    capture = latest_capture(unit)
    if capture:
        amount, currency = read_money(capture.get("amount"))
        state = CAPTURE_STATES.get(capture.get("status"), PaymentState.PENDING)
    else:
        amount, currency = read_money(unit.get("amount"))
        state = ORDER_STATES.get(data.get("status"), PaymentState.PENDING)
    details = (
        capture.get("status_details") if isinstance(capture.get("status_details"), dict) else {}
    )
    payer = data.get("payer") if isinstance(data.get("payer"), dict) else {}
    return PaymentStatus(
        provider_payment_id=order_id,
        state=state,
        amount=amount,
        currency=currency,
        sale_id=capture.get("id") or None,
        reason=str(details.get("reason") or ""),
        reference=unit.get("invoice_id") or unit.get("reference_id") or None,
        payer_id=payer.get("payer_id") or None,
    )


def create_order(client: PayPalClient, request: PaymentRequest, brand_name: str) -> CreatedPayment:
    """Create the order; the same reference always gets the same PayPal request id."""
    try:
        answer = client.call(
            "create",
            "POST",
            "/v2/checkout/orders",
            order_body(request, brand_name),
            request_id=f"{request.reference}:create",
        )
    except PayPalRefusal as refusal:
        raise error_for(refusal, "create") from None
    approval = link(answer, "payer-action") or link(answer, "approve")
    if not answer.get("id") or not approval:
        log.warning("PayPal create answered without an id or approval link")
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    return CreatedPayment(provider_payment_id=answer["id"], approval_url=approval)


def get_order(client: PayPalClient, order_id: str) -> PaymentStatus:
    """Look an order up."""
    try:
        return status_from_order(client.call("get", "GET", f"/v2/checkout/orders/{order_id}"))
    except PayPalRefusal as refusal:
        raise error_for(refusal, "get") from None


def capture_order(client: PayPalClient, order_id: str, reference: str) -> PaymentStatus:
    """Capture an approved order; a repeat (ORDER_ALREADY_CAPTURED) returns its status."""
    try:
        answer = client.call(
            "capture",
            "POST",
            f"/v2/checkout/orders/{order_id}/capture",
            {},
            request_id=f"{reference}:capture",
        )
    except PayPalRefusal as refusal:
        if refusal.code == "ORDER_ALREADY_CAPTURED":
            return get_order(client, order_id)
        raise error_for(refusal, "capture") from None
    status = status_from_order(answer)
    if status.state == PaymentState.FAILED:
        raise PaymentDeclined(DECLINED_MESSAGE)
    return status


def refund_capture(client: PayPalClient, request: RefundRequest) -> RefundResult:
    """Refund all or part of a capture (idempotent per request key)."""
    body = {
        "amount": money(request.amount, request.currency),
        "invoice_id": f"{request.reference}-{request.key}"[:127],
    }
    try:
        answer = client.call(
            "refund",
            "POST",
            f"/v2/payments/captures/{request.sale_id}/refund",
            body,
            request_id=f"{request.reference}:refund:{request.key}",
        )
    except PayPalRefusal as refusal:
        raise error_for(refusal, "refund") from None
    refund_id = answer.get("id")
    if not isinstance(refund_id, str) or not refund_id:
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    amount, currency = read_money(answer.get("amount"))
    return RefundResult(refund_id, amount, currency, answer.get("status") == "COMPLETED")
