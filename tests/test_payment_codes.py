"""One-time code at payment: who is asked, sending, checking, locking, and nothing leaking.

An order that asks for a code never reaches PayPal until the right code is typed; five wrong
codes lock it for good; an expired code is refused; codes are stored hashed and never logged.
"""

import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from shop.audit.models import AuditEvent
from shop.extensions import db
from shop.mail.models import OutboxMessage
from shop.storefront import payment_codes
from shop.storefront.models import Order, OrderStatus, Payment, PaymentCheck, PaymentCodePolicy
from shop.timeutil import utcnow
from tests.factories import make_product
from tests.payments_helpers import running_simulator
from tests.storefront_helpers import (
    BUYER,
    add_to_cart,
    approve,
    order_by_path,
    path_of,
    place_order,
    with_action,
)

CODE_IN_MAIL = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="module")
def simulator():
    yield from running_simulator()


@pytest.fixture
def app_config(simulator):
    return {**simulator.shop_config(), "PAYMENT_CODE_ENABLED": True}


@pytest.fixture
def pack(app):
    return make_product(sku="ASIA-10GB", price=1500)


def order_with_code(client, pack, **kwargs):
    """Place a first order (which asks for a code) and press Pay; return its page path."""
    add_to_cart(client, pack.sku)
    order_path = place_order(client, **kwargs)
    response = client.post(with_action(order_path, "pay"))
    assert response.status_code == 303
    assert urlsplit_path(response.headers["Location"]).endswith("/code")
    return order_path


def urlsplit_path(url: str) -> str:
    return path_of(url).split("?")[0]


def last_code(recipient=BUYER) -> str:
    db.session.rollback()
    message = (
        db.session.execute(
            db.select(OutboxMessage)
            .filter_by(kind="payment_code", recipient=recipient)
            .order_by(OutboxMessage.id.desc())
        )
        .scalars()
        .first()
    )
    assert message is not None, "no code was sent"
    return CODE_IN_MAIL.search(message.body).group(1)


def check_of(order_path) -> PaymentCheck:
    order = order_by_path(order_path)
    return db.session.execute(db.select(PaymentCheck).filter_by(order_id=order.id)).scalar_one()


def type_code(client, order_path, code):
    return client.post(with_action(order_path, "code"), data={"code": code})


