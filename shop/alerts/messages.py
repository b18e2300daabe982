"""What an alert says and where its links lead: texts in the owner's language, signed links.

Each alert is one e-mail and, when a phone number is known, one text message, written to the
outbox in the caller's transaction. They name the card and its figures, link to checkout ready
to top the card up, and link to the page where the owner chooses the alerts (signed, so a buyer
without an account can use it). No alert carries a PIN.
"""

import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from shop.alerts.models import AlertKind
from shop.cards.models import Card
from shop.mail.services import send_mail_and_text
from shop.web import absolute_url

log = logging.getLogger(__name__)


class BadPreferencesLink(ValueError):
    """The link to a card's alert choices was not made by this shop."""


@dataclass(frozen=True)
class Contact:
    """Whom a card's alerts go to, and in which language."""

    owner_key: str
    email: str
    phone: str
    locale: str


def checkout_link(card: Card) -> str:
    """Return the absolute link that opens checkout ready to top up this card."""
    return absolute_url("storefront.checkout", card=card.number)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="card-alerts")


def preferences_token(card_id: int, owner_key: str) -> str:
    """Return the signed token that lets a card's contact choose its alerts without an account."""
    return _serializer().dumps([card_id, owner_key])


def read_preferences_token(token: str) -> tuple[int, str]:
    """Return (card id, owner key) of a token, or raise BadPreferencesLink."""
    try:
        card_id, owner_key = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise BadPreferencesLink(token[:20]) from None
    if not isinstance(card_id, int) or not isinstance(owner_key, str):
        raise BadPreferencesLink(token[:20])
    return card_id, owner_key


def preferences_link(card_id: int, owner_key: str) -> str:
    """Return the absolute link to the page where the contact chooses the card's alerts."""
    return absolute_url("alerts.preferences_by_link", token=preferences_token(card_id, owner_key))


def _facts(card: Card) -> str:
    expires = f"{format_datetime(card.expires_at, 'medium')} UTC" if card.expires_at else "-"
    return _(
        "Data left: %(left)s MB of %(total)s MB. Valid until: %(expires)s.",
        left=card.data_balance_mb,
        total=(card.data_balance_mb or 0) + (card.data_used_mb or 0),
        expires=expires,
    )


def _headline(kind: AlertKind, card: Card, low_data_mb: int) -> str:
    number = card.number
    texts = {
        AlertKind.USAGE_75: _("75%% of the data on card %(number)s is used.", number=number),
        AlertKind.USAGE_90: _("90%% of the data on card %(number)s is used.", number=number),
        AlertKind.LOW_DATA: _(
            "Less than %(mb)d MB of data is left on card %(number)s.",
            mb=low_data_mb,
            number=number,
        ),
        AlertKind.USED_UP: _("The data on card %(number)s is used up.", number=number),
        AlertKind.EXPIRES_3_DAYS: _(
            "The data on card %(number)s stops working within 3 days.", number=number
        ),
        AlertKind.EXPIRES_1_DAY: _(
            "The data on card %(number)s stops working within a day.", number=number
        ),
        AlertKind.EXPIRED: _("The data on card %(number)s has expired.", number=number),
    }
    return texts[kind]


def send_alert(card: Card, kind: AlertKind, contact: Contact, low_data_mb: int) -> None:
    """Write the alert's e-mail and text message to the outbox (the caller commits)."""
    shop = current_app.config["SHOP_NAME"]
    link = checkout_link(card)
    with force_locale(contact.locale):
        headline = _headline(kind, card, low_data_mb)
        subject = _("%(shop)s: %(headline)s", shop=shop, headline=headline)
        body = "\n\n".join(
            (
                headline,
                _facts(card),
                _("Top up now: %(link)s", link=link),
                _(
                    "You get this message because you own or topped up this card. Choose which"
                    " alerts you get: %(link)s",
                    link=preferences_link(card.id, contact.owner_key),
                ),
            )
        )
        text = _("%(shop)s: %(headline)s Top up: %(link)s", shop=shop, headline=headline, link=link)
    send_mail_and_text(
        contact.email,
        contact.phone,
        subject,
        body,
        text,
        kind=f"alert_{kind.value}",
        about=f"card {card.id}",
    )
