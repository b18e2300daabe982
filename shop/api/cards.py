"""``GET /api/v1/cards/<number>``: a card's status, balance and expiry."""

from flask import jsonify

from shop.api import bp
from shop.api.errors import ApiError
from shop.cards import services
from shop.extensions import rate_limit


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


@bp.get("/cards/<path:number>")
@rate_limit("60 per minute")
def get_card(number):
    """Return one card by ICCID or phone number."""
    try:
        card = services.find_card(number)
    except services.InvalidCardNumber as exc:
        raise ApiError(
            422,
            "invalid_card_number",
            f"Not a valid card number: {exc}.",
            fields={"number": str(exc)},
        ) from None
    except services.CardNotFound:
        raise ApiError(404, "card_not_found", "No card with this number is registered.") from None
    return jsonify(card_json(card))
