"""Refunds of wallet-paid orders go back to the wallet, once per refund key.

And a refunded wallet top-up (paid with PayPal) takes its money back out of the wallet
before PayPal refunds it; money already spent cannot be refunded.
"""

import threading

import pytest
import requests

from shop.audit.services import Actor
from shop.extensions import db
from shop.storefront import refund_flow, wallet_orders
from shop.storefront.models import OrderStatus, Refund, RefundStatus
from shop.vouchers.models import Voucher, VoucherStatus
from shop.wallet.models import WalletEntryKind
from simulators.paypal import PayPalSimulator
from tests.customer_wallet_helpers import balance, entries, fund, ledger_holds, place_topup
from tests.factories import make_product, make_user
from tests.storefront_helpers import (
    add_to_cart,
    approve,
    order_by_path,
    path_of,
    payment_of,
    post_webhook,
    signed_webhook,
    start_payment,
)

KEY = "0123456789abcdef"


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None
        yield server


@pytest.fixture
def app_config(simulator):
    return {
        **simulator.shop_config(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30},
    }


@pytest.fixture
def customer(app):
    return make_user("customer")


def paid_from_wallet(client, customer, quantity=2):
    """Log the customer in, buy ``quantity`` packs of 15.00 from the wallet; return the order."""
    client.post("/login", data={"email": customer.email, "password": "correct-horse-9"})
    pack = make_product(price=1500)
    fund(customer, 5000)
    add_to_cart(client, pack.sku, quantity)
    response = client.post(
        "/checkout",
        data={"email": customer.email, "delivery": "vouchers", "payment_method": "wallet"},
    )
    order_path = path_of(response.headers["Location"])
    order = order_by_path(order_path)
    wallet_orders.pay_from_wallet(order.id, customer.id)
    client.post("/logout")
    return order_by_path(order_path)


def admin_refunds(client, order, amount, key=KEY):
    return client.post(
        f"/admin/orders/{order.reference}/refund", data={"amount": amount, "refund_key": key}
    )


def voided() -> int:
    db.session.rollback()
    return db.session.execute(
        db.select(db.func.count(Voucher.id)).filter_by(status=VoucherStatus.VOID)
    ).scalar_one()


def test_a_partial_then_full_refund_goes_back_to_the_wallet(app, client, customer, login):
    order = paid_from_wallet(client, customer)
    assert balance(customer) == 2000
    login("admin")
    response = admin_refunds(client, order, "15.00")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.PARTIALLY_REFUNDED
    assert balance(customer) == 3500
    assert voided() == 1
    response = admin_refunds(client, order, "15.00", key="fedcba9876543210")
    assert response.status_code == 303
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.REFUNDED
    assert balance(customer) == 5000
    assert voided() == 2
    refunds = entries(customer, kind=WalletEntryKind.REFUND)
    assert [(e.amount, e.reference) for e in refunds] == [
        (1500, f"refund:{order.reference}:{KEY}"),
        (1500, f"refund:{order.reference}:fedcba9876543210"),
    ]
    rows = db.session.execute(db.select(Refund).order_by(Refund.id)).scalars().all()
    assert [(r.provider, r.status, r.amount) for r in rows] == [
        ("wallet", RefundStatus.COMPLETED, 1500)
    ] * 2
    assert ledger_holds(customer)
    page = client.get(f"/admin/orders/{order.reference}").get_data(as_text=True)
    assert f"wallet:{order.reference}" in page  # the wallet payment, refunded


def test_the_same_refund_sent_again_credits_once(app, client, customer, login):
    order = paid_from_wallet(client, customer)
    login("admin")
    for _ in range(3):
        assert admin_refunds(client, order, "30.00").status_code == 303
    assert balance(customer) == 5000
    assert len(entries(customer, kind=WalletEntryKind.REFUND)) == 1
    assert ledger_holds(customer)


def test_a_refund_over_what_was_paid_is_refused(app, client, customer, login):
    order = paid_from_wallet(client, customer)
    login("admin")
    response = admin_refunds(client, order, "30.01")
    assert response.status_code == 422
    assert "at most $30.00" in response.get_data(as_text=True)
    assert balance(customer) == 2000


