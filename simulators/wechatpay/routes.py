"""The simulator's HTTP surface: WeChat Pay's v3 API, the buyer's pages, and controls."""

import json
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

from simulators.delivery import deliver_many
from simulators.scenarios import scenario_from_json
from simulators.wechatpay.signing import encrypt, merchant_request_valid, platform_headers
from simulators.wechatpay.state import STATE_KEY, Order, WeChatError, WeChatState, beijing_now

#: The refund notifications WeChat sends.
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")

api = Blueprint("wechat_api", __name__)
buyer = Blueprint("wechat_buyer", __name__)
controls = Blueprint("wechat_controls", __name__, url_prefix="/simulator")


def state() -> WeChatState:
    """Return this simulator's state."""
    return current_app.extensions[STATE_KEY]


def platform():
    """Return the platform identity (its key signs, its certificate is downloaded)."""
    return current_app.config["PLATFORM_IDENTITY"]


def platform_serial() -> str:
    """Return the platform certificate's serial number as WeChat writes it (hex, upper)."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(platform().certificate_pem)
    return f"{certificate.serial_number:X}"


def signed_json(body: dict | None, status: int = 200) -> Response:
    """Answer as WeChat does: JSON signed with the platform key (an empty 204 too)."""
    text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text, status=status, content_type="application/json; charset=utf-8")
    if 200 <= status < 300:
        response.headers.update(platform_headers(platform().private_key, platform_serial(), text))
    return response


def apply_scenario(operation: str, out_trade_no: str | None = None) -> str | None:
    """Play the queued scenario: sleep ("delay"), a 500 ("error"), or name an outcome."""
    scenario = state().take_scenario(operation, out_trade_no)
    if scenario is None:
        return None
    if scenario.outcome == "delay":
        time.sleep(scenario.seconds)
        return None
    if scenario.outcome == "error":
        raise WeChatError(500, "SYSTEM_ERROR", "system error")
    return scenario.outcome


@api.errorhandler(WeChatError)
def wechat_error(error: WeChatError):
    """Answer WeChat's error body (unsigned, as WeChat's errors are)."""
    return jsonify(error.body), error.status


@api.before_request
def require_merchant_signature():
    """Refuse API calls whose Authorization is not the demo merchant's signature."""
    if not request.path.startswith("/v3/"):
        return None
    path = request.full_path if request.query_string else request.path
    valid = merchant_request_valid(
        current_app.config["MERCHANT_IDENTITY"].private_key.public_key(),
        current_app.config["MCHID"],
        request.headers.get("Authorization", ""),
        request.method,
        path,
        request.get_data(as_text=True),
    )
    if not valid:
        return jsonify({"code": "SIGN_ERROR", "message": "signature check failed"}), 401
    return None


@api.get("/v3/certificates")
def certificates():
    """Serve the platform certificate, encrypted with the merchant's APIv3 key."""
    now = time.time()
    data = {
        "serial_no": platform_serial(),
        "effective_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 3600)),
        "expire_time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 86400 * 365)),
        "encrypt_certificate": encrypt(
            current_app.config["APIV3_KEY"], platform().certificate_pem.decode(), "certificate"
        ),
    }
    return signed_json({"data": [data]})


@api.post("/v3/pay/transactions/<kind>")
def place_order(kind):
    """Place a Native order (a code to scan) or an H5 order (a cashier link)."""
    if kind not in ("native", "h5"):
        raise WeChatError(404, "NOT_FOUND", "unsupported trade type")
    apply_scenario("create")
    body = request.get_json(silent=True) or {}
    order = state().place(kind, body, current_app.config["MCHID"], current_app.config["APPID"])
    if kind == "native":
        return signed_json({"code_url": f"weixin://wxpay/bizpayurl?pr={order.prepay}"})
    base = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    return signed_json({"h5_url": f"{base}/h5pay?prepay_id={order.prepay}"})


@api.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
def query(out_trade_no):
    """Show an order."""
    apply_scenario("query", out_trade_no)
    if request.args.get("mchid") != current_app.config["MCHID"]:
        raise WeChatError(400, "PARAM_ERROR", "mchid is missing or wrong")
    order = state().order(out_trade_no)
    return signed_json(order.transaction(current_app.config["MCHID"], current_app.config["APPID"]))


@api.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
def close(out_trade_no):
    """Close an unpaid order (204)."""
    apply_scenario("close", out_trade_no)
    state().close(out_trade_no)
    return signed_json(None, 204)


