"""The network's callbacks: ``POST /network/events``, verified over the raw body first."""

import logging

from flask import Blueprint, jsonify, request

from shop.network.events import EventRejected, receive_event

log = logging.getLogger(__name__)

bp = Blueprint("network", __name__)


@bp.route("/network/events", methods=["POST"])
def network_event():
    """Take one signed event: 200 once handled, ignored or seen before; 400 if it fails checks."""
    try:
        result = receive_event(request.headers, request.get_data(cache=False))
    except EventRejected as exc:
        log.warning("network event refused from %s: %s", request.remote_addr, exc)
        return jsonify(error={"code": "event_rejected", "message": str(exc)}), 400
    return jsonify(outcome=result.outcome, id=result.event_id), 200
