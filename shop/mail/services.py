"""Sending e-mail and text messages: written to the outbox with the use case, sent by a worker.

``send_mail`` only adds the outbox row to the caller's transaction: a mail exists if and only
if what it tells happened, and no request waits for an SMTP server. A job worker delivers it
(``deliver_message``): it first claims the row by a conditional update, so a mail whose task
runs twice is sent once; a failure schedules the next attempt after ``RETRY_DELAYS`` and, once
they are used up, leaves the mail failed for an admin to resend.

Without ``MAIL_SERVER`` a mail is kept in the outbox as unsent and written to the log instead;
a body that ``contains_secrets`` (voucher PINs) is never logged. Text messages (``send_sms``)
take the same road to the SMS provider (``shop.messaging``), which always has a destination (the
local simulator unless configured otherwise), and no text message body is ever logged.
"""

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import update

from shop.audit.services import Actor, record_event
from shop.extensions import db
from shop.mail.models import Channel, OutboxMessage, OutboxStatus
from shop.messaging import get_sms_gateway
from shop.messaging.gateway import SmsRejected, SmsUnavailable
from shop.messaging.phones import InvalidPhone, normalise_phone
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10
#: Pauses before the second, third, ... attempt; after the last one fails the mail is failed.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: Errors the shop itself records (the page of jobs shows them translated).
WORKER_DIED = "The worker stopped while sending: the mail may or may not have gone out."
NO_MAIL_SERVER = "No MAIL_SERVER is configured."


class MessageNotResendable(Exception):
    """Only a failed mail can be sent again."""


def send_mail(
    recipient: str, subject: str, body: str, *, kind: str = "", contains_secrets: bool = False
) -> OutboxMessage:
    """Add a mail to the outbox in the caller's transaction; a job worker sends it after commit.

    Without ``MAIL_SERVER`` the message is kept as unsent and written to the log instead; a
    body that ``contains_secrets`` (voucher PINs) is never logged, only kept in the outbox.
    """
    message = OutboxMessage(
        recipient=recipient,
        subject=subject,
        body=body,
        kind=kind,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    if not current_app.config.get("MAIL_SERVER"):
        message.status = OutboxStatus.UNSENT
        message.next_attempt_at = None
        if contains_secrets:
            log.info("mail (not sent, no MAIL_SERVER) to=%s subject=%r", recipient, subject)
        else:
            log.info(
                "mail (not sent, no MAIL_SERVER) to=%s subject=%r\n%s", recipient, subject, body
            )
    db.session.add(message)
    return message


def send_sms(phone: str, body: str, *, kind: str = "") -> OutboxMessage:
    """Add a text message to the outbox in the caller's transaction; a worker sends it.

    ``phone`` is normalised to E.164 (raises ``InvalidPhone``). The body is never logged: text
    messages carry codes and PINs.
    """
    message = OutboxMessage(
        channel=Channel.SMS,
        recipient=normalise_phone(phone),
        subject="",
        body=body,
        kind=kind,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def send_mail_and_text(
    email: str, phone: str, subject: str, body: str, text: str, *, kind: str, about: str = ""
) -> None:
    """Tell someone by e-mail and, when a mobile number is known, by text message.

    Either address may be empty. A number that is not a valid mobile number skips the text
    message (logged with ``about``, "card 12" say), never the e-mail. In the caller's
    transaction, like both senders.
    """
    if email:
        send_mail(email, subject[:200], body, kind=kind)
    if phone:
        try:
            send_sms(phone, text, kind=kind)
        except InvalidPhone:
            log.warning("%s %s: text message not sent, the phone number is not valid", kind, about)


def _claim(message_id: int, now: datetime) -> bool:
    """Take a due mail for this worker (one conditional update) and commit."""
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.RETRY)),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def deliver_message(message_id: int) -> OutboxMessage | None:
    """Send one due mail through SMTP and commit its outcome; None if it was not this run's.

    A mail that is not pending or due (sent already, claimed by another run, retried later)
    is left alone: that is what makes a task delivered twice send one mail.
    """
    now = utcnow()
    if not _claim(message_id, now):
        return None
    message = db.session.get(OutboxMessage, message_id)
    config = current_app.config
    values: dict = {"claimed_at": None}
    if message.channel == Channel.SMS:
        values |= _deliver_sms(message)
    elif not config.get("MAIL_SERVER"):
        values |= {"status": OutboxStatus.UNSENT, "error": NO_MAIL_SERVER}
    else:
        try:
            _deliver_smtp(config, message.recipient, message.subject, message.body)
        except (OSError, smtplib.SMTPException) as exc:
            values |= _failure(message.attempts, str(exc) or exc.__class__.__name__)
            log.warning(
                "mail %s to %s failed (attempt %d): %s",
                message.id,
                message.recipient,
                message.attempts,
                exc,
            )
        else:
            values |= {"status": OutboxStatus.SENT, "sent_at": utcnow(), "error": ""}
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(message)
    return message


def _deliver_sms(message: OutboxMessage) -> dict:
    """Hand a text message to the SMS provider; return the outbox row's new values."""
    try:
        provider_id = get_sms_gateway().send(message.recipient, message.body)
    except SmsUnavailable as exc:
        log.warning("sms %s failed (attempt %d): %s", message.id, message.attempts, exc)
        return _failure(message.attempts, str(exc))
    except SmsRejected as exc:
        log.warning("sms %s refused: %s", message.id, exc)
        return {"status": OutboxStatus.FAILED, "error": str(exc)[:300]}
    return {
        "status": OutboxStatus.SENT,
        "sent_at": utcnow(),
        "error": "",
        "provider_id": provider_id,
    }


def _failure(attempts: int, error: str) -> dict:
    if attempts >= MAX_ATTEMPTS:
        return {"status": OutboxStatus.FAILED, "error": error[:300]}
    return {
        "status": OutboxStatus.RETRY,
        "error": error[:300],
        "next_attempt_at": utcnow() + RETRY_DELAYS[attempts - 1],
    }


def due_message_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Return mails waiting to be sent whose time has come, oldest first."""
    now = now or utcnow()
    return list(
        db.session.execute(
            db.select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.RETRY)),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        ).scalars()
    )


def fail_abandoned_sends(stale_before: datetime) -> list[int]:
    """Fail mails whose worker died mid-send (claimed before ``stale_before``) and commit.

    They are not sent again by themselves: the server may have accepted them already, and a
    mail goes out at most once. The admin sees them failed and may resend.
    """
    abandoned = list(
        db.session.execute(
            db.select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at < stale_before,
            )
        ).scalars()
    )
    if abandoned:
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(abandoned),
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at < stale_before,
            )
            .values(status=OutboxStatus.FAILED, error=WORKER_DIED, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return abandoned


def resend_message(message_id: int, actor: Actor) -> OutboxMessage:
    """Queue a failed mail again with fresh attempts and commit (audited)."""
    resent = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not resent:
        db.session.rollback()
        raise MessageNotResendable(str(message_id))
    record_event("mail.resent", actor, object_type="mail", object_id=message_id)
    db.session.commit()
    message = db.session.get(OutboxMessage, message_id)
    db.session.refresh(message)
    return message


def _deliver_smtp(config, recipient: str, subject: str, body: str) -> None:
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = recipient
    email["Subject"] = subject
    email.set_content(body)
    with smtplib.SMTP(
        config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT_SECONDS
    ) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)
