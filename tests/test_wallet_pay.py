"""Paying an order from the customer's wallet: all or nothing, once, never below zero.

In one transaction the order is locked, the wallet debited (``order:<reference>``, kind
purchase), the payment recorded and the order fulfilled. Two tabs paying the same order, or
two orders together worth more than the balance, never take more than the wallet holds.
"""

import functools
import re
import threading

import pytest

from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront import payment_codes, wallet_orders
from shop.storefront.models import Order, OrderStatus, Payment, PaymentMethod, PaymentRecordState
from shop.vouchers.models import Voucher
from shop.wallet.models import WalletEntryKind
from tests.customer_wallet_helpers import balance, entries, fund, ledger_holds
from tests.factories import make_product
from tests.storefront_helpers import add_to_cart, order_by_path, path_of, with_action


@pytest.fixture
def app_config():
    # Threads of the concurrency tests each hold a connection.
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30}}


@pytest.fixture
def customer(login):
    return login("customer")


@pytest.fixture
def pack(app):
    return make_product(sku="ASIA-10GB", price=1500)


def checkout(client, email, method="wallet"):
    return client.post(
        "/checkout",
        data={"email": email, "delivery": "vouchers", "payment_method": method},
    )


def wallet_order(client, customer, pack, quantity=1) -> str:
    add_to_cart(client, pack.sku, quantity)
    response = checkout(client, customer.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return path_of(response.headers["Location"])


def pay(client, order_path):
    return client.post(with_action(order_path, "pay/from-wallet"))


def vouchers() -> int:
    db.session.rollback()
    return db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one()


def test_checkout_offers_the_wallet_only_when_it_covers_the_total(app, client, customer, pack):
    add_to_cart(client, pack.sku)
    page = client.get("/checkout").get_data(as_text=True)
    assert 'value="wallet"' not in page
    assert "not enough for this order" in page
    assert "/account/wallet/top-up?currency=USD&amp;amount=1500" in page
    fund(customer, 1500)
    page = client.get("/checkout").get_data(as_text=True)
    assert 'value="wallet"' in page and "My wallet (it holds $15.00)" in page


def test_paying_exactly_the_balance_fulfils_and_leaves_zero(app, client, customer, pack):
    fund(customer, 3000)
    order_path = wallet_order(client, customer, pack, 2)
    assert "Pay $30.00 from my wallet" in client.get(order_path).get_data(as_text=True)
    response = pay(client, order_path)
    assert response.status_code == 303
    order = order_by_path(order_path)
    assert order.status == OrderStatus.FULFILLED and order.paid_at is not None
    assert order.payment_method == PaymentMethod.WALLET
    payment = db.session.execute(db.select(Payment).filter_by(order_id=order.id)).scalar_one()
    assert (payment.provider, payment.state, payment.amount) == (
        "wallet",
        PaymentRecordState.COMPLETED,
        3000,
    )
    assert balance(customer) == 0
    purchase = entries(customer, kind=WalletEntryKind.PURCHASE)
    assert [(e.amount, e.balance_after, e.reference) for e in purchase] == [
        (-3000, 0, f"order:{order.reference}")
    ]
    assert vouchers() == 2
    assert ledger_holds(customer)
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert "Paid from your wallet. $0.00 left in it." in page
    assert "Paid from your wallet" in page and "$0.00 was left in it" in page
    mail = db.session.execute(
        db.select(OutboxMessage).filter_by(kind="order.delivery", recipient=customer.email)
    ).scalar_one()
    assert "Paid from your wallet." in mail.body and "PIN" in mail.body


@pytest.mark.parametrize("funded", [0, 1499])
def test_a_wallet_short_of_the_total_charges_nothing(app, client, customer, pack, funded):
    fund(customer, 1500)
    order_path = wallet_order(client, customer, pack)
    # Spend it elsewhere after checkout, down to what the case needs.
    wallet_id = entries(customer)[0].wallet_id
    from shop.audit.services import Actor
    from shop.wallet import services

    services.debit(
        wallet_id,
        1500 - funded if funded < 1500 else 1,
        kind=WalletEntryKind.ADJUSTMENT,
        reference="adjustment:spent",
        actor=Actor.system("test"),
    )
    db.session.commit()
    response = pay(client, order_path)
    assert response.status_code == 303
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    expected = f"Your wallet holds ${funded / 100:.2f}, less than the $15.00 to pay."
    assert expected in page and "Nothing was charged." in page
    order = order_by_path(order_path)
    assert order.status == OrderStatus.PENDING and order.payments == []
    assert balance(customer) == funded
    assert entries(customer, kind=WalletEntryKind.PURCHASE) == []
    assert vouchers() == 0
    assert "Top up your wallet" in page


def test_checkout_refuses_the_wallet_without_money_or_an_account(app, client, pack, login):
    add_to_cart(client, pack.sku)
    response = checkout(client, "guest@example.com")
    assert response.status_code == 422
    assert "Log in to use your wallet." in response.get_data(as_text=True)
    user = login("customer")
    fund(user, 100)
    response = checkout(client, user.email)
    assert response.status_code == 422
    assert "Your wallet holds $1.00, less than this order" in response.get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(Order.id))).scalar_one() == 0


