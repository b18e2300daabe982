"""Sending e-mail: through SMTP when configured, always recorded in the outbox."""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10


def send_mail(
    recipient: str, subject: str, body: str, *, kind: str = "", contains_secrets: bool = False
) -> OutboxMessage:
    """Queue a mail in the outbox and send it now when an SMTP server is configured.

    Without ``MAIL_SERVER`` the message is written to the log instead; a body that
    ``contains_secrets`` (voucher PINs) is never logged, only kept in the outbox.
    """
    message = OutboxMessage(recipient=recipient, subject=subject, body=body, kind=kind)
    db.session.add(message)
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        if contains_secrets:
            log.info("mail (not sent, no MAIL_SERVER) to=%s subject=%r", recipient, subject)
        else:
            log.info(
                "mail (not sent, no MAIL_SERVER) to=%s subject=%r\n%s", recipient, subject, body
            )
        return message
    try:
        _deliver_smtp(config, recipient, subject, body)
    except (OSError, smtplib.SMTPException) as exc:
        message.error = str(exc)[:300]
        log.warning("mail to %s failed: %s", recipient, exc)
    else:
        message.sent_at = utcnow()
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
