"""The simulator's HTTP surface: PayPal's v1 API, the buyer's approval page, and controls."""

import base64
import binascii
import hmac
import threading
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from simulators.delivery import deliver, deliver_many
from simulators.paypal.approval import payment_redirect
from simulators.paypal.errors import SimulatorError
from simulators.paypal.signing import CERT_ID, sign_event
from simulators.paypal.state import STATE_KEY, SimulatorState
from simulators.scenarios import scenario_from_json

api = Blueprint("paypal_api", __name__)
controls = Blueprint("controls", __name__, url_prefix="/simulator")

EVENT_NAMES = {
    "completed": "PAYMENT.SALE.COMPLETED",
    "pending": "PAYMENT.SALE.PENDING",
    "refunded": "PAYMENT.SALE.REFUNDED",
}


def state() -> SimulatorState:
    """Return this simulator's state."""
    return current_app.extensions[STATE_KEY]


def base_url() -> str:
    """Return the simulator's public base URL (links, approval page, certificate URL)."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")


def paypal_error(error: SimulatorError):
    """Answer with PayPal's error body."""
    return jsonify(error.body()), error.status


def apply_scenario(operation: str, payment_id: str | None = None) -> str | None:
    """Play the scenario queued for this call: sleep, fail with a 500, or name an outcome."""
    scenario = state().take_scenario(operation, payment_id)
    if scenario is None:
        return None
    if scenario.outcome == "delay":
        time.sleep(scenario.seconds)
        return None
    if scenario.outcome == "error":
        raise SimulatorError(500, "INTERNAL_SERVICE_ERROR", "An internal service error occurred.")
    return scenario.outcome


@api.errorhandler(SimulatorError)
def handle_simulator_error(error):
    """Turn a SimulatorError into PayPal's JSON error."""
    return paypal_error(error)


@api.post("/v1/oauth2/token")
def oauth_token():
    """Issue a bearer token for the merchant's client id and secret (HTTP basic)."""
    apply_scenario("token")
    header = request.headers.get("Authorization", "")
    expected = f"{current_app.config['CLIENT_ID']}:{current_app.config['CLIENT_SECRET']}"
    try:
        given = base64.b64decode(header.removeprefix("Basic "), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    if not header.startswith("Basic ") or not hmac.compare_digest(given, expected):
        body = {"error": "invalid_client", "error_description": "Client Authentication failed"}
        return jsonify(body), 401
    if request.form.get("grant_type") != "client_credentials":
        return jsonify({"error": "unsupported_grant_type"}), 400
    return jsonify(
        {
            "scope": "https://api.paypal.com/v1/payments/.*",
            "access_token": state().issue_token(),
            "token_type": "Bearer",
            "app_id": "APP-SIMULATOR",
            "expires_in": 32400,
            "nonce": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )


def require_token():
    """Refuse an API call without a bearer token this simulator issued."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not state().token_valid(token):
        body = {
            "error": "invalid_token",
            "error_description": "Token signature verification failed",
        }
        return jsonify(body), 401
    return None


@api.before_request
def require_bearer_token():
    """Refuse payment calls without a token this simulator issued."""
    if request.path.startswith("/v1/payments/"):
        return require_token()
    return None


@api.post("/v1/payments/payment")
def create_payment():
    """Create a payment; the same PayPal-Request-Id returns the same payment."""
    apply_scenario("create")
    body = request.get_json(silent=True)
    payment = state().create_payment(body, request.headers.get("PayPal-Request-Id"))
    return jsonify(payment.resource(base_url())), 201


@api.get("/v1/payments/payment/<payment_id>")
def get_payment(payment_id):
    """Show a payment."""
    apply_scenario("get", payment_id)
    return jsonify(state().payment(payment_id).resource(base_url()))


@api.post("/v1/payments/payment/<payment_id>/execute")
def execute_payment(payment_id):
    """Execute an approved payment (idempotent per PayPal-Request-Id)."""
    outcome = apply_scenario("execute", payment_id)
    body = request.get_json(silent=True) or {}
    status, answer, made_sale = state().execute(
        payment_id,
        body.get("payer_id"),
        request.headers.get("PayPal-Request-Id"),
        outcome,
        base_url(),
    )
    if made_sale:
        payment = state().payment(payment_id)
        event = "PAYMENT.SALE.PENDING" if outcome == "pending" else "PAYMENT.SALE.COMPLETED"
        send_in_background(payment, event)
    return jsonify(answer), status


@api.get(f"/v1/notifications/certs/{CERT_ID}")
def signing_certificate():
    """Serve the certificate whose key signs this simulator's webhooks."""
    pem = current_app.config["SIGNING_IDENTITY"].certificate_pem
    return Response(pem, mimetype="application/x-pem-file")


# --- webhooks ---------------------------------------------------------------------------------


def sign(event: dict) -> tuple[dict, bytes]:
    """Return a freshly signed request (new transmission id, same event id) for an event."""
    cert_url = f"{base_url()}/v1/notifications/certs/{CERT_ID}"
    return sign_event(
        current_app.config["SIGNING_IDENTITY"], event, current_app.config["WEBHOOK_ID"], cert_url
    )


def signed_request(payment, event_type: str) -> tuple[dict, bytes]:
    """Return a freshly signed request for a v1 payment's event."""
    return sign(state().event(payment, event_type))


def send_signed(event: dict, record) -> None:
    """Deliver an event after the answer has gone out, as PayPal does, unless turned off.

    ``record(outcome)`` is called under the state's lock once delivery has finished.
    """
    url = current_app.config.get("WEBHOOK_URL")
    if not url or not current_app.config.get("SEND_WEBHOOKS", True):
        return
    headers, body = sign(event)
    simulator_state = state()  # the thread runs outside this app context

    def run():
        outcome = deliver(url, headers, body)
        with simulator_state.lock:
            record(outcome)

    threading.Thread(target=run, name="simulator-webhook", daemon=True).start()


def send_in_background(payment, event_type: str) -> None:
    """Deliver a v1 payment's event in the background."""
    event = state().event(payment, event_type)
    send_signed(
        event, lambda outcome: payment.deliveries.append({"event": event_type, "outcome": outcome})
    )


@api.post("/v1/payments/sale/<sale_id>/refund")
def refund_sale(sale_id):
    """Refund all or part of a v1 sale (idempotent per PayPal-Request-Id)."""
    apply_scenario("refund", sale_id)
    body = request.get_json(silent=True) or {}
    amount = body.get("amount") if isinstance(body.get("amount"), dict) else {}
    payment, refund, made = state().refund_sale(
        sale_id,
        amount.get("total"),
        request.headers.get("PayPal-Request-Id"),
        str(body.get("invoice_number") or ""),
    )
    if made:
        send_in_background(payment, "PAYMENT.SALE.REFUNDED")
    return jsonify(refund), 201


# --- controls for tests and demos -------------------------------------------------------------


def control_reply(data: dict, status: int = 200):
    """Answer JSON callers with JSON and people (forms) with the payments page."""
    if request.is_json:
        return jsonify(data), status
    return redirect(url_for("controls.index"))


def control_payment(payment_id):
    """Return the payment a control names, or 404."""
    try:
        return state().payment(payment_id)
    except SimulatorError:
        abort(404)


@controls.get("/")
def index():
    """List the payments with their sales, deliveries and buttons."""
    with state().lock:
        payments = sorted(state().payments.values(), key=lambda p: p.create_time, reverse=True)
        orders = sorted(state().orders.values(), key=lambda o: o.create_time, reverse=True)
        scenarios = list(state().scenarios)
    return render_template(
        "paypal/index.html",
        orders=orders,
        payments=payments,
        scenarios=scenarios,
        webhook_url=current_app.config.get("WEBHOOK_URL"),
    )


@controls.post("/scenarios")
def add_scenario():
    """Queue a scenario: {"operation", "outcome", "count", "seconds", "payment_id"}."""
    data = request.get_json(silent=True) or {}
    try:
        scenario = scenario_from_json(data)
        state().add_scenario(scenario)
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"scenario": vars(scenario)}), 201


