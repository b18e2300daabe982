"""What to tell the buyer about each refusal and each order state, translated."""

from flask_babel import lazy_gettext as _l

from shop.i18n import money_filter

PROMOTION_MESSAGES = {
    "unknown": _l("There is no promotion with this code. Check the spelling."),
    "inactive": _l("This promotion code is no longer valid."),
    "not_started": _l("This promotion has not started yet."),
    "expired": _l("This promotion code has expired."),
    "exhausted": _l("This promotion code has been used up."),
    "customer_limit": _l("You have already used this promotion code."),
    "currency": _l("This promotion code is for another currency."),
    "not_applicable": _l("This promotion code does not apply to the packs in your cart."),
    "below_minimum": _l("This promotion code needs an order of at least %(minimum)s."),
}

CHECKOUT_MESSAGES = {
    "empty": _l("Your cart is empty. Add a pack first."),
    "mixed_currency": _l("Packs priced in different currencies cannot be bought in one order."),
    "too_many": _l("At most %(maximum)d packs can be bought in one order."),
    "too_many_lines": _l("A cart holds at most %(maximum)d different packs."),
    "below_minimum": _l("The minimum order total is %(minimum)s."),
    "above_maximum": _l("The maximum order total is %(maximum)s. Split it into several orders."),
    "card_not_found": _l("We do not know this card. Check the number on the SIM card holder."),
    "card_suspended": _l("This card is suspended and cannot be topped up. Contact support."),
    "busy": _l("Something went wrong placing your order. Please try again."),
    "method_currency": _l(
        "Alipay and WeChat Pay take yuan (CNY) only, and these packs are priced in "
        "%(currency)s. Choose PayPal, or packs priced in CNY."
    ),
    "wallet_sign_in": _l("Log in to use your wallet."),
    "wallet_short": _l(
        "Your wallet holds %(balance)s, less than this order's total. Top it up, or choose "
        "another way to pay."
    ),
    "wallet_currency": _l("Choose one of the currencies offered."),
    "wallet_below_minimum": _l("The smallest top-up is %(minimum)s."),
    "wallet_above_maximum": _l("The largest top-up is %(maximum)s."),
    "wallet_topup_method": _l("A top-up is paid with PayPal, Alipay or WeChat Pay."),
}

#: Why an order could not be paid from the wallet (WalletPayRefused.reason -> message).
WALLET_PAY_MESSAGES = {
    "insufficient": _l(
        "Your wallet holds %(balance)s, less than the %(total)s to pay. Nothing was charged."
    ),
    "not_pending": _l("This order is not waiting for a payment."),
    "not_owner": _l("Only the account that placed this order can pay it from its wallet."),
    "topup_order": _l("A wallet top-up cannot be paid from the wallet."),
    "not_wallet_method": _l("This order is paid another way."),
    "code_required": _l("Confirm the one-time code we sent you first."),
}

STATUS_NOTES = {
    "cancelled_by_buyer": _l("You cancelled the payment. Nothing was charged."),
    "cancelled_at_provider": _l("The payment was cancelled at PayPal. Nothing was charged."),
    "declined": _l("The payment was declined. Nothing was charged; try another card or account."),
    "expired_unpaid": _l("This order was not paid in time and has been cancelled."),
    "payment_pending": _l(
        "PayPal is still processing your payment. This page updates when it completes."
    ),
    "card_fallback": _l("We could not top up the card, so you get PINs instead."),
    "refunded": _l("This order was refunded. Its unused PINs no longer work."),
    "partially_refunded": _l(
        "Part of this order was refunded. The PINs it covered no longer work; the others do."
    ),
    "cancelled_at_mobile_pay": _l(
        "The payment was cancelled at Alipay or WeChat Pay. Nothing was charged."
    ),
}

PAYMENT_METHOD_NAMES = {
    "paypal": _l("PayPal"),
    "alipay": _l("Alipay"),
    "wechatpay": _l("WeChat Pay"),
    "wallet": _l("Your wallet"),
}

STATUS_NAMES = {
    "pending": _l("Waiting for payment"),
    "paid": _l("Paid"),
    "fulfilled": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "failed": _l("Payment failed"),
    "refunded": _l("Refunded"),
    "partially_refunded": _l("Partly refunded"),
}

#: A payment attempt's state, for the admin's order page.
PAYMENT_STATE_NAMES = {
    "created": _l("Waiting for the buyer"),
    "approved": _l("Approved by the buyer"),
    "completed": _l("Captured"),
    "pending": _l("Pending at PayPal"),
    "failed": _l("Payment failed"),
    "cancelled": _l("Cancelled"),
    "refunded": _l("Refunded"),
}

#: A refund's status, for the admin's order page.
REFUND_STATUS_NAMES = {
    "requested": _l("Asked of PayPal"),
    "completed": _l("Refunded"),
    "failed": _l("Refused by PayPal"),
}

#: Why a refund was refused, for the admin (RefundRefused.code -> message).
REFUND_MESSAGES = {
    "not_refundable": _l("Only a paid order can be refunded."),
    "amount_invalid": _l("Type an amount above zero, such as 12.50."),
    "amount_exceeds_paid": _l(
        "That is more than what was paid less what was refunded already: at most %(left)s."
    ),
    "voucher_not_refundable": _l("Choose only unredeemed PINs of this order."),
    "vouchers_exceed_refund": _l("The chosen PINs were paid for more than this refund gives back."),
    "provider_refused": _l("%(provider)s refused this refund. Nothing was refunded."),
    "key_invalid": _l("The form has expired; open the order again."),
    "wallet_spent": _l(
        "The customer's wallet holds only %(left)s: a top-up already spent cannot be refunded."
    ),
}


def promotion_message(error, currency: str) -> str:
    """Return the message for a PromotionError."""
    facts = dict(error.facts)
    if "minimum" in facts:
        facts["minimum"] = money_filter(facts["minimum"], currency)
    return str(PROMOTION_MESSAGES.get(error.reason, PROMOTION_MESSAGES["unknown"])) % facts


def checkout_message(error, currency: str = "USD") -> str:
    """Return the message for a CheckoutError or CartError."""
    facts = dict(error.facts)
    money_reasons = (
        "below_minimum",
        "above_maximum",
        "wallet_below_minimum",
        "wallet_above_maximum",
        "wallet_short",
    )
    for name in ("minimum", "maximum", "balance"):
        if name in facts and error.reason in money_reasons:
            facts[name] = money_filter(facts[name], facts.get("currency", currency))
    return str(CHECKOUT_MESSAGES.get(error.reason, CHECKOUT_MESSAGES["busy"])) % facts


def wallet_pay_message(error, currency: str) -> str:
    """Return the message for a WalletPayRefused."""
    facts = dict(error.facts)
    for name in ("balance", "total"):
        if name in facts:
            facts[name] = money_filter(facts[name], currency)
    return str(WALLET_PAY_MESSAGES.get(error.reason, WALLET_PAY_MESSAGES["not_pending"])) % facts
