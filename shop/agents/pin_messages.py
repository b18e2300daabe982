"""Counter staff send a sold voucher's PIN to the customer's phone by text message.

The PIN goes into the outbox (sent by a job worker, never logged); the audit log records who
sent which voucher to which number, never the PIN. A voucher's PIN can be sent a few times at
most (a customer who mistyped their number), and only while it can still be redeemed.
"""

from flask_babel import gettext as _
from sqlalchemy import func, select

from shop.audit.models import AuditEvent
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.mail.services import send_sms
from shop.messaging.phones import normalise_phone
from shop.vouchers import services as voucher_services
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import format_pin

#: How often one voucher's PIN may be sent.
MAX_SENDS_PER_VOUCHER = 3
SENT_EVENT = "voucher.pin_sent"


class PinNotSendable(Exception):
    """The voucher is not this agent's, not redeemable any more, or was sent too often."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def send_pin_by_sms(agent_id: int, serial: str, phone: str, actor: Actor) -> str:
    """Queue a text message with the voucher's PIN to ``phone`` and commit; return the number.

    Raises ``InvalidPhone`` or PinNotSendable (``not_found``, ``not_active``, ``too_often``).
    """
    number = normalise_phone(phone)
    begin_write(db.session)
    try:
        voucher = voucher_services.get_voucher_by_serial(serial, agent_id=agent_id)
        if voucher is None:
            raise PinNotSendable("not_found")
        if voucher.status != VoucherStatus.ACTIVE:
            raise PinNotSendable("not_active")
        if _times_sent(voucher) >= MAX_SENDS_PER_VOUCHER:
            raise PinNotSendable("too_often")
        send_sms(number, _message(voucher), kind="voucher_pin")
        record_event(
            SENT_EVENT,
            actor,
            object_type="voucher",
            object_id=voucher.serial,
            agent_id=voucher.agent_id,
            details={"phone": number, "channel": "sms"},
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return number


def _times_sent(voucher: Voucher) -> int:
    return db.session.execute(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == SENT_EVENT,
            AuditEvent.object_type == "voucher",
            AuditEvent.object_id == voucher.serial,
        )
    ).scalar_one()


def _message(voucher: Voucher) -> str:
    return _(
        "Your %(pack)s PIN: %(pin)s (serial %(serial)s). Redeem it before %(date)s.",
        pack=voucher.product.name,
        pin=format_pin(voucher_services.reveal_pin(voucher)),
        serial=voucher.serial,
        date=voucher.expires_at.date().isoformat(),
    )
