"""The simulated network's HTTP API (as the shop's adapter calls it) and its control page.

``/v1/...`` is the provider-shaped API, each call authenticated by the bearer key and an HMAC
signature of its timestamp and body. ``/simulator/...`` is for people and tests: the card
list with a form to add usage by hand, failure switches, and the state of a card.
"""

import time
from datetime import date

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from shop.network.signing import SIGNATURE_HEADER, BadSignature, verify
from simulators.network.state import STATE_KEY, NetworkState, SuspendedCard, UnknownCard
from simulators.scenarios import scenario_from_json

api = Blueprint("network_api", __name__, url_prefix="/v1")
controls = Blueprint("network_controls", __name__, url_prefix="/simulator")


def state() -> NetworkState:
    """Return the simulator's state."""
    return current_app.extensions[STATE_KEY]


def error(status: int, code: str, message: str):
    """Return the API's error answer."""
    return jsonify(error={"code": code, "message": message}), status


@api.before_request
def authenticate():
    """Refuse calls without the shop's key and a valid signature of their body."""
    key = current_app.config["API_KEY"]
    if request.headers.get("Authorization") != f"Bearer {key}":
        return error(401, "unauthorized", "Missing or wrong API key.")
    try:
        verify(key, request.headers.get(SIGNATURE_HEADER), request.get_data(), 300)
    except BadSignature as exc:
        return error(401, "bad_signature", str(exc))
    if state().down:
        return error(503, "network_unavailable", "The network is down (simulated).")
    return None


def _scenario(operation: str):
    """Play the common outcomes of a queued scenario; return it (or None) for the rest."""
    scenario = state().take_scenario(operation)
    if scenario is None:
        return None, None
    if scenario.outcome == "error":
        return scenario, error(503, "network_unavailable", "Simulated outage.")
    if scenario.outcome == "delay":
        time.sleep(scenario.seconds)
    if scenario.outcome == "unknown_card":
        return scenario, error(404, "card_unknown", "The network does not know this card.")
    return scenario, None


@api.post("/topups")
def top_up():
    """Apply a pack to a card, once per transaction id."""
    scenario, refused = _scenario("topup")
    if refused is not None:
        return refused
    body = request.get_json(silent=True) or {}
    package = body.get("package") if isinstance(body.get("package"), dict) else {}
    transaction_id = str(body.get("transaction_id") or request.headers.get("Idempotency-Key", ""))
    try:
        data_mb, days = int(package["data_mb"]), int(package["validity_days"])
        number = str(body["iccid"])
    except (KeyError, TypeError, ValueError):
        return error(422, "invalid_request", "iccid and package.data_mb/validity_days needed.")
    if not transaction_id or data_mb < 0 or days < 1:
        return error(422, "invalid_request", "A transaction id and a valid package are needed.")
    time.sleep(current_app.config["APPLY_DELAY"])
    try:
        pack, new = state().apply_pack(
            transaction_id, number, str(package.get("sku", "")), data_mb, days
        )
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")
    except SuspendedCard:
        return error(409, "card_suspended", "The card is suspended on the network.")
    if scenario is not None and scenario.outcome == "timeout_after_apply":
        time.sleep(scenario.seconds)  # applied; the answer comes too late for the shop
    card = state().card(pack.iccid)
    answer = {
        "transaction_id": pack.transaction_id,
        "reference": pack.reference,
        "status": "applied",
        "applied_at": pack.applied_at.isoformat(),
        "card": card.as_json(),
    }
    return jsonify(answer), 201 if new else 200


@api.get("/topups/<transaction_id>")
def get_top_up(transaction_id):
    """Return a pack applied under a transaction id."""
    pack = state().packs.get(transaction_id)
    if pack is None:
        return error(404, "not_found", "No top-up with this transaction id.")
    return jsonify(
        transaction_id=pack.transaction_id,
        reference=pack.reference,
        iccid=pack.iccid,
        status="applied",
    )


