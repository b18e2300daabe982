"""What to tell a person (and which HTTP status to answer) when a redemption is refused."""

from flask_babel import lazy_gettext as _l

#: Messages for each redemption error code (the API's codes).
REDEMPTION_MESSAGES = {
    "invalid_pin": _l(
        "This PIN has a typing mistake: a PIN has 16 digits and the last one is a check digit. "
        "Check each digit."
    ),
    "voucher_not_found": _l("No voucher has this PIN. Check the digits and try again."),
    "voucher_already_redeemed": _l(
        "This PIN has been used already: the voucher was redeemed before."
    ),
    "voucher_void": _l("This voucher was cancelled and refunded; it can no longer be used."),
    "voucher_inactive": _l(
        "This voucher has not been sold yet. Ask the shop where you bought it to activate it."
    ),
    "voucher_expired": _l("This PIN has expired and can no longer be redeemed."),
    "card_not_found": _l(
        "No card with this number is registered with us. Check the number on your SIM card."
    ),
    "card_suspended": _l(
        "This card is suspended, so nothing can be added to it. Please contact support."
    ),
    "rate_limited": _l(
        "Too many failed attempts. For your security, wait %(minutes)d minutes and try again."
    ),
}

#: HTTP status of each redemption error code, shared by the redeem page and the API.
REDEMPTION_HTTP_STATUS = {
    "invalid_pin": 422,
    "voucher_not_found": 404,
    "voucher_already_redeemed": 409,
    "voucher_void": 409,
    "voucher_inactive": 409,
    "voucher_expired": 410,
    "card_not_found": 404,
    "card_suspended": 409,
    "rate_limited": 429,
}


def explain_refusal(exc) -> tuple[str, str, int]:
    """Return (form field, translated message, HTTP status) for a refused redemption.

    Shared by the public redeem page and the counter, so both say the same thing.
    """
    from shop.cards.forms import card_number_problem
    from shop.cards.numbers import InvalidCardNumber
    from shop.cards.services import CardNotFound, CardSuspended
    from shop.vouchers.pins import InvalidPin

    if isinstance(exc, InvalidPin):
        return "pin", str(REDEMPTION_MESSAGES["invalid_pin"]), 422
    if isinstance(exc, InvalidCardNumber):
        return "card", card_number_problem(exc), 422
    if isinstance(exc, CardNotFound):
        return "card", str(REDEMPTION_MESSAGES["card_not_found"]), 404
    if isinstance(exc, CardSuspended):
        return "card", str(REDEMPTION_MESSAGES["card_suspended"]), 409
    return "pin", str(REDEMPTION_MESSAGES[exc.code]), REDEMPTION_HTTP_STATUS[exc.code]
