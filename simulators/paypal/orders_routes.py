"""The simulator's Orders v2 surface: orders, capture, refunds, webhook verification, controls.

Capture events (``PAYMENT.CAPTURE.COMPLETED`` / ``PENDING`` / ``DENIED`` / ``REFUNDED``) are
signed and sent as PayPal sends them, after the answer. ``verify-webhook-signature`` checks a
webhook the shop received: signed by this simulator's key (its "trusted root"), for its
webhook id, over exactly that event.
"""

import base64
import binascii
import json
import zlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, abort, current_app, jsonify, request

from simulators.delivery import deliver_many
from simulators.paypal.approval import order_redirect
from simulators.paypal.errors import SimulatorError
from simulators.paypal.orders import SimulatedOrder
from simulators.paypal.routes import (
    apply_scenario,
    base_url,
    control_reply,
    paypal_error,
    require_token,
    send_signed,
    state,
)
from simulators.paypal.signing import CERT_ID

orders_api = Blueprint("orders_api", __name__)
order_controls = Blueprint("order_controls", __name__, url_prefix="/simulator/orders")

#: Control names of the capture events.
EVENT_NAMES = {
    "completed": "PAYMENT.CAPTURE.COMPLETED",
    "pending": "PAYMENT.CAPTURE.PENDING",
    "denied": "PAYMENT.CAPTURE.DENIED",
    "refunded": "PAYMENT.CAPTURE.REFUNDED",
}
CAPTURE_EVENTS = {
    "COMPLETED": "PAYMENT.CAPTURE.COMPLETED",
    "PENDING": "PAYMENT.CAPTURE.PENDING",
    "DECLINED": "PAYMENT.CAPTURE.DENIED",
}

orders_api.before_request(require_token)
orders_api.register_error_handler(SimulatorError, paypal_error)


@orders_api.post("/v2/checkout/orders")
def create_order():
    """Create an order; the same PayPal-Request-Id returns the same order."""
    apply_scenario("create-order")
    order = state().create_order(
        request.get_json(silent=True), request.headers.get("PayPal-Request-Id")
    )
    return jsonify(order.resource(base_url())), 201


@orders_api.get("/v2/checkout/orders/<order_id>")
def get_order(order_id):
    """Show an order."""
    apply_scenario("get-order", order_id)
    return jsonify(state().order(order_id).resource(base_url()))


@orders_api.post("/v2/checkout/orders/<order_id>/capture")
def capture_order(order_id):
    """Capture an approved order (idempotent per PayPal-Request-Id)."""
    outcome = apply_scenario("capture", order_id)
    status, answer, captured = state().capture_order(
        order_id, request.headers.get("PayPal-Request-Id"), outcome, base_url()
    )
    if captured:
        order = state().order(order_id)
        send_order_event(order, CAPTURE_EVENTS[order.capture["status"]], order.capture)
    return jsonify(answer), status


@orders_api.get("/v2/payments/captures/<capture_id>")
def get_capture(capture_id):
    """Show a capture."""
    return jsonify(state().capture_by_id(capture_id)[1])


@orders_api.post("/v2/payments/captures/<capture_id>/refund")
def refund_capture(capture_id):
    """Refund all or part of a capture (idempotent per PayPal-Request-Id)."""
    apply_scenario("refund", capture_id)
    order, refund, made = state().refund_capture(
        capture_id,
        request.get_json(silent=True) or {},
        request.headers.get("PayPal-Request-Id"),
        base_url(),
    )
    if made:
        send_order_event(order, "PAYMENT.CAPTURE.REFUNDED", refund)
    return jsonify(refund), 201


@orders_api.post("/v1/notifications/verify-webhook-signature")
def verify_webhook_signature():
    """Tell the merchant whether a webhook it received is genuine: SUCCESS or FAILURE."""
    apply_scenario("verify")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise SimulatorError(400, "VALIDATION_ERROR", "Invalid request - see details")
    return jsonify({"verification_status": "SUCCESS" if genuine(data) else "FAILURE"})


