"""One-time code at payment: which orders ask for one, sending it, and checking what is typed.

An order is assessed when it is placed, against the admin's policy: its total, the customer's
first paid order, a browser the customer never paid from, many orders from one address within an
hour. An order that asks for a code cannot go to the payment provider until the buyer types the
six digits sent to them. A code lives ``PAYMENT_CODE_TTL_SECONDS``; another may be sent after
``PAYMENT_CODE_RESEND_SECONDS``; ``PAYMENT_CODE_MAX_ATTEMPTS`` wrong codes lock the order's
payment for good. Codes are stored only as a keyed hash and never logged; wrong codes also count
per client address in the rate-limit store, reserved before the code is compared.

The code goes by text message to the account's mobile number or to the card being topped up when
it is a phone number, and by e-mail to the order's address when no phone is known.
"""

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.mail.services import send_mail, send_sms
from shop.messaging.phones import is_phone_number
from shop.storefront.models import Order, OrderStatus, PaymentCheck, PaymentCodePolicy
from shop.throttle import FailureLimit
from shop.timeutil import utcnow

#: Reasons an order may ask for a code, in the order they are shown.
REASONS = ("amount", "first_order", "new_device", "address")
#: Orders that count as "paid before" for the first-order and new-device rules.
PAID_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.REFUNDED)
CODE_DIGITS = 6
POLICY_ROW_ID = 1


class PaymentCodeError(Exception):
    """The code cannot be sent or accepted; ``reason`` says why, for the buyer."""

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


@dataclass(frozen=True)
class PolicySettings:
    """The values an admin sets on the policy page."""

    enabled: bool
    amount_threshold: int
    currency: str
    first_order: bool
    new_device: bool
    orders_per_address_per_hour: int


def current_policy() -> PaymentCodePolicy:
    """Return the admin's policy, or (until one is saved) one made of the configured defaults."""
    policy = db.session.get(PaymentCodePolicy, POLICY_ROW_ID)
    if policy is not None:
        return policy
    config = current_app.config
    return PaymentCodePolicy(
        id=POLICY_ROW_ID,
        enabled=config["PAYMENT_CODE_ENABLED"],
        amount_threshold=config["PAYMENT_CODE_AMOUNT_THRESHOLD"],
        currency=config["PAYMENT_CODE_CURRENCY"],
        first_order=config["PAYMENT_CODE_FIRST_ORDER"],
        new_device=config["PAYMENT_CODE_NEW_DEVICE"],
        orders_per_address_per_hour=config["PAYMENT_CODE_ORDERS_PER_ADDRESS_PER_HOUR"],
    )