def test_pressing_pay_twice_pays_once(app, client, customer, pack):
    fund(customer, 5000)
    order_path = wallet_order(client, customer, pack)
    pay(client, order_path)
    response = pay(client, order_path)
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert "This order is not waiting for a payment." in page
    assert balance(customer) == 3500
    assert len(entries(customer, kind=WalletEntryKind.PURCHASE)) == 1
    assert vouchers() == 1


def test_only_the_orders_account_can_pay_it_from_its_wallet(app, client, customer, pack, login):
    fund(customer, 5000)
    order_path = wallet_order(client, customer, pack)
    client.post("/logout")
    other = login("customer")
    fund(other, 5000)
    response = pay(client, order_path)  # the link key opens the page, not the wallet
    assert response.status_code == 303
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert "Only the account that placed this order can pay it from its wallet." in page
    assert balance(other) == 5000 and balance(customer) == 5000
    client.post("/logout")
    response = pay(client, order_path)  # a guest holding the link
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    assert order_by_path(order_path).status == OrderStatus.PENDING


def test_the_one_time_code_comes_first_when_the_rules_ask(app, client, customer, pack):
    app.config["PAYMENT_CODE_ENABLED"] = True
    fund(customer, 5000)
    order_path = wallet_order(client, customer, pack)
    response = pay(client, order_path)
    assert response.status_code == 303
    assert path_of(response.headers["Location"]).split("?")[0].endswith("/code")
    assert balance(customer) == 5000
    order = order_by_path(order_path)
    with pytest.raises(wallet_orders.WalletPayRefused) as refused:
        wallet_orders.pay_from_wallet(order.id, customer.id)
    assert refused.value.reason == "code_required"
    mail = db.session.execute(
        db.select(OutboxMessage).filter_by(kind="payment_code", recipient=customer.email)
    ).scalar_one()
    code = re.search(r"\b(\d{6})\b", mail.body).group(1)
    response = client.post(with_action(order_path, "code"), data={"code": code})
    assert response.status_code == 303
    assert payment_codes.check_of(order_by_path(order_path)).verified_at is not None
    pay(client, order_path)
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    assert balance(customer) == 3500


def paid_balance(order_id: int, user_id: int) -> int:
    """Pay the order from the wallet; return what is left in it."""
    return wallet_orders.pay_from_wallet(order_id, user_id).balance


def race(app, calls):
    """Run every call at once in its own thread and app context; return their outcomes."""
    outcomes, barrier = [], threading.Barrier(len(calls))

    def run(call):
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(call())
            except wallet_orders.WalletPayRefused as exc:
                outcomes.append(exc.reason)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_tabs_paying_one_order_at_once_pay_once(app, backend, client, customer, pack):
    fund(customer, 5000)
    order_id = order_by_path(wallet_order(client, customer, pack)).id
    user_id = customer.id  # read here: the threads never touch this thread's session
    calls = [lambda: wallet_orders.pay_from_wallet(order_id, user_id).balance] * 6
    outcomes = race(app, calls)
    assert sorted(outcomes, key=str) == sorted([3500] + ["not_pending"] * 5, key=str)
    assert balance(customer) == 3500
    assert len(entries(customer, kind=WalletEntryKind.PURCHASE)) == 1
    assert vouchers() == 1
    assert ledger_holds(customer)


def test_orders_together_worth_more_than_the_balance_never_overdraw(
    app, backend, client, customer, pack
):
    fund(customer, 4500)  # three of the six orders of 15.00
    order_ids = []
    for _ in range(6):
        order_ids.append(order_by_path(wallet_order(client, customer, pack)).id)
    user_id = customer.id  # read here: the threads never touch this thread's session
    calls = [functools.partial(paid_balance, order_id, user_id) for order_id in order_ids]
    outcomes = race(app, calls)
    paid = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert sorted(paid) == [0, 1500, 3000]
    assert outcomes.count("insufficient") == 3
    assert balance(customer) == 0
    assert len(entries(customer, kind=WalletEntryKind.PURCHASE)) == 3
    assert vouchers() == 3
    assert ledger_holds(customer)
    db.session.rollback()
    statuses = db.session.execute(db.select(Order.status).order_by(Order.id)).scalars().all()
    assert sorted(statuses) == sorted([OrderStatus.FULFILLED] * 3 + [OrderStatus.PENDING] * 3)


def test_the_wallet_order_pages_in_chinese(app, client, customer, pack):
    fund(customer, 5000)
    client.get("/lang/zh_Hans_CN")
    add_to_cart(client, pack.sku)
    assert "我的钱包（余额" in client.get("/checkout").get_data(as_text=True)
    response = checkout(client, customer.email)
    order_path = path_of(response.headers["Location"])
    page = client.get(order_path).get_data(as_text=True)
    assert "用我的钱包支付" in page and "您将用钱包支付" in page
    response = pay(client, order_path)
    page = client.get(path_of(response.headers["Location"])).get_data(as_text=True)
    assert "已用钱包支付。钱包余额" in page and "已从您的钱包支付" in page