@api.post("/v3/refund/domestic/refunds")
def refund():
    """Refund all or part of a paid order, and notify the shop."""
    body = request.get_json(silent=True) or {}
    apply_scenario("refund", body.get("out_trade_no"))
    order, record, new = state().refund(body)
    if new:  # to the refund's notify_url, else the order's (the merchant's configured one)
        notice = state().refund_notice(order, record, current_app.config["MCHID"])
        send_notification(order, "REFUND.SUCCESS", notice, url=body.get("notify_url"))
    return signed_json(record)


# --- notifications ----------------------------------------------------------------------------


def notification(order: Order, event_type: str, resource: dict | None = None, **headers_at):
    """Return (headers, body) of a signed notification with a fresh id."""
    config = current_app.config
    if resource is None:
        resource = order.transaction(config["MCHID"], config["APPID"])
    original = "refund" if event_type.startswith("REFUND") else "transaction"
    event = {
        "id": str(uuid.uuid4()),
        "create_time": beijing_now(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功" if original == "transaction" else "退款成功",
        "resource": {
            "original_type": original,
            **encrypt(
                config["APIV3_KEY"],
                json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
                original,
            ),
        },
    }
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    headers = platform_headers(
        platform().private_key, platform_serial(), body, headers_at.get("timestamp")
    )
    headers["Content-Type"] = "application/json"
    return headers, body.encode()


def send_notification(order: Order, event_type: str, resource=None, mode=None, url=None) -> None:
    """Notify the shop: in the background, at once (``early``), three times, or not at all."""
    url = url or order.notify_url or current_app.config.get("WEBHOOK_URL")
    if not url or mode == "silent":
        return
    copies = 3 if mode == "duplicate" else 1
    signed = [notification(order, event_type, resource)] * copies
    simulator_state = state()

    def run():
        outcomes = deliver_many(url, signed, concurrent=copies > 1)
        with simulator_state.lock:
            order.deliveries.extend(outcomes)

    if mode == "early":
        run()
    else:
        threading.Thread(target=run, name="wechat-notify", daemon=True).start()


# --- the buyer's pages ------------------------------------------------------------------------


def with_query(url: str, params: dict) -> str:
    """Add query parameters to a URL that may have some already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def decide(order: Order, choice: str) -> None:
    """Apply the buyer's choice (after a scan, or in the H5 cashier) and notify if paid."""
    outcome = apply_scenario("pay", order.out_trade_no)
    if state().buyer_decides(order, choice):
        send_notification(order, "TRANSACTION.SUCCESS", mode=outcome)


@buyer.get("/h5pay")
def h5_cashier():
    """WeChat's phone cashier for an H5 order."""
    order = state().by_prepay(request.args.get("prepay_id", ""))
    if order is None:
        abort(404)
    return render_template(
        "wechatpay/pay.html", order=order, redirect_url=request.args.get("redirect_url", "")
    )


@buyer.get("/simulator/scan/<prepay>")
def scan(prepay):
    """Show what the buyer's phone shows after scanning a Native code."""
    order = state().by_prepay(prepay)
    if order is None:
        abort(404)
    return render_template("wechatpay/pay.html", order=order, redirect_url="")


@buyer.post("/simulator/pay/<prepay>")
def pay_decision(prepay):
    """Record the buyer's choice; H5 goes back to the shop's redirect_url whatever it was."""
    order = state().by_prepay(prepay)
    choice = request.form.get("choice")
    if order is None or choice not in ("pay", "decline", "cancel"):
        abort(400)
    decide(order, choice)
    back = request.form.get("redirect_url", "")
    if back.startswith(("http://", "https://")):
        return redirect(back)
    return redirect(url_for("wechat_buyer.scan", prepay=prepay))


# --- controls for tests and demos -------------------------------------------------------------


def control_order(out_trade_no: str) -> Order:
    """Return the order a control names, or 404."""
    order = state().orders.get(out_trade_no)
    if order is None:
        abort(404)
    return order


@controls.get("/")
def index():
    """List the orders with their refunds, notifications and a scan link."""
    with state().lock:
        orders = sorted(state().orders.values(), key=lambda o: o.created, reverse=True)
        scenarios = list(state().scenarios)
    return render_template("wechatpay/index.html", orders=orders, scenarios=scenarios)


@controls.get("/credentials")
def credentials():
    """Give the shop in simulator mode the demo merchant's ids and keys (loopback demo)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    merchant = current_app.config["MERCHANT_IDENTITY"]
    certificate = x509.load_pem_x509_certificate(merchant.certificate_pem)
    key = merchant.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return jsonify(
        {
            "mchid": current_app.config["MCHID"],
            "appid": current_app.config["APPID"],
            "private_key": key,
            "cert_serial_no": f"{certificate.serial_number:X}",
            "apiv3_key": current_app.config["APIV3_KEY"],
        }
    )


@controls.post("/scenarios")
def add_scenario():
    """Queue a scenario: {"operation", "outcome", "count", "seconds", "payment_id"}."""
    try:
        scenario = scenario_from_json(request.get_json(silent=True) or {})
        state().add_scenario(scenario)
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"scenario": vars(scenario)}), 201


@controls.delete("/scenarios")
def clear_scenarios():
    """Drop every queued scenario."""
    state().clear_scenarios()
    return jsonify({"scenarios": []})


@controls.post("/orders/<out_trade_no>/decide")
def decide_control(out_trade_no):
    """Scan and pay (or decline, cancel) as the buyer would."""
    choice = (request.get_json(silent=True) or request.form).get("choice", "pay")
    if choice not in ("pay", "decline", "cancel"):
        return jsonify({"error": "choice must be pay, decline or cancel"}), 400
    order = control_order(out_trade_no)
    decide(order, choice)
    if request.is_json:
        return jsonify({"trade_state": order.trade_state})
    return redirect(url_for("wechat_controls.index"))


@controls.post("/orders/<out_trade_no>/refund")
def console_refund(out_trade_no):
    """Refund as the merchant would at WeChat's console: {"amount": fen}; notify the shop."""
    order = control_order(out_trade_no)
    data = request.get_json(silent=True) or request.form
    try:
        amount = int(data.get("amount", order.total))
    except (TypeError, ValueError):
        return jsonify({"error": "amount must be a whole number of fen"}), 400
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": "console-" + uuid.uuid4().hex[:24],
        "amount": {"refund": amount, "total": order.total, "currency": "CNY"},
    }
    try:
        order, record, _new = state().refund(body)
    except WeChatError as exc:
        return jsonify(exc.body), exc.status
    send_notification(
        order, "REFUND.SUCCESS", state().refund_notice(order, record, current_app.config["MCHID"])
    )
    if request.is_json:
        return jsonify(record)
    return redirect(url_for("wechat_controls.index"))


