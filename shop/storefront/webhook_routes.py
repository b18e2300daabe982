"""The payment provider's webhook: verified over the raw body before anything else happens."""

import logging

from flask import Blueprint, jsonify, request

from shop.payments.gateway import GatewayUnavailable, UnsupportedWebhookEvent, WebhookRejected
from shop.storefront import fulfilment, payment_flow

log = logging.getLogger(__name__)

bp = Blueprint("payment_webhooks", __name__)


@bp.route("/payments/paypal/webhook", methods=["POST"])
def paypal_webhook():
    """Receive a PayPal event. 200 once handled (or already handled); 400 if it does not verify."""
    raw_body = request.get_data(cache=False)
    try:
        # Werkzeug's headers look names up case-insensitively, as HTTP wants.
        outcome = payment_flow.receive_webhook(request.headers, raw_body)
    except UnsupportedWebhookEvent as exc:  # genuine, but nothing the shop acts on
        log.info("webhook %s (%s) ignored", exc.event_id, exc.event_type)
        return jsonify(outcome="ignored"), 200
    except GatewayUnavailable:  # PayPal could not confirm it now: it delivers again later
        log.warning("webhook not confirmed: PayPal did not answer")
        return jsonify(error={"code": "provider_unavailable", "message": "try again"}), 503
    except WebhookRejected as exc:
        log.warning("webhook refused from %s: %s", request.remote_addr, exc)
        return jsonify(error={"code": "webhook_rejected", "message": str(exc)}), 400
    except fulfilment.AmountMismatch as exc:
        log.error("webhook refused: amount does not match the order: %s", exc)
        return jsonify(error={"code": "amount_mismatch", "message": str(exc)}), 422
    return jsonify(outcome=outcome), 200