@controls.delete("/scenarios")
def clear_scenarios():
    """Drop every queued scenario."""
    state().clear_scenarios()
    return jsonify({"scenarios": []})


@controls.post("/payments/<payment_id>/approve")
def approve(payment_id):
    """Approve (or decline/cancel) as the buyer would; return where the buyer is sent."""
    payment = control_payment(payment_id)
    data = request.get_json(silent=True) or {}
    choice = data.get("choice", "pay")
    if choice not in ("pay", "decline", "cancel"):
        return jsonify({"error": "choice must be pay, decline or cancel"}), 400
    state().buyer_decides(payment, choice)
    return jsonify({"redirect": payment_redirect(payment, choice), "payer_id": payment.payer_id})


@controls.get("/payments/<payment_id>/webhook")
def webhook_request(payment_id):
    """Return a signed webhook request (headers and body) without delivering it."""
    payment = control_payment(payment_id)
    event_type = EVENT_NAMES.get(request.args.get("event", "completed"))
    if event_type is None:
        return jsonify({"error": "event must be completed, pending or refunded"}), 400
    try:
        headers, body = signed_request(payment, event_type)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 409
    return jsonify(
        {"url": current_app.config.get("WEBHOOK_URL"), "headers": headers, "body": body.decode()}
    )


@controls.post("/payments/<payment_id>/webhooks")
def resend_webhook(payment_id):
    """Deliver an event again: {"event", "times", "concurrent"}; waits for the answers."""
    payment = control_payment(payment_id)
    data = request.get_json(silent=True) or request.form
    event_type = EVENT_NAMES.get(data.get("event", "completed"))
    url = current_app.config.get("WEBHOOK_URL")
    try:
        times = int(data.get("times", 1))
    except (TypeError, ValueError):
        times = 0
    concurrent = data.get("concurrent") in (True, "1", "true", "on")
    if event_type is None or not 1 <= times <= 20 or not url:
        return jsonify({"error": "need an event, 1 to 20 times, and a webhook URL"}), 400
    try:
        signed = [signed_request(payment, event_type) for _ in range(times)]
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 409
    outcomes = deliver_many(url, signed, concurrent)
    with state().lock:
        payment.deliveries.extend({"event": event_type, "outcome": o} for o in outcomes)
    return control_reply({"deliveries": outcomes})


@controls.post("/payments/<payment_id>/refund")
def refund(payment_id):
    """Refund the sale in full and send PAYMENT.SALE.REFUNDED."""
    payment = control_payment(payment_id)
    if not state().refund(payment):
        return control_reply({"error": "no completed sale to refund"}, 409)
    send_in_background(payment, "PAYMENT.SALE.REFUNDED")
    return control_reply({"refund": payment.refund})


@controls.post("/payments/<payment_id>/complete")
def complete(payment_id):
    """Clear a pending sale and send PAYMENT.SALE.COMPLETED."""
    payment = control_payment(payment_id)
    if not state().complete_pending(payment):
        return control_reply({"error": "the sale is not pending"}, 409)
    send_in_background(payment, "PAYMENT.SALE.COMPLETED")
    return control_reply({"sale": payment.sale})
