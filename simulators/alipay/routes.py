"""The simulator's HTTP surface: Alipay's gateway.do, the buyer's cashier, and controls."""

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

from simulators.alipay.signing import (
    REQUEST_UNSIGNED,
    content_to_sign,
    sign_text,
    signed_params,
    verify_text,
)
from simulators.alipay.state import (
    CASHIER_METHODS,
    STATE_KEY,
    AlipayError,
    AlipayState,
    Trade,
    beijing_now,
    biz_content,
)
from simulators.delivery import deliver_many
from simulators.scenarios import scenario_from_json

gateway = Blueprint("alipay_gateway", __name__)
controls = Blueprint("alipay_controls", __name__, url_prefix="/simulator")

API_METHODS = (
    "alipay.trade.query",
    "alipay.trade.close",
    "alipay.trade.refund",
    "alipay.trade.fastpay.refund.query",
)
#: The failure-switch operation of each API method.
OPERATION_OF = {"alipay.trade.fastpay.refund.query": "query"}


def state() -> AlipayState:
    """Return this simulator's state."""
    return current_app.extensions[STATE_KEY]


def platform_key():
    """Return Alipay's private key (signs everything the simulator sends)."""
    return current_app.config["PLATFORM_IDENTITY"].private_key


def app_public_key():
    """Return the merchant app's public key (checks the shop's requests)."""
    return current_app.config["APP_IDENTITY"].private_key.public_key()


def with_query(url: str, params: dict) -> str:
    """Add query parameters to a URL that may have some already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def apply_scenario(operation: str, out_trade_no: str | None = None) -> str | None:
    """Play the queued scenario: sleep ("delay", a timeout for the shop), a 500, or an outcome."""
    scenario = state().take_scenario(operation, out_trade_no)
    if scenario is None:
        return None
    if scenario.outcome == "delay":
        time.sleep(scenario.seconds)
        return None
    if scenario.outcome == "error":
        abort(500)
    return scenario.outcome


def signed_answer(method: str, body: dict) -> Response:
    """Answer an API call as Alipay does: the response object and its signature."""
    response_type = method.replace(".", "_") + "_response"
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    signature = sign_text(platform_key(), content)
    text = f'{{"{response_type}":{content},"sign":"{signature}"}}'
    return Response(text, mimetype="application/json", content_type="text/html;charset=utf-8")


def error_answer(method: str, code: str, sub_code: str, message: str) -> Response:
    """Answer a request that fails before any business (bad app id, bad signature)."""
    body = {"code": code, "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": message}
    text = json.dumps({"error_response": body, "sign": ""})
    return Response(text, content_type="text/html;charset=utf-8")


@gateway.route("/gateway.do", methods=["GET", "POST"])
def gateway_do():
    """Alipay's one endpoint: the method parameter says what to do."""
    params = request.values.to_dict()
    method = params.get("method", "")
    if params.get("app_id") != current_app.config["APP_ID"]:
        return error_answer(method, "40002", "isv.invalid-app-id", "unknown app_id")
    if params.get("sign_type") != "RSA2" or not verify_text(
        app_public_key(), content_to_sign(params, REQUEST_UNSIGNED), params.get("sign", "")
    ):
        return error_answer(method, "40002", "isv.invalid-signature", "signature check failed")
    try:
        biz = biz_content(params)
        if method in CASHIER_METHODS:
            trade = state().open_cashier(
                method, biz, params.get("notify_url", ""), params.get("return_url", "")
            )
            return render_template("alipay/cashier.html", trade=trade)
        if method not in API_METHODS:
            return error_answer(method, "40002", "isv.invalid-method", "unknown method")
        out_trade_no = str(biz.get("out_trade_no") or "")
        apply_scenario(OPERATION_OF.get(method, method.rsplit(".", 1)[1]), out_trade_no)
        if method == "alipay.trade.query":
            return signed_answer(method, state().trade(out_trade_no).query_answer())
        if method == "alipay.trade.fastpay.refund.query":
            trade = state().trade(out_trade_no)
            return signed_answer(method, trade.refund_answer(str(biz.get("out_request_no") or "")))
        if method == "alipay.trade.close":
            trade = state().close(out_trade_no)
            return signed_answer(
                method, {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no}
            )
        trade, new = state().refund(
            out_trade_no, biz.get("refund_amount"), str(biz.get("out_request_no") or "")
        )
        if new:
            send_notification(trade)
        return signed_answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": trade.out_trade_no,
                "trade_no": trade.trade_no,
                "refund_fee": trade.refund_fee,
                "fund_change": "Y" if new else "N",
                "gmt_refund_pay": beijing_now(),
            },
        )
    except AlipayError as exc:
        if method in CASHIER_METHODS:
            return render_template("alipay/cashier.html", error=exc.body), 400
        return signed_answer(method, exc.body)


# --- notifications ----------------------------------------------------------------------------


def notify_url_of(trade: Trade) -> str:
    """Return where the trade's notifications go: its notify_url, else --webhook-url."""
    return trade.notify_url or current_app.config.get("WEBHOOK_URL") or ""


def signed_notification(trade: Trade, overrides: dict | None = None) -> dict:
    """Return a freshly signed notification (a new notify_id) of the trade's state."""
    params = trade.notification(current_app.config["APP_ID"], overrides)
    return signed_params(platform_key(), params)