def genuine(data: dict) -> bool:
    """Check a verify request: our certificate, our webhook id, our signature over the event."""
    config = current_app.config
    cert_url = f"{base_url()}/v1/notifications/certs/{CERT_ID}"
    fields = ("transmission_id", "transmission_time", "transmission_sig", "webhook_id")
    if any(not isinstance(data.get(name), str) for name in fields):
        return False
    if data.get("cert_url") != cert_url or data.get("auth_algo") != "SHA256withRSA":
        return False
    if data["webhook_id"] != config["WEBHOOK_ID"] or not isinstance(
        data.get("webhook_event"), dict
    ):
        return False
    # PayPal's events are compact JSON: the event as sent is its compact serialisation.
    body = json.dumps(data["webhook_event"], separators=(",", ":")).encode()
    message = "|".join(
        (
            data["transmission_id"],
            data["transmission_time"],
            data["webhook_id"],
            str(zlib.crc32(body)),
        )
    ).encode()
    try:
        signature = base64.b64decode(data["transmission_sig"], validate=True)
        config["SIGNING_IDENTITY"].private_key.public_key().verify(
            signature, message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def send_order_event(order: SimulatedOrder, event_type: str, resource: dict) -> None:
    """Deliver a capture or refund event after the answer has gone out, unless turned off."""
    event = state().order_event(order, event_type, resource)
    send_signed(
        event, lambda outcome: order.deliveries.append({"event": event_type, "outcome": outcome})
    )


# --- controls ----------------------------------------------------------------------------------


def control_order(order_id) -> SimulatedOrder:
    """Return the order a control names, or 404."""
    try:
        return state().order(order_id)
    except SimulatorError:
        abort(404)


def event_for(order: SimulatedOrder, name: str) -> tuple[str, dict]:
    """Return (event type, resource) of a control's event name, or raise ValueError."""
    event_type = EVENT_NAMES.get(name)
    if event_type is None:
        raise ValueError("event must be completed, pending, denied or refunded")
    resource = order.refunds[-1] if event_type.endswith("REFUNDED") and order.refunds else None
    if not event_type.endswith("REFUNDED"):
        resource = order.capture
    if resource is None:
        raise ValueError(f"order {order.id} has nothing to report for {name}")
    return event_type, resource


@order_controls.post("/<order_id>/approve")
def approve(order_id):
    """Approve (or decline/cancel) as the buyer would; return where the buyer is sent."""
    order = control_order(order_id)
    choice = (request.get_json(silent=True) or {}).get("choice", "pay")
    if choice not in ("pay", "decline", "cancel"):
        return jsonify({"error": "choice must be pay, decline or cancel"}), 400
    state().order_decides(order, choice)
    return jsonify({"redirect": order_redirect(order, choice), "payer_id": order.payer_id})


@order_controls.get("/<order_id>/webhook")
def webhook_request(order_id):
    """Return a signed webhook request (headers and body) without delivering it."""
    from simulators.paypal.routes import sign

    order = control_order(order_id)
    try:
        event_type, resource = event_for(order, request.args.get("event", "completed"))
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 409
    headers, body = sign(state().order_event(order, event_type, resource))
    return jsonify(
        {"url": current_app.config.get("WEBHOOK_URL"), "headers": headers, "body": body.decode()}
    )


@order_controls.post("/<order_id>/webhooks")
def resend_webhook(order_id):
    """Deliver an event again: {"event", "times", "concurrent"}; waits for the answers."""
    from simulators.paypal.routes import sign

    order = control_order(order_id)
    data = request.get_json(silent=True) or request.form
    url = current_app.config.get("WEBHOOK_URL")
    try:
        times = int(data.get("times", 1))
        event_type, resource = event_for(order, data.get("event", "completed"))
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    if not 1 <= times <= 20 or not url:
        return jsonify({"error": "need 1 to 20 times and a webhook URL"}), 400
    event = state().order_event(order, event_type, resource)
    signed = [sign(event) for _ in range(times)]
    outcomes = deliver_many(url, signed, data.get("concurrent") in (True, "1", "true", "on"))
    with state().lock:
        order.deliveries.extend({"event": event_type, "outcome": o} for o in outcomes)
    return control_reply({"deliveries": outcomes})


@order_controls.post("/<order_id>/refund")
def refund(order_id):
    """Refund the capture, in full or {"amount": "5.00"}, as from PayPal's dashboard."""
    order = control_order(order_id)
    if order.capture is None:
        return control_reply({"error": "no capture to refund"}, 409)
    data = request.get_json(silent=True) or request.form
    body = {}
    if data.get("amount"):
        body["amount"] = {
            "currency_code": order.capture["amount"]["currency_code"],
            "value": str(data["amount"]),
        }
    try:
        _, made, _ = state().refund_capture(order.capture["id"], body, None, base_url())
    except SimulatorError as error:
        return control_reply({"error": error.body()}, error.status)
    send_order_event(order, "PAYMENT.CAPTURE.REFUNDED", made)
    return control_reply({"refund": made})


@order_controls.post("/<order_id>/complete")
def complete(order_id):
    """Clear a pending capture and send PAYMENT.CAPTURE.COMPLETED."""
    return _settle_pending(order_id, approve=True)


@order_controls.post("/<order_id>/deny")
def deny(order_id):
    """Deny a pending capture and send PAYMENT.CAPTURE.DENIED."""
    return _settle_pending(order_id, approve=False)


def _settle_pending(order_id, approve: bool):
    order = control_order(order_id)
    if not state().complete_pending_capture(order, approve):
        return control_reply({"error": "the capture is not pending"}, 409)
    event_type = "PAYMENT.CAPTURE.COMPLETED" if approve else "PAYMENT.CAPTURE.DENIED"
    send_order_event(order, event_type, order.capture)
    return control_reply({"capture": order.capture})