def test_the_same_refund_racing_credits_once(app, backend, client, customer):
    order = paid_from_wallet(client, customer)
    actor = Actor.for_user(make_user("admin"))  # built here: threads never touch this session
    order_id = order.id
    outcomes, barrier = [], threading.Barrier(5)

    def run():
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(refund_flow.refund_order(order_id, 1000, [], KEY, actor).outcome)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["partially refunded"] + ["duplicate refund"] * 4)
    assert balance(customer) == 3000
    assert len(entries(customer, kind=WalletEntryKind.REFUND)) == 1


def topped_up(client, customer, amount="40.00"):
    client.post("/login", data={"email": customer.email, "password": "correct-horse-9"})
    order_path = place_topup(client, amount)
    client.get(path_of(approve(start_payment(client, order_path))))
    client.post("/logout")
    return order_by_path(order_path)


def test_refunding_a_top_up_takes_its_money_out_of_the_wallet(app, client, customer, login):
    order = topped_up(client, customer)
    assert balance(customer) == 4000
    login("admin")
    assert admin_refunds(client, order, "10.00").status_code == 303
    assert balance(customer) == 3000
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.PARTIALLY_REFUNDED
    taken = entries(customer, kind=WalletEntryKind.ADJUSTMENT)
    assert [(e.amount, e.reference) for e in taken] == [(-1000, f"refund:{order.reference}:{KEY}")]
    assert ledger_holds(customer)


def test_a_spent_top_up_cannot_be_refunded(app, client, customer, login):
    order = topped_up(client, customer, "10.00")
    from shop.wallet import services

    wallet_id = entries(customer)[0].wallet_id
    services.debit(
        wallet_id,
        600,
        kind=WalletEntryKind.PURCHASE,
        reference="order:spent",
        actor=Actor.system("test"),
    )
    db.session.commit()
    login("admin")
    response = admin_refunds(client, order, "10.00")
    assert response.status_code == 422
    assert "wallet holds only $4.00" in response.get_data(as_text=True)
    assert balance(customer) == 400
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.FULFILLED
    assert db.session.execute(db.select(db.func.count(Refund.id))).scalar_one() == 0


def refunded_at_paypal(simulator, order, amount: str):
    """Refund at PayPal itself (its dashboard); return the webhook PayPal would send."""
    payment_id = payment_of(order).provider_payment_id
    answer = requests.post(
        f"{simulator.url}/simulator/orders/{payment_id}/refund",
        json={"amount": amount},
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return signed_webhook(simulator, payment_id, "refunded")


def test_a_top_up_refunded_at_paypal_leaves_the_wallet_once(app, client, customer, simulator):
    order = topped_up(client, customer)
    headers, body = refunded_at_paypal(simulator, order, "40.00")
    for _ in range(3):
        assert post_webhook(client, headers, body).status_code == 200
    assert balance(customer) == 0
    taken = entries(customer, kind=WalletEntryKind.ADJUSTMENT)
    assert [e.amount for e in taken] == [-4000]
    assert order_by_path(f"/orders/{order.reference}").status == OrderStatus.REFUNDED
    assert ledger_holds(customer)


def test_a_spent_top_up_refunded_at_paypal_takes_what_is_left_and_tells(
    app, client, customer, simulator
):
    from shop.audit.models import AuditEvent
    from shop.wallet import services

    order = topped_up(client, customer)
    services.debit(
        entries(customer)[0].wallet_id,
        2500,
        kind=WalletEntryKind.PURCHASE,
        reference="order:spent",
        actor=Actor.system("test"),
    )
    db.session.commit()
    headers, body = refunded_at_paypal(simulator, order, "40.00")
    assert post_webhook(client, headers, body).status_code == 200
    assert balance(customer) == 0  # never below zero
    assert ledger_holds(customer)
    db.session.rollback()
    short = db.session.execute(
        db.select(AuditEvent).filter_by(action="wallet.refund_short")
    ).scalar_one()
    assert short.details["refunded"] == 4000 and short.details["taken_back"] == 1500
