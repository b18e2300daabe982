"""``GET /api/v1/cards/<number>``: a card's figures from the network, and its daily usage."""

from datetime import timedelta

from flask import jsonify

from shop.api import bp
from shop.api.errors import ApiError
from shop.cards import services
from shop.extensions import rate_limit
from shop.network.status import refresh_on_look
from shop.timeutil import utcnow

#: Top-ups listed with their delivery status in a card's answer: at most this many, and only of
#: the last day (a delivery is retried for up to 24 hours). Anyone who knows a card's number may
#: ask, and a phone number is no secret: the full history stays on the owner's card page.
RECENT_TOPUPS = 10
RECENT_TOPUPS_WINDOW = timedelta(hours=24)


def iso(value) -> str | None:
    """Return an ISO 8601 timestamp with offset, or None."""
    return value.isoformat() if value is not None else None


def card_json(card) -> dict:
    """Return the API representation of a card."""
    return {
        "number": card.number,
        "status": card.status.value,
        "data_balance_mb": card.data_balance_mb,
        "expires_at": iso(card.expires_at),
    }


def delivery_json(delivery) -> dict:
    """Return where a top-up's delivery to the network stands."""
    if delivery is None:
        return {"status": "delivered", "delivered_at": None}
    return {"status": delivery.status.value, "delivered_at": iso(delivery.finished_at)}


def card_detail_json(card) -> dict:
    """Return a card with the network's figures and the last day's top-ups' delivery status."""
    return {
        **card_json(card),
        "data_used_mb": card.data_used_mb,
        "as_of": iso(card.network_as_of),
        "topups": [
            {
                "id": topup.id,
                "sku": topup.product.sku,
                "data_mb": topup.data_mb,
                "validity_days": topup.validity_days,
                "created_at": iso(topup.created_at),
                "delivery": delivery_json(topup.delivery),
            }
            for topup in services.top_up_history(card, limit=RECENT_TOPUPS)
            if topup.created_at >= utcnow() - RECENT_TOPUPS_WINDOW
        ],
    }


def _card(number):
    try:
        return services.find_card(number)
    except services.InvalidCardNumber as exc:
        raise ApiError(
            422,
            "invalid_card_number",
            f"Not a valid card number: {exc}.",
            fields={"number": str(exc)},
        ) from None
    except services.CardNotFound:
        raise ApiError(404, "card_not_found", "No card with this number is registered.") from None


@bp.get("/cards/<path:number>/usage")
@rate_limit("60 per minute")
def get_card_usage(number):
    """Return a card's daily data use of the last 30 days (network's figures)."""
    card = _card(number)
    refresh_on_look(None, card)
    card = _card(number)
    return jsonify(
        number=card.number,
        as_of=iso(card.network_as_of),
        days=[
            {"date": day.isoformat(), "used_mb": used} for day, used in services.usage_by_day(card)
        ],
    )


@bp.get("/cards/<path:number>")
@rate_limit("60 per minute")
def get_card(number):
    """Return one card by ICCID or phone number."""
    card = _card(number)
    refresh_on_look(None, card)
    return jsonify(card_detail_json(_card(number)))
