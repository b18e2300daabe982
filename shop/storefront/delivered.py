"""What a fulfilled order delivered (its top-ups, its PINs) and the mail that tells the buyer.

Read by the order pages and the admin; the mail is sent once an order is fulfilled, after the
transaction that fulfilled it (``fulfilment.settle``, the wallet's payment).
"""

from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from shop.cards.models import TopUp
from shop.db import begin_write
from shop.extensions import db
from shop.i18n import data_filter, money_filter
from shop.mail.services import send_mail
from shop.storefront.models import Delivery, Order, PaymentMethod
from shop.storefront.orders import order_link_key
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import format_pin
from shop.vouchers.services import reveal_pin
from shop.wallet import services as wallet_services
from shop.web import absolute_url


def order_topups(order: Order) -> list[TopUp]:
    """Return the top-ups an order applied to its card, oldest first."""
    if order.card_id is None:
        return []
    return list(
        db.session.execute(
            select(TopUp)
            .filter_by(card_id=order.card_id, reference=order.reference)
            .order_by(TopUp.id)
        ).scalars()
    )


def order_vouchers(order: Order) -> list[Voucher]:
    """Return the vouchers issued for an order, in serial order."""
    batch_ids = [line.batch_id for line in order.lines if line.batch_id is not None]
    if not batch_ids:
        return []
    return list(
        db.session.execute(
            select(Voucher).where(Voucher.batch_id.in_(batch_ids)).order_by(Voucher.serial)
        ).scalars()
    )


@dataclass(frozen=True)
class DeliveredVoucher:
    """A voucher of an order with its PIN, for the order page, the e-mail and the PDF."""

    serial: str
    pin: str
    name: str
    data_mb: int
    validity_days: int
    status: VoucherStatus
    expires_at: object


def delivered_vouchers(order: Order) -> list[DeliveredVoucher]:
    """Return the order's vouchers with their PINs decrypted, for the buyer only."""
    return [
        DeliveredVoucher(
            voucher.serial,
            format_pin(reveal_pin(voucher)),
            voucher.product.name,
            voucher.data_mb,
            voucher.validity_days,
            voucher.status,
            voucher.expires_at,
        )
        for voucher in order_vouchers(order)
    ]


def order_url(order: Order) -> str:
    """Return the order's private link, absolute (for the e-mail)."""
    return absolute_url("storefront.order", reference=order.reference, key=order_link_key(order))


def send_delivery_mail(order: Order) -> None:
    """E-mail the buyer what they bought: the PINs, or the card's new balance; and the link."""
    order = db.session.get(Order, order.id)
    locale = order.locale or "en"
    with force_locale(locale):
        lines = [_("Thank you for your order %(reference)s.", reference=order.reference), ""]
        vouchers = delivered_vouchers(order)
        if order.delivery == Delivery.WALLET:
            lines += _wallet_lines(order)
        elif vouchers:
            lines.append(_("Your PINs (each works once; keep them like cash):"))
            for voucher in vouchers:
                lines.append(
                    f"  {voucher.name} · {data_filter(voucher.data_mb)} · "
                    f"{_('PIN')} {voucher.pin} · {_('Serial')} {voucher.serial}"
                )
            lines += ["", _("Redeem a PIN at %(url)s", url=_redeem_url())]
        else:
            lines.append(
                _(
                    "Your card %(card)s has been topped up.",
                    card=order.card.number if order.card else "",
                )
            )
        if order.status_note == "card_fallback":
            lines.append(_("We could not top up the card, so you get PINs instead."))
        lines += [
            "",
            _("Total paid: %(total)s", total=money_filter(order.total, order.currency)),
            _("See your order at any time: %(url)s", url=order_url(order)),
        ]
        if order.payment_method == PaymentMethod.WALLET:
            lines.insert(-1, _("Paid from your wallet."))
        subject = _("Your order %(reference)s", reference=order.reference)
    begin_write(db.session)  # composing read; the outbox row is this use case's only write
    send_mail(
        order.email,
        subject,
        "\n".join(lines),
        kind="order.delivery",
        contains_secrets=bool(vouchers),
    )
    db.session.commit()


def _wallet_lines(order: Order) -> list[str]:
    """Return the receipt's lines about a wallet top-up: what was added, the balance now."""
    wallet = wallet_services.find_wallet(order.user_id, order.currency) if order.user_id else None
    added = order.wallet_topup_total
    lines = [
        _(
            "Your wallet has been topped up with %(amount)s.",
            amount=money_filter(added, order.currency),
        )
    ]
    if wallet is not None:
        lines.append(
            _(
                "Your wallet balance: %(balance)s.",
                balance=money_filter(wallet.balance, order.currency),
            )
        )
    lines.append(_("See your wallet: %(url)s", url=absolute_url("wallet.index")))
    return lines


def _redeem_url() -> str:
    return absolute_url("vouchers.redeem")