def wrong_code(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


def mark_paid(order_path, device_token=""):
    """Make the order count as paid before (setup for the returning-customer rules)."""
    order = order_by_path(order_path)
    db.session.execute(
        update(Order).where(Order.id == order.id).values(status=OrderStatus.FULFILLED)
    )
    db.session.execute(
        update(PaymentCheck)
        .where(PaymentCheck.order_id == order.id)
        .values(device_hash=payment_codes.device_hash(device_token))
    )
    db.session.commit()


def test_a_first_order_asks_for_a_code_and_its_confirmation_says_how(client, pack):
    add_to_cart(client, pack.sku)
    order_path = place_order(client)
    check = check_of(order_path)
    assert check.reason_list == ["first_order"]
    assert (check.channel, check.destination) == ("email", BUYER)
    page = client.get(order_path).get_data(as_text=True)
    assert "with a one-time code sent by e-mail" in page
    assert "b***@example.com" in page
    assert BUYER in page  # the e-mail for delivery, shown in full to the buyer


def test_pay_sends_the_code_and_the_code_is_stored_only_as_a_hash(client, pack):
    order_path = order_with_code(client, pack)
    code = last_code()
    check = check_of(order_path)
    assert check.codes_sent == 1
    assert check.code_hash and code not in check.code_hash
    row = {column: getattr(check, column.key) for column in PaymentCheck.__table__.columns}
    assert not any(code in str(value) for value in row.values())
    assert db.session.execute(db.select(Payment)).first() is None  # PayPal not reached
    page = client.get(with_action(order_path, "code")).get_data(as_text=True)
    assert "b***@example.com" in page


def test_the_right_code_goes_on_to_paypal_and_the_order_completes(client, pack, simulator):
    order_path = order_with_code(client, pack)
    response = type_code(client, order_path, last_code())
    assert response.status_code == 303
    approval = response.headers["Location"]
    assert approval.startswith(simulator.url)
    assert check_of(order_path).verified_at is not None
    client.get(path_of(approve(approval)))
    assert order_by_path(order_path).status == OrderStatus.FULFILLED
    # Verified: paying again goes straight on, no new code.
    assert client.post(with_action(order_path, "pay")).status_code == 303
    assert check_of(order_path).codes_sent == 1


def test_five_wrong_codes_lock_the_order_for_good(client, pack):
    order_path = order_with_code(client, pack)
    right = last_code()
    statuses = [type_code(client, order_path, wrong_code(right)) for _ in range(5)]
    assert [r.status_code for r in statuses] == [422, 422, 422, 422, 409]
    assert "1 more try" in statuses[3].get_data(as_text=True)
    assert "can no longer be paid" in statuses[4].get_data(as_text=True)
    # Even the right code is refused now, and Pay does not reach PayPal.
    assert type_code(client, order_path, right).status_code == 409
    pay = client.post(with_action(order_path, "pay"))
    assert urlsplit_path(pay.headers["Location"]).endswith("/code")
    assert db.session.execute(db.select(Payment)).first() is None
    check = check_of(order_path)
    assert check.failed_attempts == 5 and check.verified_at is None
    locked = db.session.execute(
        db.select(AuditEvent).filter_by(action="order.payment_code_locked")
    ).scalar_one()
    assert locked.object_id == order_by_path(order_path).reference
    resend = client.post(with_action(order_path, "code/resend"), follow_redirects=True)
    assert "can no longer be paid" in resend.get_data(as_text=True)
    assert check_of(order_path).codes_sent == 1


def test_an_expired_code_is_refused(client, pack):
    order_path = order_with_code(client, pack)
    code = last_code()
    check = check_of(order_path)
    db.session.execute(
        update(PaymentCheck)
        .where(PaymentCheck.id == check.id)
        .values(code_expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    response = type_code(client, order_path, code)
    assert response.status_code == 422
    assert "expired" in response.get_data(as_text=True)
    assert check_of(order_path).verified_at is None


def test_malformed_input_is_refused_and_counts_nothing(client, pack):
    order_path = order_with_code(client, pack)
    for typed in ("", "12345", "abcdef", "1234567", "１２３４５６"):
        assert type_code(client, order_path, typed).status_code == 422
    assert check_of(order_path).failed_attempts == 0
    assert (
        type_code(client, order_path, " ".join(last_code()[i : i + 3] for i in (0, 3))).status_code
        == 303
    )


def test_a_new_code_waits_a_minute_and_replaces_the_old_one(client, pack):
    order_path = order_with_code(client, pack)
    first = last_code()
    too_soon = client.post(with_action(order_path, "code/resend"), follow_redirects=True)
    assert "A code was just sent" in too_soon.get_data(as_text=True)
    assert check_of(order_path).codes_sent == 1
    check = check_of(order_path)
    db.session.execute(
        update(PaymentCheck)
        .where(PaymentCheck.id == check.id)
        .values(code_sent_at=utcnow() - timedelta(seconds=61))
    )
    db.session.commit()
    assert client.post(with_action(order_path, "code/resend")).status_code == 303
    second = last_code()
    assert check_of(order_path).codes_sent == 2
    if first != second:  # one chance in a million that they are equal
        assert type_code(client, order_path, first).status_code == 422
    assert type_code(client, order_path, second).status_code == 303


def test_codes_never_reach_the_log(client, pack, caplog):
    caplog.set_level(logging.DEBUG)
    order_path = order_with_code(client, pack)
    code = last_code()
    type_code(client, order_path, wrong_code(code))
    type_code(client, order_path, code)
    assert code not in caplog.text
    events = db.session.execute(db.select(AuditEvent)).scalars().all()
    assert not any(code in str(event.details) for event in events)


def test_wrong_codes_are_throttled_per_client_address_across_orders(app, client, pack):
    app.config["PAYMENT_CODE_FAILURES_PER_CLIENT"] = "3 per hour"
    first = order_with_code(client, pack, email="one@example.com")
    second = order_with_code(client, pack, email="two@example.com")
    assert type_code(client, first, wrong_code(last_code("one@example.com"))).status_code == 422
    assert type_code(client, first, wrong_code(last_code("one@example.com"))).status_code == 422
    assert type_code(client, second, wrong_code(last_code("two@example.com"))).status_code == 422
    throttled = type_code(client, second, last_code("two@example.com"))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert check_of(second).verified_at is None


class TestWhoIsAsked:
    """The policy's rules, one at a time."""

    @pytest.fixture(autouse=True)
    def only(self, app):
        def set_rules(**rules):
            values = {
                "enabled": True,
                "amount_threshold": 0,
                "currency": "USD",
                "first_order": False,
                "new_device": False,
                "orders_per_address_per_hour": 0,
                **rules,
            }
            db.session.merge(PaymentCodePolicy(id=1, **values))
            db.session.commit()

        return set_rules

    def reasons(self, client, pack, **kwargs):
        add_to_cart(client, pack.sku, kwargs.pop("quantity", 1))
        return check_of(place_order(client, **kwargs)).reason_list

    def test_amount_threshold(self, client, pack, only):
        only(amount_threshold=3000)
        assert self.reasons(client, pack, quantity=1) == []
        assert self.reasons(client, pack, quantity=2) == ["amount"]

    def test_an_order_in_another_currency_always_asks(self, client, pack, only):
        only(amount_threshold=100_000, currency="EUR")
        assert self.reasons(client, pack) == ["amount"]

    def test_first_order_only_until_one_is_paid(self, client, pack, only):
        only(first_order=True)
        add_to_cart(client, pack.sku)
        first = place_order(client)
        assert check_of(first).reason_list == ["first_order"]
        assert self.reasons(client, pack) == ["first_order"]  # the first is not paid yet
        mark_paid(first)
        assert self.reasons(client, pack) == []
        assert self.reasons(client, pack, email="someone.else@example.com") == ["first_order"]

    def test_a_browser_the_customer_never_paid_from(self, client, pack, only):
        only(new_device=True)
        client.get("/checkout")  # the checkout gives this browser its device cookie
        add_to_cart(client, pack.sku)
        client.get("/checkout")
        token = client.get_cookie("wd_device").value
        first = place_order(client)
        assert check_of(first).reason_list == []  # never paid: the first-order rule's job
        mark_paid(first, device_token=token)
        assert self.reasons(client, pack) == []  # the same browser
        client.delete_cookie("wd_device")
        client.set_cookie("wd_device", "another-browser")
        assert self.reasons(client, pack) == ["new_device"]

    def test_many_orders_from_one_address_within_an_hour(self, client, pack, only):
        only(orders_per_address_per_hour=2)
        assert self.reasons(client, pack, email="a@example.com") == []
        assert self.reasons(client, pack, email="b@example.com") == []
        assert self.reasons(client, pack, email="c@example.com") == ["address"]

    def test_switched_off_asks_nobody(self, client, pack, only):
        only(enabled=False, first_order=True, amount_threshold=1)
        assert self.reasons(client, pack) == []
        order_path = place_order_and_pay(client, pack)
        assert urlsplit_path(order_path).startswith("/")


def place_order_and_pay(client, pack):
    add_to_cart(client, pack.sku)
    order_path = place_order(client)
    response = client.post(with_action(order_path, "pay"))
    assert response.status_code == 303
    assert not urlsplit_path(response.headers["Location"]).endswith("/code")
    return response.headers["Location"]


def test_the_admin_sets_the_rules_and_bad_input_changes_nothing(client, login):
    login("admin")
    page = client.get("/admin/payment-codes")
    assert page.status_code == 200
    bad = client.post(
        "/admin/payment-codes",
        data={
            "enabled": "y",
            "amount_threshold": "12.345",
            "currency": "USD",
            "orders_per_address_per_hour": "3",
        },
    )
    assert bad.status_code == 422
    assert db.session.get(PaymentCodePolicy, 1) is None
    saved = client.post(
        "/admin/payment-codes",
        data={
            "enabled": "y",
            "amount_threshold": "150.00",
            "currency": "USD",
            "first_order": "y",
            "orders_per_address_per_hour": "4",
        },
    )
    assert saved.status_code == 303
    db.session.rollback()
    policy = db.session.get(PaymentCodePolicy, 1)
    assert (policy.enabled, policy.amount_threshold, policy.first_order, policy.new_device) == (
        True,
        15_000,
        True,
        False,
    )
    assert policy.orders_per_address_per_hour == 4
    assert db.session.execute(
        db.select(AuditEvent).filter_by(action="payment_codes.policy_changed")
    ).scalar_one()


def test_only_the_admin_sees_the_rules(client, login):
    assert client.get("/admin/payment-codes").status_code == 302  # to the login page
    login("customer")
    assert client.get("/admin/payment-codes").status_code == 403
    assert client.post("/admin/payment-codes", data={"currency": "USD"}).status_code == 403


def test_the_development_outbox_exists_only_when_switched_on(app, client, pack):
    order_with_code(client, pack)
    assert client.get("/dev/outbox").status_code == 404
    app.config["DEV_OUTBOX"] = True
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert last_code() in page.get_data(as_text=True)


def test_parallel_wrong_codes_never_exceed_the_limit(app, backend, client, pack):
    if backend != "postgresql":
        pytest.skip("threads racing for one row need PostgreSQL's row locks")
    order_path = order_with_code(client, pack)
    wrong = wrong_code(last_code())
    order = order_by_path(order_path)
    outcomes, barrier = [], threading.Barrier(10)

    def guess():
        with app.app_context():
            fresh = db.session.get(Order, order.id)
            barrier.wait()
            try:
                payment_codes.verify_code(fresh, wrong, "203.0.113.9", payment_codes.Actor())
            except payment_codes.PaymentCodeError as exc:
                outcomes.append(exc.reason)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["wrong"] * 4 + ["locked"] * 6)
    assert check_of(order_path).failed_attempts == 5
