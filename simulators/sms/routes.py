"""The Twilio API subset the official client calls, and the simulator's phone page and controls.

Errors are Twilio's: a JSON body with ``code``, ``message``, ``more_info`` and ``status``, and
the codes Twilio uses for the same mistakes (20003 authentication, 21211 invalid 'To', 21602
no body, 21606 a 'From' that is not the account's, 21617 a body over 1,600 characters).
"""

import base64
import binascii
import hmac
import re
import time
from email.utils import format_datetime

from flask import Blueprint, current_app, jsonify, render_template, request

from simulators.scenarios import scenario_from_json
from simulators.sms.state import STATE_KEY, SmsState, TextMessage

API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9][0-9]{7,14}", re.ASCII)
MAX_BODY = 1600

api = Blueprint("sms_api", __name__, url_prefix=f"/{API_VERSION}/Accounts/<account_sid>")
controls = Blueprint("sms_controls", __name__, url_prefix="/simulator")


def state() -> SmsState:
    """Return the simulator's state."""
    return current_app.extensions[STATE_KEY]


def twilio_error(status: int, code: int, message: str):
    """Answer as Twilio answers a refused request."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return jsonify(body), status


def _authenticated(account_sid: str) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    config = current_app.config
    return (
        hmac.compare_digest(user, config["ACCOUNT_SID"])
        and hmac.compare_digest(password, config["AUTH_TOKEN"])
        and account_sid == config["ACCOUNT_SID"]
    )


def resource(message: TextMessage) -> dict:
    """Describe a message as Twilio's Message resource."""
    uri = f"/{API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}.json"
    created = format_datetime(message.created_at, usegmt=True)
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": created,
        "date_updated": created,
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.sender,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(message.segments),
        "price": None,
        "price_unit": "USD",
        "status": "queued",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": message.to,
        "uri": uri,
    }


@api.post("/Messages.json")
def create_message(account_sid):
    """Accept a message to send, or refuse it as Twilio would."""
    if not _authenticated(account_sid):
        return twilio_error(401, 20003, "Authenticate")
    scenario = state().take_scenario("send")
    if scenario is not None:
        if scenario.outcome == "delay":
            time.sleep(scenario.seconds)
        elif scenario.outcome == "error":
            return twilio_error(500, 20500, "Internal Server Error")
        elif scenario.outcome == "reject":
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
    to = request.form.get("To", "")
    sender = request.form.get("From", "")
    body = request.form.get("Body", "")
    if not E164.fullmatch(to):
        return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if sender != current_app.config["SENDER"]:
        return twilio_error(
            400, 21606, f"The From phone number {sender} is not a valid, SMS-capable number."
        )
    if not body:
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY:
        return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 limit.")
    message = state().accept(account_sid, to, sender, body)
    return jsonify(resource(message)), 201


@api.get("/Messages/<sid>.json")
def fetch_message(account_sid, sid):
    """Return one message."""
    if not _authenticated(account_sid):
        return twilio_error(401, 20003, "Authenticate")
    message = state().find(sid)
    if message is None:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return jsonify(resource(message))


@controls.get("/")
def phone():
    """Show every message, newest first: the customers' phones in a demo."""
    return render_template("sms/index.html", messages=list(reversed(state().messages)))


@controls.get("/messages.json")
def messages_json():
    """Return every message (tests read codes and PINs here)."""
    return jsonify(
        [{"sid": m.sid, "to": m.to, "from": m.sender, "body": m.body} for m in state().messages]
    )


@controls.post("/scenarios")
def add_scenario():
    """Queue a failure: ``{"operation": "send", "outcome": "error"|"delay"|"reject"}``."""
    try:
        state().add_scenario(scenario_from_json(request.get_json(force=True) or {}))
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"ok": True}), 201


@controls.delete("/scenarios")
def clear_scenarios():
    """Drop every queued failure."""
    state().clear_scenarios()
    return jsonify({"ok": True})
