"""PayPal's v1 payments (intent ``sale``), kept for the orders paid through them.

New payments are Orders v2 (:mod:`shop.payments.paypal_orders`). A payment recorded before the
move stays readable (look-up, and execution of one approved but never executed) and refundable
through the v1 calls here. v1 payment ids (``PAY-...``, ``PAYID-...``) carry a hyphen; v2 order
ids never do, which is how :func:`is_v1_payment` tells them apart.
"""

from shop.money import InvalidAmount
from shop.payments.gateway import (
    GatewayUnavailable,
    PaymentDeclined,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundResult,
)
from shop.payments.paypal_client import (
    DECLINED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    PayPalClient,
    PayPalRefusal,
    error_for,
    parse_paypal_amount,
    paypal_amount,
)

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


def is_v1_payment(provider_payment_id: str) -> bool:
    """Tell whether a PayPal id is a v1 payment's (``PAY-...``/``PAYID-...``), not a v2 order's."""
    return "-" in provider_payment_id


def status_from_payment(data: dict) -> PaymentStatus:
    """Map a PayPal v1 payment resource to a :class:`PaymentStatus`."""
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
    payer = data.get("payer") if isinstance(data.get("payer"), dict) else {}
    payer_info = payer.get("payer_info") if isinstance(payer.get("payer_info"), dict) else {}
    return PaymentStatus(
        provider_payment_id=payment_id,
        state=state,
        amount=amount,
        currency=currency,
        sale_id=sale.get("id") or None,
        reason=str(sale.get("reason_code") or data.get("failure_reason") or ""),
        reference=transaction.get("invoice_number") or None,
        payer_id=payer_info.get("payer_id") or None,
    )


def get_payment(client: PayPalClient, payment_id: str) -> PaymentStatus:
    """Look a v1 payment up."""
    try:
        answer = client.call("get", "GET", f"/v1/payments/payment/{payment_id}")
    except PayPalRefusal as refusal:
        raise error_for(refusal, "get") from None
    return status_from_payment(answer)


def execute_payment(
    client: PayPalClient, payment_id: str, payer_id: str, reference: str
) -> PaymentStatus:
    """Execute an approved v1 payment; a repeat returns the current status."""
    try:
        answer = client.call(
            "execute",
            "POST",
            f"/v1/payments/payment/{payment_id}/execute",
            {"payer_id": payer_id},
            request_id=f"{reference}:execute",
        )
    except PayPalRefusal as refusal:
        if refusal.name == "PAYMENT_ALREADY_DONE":
            return get_payment(client, payment_id)
        raise error_for(refusal, "execute") from None
    status = status_from_payment(answer)
    if status.state == PaymentState.FAILED:
        raise PaymentDeclined(DECLINED_MESSAGE)
    return status


def refund_sale(client: PayPalClient, request: RefundRequest) -> RefundResult:
    """Refund all or part of a v1 sale (idempotent per request key)."""
    body = {
        "amount": {
            "total": paypal_amount(request.amount, request.currency),
            "currency": request.currency,
        },
        "invoice_number": f"{request.reference}-{request.key}"[:127],
    }
    try:
        answer = client.call(
            "refund",
            "POST",
            f"/v1/payments/sale/{request.sale_id}/refund",
            body,
            request_id=f"{request.reference}:refund:{request.key}",
        )
    except PayPalRefusal as refusal:
        raise error_for(refusal, "refund") from None
    money = answer.get("amount") if isinstance(answer.get("amount"), dict) else {}
    try:
        amount = parse_paypal_amount(money.get("total"), money.get("currency"))
    except (InvalidAmount, TypeError):
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
    refund_id = answer.get("id")
    if not isinstance(refund_id, str) or not refund_id:
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
    return RefundResult(
        refund_id, abs(amount), str(money.get("currency")), answer.get("state") == "completed"
    )
