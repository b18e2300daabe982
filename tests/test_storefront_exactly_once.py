"""Invariant 4: a paid order is fulfilled exactly once.

However often the buyer's return page is reloaded and the webhook redelivered, and whichever
of them (or ``orders reconcile``) arrives first after a crash between PayPal's execute and the
shop marking the order paid, one set of vouchers is issued and one fulfilment is recorded.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront import fulfilment, payment_flow
from shop.storefront.models import OrderStatus, PaymentRecordState, WebhookEvent
from shop.vouchers.models import Voucher
from simulators.paypal import PayPalSimulator
from tests.factories import make_product
from tests.storefront_helpers import (
    add_to_cart,
    approve,
    order_by_path,
    path_of,
    payment_of,
    place_order,
    post_webhook,
    signed_webhook,
    start_payment,
)

RELOADS = 5
DELIVERIES = 3


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None
        yield server


@pytest.fixture
def app_config(simulator):
    return {
        **simulator.shop_config(),
        "PAYPAL_TIMEOUT_SECONDS": 5.0,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


def approved_order(client, quantity=2):
    """An order approved at PayPal whose buyer has not come back yet."""
    pack = make_product(price=1200)
    add_to_cart(client, pack.sku, quantity)
    order_path = place_order(client)
    return_url = approve(start_payment(client, order_path))
    return order_path, path_of(return_url)


def fulfilments(reference: str) -> int:
    db.session.rollback()
    return db.session.execute(
        db.select(db.func.count(AuditEvent.id)).filter_by(
            action="order.fulfilled", object_id=reference
        )
    ).scalar_one()


def voucher_count() -> int:
    return db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one()


def test_reloads_and_redelivered_webhooks_at_once_fulfil_one_time(app, client, simulator):
    order_path, return_path = approved_order(client, quantity=2)
    order = order_by_path(order_path)
    payment_id = payment_of(order).provider_payment_id
    # PayPal executes first here so that a completed webhook exists to be delivered.
    headers, body = signed_webhook_after_execute(app, simulator, order, payment_id)

    barrier = threading.Barrier(RELOADS + DELIVERIES)

    def reload_return(_):
        barrier.wait()
        return app.test_client().get(return_path).status_code

    def deliver(_):
        barrier.wait()
        return post_webhook(app.test_client(), headers, body).status_code

    with ThreadPoolExecutor(max_workers=RELOADS + DELIVERIES) as pool:
        returns = [pool.submit(reload_return, i) for i in range(RELOADS)]
        hooks = [pool.submit(deliver, i) for i in range(DELIVERIES)]
        return_codes = [f.result() for f in returns]
        hook_codes = [f.result() for f in hooks]

    assert return_codes == [303] * RELOADS
    assert hook_codes == [200] * DELIVERIES
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert voucher_count() == 2
    assert fulfilments(order.reference) == 1
    assert db.session.execute(db.select(db.func.count(WebhookEvent.id))).scalar_one() <= 1
    assert db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one() == 1


def signed_webhook_after_execute(app, simulator, order, payment_id):
    """Execute at PayPal without the shop hearing of it (a lost answer), then sign the event."""
    from shop.payments import get_gateway

    payer_id = simulator.state.order(payment_id).payer_id
    status = get_gateway().execute_payment(payment_id, payer_id, order.reference)
    assert status.state.value == "completed"
    return signed_webhook(simulator, payment_id)


class Killed(BaseException):
    """The worker process dies: nothing after this point runs."""


def crash_after_execute(app, monkeypatch, order_path, return_path):
    """Run the return until PayPal has executed, then die before the order is marked paid."""

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(fulfilment, "settle", die)
    with pytest.raises(Killed):
        app.test_client().get(return_path)
    monkeypatch.undo()
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING
    assert voucher_count() == 0
    return order


@pytest.mark.parametrize("recovery", ["return", "webhook", "reconcile"])
def test_a_crash_after_execute_is_completed_once_by_the_next_signal(
    app, client, simulator, monkeypatch, runner, recovery
):
    order_path, return_path = approved_order(client, quantity=3)
    order = crash_after_execute(app, monkeypatch, order_path, return_path)
    payment_id = payment_of(order).provider_payment_id
    assert simulator.state.order(payment_id).capture["status"] == "COMPLETED"  # money taken

    if recovery == "return":
        assert client.get(return_path).status_code == 303
        assert client.get(return_path).status_code == 303
    elif recovery == "webhook":
        headers, body = signed_webhook(simulator, payment_id)
        assert post_webhook(client, headers, body).status_code == 200
        assert post_webhook(client, headers, body).status_code == 200
    else:
        result = runner.invoke(args=["orders", "reconcile"])
        assert result.exit_code == 0, result.output
        assert "fulfilled 1" in result.output
        again = runner.invoke(args=["orders", "reconcile"])
        assert "fulfilled 0" in again.output

    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    assert payment_of(order).state == PaymentRecordState.COMPLETED
    assert voucher_count() == 3
    assert fulfilments(order.reference) == 1
    # And every later signal changes nothing.
    client.get(return_path)
    headers, body = signed_webhook(simulator, payment_id)
    post_webhook(client, headers, body)
    runner.invoke(args=["orders", "reconcile"])
    assert voucher_count() == 3
    assert fulfilments(order.reference) == 1


def test_settle_twice_in_a_row_fulfils_once(app, client, simulator):
    order_path, return_path = approved_order(client, quantity=1)
    client.get(return_path)
    order = order_by_path(order_path)
    payment = payment_of(order)
    from shop.payments.gateway import PaymentState, PaymentStatus

    status = PaymentStatus(
        payment.provider_payment_id, PaymentState.COMPLETED, order.total, "USD", payment.sale_id
    )
    again = fulfilment.settle("paypal", status, source="test")
    assert again.fulfilled_now is False
    assert voucher_count() == 1
    assert (
        payment_flow.complete_return(order, payment.provider_payment_id, "X").fulfilled_now is False
    )
