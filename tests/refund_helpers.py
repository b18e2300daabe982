"""An admin refunding a storefront order, whichever provider took the payment."""

import threading
from concurrent.futures import ThreadPoolExecutor

from shop.extensions import db
from shop.storefront.models import Refund
from shop.vouchers.models import Voucher, VoucherStatus

#: The refund form's key (one per form shown): the same key never refunds twice.
KEY = "0123456789abcdef"


def refund(client, order, amount, vouchers=(), key=KEY):
    """Send the admin's refund form of ``order`` (an order or its reference)."""
    reference = order if isinstance(order, str) else order.reference
    return client.post(
        f"/admin/orders/{reference}/refund",
        data={"amount": amount, "vouchers": [str(v) for v in vouchers], "refund_key": key},
    )


def send_refund_forms_at_once(app, admin, reference: str, amount: str, count: int = 3) -> list:
    """Send the same refund form from ``count`` signed-in admin browsers at the same moment.

    Return the status of each answer.
    """
    clients = []
    for _ in range(count):
        admin_client = app.test_client()
        admin_client.post("/login", data={"email": admin.email, "password": "correct-horse-9"})
        clients.append(admin_client)
    barrier = threading.Barrier(count)

    def send_form(admin_client):
        barrier.wait()
        return refund(admin_client, reference, amount).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send_form, clients))


def refunds_of(order) -> list[Refund]:
    """Return the order's refunds, oldest first."""
    db.session.rollback()
    return list(
        db.session.execute(db.select(Refund).filter_by(order_id=order.id).order_by(Refund.id))
        .scalars()
        .all()
    )


def voucher_statuses(order) -> dict[str, VoucherStatus]:
    """Return the status of each PIN the order issued, by serial."""
    db.session.rollback()
    batch_ids = [line.batch_id for line in order.lines]
    rows = db.session.execute(
        db.select(Voucher.serial, Voucher.status).where(Voucher.batch_id.in_(batch_ids))
    ).all()
    return dict(rows)
