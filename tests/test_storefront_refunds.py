"""Partial refunds: recorded once per refund, void only the PINs they cover, never beyond the paid.

The admin refunds from the order's admin page through the real SDK and the PayPal simulator;
refunds made at PayPal itself arrive as PAYMENT.CAPTURE.REFUNDED webhooks.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shop.extensions import db
from shop.storefront.models import OrderStatus, RefundStatus
from shop.vouchers.models import Voucher, VoucherStatus
from simulators.paypal import PayPalSimulator
from tests.factories import make_product
from tests.refund_helpers import (
    refund,
    refunds_of,
    send_refund_forms_at_once,
    voucher_statuses,
)
from tests.storefront_helpers import (
    add_to_cart,
    buy,
    order_by_path,
    payment_of,
    post_webhook,
    signed_webhook,
)


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None
        yield server


@pytest.fixture
def app_config(simulator):
    return {**simulator.shop_config(), "PAYPAL_TIMEOUT_SECONDS": 2.0}


def three_pin_order(client):
    """Buy three 10.00 USD PINs; return the fulfilled order."""
    pack = make_product(price=1000)
    add_to_cart(client, pack.sku, 3)
    order_path, _ = buy(client)
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED
    return order


def test_a_partial_refund_of_one_of_three_pins_voids_one_and_leaves_two_usable(
    app, client, login, simulator
):
    order = three_pin_order(client)
    login("admin")
    response = refund(client, order, "10.00")
    assert response.status_code == 303, response.get_data(as_text=True)
    statuses = voucher_statuses(order)
    assert sorted(statuses.values()) == [VoucherStatus.ACTIVE] * 2 + [VoucherStatus.VOID]
    assert statuses[max(statuses)] == VoucherStatus.VOID  # the last issued goes first
    order = order_by_path(f"/orders/{order.reference}")
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    [recorded] = refunds_of(order)
    assert (recorded.amount, recorded.status, recorded.voided) == (1000, RefundStatus.COMPLETED, 1)
    capture = simulator.state.order(payment_of(order).provider_payment_id).capture
    assert capture["status"] == "PARTIALLY_REFUNDED"
    page = client.get(f"/admin/orders/{order.reference}").get_data(as_text=True)
    assert "Partly refunded" in page and "$20.00" in page  # what can still be refunded


def test_the_admin_picks_which_pin_a_refund_voids(app, client, login):
    order = three_pin_order(client)
    login("admin")
    first = min(voucher_statuses(order))
    chosen = db.session.execute(db.select(Voucher.id).filter_by(serial=first)).scalar_one()
    assert refund(client, order, "10.00", [chosen]).status_code == 303
    statuses = voucher_statuses(order)
    assert statuses[first] == VoucherStatus.VOID
    assert list(statuses.values()).count(VoucherStatus.ACTIVE) == 2


def test_a_refund_larger_than_what_was_paid_is_refused_with_a_clear_message(
    app, client, login, simulator
):
    order = three_pin_order(client)
    login("admin")
    assert refund(client, order, "10.00").status_code == 303
    calls = len(simulator.state.calls)
    response = refund(client, order, "20.01", key="fedcba9876543210")
    assert response.status_code == 422
    assert "more than what was paid less what was refunded already" in response.get_data(
        as_text=True
    )
    assert "$20.00" in response.get_data(as_text=True)
    assert len(simulator.state.calls) == calls  # PayPal was not asked
    assert [r.amount for r in refunds_of(order)] == [1000]
    assert list(voucher_statuses(order).values()).count(VoucherStatus.VOID) == 1


def test_the_rest_refunded_makes_the_order_refunded_and_a_redeemed_pin_stays_redeemed(
    app, client, login
):
    order = three_pin_order(client)
    login("admin")
    redeemed = min(voucher_statuses(order))
    db.session.execute(
        db.update(Voucher).filter_by(serial=redeemed).values(status=VoucherStatus.REDEEMED)
    )
    db.session.commit()
    assert refund(client, order, "10.00").status_code == 303
    assert refund(client, order, "20.00", key="fedcba9876543210").status_code == 303
    statuses = voucher_statuses(order)
    assert statuses[redeemed] == VoucherStatus.REDEEMED
    assert list(statuses.values()).count(VoucherStatus.VOID) == 2
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.REFUNDED
    assert refund(client, order, "0.01", key="aaaaaaaaaaaaaaaa").status_code == 422


def test_the_same_refund_form_sent_twice_refunds_once(app, client, login, simulator):
    order = three_pin_order(client)
    login("admin")
    assert refund(client, order, "10.00").status_code == 303
    assert refund(client, order, "10.00").status_code == 303  # a double click
    assert [r.amount for r in refunds_of(order)] == [1000]
    assert len(simulator.state.order(payment_of(order).provider_payment_id).refunds) == 1
    assert list(voucher_statuses(order).values()).count(VoucherStatus.VOID) == 1


def test_chosen_pins_worth_more_than_the_refund_are_refused(app, client, login):
    order = three_pin_order(client)
    login("admin")
    ids = db.session.execute(db.select(Voucher.id).order_by(Voucher.id).limit(2)).scalars().all()
    response = refund(client, order, "10.00", ids)
    assert response.status_code == 422
    assert refunds_of(order) == []
    assert VoucherStatus.VOID not in voucher_statuses(order).values()


def test_a_refund_webhook_and_its_replays_refund_nothing_twice(app, client, simulator):
    order = three_pin_order(client)
    payment_id = payment_of(order).provider_payment_id
    # Refunded at PayPal itself (its dashboard): the shop learns it from the webhook only.
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{payment_id}/refund",
        json={"amount": "10.00"},
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    headers, body = signed_webhook(simulator, payment_id, "refunded")
    for _ in range(3):
        response = post_webhook(client, headers, body)
        assert response.status_code == 200, response.get_data(as_text=True)
    [recorded] = refunds_of(order)
    assert (recorded.amount, recorded.source, recorded.voided) == (1000, "provider", 1)
    assert list(voucher_statuses(order).values()).count(VoucherStatus.VOID) == 1
    # The same refund delivered again under a new event id (PayPal's retry) changes nothing.
    simulator.state.order(payment_id).events.clear()
    headers, body = signed_webhook(simulator, payment_id, "refunded")
    assert post_webhook(client, headers, body).get_json()["outcome"] == "duplicate refund"
    assert len(refunds_of(order)) == 1
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.PARTIALLY_REFUNDED


def test_the_webhook_of_an_admin_refund_keeps_the_admins_choice_and_counts_once(
    app, client, login, simulator
):
    order = three_pin_order(client)
    login("admin")
    first = min(voucher_statuses(order))
    chosen = db.session.execute(db.select(Voucher.id).filter_by(serial=first)).scalar_one()
    assert refund(client, order, "10.00", [chosen]).status_code == 303
    payment_id = payment_of(order).provider_payment_id
    headers, body = signed_webhook(simulator, payment_id, "refunded")
    assert post_webhook(client, headers, body).get_json()["outcome"] == "duplicate refund"
    statuses = voucher_statuses(order)
    assert statuses[first] == VoucherStatus.VOID
    assert list(statuses.values()).count(VoucherStatus.VOID) == 1
    assert [r.amount for r in refunds_of(order)] == [1000]


def test_a_refund_paypal_refuses_records_nothing_and_says_so(app, client, login, simulator):
    order = three_pin_order(client)
    login("admin")
    capture_id = payment_of(order).sale_id
    simulator.state.refund_capture(capture_id, {}, None, simulator.url)  # refunded at PayPal
    response = refund(client, order, "10.00")
    assert response.status_code == 422
    assert "PayPal refused this refund" in response.get_data(as_text=True)
    assert [r.status for r in refunds_of(order)] == [RefundStatus.FAILED]
    assert VoucherStatus.VOID not in voucher_statuses(order).values()


def test_one_refund_sent_and_reported_at_once_is_recorded_once(app, client, login, simulator):
    order = three_pin_order(client)
    admin = login("admin")
    reference = order.reference
    assert send_refund_forms_at_once(app, admin, reference, "10.00") == [303] * 3

    payment_id = payment_of(order).provider_payment_id
    signed = []
    for _ in range(3):  # PayPal's retries: the same refund under new event ids
        simulator.state.order(payment_id).events.clear()
        signed.append(signed_webhook(simulator, payment_id, "refunded"))
    barrier = threading.Barrier(len(signed))

    def deliver(request):
        barrier.wait()
        return post_webhook(app.test_client(), *request).status_code

    with ThreadPoolExecutor(max_workers=len(signed)) as pool:
        assert list(pool.map(deliver, signed)) == [200] * len(signed)

    assert [r.amount for r in refunds_of(order)] == [1000]
    assert len(simulator.state.order(payment_id).refunds) == 1
    assert list(voucher_statuses(order).values()).count(VoucherStatus.VOID) == 1
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.PARTIALLY_REFUNDED
