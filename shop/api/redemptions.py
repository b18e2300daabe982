"""``POST /api/v1/redemptions``: apply a voucher PIN to a card."""

from flask import current_app, jsonify

from shop.api import bp
from shop.api.cards import card_json, iso
from shop.api.errors import ApiError
from shop.api.idempotency import idempotent
from shop.api.validation import json_body, required_string
from shop.audit.services import Actor
from shop.cards.numbers import InvalidCardNumber
from shop.cards.services import CardNotFound, CardSuspended
from shop.extensions import rate_limit
from shop.throttle import Throttled
from shop.vouchers import services
from shop.vouchers.messages import REDEMPTION_HTTP_STATUS
from shop.vouchers.pins import InvalidPin
from shop.web import client_ip

#: English messages of the API (the redeem page has translated ones).
API_MESSAGES = {
    "voucher_not_found": "No voucher has this PIN.",
    "voucher_already_redeemed": "This voucher was redeemed already.",
    "voucher_void": "This voucher was voided.",
    "voucher_inactive": "This voucher has not been sold yet.",
    "voucher_expired": "This voucher has expired.",
    "card_not_found": "No card with this number is registered.",
    "card_suspended": "This card is suspended.",
}


def _error(code: str, **kwargs) -> ApiError:
    return ApiError(REDEMPTION_HTTP_STATUS[code], code, API_MESSAGES[code], **kwargs)


def topup_json(topup, sku: str) -> dict:
    """Return the API representation of a top-up."""
    return {
        "id": topup.id,
        "sku": sku,
        "data_mb": topup.data_mb,
        "validity_days": topup.validity_days,
        "expires_at": iso(topup.new_expires_at),
        "created_at": iso(topup.created_at),
        "channel": topup.channel,
    }


@bp.post("/redemptions")
@rate_limit(lambda: current_app.config["REDEEM_REQUESTS_PER_CLIENT"])
@idempotent(lambda: "public")
def create_redemption():
    """Redeem a PIN onto a card."""
    data = json_body()
    pin = required_string(data, "pin", 40)
    card = required_string(data, "card", 40)
    serial = data.get("serial")
    if serial is not None and not isinstance(serial, str):
        raise ApiError(
            422, "invalid_request", "'serial' must be a string.", fields={"serial": "a string"}
        )
    try:
        result = services.redeem_voucher(
            pin,
            card,
            channel="api",
            actor=Actor(label="api", ip_address=client_ip()),
            serial=serial,
        )
    except InvalidPin as exc:
        raise ApiError(
            422, "invalid_pin", f"Not a valid PIN: {exc}.", fields={"pin": str(exc)}
        ) from None
    except InvalidCardNumber as exc:
        raise ApiError(
            422,
            "invalid_card_number",
            f"Not a valid card number: {exc}.",
            fields={"card": str(exc)},
        ) from None
    except Throttled as exc:
        raise ApiError(
            429,
            "rate_limited",
            "Too many failed attempts; try again later.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except CardNotFound:
        raise _error("card_not_found") from None
    except CardSuspended:
        raise _error("card_suspended") from None
    except services.RedemptionError as exc:
        raise _error(exc.code) from None
    body = {
        "topup": topup_json(result.topup, result.sku),
        "card": card_json(result.topup.card),
        "voucher": {"serial": result.serial},
        "delivery": {
            "status": "pending",
            "message": "The pack is being applied on the network; it is usually active within "
            "minutes. GET /api/v1/cards/{number} shows when it is.",
        },
    }
    return jsonify(body), 201