@controls.get("/orders/<out_trade_no>/notification")
def notification_control(out_trade_no):
    """Return a signed notification without sending it.

    ``?timestamp=`` and ``?total=`` change a payment's; ``?out_refund_no=`` gives that
    refund's REFUND.SUCCESS instead (or ``?event_type=REFUND.ABNORMAL`` / ``REFUND.CLOSED``).
    """
    order = control_order(out_trade_no)
    out_refund_no = request.args.get("out_refund_no")
    stamp = request.args.get("timestamp")
    if out_refund_no:
        record = order.refunds.get(out_refund_no)
        if record is None:
            abort(404)
        resource = state().refund_notice(order, record, current_app.config["MCHID"])
        event_type = request.args.get("event_type", "REFUND.SUCCESS")
        if event_type not in REFUND_EVENTS:
            abort(400)
        resource["refund_status"] = event_type.split(".", 1)[1]
        headers, body = notification(
            order, event_type, resource, timestamp=int(stamp) if stamp else None
        )
        return jsonify({"url": order.notify_url, "headers": headers, "body": body.decode()})
    resource = order.transaction(current_app.config["MCHID"], current_app.config["APPID"])
    if request.args.get("total"):
        resource["amount"]["total"] = int(request.args["total"])
    headers, body = notification(
        order, "TRANSACTION.SUCCESS", resource, timestamp=int(stamp) if stamp else None
    )
    return jsonify({"url": order.notify_url, "headers": headers, "body": body.decode()})


@controls.post("/orders/<out_trade_no>/notifications")
def resend_notifications(out_trade_no):
    """Send the payment notification again: {"times", "concurrent"}; waits for the answers."""
    order = control_order(out_trade_no)
    data = request.get_json(silent=True) or request.form
    try:
        times = int(data.get("times", 1))
    except (TypeError, ValueError):
        times = 0
    url = order.notify_url or current_app.config.get("WEBHOOK_URL")
    if not 1 <= times <= 20 or not url:
        return jsonify({"error": "need 1 to 20 times and a notify_url"}), 400
    signed = [notification(order, "TRANSACTION.SUCCESS") for _ in range(times)]
    outcomes = deliver_many(url, signed, data.get("concurrent") in (True, "1", "true", "on"))
    with state().lock:
        order.deliveries.extend(outcomes)
    if request.is_json:
        return jsonify({"deliveries": outcomes})
    return redirect(url_for("wechat_controls.index"))
