"""Telling the operator when a provider reports a payment that does not fit its order.

A payment whose amount or currency is not the order's is refused (nothing is fulfilled); the
admins must look at it, because money may have moved: an error in the log, an audit event and
an e-mail to every active admin, in one transaction of their own. The provider retries a
refused notification for hours: the same report again is logged, not mailed again.
"""

import logging

from sqlalchemy import select

from shop.audit.models import AuditEvent
from shop.audit.services import Actor, record_event
from shop.auth.models import Role, User
from shop.db import begin_write
from shop.extensions import db
from shop.mail.services import send_mail
from shop.payments.gateway import PaymentStatus
from shop.storefront.models import Order

log = logging.getLogger(__name__)


def alert_amount_mismatch(
    provider: str, status: PaymentStatus, order_id: int, problem: str, source: str
) -> None:
    """Log, audit and e-mail the admins that ``status`` does not fit order ``order_id``."""
    order = db.session.get(Order, order_id)
    reference = order.reference if order is not None else str(order_id)
    log.error(
        "payment %s at %s for order %s refused (%s): %s",
        status.provider_payment_id,
        provider,
        reference,
        source,
        problem,
    )
    details = {
        "provider": provider,
        "payment": status.provider_payment_id,
        "trade": status.sale_id,
        "amount": status.amount,
        "currency": status.currency,
    }
    if _reported_before(reference, details):
        return
    begin_write(db.session)
    try:
        record_event(
            "order.amount_mismatch",
            Actor.system(f"payment:{provider}"),
            object_type="order",
            object_id=reference,
            details={**details, "problem": problem[:200], "via": source},
        )
        admins = db.session.execute(
            select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))
        ).scalars()
        body = (
            f"{provider} reports payment {status.provider_payment_id} (trade {status.sale_id}) "
            f"for order {reference}: {problem}.\n"
            f"The order was not fulfilled. Check the payment at {provider} and refund or "
            f"settle it by hand.\n"
        )
        for email in admins:
            send_mail(email, f"Payment does not match order {reference}", body, kind="alert")
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def _reported_before(reference: str, details: dict) -> bool:
    """Tell whether the admins were already told of this very payment report."""
    earlier = db.session.execute(
        select(AuditEvent.details).filter_by(
            action="order.amount_mismatch", object_type="order", object_id=reference
        )
    ).scalars()
    return any(all(event.get(key) == value for key, value in details.items()) for event in earlier)
