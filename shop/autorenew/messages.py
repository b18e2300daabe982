"""What auto-renew tells a card's owner: the receipt of a renewal, or why it did not happen.

Each is one e-mail and, when the owner gave a mobile number, one text message, written to the
outbox in the renewal's transaction (they exist if and only if what they tell happened), in the
owner's language. A failure carries the one-click ways out: top the wallet up by the missing
amount, or buy the pack for this card at checkout. No message carries a PIN.
"""

import logging

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.autorenew.models import RenewalOutcome, RenewalTrigger
from shop.mail.services import send_mail_and_text
from shop.money import format_money
from shop.web import absolute_url

log = logging.getLogger(__name__)

#: Why a renewal charged nothing (``Renewal.reason``), in the shop's words.
REASONS = {
    "wallet_short": _l("The wallet held less than the pack's price."),
    "monthly_cap": _l("The rule renewed as often this month as its monthly limit allows."),
    "card_suspended": _l("The card is suspended."),
    "pack_not_sold": _l("The pack is no longer sold. Choose another pack."),
}

#: Each trigger in words.
TRIGGERS = {
    RenewalTrigger.EXPIRING: _l("When the data expires within 24 hours"),
    RenewalTrigger.USED_UP: _l("When the data is used up"),
    RenewalTrigger.LOW_DATA: _l("When less data is left than a chosen amount"),
}

#: Each outcome in words.
OUTCOMES = {
    RenewalOutcome.RENEWED: _l("Renewed"),
    RenewalOutcome.INSUFFICIENT_FUNDS: _l("Not enough money in the wallet"),
    RenewalOutcome.CAP_REACHED: _l("Monthly limit reached"),
    RenewalOutcome.FAILED: _l("Failed"),
}


def reason_text(reason: str) -> str:
    """Return a failure's reason in the current language (the code itself if unknown)."""
    text = REASONS.get(reason)
    return str(text) if text is not None else reason


def wallet_topup_link(currency: str, amount: int) -> str:
    """Return the absolute link that opens the wallet's top-up with ``amount`` in ``currency``."""
    return absolute_url("wallet.topup", currency=currency, amount=amount)


def checkout_link(card) -> str:
    """Return the absolute link that opens checkout ready to top up this card."""
    return absolute_url("storefront.checkout", card=card.number)


def manage_link(card) -> str:
    """Return the absolute link to the owner's auto-renew page of the card."""
    return absolute_url("autorenew.card", card_id=card.id)


def _send(user, card, subject: str, body: str, text: str, kind: str) -> None:
    send_mail_and_text(
        user.email, user.phone, subject, body, text, kind=kind, about=f"card {card.id}"
    )


def send_receipt(rule, card, product, applied, balance: int) -> None:
    """Write the receipt of a renewal to the outbox (the caller commits)."""
    user = rule.user
    shop = current_app.config["SHOP_NAME"]
    locale = user.preferred_locale or "en"
    with force_locale(locale):
        amount = format_money(product.price, product.currency, locale)
        left = format_money(balance, product.currency, locale)
        headline = _(
            "Card %(number)s renewed with %(pack)s.", number=card.number, pack=product.name
        )
        body = "\n\n".join(
            (
                headline,
                _(
                    "%(amount)s was paid from your wallet, which now holds %(left)s.",
                    amount=amount,
                    left=left,
                ),
                _(
                    "The card now has %(mb)d MB, valid until %(until)s UTC.",
                    mb=applied.card.data_balance_mb,
                    until=applied.new_expires_at.strftime("%Y-%m-%d %H:%M"),
                ),
                _("Manage auto-renew: %(link)s", link=manage_link(card)),
            )
        )
        subject = _("%(shop)s: %(headline)s", shop=shop, headline=headline)
        text = _(
            "%(shop)s: %(pack)s added to card %(number)s, %(amount)s paid from your wallet.",
            shop=shop,
            pack=product.name,
            number=card.number,
            amount=amount,
        )
    _send(user, card, subject, body, text, "autorenew_receipt")


def _failure_headline(outcome, reason, card, product, balance, locale) -> str:
    if outcome == RenewalOutcome.INSUFFICIENT_FUNDS:
        return _(
            "Auto-renew could not buy %(pack)s for card %(number)s: your wallet holds %(held)s"
            " of the %(price)s it costs.",
            pack=product.name,
            number=card.number,
            held=format_money(balance, product.currency, locale),
            price=format_money(product.price, product.currency, locale),
        )
    if outcome == RenewalOutcome.CAP_REACHED:
        return _(
            "Auto-renew did not renew card %(number)s: it renewed as often this month as your"
            " monthly limit allows.",
            number=card.number,
        )
    if reason == "card_suspended":
        return _("Auto-renew could not renew card %(number)s: it is suspended.", number=card.number)
    return _(
        "Auto-renew could not renew card %(number)s: %(pack)s is no longer sold. Choose another"
        " pack.",
        number=card.number,
        pack=product.name,
    )


def send_failure(rule, card, outcome: RenewalOutcome, reason: str, balance: int) -> None:
    """Tell the owner why nothing was renewed, with the ways out (the caller commits)."""
    user = rule.user
    product = rule.product
    shop = current_app.config["SHOP_NAME"]
    locale = user.preferred_locale or "en"
    missing = product.price - balance if product.price > balance else product.price
    topup = wallet_topup_link(product.currency, missing)
    buy = checkout_link(card)
    with force_locale(locale):
        headline = _failure_headline(outcome, reason, card, product, balance, locale)
        subject = _("%(shop)s: %(headline)s", shop=shop, headline=headline)
        body = "\n\n".join(
            (
                headline,
                _("Nothing was charged."),
                _("Top up your wallet: %(link)s", link=topup),
                _("Or buy a pack for this card now: %(link)s", link=buy),
                _("Manage auto-renew: %(link)s", link=manage_link(card)),
            )
        )
        text = _(
            "%(shop)s: %(headline)s Top up your wallet: %(link)s",
            shop=shop,
            headline=headline,
            link=topup,
        )
    _send(user, card, subject, body, text, f"autorenew_{outcome.value}")