@api.get("/cards/<path:number>/usage")
def card_usage(number):
    """Return a card's daily usage records."""
    _scenario_outcome, refused = _scenario("usage")
    if refused is not None:
        return refused
    days = request.args.get("days", "30")
    if not days.isdigit() or not 1 <= int(days) <= 90:
        return error(422, "invalid_request", "days must be from 1 to 90.")
    try:
        records = state().usage(number, int(days))
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")
    return jsonify(iccid=number, records=records)


@api.get("/cards/<path:number>")
def card_status(number):
    """Return a card's total, used and remaining data, expiry and status."""
    _scenario_outcome, refused = _scenario("card")
    if refused is not None:
        return refused
    try:
        return jsonify(state().card(number).as_json())
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")


@controls.get("/")
def index():
    """Show the cards on the network, with a form to add usage by hand."""
    network = state()
    with network.lock:
        cards = sorted(network.cards.values(), key=lambda card: card.number)
        rows = [(card, card.as_json(), len(network.packs_of(card.number))) for card in cards]
    return render_template(
        "network/index.html",
        rows=rows,
        down=network.down,
        rate=current_app.config["USAGE_MB_PER_MINUTE"],
    )


def _json_or_form() -> dict:
    return request.get_json(silent=True) or request.form.to_dict()


@controls.post("/cards")
def add_card():
    """Put a card on the network."""
    data = _json_or_form()
    number = str(data.get("number", "")).strip()
    if not number:
        return error(422, "invalid_request", "number is needed.")
    card = state().add_card(number, suspended=bool(data.get("suspended")))
    return jsonify(card.as_json()), 201


@controls.get("/cards/<path:number>")
def show_card(number):
    """Return a card and the packs applied to it (tests look here)."""
    try:
        card = state().card(number)
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")
    packs = [
        {"transaction_id": pack.transaction_id, "reference": pack.reference, "sku": pack.sku}
        for pack in state().packs_of(number)
    ]
    return jsonify(card=card.as_json(), packs=packs)


@controls.post("/cards/<path:number>/usage")
def add_usage(number):
    """Count data used by a card: JSON ``{"mb": 250, "date": "2026-12-01"}`` or the page's form."""
    data = _json_or_form()
    try:
        megabytes = float(data.get("mb", ""))
        day = date.fromisoformat(data["date"]) if data.get("date") else None
        state().use_data(number, megabytes, day)
    except (TypeError, ValueError):
        return error(422, "invalid_request", "mb must be a number, date YYYY-MM-DD.")
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")
    if request.is_json:
        return jsonify(state().card(number).as_json())
    return redirect(url_for("network_controls.index"))


@controls.post("/cards/<path:number>/suspend")
def suspend(number):
    """Suspend a card on the network (it reports it to the shop)."""
    try:
        card = state().suspend(number)
    except UnknownCard:
        return error(404, "card_unknown", "The network does not know this card.")
    if request.is_json:
        return jsonify(card.as_json())
    return redirect(url_for("network_controls.index"))


@controls.post("/network")
def set_network():
    """Take the whole network down (``{"down": true}``) or bring it back."""
    data = _json_or_form()
    state().down = str(data.get("down", "")).lower() in ("1", "true", "on", "yes")
    if request.is_json:
        return jsonify(down=state().down)
    return redirect(url_for("network_controls.index"))


@controls.post("/scenarios")
def add_scenario():
    """Queue a failure scenario for the next calls (see ``NetworkState.OUTCOMES``)."""
    try:
        state().add_scenario(scenario_from_json(request.get_json(silent=True) or {}))
    except (TypeError, ValueError) as exc:
        return error(422, "invalid_scenario", str(exc))
    return jsonify(scenarios=len(state().scenarios)), 201


@controls.delete("/scenarios")
def clear_scenarios():
    """Drop every queued scenario."""
    state().clear_scenarios()
    return jsonify(scenarios=0)