def update_policy(settings: PolicySettings, actor: Actor) -> PaymentCodePolicy:
    """Save the admin's policy (audited) and commit."""
    if settings.amount_threshold < 0 or settings.orders_per_address_per_hour < 0:
        raise ValueError("thresholds cannot be negative")
    begin_write(db.session)
    try:
        policy = db.session.get(PaymentCodePolicy, POLICY_ROW_ID)
        if policy is None:
            policy = PaymentCodePolicy(id=POLICY_ROW_ID)
            db.session.add(policy)
        for name, value in vars(settings).items():
            setattr(policy, name, value)
        policy.currency = settings.currency.upper()
        policy.updated_at = utcnow()
        policy.updated_by_id = actor.user_id
        record_event(
            "payment_codes.policy_changed",
            actor,
            object_type="payment_code_policy",
            object_id=POLICY_ROW_ID,
            details={name: value for name, value in vars(settings).items()},
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return policy


def device_hash(device_token: str) -> str:
    """Return what is kept of a browser's device cookie: its SHA-256, or empty when none."""
    return hashlib.sha256(device_token.encode("utf-8")).hexdigest() if device_token else ""


def assess(order: Order, *, device_token: str, client_address: str) -> PaymentCheck:
    """Decide whether a new order asks for a code; add the check to the open transaction."""
    policy = current_policy()
    check = PaymentCheck(
        order_id=order.id,
        device_hash=device_hash(device_token),
        client_address=client_address[:45],
        created_at=order.created_at or utcnow(),
    )
    reasons = _reasons(policy, order, check) if policy.enabled else []
    check.reasons = ",".join(reasons)
    if reasons:
        check.channel, check.destination = _destination(order)
    db.session.add(check)
    return check


def _reasons(policy: PaymentCodePolicy, order: Order, check: PaymentCheck) -> list[str]:
    reasons = []
    if policy.amount_threshold and (
        order.currency != policy.currency or order.total >= policy.amount_threshold
    ):
        reasons.append("amount")
    paid_before = select(Order.id).where(
        _same_customer(order), Order.id != order.id, Order.status.in_(PAID_STATUSES)
    )
    has_paid = db.session.execute(paid_before.limit(1)).first() is not None
    if policy.first_order and not has_paid:
        reasons.append("first_order")
    if policy.new_device and has_paid:
        known = db.session.execute(
            select(PaymentCheck.id)
            .where(
                PaymentCheck.order_id.in_(paid_before),
                PaymentCheck.device_hash == check.device_hash,
                PaymentCheck.device_hash != "",
            )
            .limit(1)
        ).first()
        if known is None:
            reasons.append("new_device")
    limit = policy.orders_per_address_per_hour
    if limit and check.client_address:
        since = check.created_at - timedelta(hours=1)
        recent = db.session.execute(
            select(func.count(PaymentCheck.id)).where(
                PaymentCheck.client_address == check.client_address,
                PaymentCheck.created_at >= since,
            )
        ).scalar_one()
        if recent >= limit:
            reasons.append("address")
    return reasons


def _same_customer(order: Order):
    if order.user_id is not None:
        return Order.user_id == order.user_id
    return func.lower(Order.email) == order.email.lower()


def _destination(order: Order) -> tuple[str, str]:
    """Return how and where the code goes.

    By text message to the account's mobile number, else to the card being topped up when that
    card is a phone number; by e-mail to the order's address when no phone is known.
    """
    if order.user is not None and order.user.phone:
        return "sms", order.user.phone
    if order.card is not None and is_phone_number(order.card.number):
        return "sms", order.card.number
    return "email", order.email


def check_of(order: Order) -> PaymentCheck | None:
    """Return the order's assessment (None for orders placed before codes existed)."""
    return db.session.execute(
        select(PaymentCheck).filter_by(order_id=order.id)
    ).scalar_one_or_none()


def payment_allowed(order: Order) -> bool:
    """Return whether the order may go to the payment provider now."""
    check = check_of(order)
    return check is None or not check.required or check.verified_at is not None


def is_locked(check: PaymentCheck) -> bool:
    """Return whether too many wrong codes locked the order's payment."""
    return (
        check.verified_at is None
        and check.failed_attempts >= current_app.config["PAYMENT_CODE_MAX_ATTEMPTS"]
    )


def seconds_until_resend(check: PaymentCheck, now: datetime | None = None) -> int:
    """Return how many seconds the buyer waits before another code may be sent (0: now)."""
    if check.code_sent_at is None:
        return 0
    wait = timedelta(seconds=current_app.config["PAYMENT_CODE_RESEND_SECONDS"])
    left = (check.code_sent_at + wait - (now or utcnow())).total_seconds()
    return max(0, math.ceil(left))


def _code_hash(order: Order, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    message = f"payment-code:{order.reference}:{code}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def send_code(order: Order, actor: Actor, now: datetime | None = None) -> PaymentCheck:
    """Send a new code for the order (the previous one stops working) and commit.

    Raises PaymentCodeError: ``not_required``, ``verified``, ``locked``, ``not_pending``,
    ``too_soon`` (with ``seconds``) or ``too_many_sends``.
    """
    now = now or utcnow()
    config = current_app.config
    begin_write(db.session)
    try:
        check = check_of(order)
        _refuse_unless_waiting(order, check)
        wait = seconds_until_resend(check, now)
        if wait:
            raise PaymentCodeError("too_soon", seconds=wait)
        if check.codes_sent >= config["PAYMENT_CODE_MAX_SENDS"]:
            raise PaymentCodeError("too_many_sends")
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        sent = db.session.execute(
            update(PaymentCheck)
            .where(
                PaymentCheck.id == check.id,
                PaymentCheck.codes_sent == check.codes_sent,
                PaymentCheck.verified_at.is_(None),
            )
            .values(
                code_hash=_code_hash(order, code),
                code_sent_at=now,
                code_expires_at=now + timedelta(seconds=config["PAYMENT_CODE_TTL_SECONDS"]),
                codes_sent=PaymentCheck.codes_sent + 1,
            )
        ).rowcount
        if sent != 1:  # another request sent one at the same moment
            raise PaymentCodeError("too_soon", seconds=config["PAYMENT_CODE_RESEND_SECONDS"])
        _send_code(order, check, code)
        record_event(
            "order.payment_code_sent",
            actor,
            object_type="order",
            object_id=order.reference,
            details={"channel": check.channel, "reasons": check.reasons},
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(check)
    return check


def _refuse_unless_waiting(order: Order, check: PaymentCheck | None) -> None:
    if check is None or not check.required:
        raise PaymentCodeError("not_required")
    if check.verified_at is not None:
        raise PaymentCodeError("verified")
    if order.status != OrderStatus.PENDING:
        raise PaymentCodeError("not_pending")
    if is_locked(check):
        raise PaymentCodeError("locked")


def _send_code(order: Order, check: PaymentCheck, code: str) -> None:
    minutes = current_app.config["PAYMENT_CODE_TTL_SECONDS"] // 60
    shop = current_app.config["SHOP_NAME"]
    if check.channel == "sms":
        with force_locale(order.locale or "en"):
            text = _(
                "%(shop)s: your code for paying order %(reference)s is %(code)s. It works for"
                " %(minutes)d minutes. Never share it.",
                shop=shop,
                reference=order.reference,
                code=code,
                minutes=minutes,
            )
        send_sms(check.destination, text, kind="payment_code")
        return
    with force_locale(order.locale or "en"):
        # The subject is logged when no SMTP server is set: the code stays in the body.
        subject = _("Your %(shop)s payment code", shop=shop)
        body = _(
            "Your one-time code for paying order %(reference)s is %(code)s.\n\n"
            "It works for %(minutes)d minutes. If you did not place this order, ignore this"
            " message: nothing is charged without the code.",
            reference=order.reference,
            code=code,
            minutes=minutes,
        )
    send_mail(check.destination, subject, body, kind="payment_code", contains_secrets=True)


def _client_limit() -> FailureLimit:
    return FailureLimit(
        "payment-code-client", current_app.config["PAYMENT_CODE_FAILURES_PER_CLIENT"]
    )


def verify_code(
    order: Order, code: str, client_address: str, actor: Actor, now: datetime | None = None
) -> PaymentCheck:
    """Accept the code typed for the order, or raise PaymentCodeError (and Throttled).

    ``malformed`` (not six digits) counts nothing; ``wrong`` carries ``remaining`` tries. The
    attempt is counted (per order, and per client address in the rate-limit store) before the
    code is compared, so parallel guesses cannot exceed the limit; a right code gives its count
    back.
    """
    now = now or utcnow()
    code = "".join(code.split())
    if not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
        raise PaymentCodeError("malformed")  # not a guess at the code: nothing is counted
    limit, client_key = _client_limit(), client_address or "unknown"
    begin_write(db.session)
    try:
        check = check_of(order)
        _refuse_unless_waiting(order, check)
        if not check.code_hash or check.code_expires_at is None:
            raise PaymentCodeError("not_sent")
        if check.code_expires_at <= now:
            raise PaymentCodeError("expired")
        maximum = current_app.config["PAYMENT_CODE_MAX_ATTEMPTS"]
        counted = db.session.execute(
            update(PaymentCheck)
            .where(
                PaymentCheck.id == check.id,
                PaymentCheck.failed_attempts < maximum,
                PaymentCheck.verified_at.is_(None),
            )
            .values(failed_attempts=PaymentCheck.failed_attempts + 1)
            .returning(PaymentCheck.failed_attempts)
        ).scalar_one_or_none()
        if counted is None:
            raise PaymentCodeError("locked")
        limit.reserve(client_key)
        if not hmac.compare_digest(_code_hash(order, code), check.code_hash):
            db.session.commit()  # the wrong try stays counted
            remaining = maximum - counted  # this try's own count, whatever others did since
            if remaining == 0:
                record_event(
                    "order.payment_code_locked",
                    actor,
                    object_type="order",
                    object_id=order.reference,
                )
                db.session.commit()
                raise PaymentCodeError("locked")
            raise PaymentCodeError("wrong", remaining=remaining)
        limit.release(client_key)
        db.session.execute(
            update(PaymentCheck)
            .where(PaymentCheck.id == check.id)
            .values(verified_at=now, failed_attempts=PaymentCheck.failed_attempts - 1)
        )
        record_event(
            "order.payment_code_verified",
            actor,
            object_type="order",
            object_id=order.reference,
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(check)
    return check