def send_notification(trade: Trade, mode: str | None = None) -> None:
    """Notify the shop: in the background, at once (``early``), three times, or not at all."""
    url = notify_url_of(trade)
    if not url or mode == "silent":
        return
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    copies = 3 if mode == "duplicate" else 1
    notification = signed_notification(trade)
    signed = [(headers, urlencode(notification).encode())] * copies
    simulator_state = state()

    def run():
        outcomes = deliver_many(url, signed, concurrent=copies > 1)
        with simulator_state.lock:
            trade.deliveries.extend(outcomes)

    if mode == "early":
        run()
    else:
        threading.Thread(target=run, name="alipay-notify", daemon=True).start()


# --- the buyer's cashier ----------------------------------------------------------------------


def return_params(trade: Trade) -> dict:
    """Return the signed parameters of the buyer's synchronous return."""
    params = {
        "charset": "utf-8",
        "out_trade_no": trade.out_trade_no,
        "method": "alipay.trade.page.pay.return",
        "total_amount": trade.total_amount,
        "trade_no": trade.trade_no,
        "auth_app_id": current_app.config["APP_ID"],
        "version": "1.0",
        "app_id": current_app.config["APP_ID"],
        "seller_id": "2088000000000001",
        "timestamp": beijing_now(),
    }
    return signed_params(platform_key(), params)


def decide(trade: Trade, choice: str) -> str:
    """Apply the buyer's choice; return where the buyer goes next."""
    outcome = apply_scenario("pay", trade.out_trade_no)
    paid = state().buyer_decides(trade, choice)
    if choice == "cancel":
        return trade.quit_url or trade.return_url
    if paid:
        send_notification(trade, outcome)
    if trade.status != "TRADE_SUCCESS":
        return url_for("alipay_controls.cashier", out_trade_no=trade.out_trade_no)
    return with_query(trade.return_url, return_params(trade))


@controls.get("/cashier/<out_trade_no>")
def cashier(out_trade_no):
    """Show a trade's cashier again (after a decline)."""
    trade = state().trades.get(out_trade_no)
    if trade is None:
        abort(404)
    return render_template("alipay/cashier.html", trade=trade)


@controls.post("/cashier/<out_trade_no>")
def cashier_decision(out_trade_no):
    """Record the buyer's choice on the cashier page and send them on."""
    trade = state().trades.get(out_trade_no)
    choice = request.form.get("choice")
    if trade is None or choice not in ("pay", "decline", "cancel"):
        abort(400)
    return redirect(decide(trade, choice))


# --- controls for tests and demos -------------------------------------------------------------


def control_trade(out_trade_no: str) -> Trade:
    """Return the trade a control names, or 404."""
    trade = state().trades.get(out_trade_no)
    if trade is None:
        abort(404)
    return trade


@controls.get("/")
def index():
    """List the trades with their refunds and notifications."""
    with state().lock:
        trades = sorted(state().trades.values(), key=lambda t: t.created, reverse=True)
        scenarios = list(state().scenarios)
    return render_template("alipay/index.html", trades=trades, scenarios=scenarios)


@controls.get("/credentials")
def credentials():
    """Give the shop in simulator mode the demo merchant's app id and keys (loopback demo)."""
    from simulators.alipay.signing import private_pem, public_pem

    return jsonify(
        {
            "app_id": current_app.config["APP_ID"],
            "app_private_key": private_pem(current_app.config["APP_IDENTITY"].private_key),
            "alipay_public_key": public_pem(platform_key()),
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


@controls.post("/trades/<out_trade_no>/decide")
def decide_control(out_trade_no):
    """Pay, decline or cancel as the buyer would; return where the buyer is sent."""
    choice = (request.get_json(silent=True) or {}).get("choice", "pay")
    if choice not in ("pay", "decline", "cancel"):
        return jsonify({"error": "choice must be pay, decline or cancel"}), 400
    return jsonify({"redirect": decide(control_trade(out_trade_no), choice)})


@controls.post("/trades/<out_trade_no>/refund")
def console_refund(out_trade_no):
    """Refund as the merchant would at Alipay's console: {"amount": "12.30"}; notify the shop."""
    trade = control_trade(out_trade_no)
    amount = (request.get_json(silent=True) or request.form).get("amount", trade.total_amount)
    out_request_no = "console-" + uuid.uuid4().hex[:24]
    try:
        trade, _new = state().refund(out_trade_no, amount, out_request_no)
    except AlipayError as exc:
        return jsonify(exc.body), 400
    send_notification(trade)
    if request.is_json:
        return jsonify({"out_request_no": out_request_no, "refund_fee": trade.refund_fee})
    return redirect(url_for("alipay_controls.index"))


@controls.get("/trades/<out_trade_no>/notification")
def notification_control(out_trade_no):
    """Return a signed notification without sending it; query arguments override fields."""
    trade = control_trade(out_trade_no)
    params = signed_notification(trade, request.args.to_dict())
    return jsonify({"url": notify_url_of(trade), "params": params, "body": urlencode(params)})


@controls.post("/trades/<out_trade_no>/notifications")
def resend_notifications(out_trade_no):
    """Send the trade's notification again: {"times", "concurrent"}; waits for the answers."""
    trade = control_trade(out_trade_no)
    data = request.get_json(silent=True) or request.form
    try:
        times = int(data.get("times", 1))
    except (TypeError, ValueError):
        times = 0
    url = notify_url_of(trade)
    if not 1 <= times <= 20 or not url:
        return jsonify({"error": "need 1 to 20 times and a notify_url"}), 400
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = [(headers, urlencode(signed_notification(trade)).encode()) for _ in range(times)]
    outcomes = deliver_many(url, signed, data.get("concurrent") in (True, "1", "true", "on"))
    with state().lock:
        trade.deliveries.extend(outcomes)
    if request.is_json:
        return jsonify({"deliveries": outcomes})
    return redirect(url_for("alipay_controls.index"))
