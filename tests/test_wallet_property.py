"""Invariant: a wallet's balance equals its ledger's sum and never goes below zero.

A randomized sequence (Hypothesis' stateful testing) of what moves a wallet in the shop:
top-ups paid at the PayPal simulator, orders paid from the wallet, renewals by auto-renew,
refunds of wallet-paid orders and of top-ups, adjustments by the admin. After every step the
balance is what the steps add up to, equals the sum of the ledger's entries, and is not
negative; refused steps change nothing. Runs on SQLite and PostgreSQL.
"""

import itertools
import secrets

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shop.audit.services import Actor
from shop.autorenew import services as autorenew
from shop.autorenew.models import RenewalOutcome
from shop.extensions import db
from shop.storefront import orders, refund_flow, wallet_orders
from shop.storefront.models import Delivery, Order, PaymentMethod
from shop.wallet import services as wallets
from shop.wallet.models import Wallet, WalletEntry
from simulators.paypal import PayPalSimulator
from tests.autorenew_helpers import PRICE, deliver_all, owned_card, rule_for, set_figures
from tests.factories import make_product
from tests.storefront_helpers import approve, path_of, start_payment

ACTOR = Actor.system("property-test")
PASSWORD = "correct-horse-9"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def simulator():
    with PayPalSimulator() as server:
        server.webhook_url = None  # the buyer's return settles each order
        yield server


@pytest.fixture
def app_config(simulator):
    return {**simulator.shop_config(), "PAYMENT_CODE_ENABLED": False}


class WalletMachine(RuleBasedStateMachine):
    """One customer's USD wallet, a card with an auto-renew rule, and what moves the wallet."""

    client = None
    pack_sku = ""
    pack_price = 0

    @initialize()
    def open_account(self):
        self.user, self.card = owned_card()
        self.rule = rule_for(self.user, self.card)
        self.wallet_id = wallets.wallet_for(self.user.id, "USD").id
        db.session.commit()
        # A starting balance, so that early purchases (and so their refunds) can happen.
        wallets.adjust(self.wallet_id, 2000, "Opening credit", secrets.token_hex(8), ACTOR)
        self.expected = 2000
        self.paid_orders: list[tuple[int, int]] = []  # (order id, amount still refundable)
        self.topups: list[tuple[int, int]] = []
        self.client.post("/logout")
        response = self.client.post("/login", data={"email": self.user.email, "password": PASSWORD})
        assert response.status_code == 302

    @rule(amount=st.integers(min_value=500, max_value=3000))  # WALLET_TOPUP_MIN is 5.00
    def top_up_with_paypal(self, amount):
        response = self.client.post(
            "/account/wallet/top-up",
            data={"currency": "USD", "amount": f"{amount / 100:.2f}", "payment_method": "paypal"},
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        order_path = path_of(response.headers["Location"])
        back = approve(start_payment(self.client, order_path))
        assert self.client.get(path_of(back)).status_code in (200, 302, 303)
        reference = order_path.rsplit("/", 1)[-1].split("?")[0]
        db.session.rollback()
        order = db.session.execute(db.select(Order).filter_by(reference=reference)).scalar_one()
        self.topups.append((order.id, amount))
        self.expected += amount

    @rule(quantity=st.integers(min_value=1, max_value=3))
    def pay_an_order_from_the_wallet(self, quantity):
        total = quantity * WalletMachine.pack_price
        request = orders.CheckoutRequest(
            items={WalletMachine.pack_sku: quantity},
            email=self.user.email,
            delivery=Delivery.VOUCHERS,
            user_id=self.user.id,
            payment_method=PaymentMethod.WALLET,
        )
        try:
            order = orders.place_order(request, ACTOR)
        except orders.CheckoutError as refused:  # checkout offers the wallet only if it covers
            assert refused.reason == "wallet_short", refused
            assert self.expected < total
            return
        try:
            wallet_orders.pay_from_wallet(order.id, self.user.id, ACTOR)
        except wallet_orders.WalletPayRefused:
            assert self.expected < total
            return
        assert self.expected >= total
        self.expected -= total
        self.paid_orders.append((order.id, total))

    @rule()
    def card_runs_dry_and_auto_renews(self):
        deliver_all(self.card.id)  # the last pack reached the network: a new pack period
        set_figures(self.card.id, left=0)
        result = autorenew.renew(self.rule.id)
        if self.expected >= PRICE:
            assert result.outcome == RenewalOutcome.RENEWED, result
            self.expected -= PRICE
        else:  # nothing charged; the owner is told once per period
            assert result.outcome != RenewalOutcome.RENEWED, result
            assert result.outcome == RenewalOutcome.INSUFFICIENT_FUNDS or result.skipped, result

    @precondition(lambda self: any(left for _order, left in self.paid_orders))
    @rule(data=st.data())
    def refund_a_wallet_paid_order(self, data):
        refundable = [(i, pair) for i, pair in enumerate(self.paid_orders) if pair[1]]
        index, (order_id, left) = data.draw(st.sampled_from(refundable))
        amount = data.draw(st.sampled_from(sorted({WalletMachine.pack_price, left})))
        refund_flow.refund_order(order_id, amount, [], secrets.token_hex(8), ACTOR)
        self.paid_orders[index] = (order_id, left - amount)
        self.expected += amount

    @precondition(lambda self: any(amount for _order, amount in self.topups))
    @rule(data=st.data())
    def refund_a_top_up(self, data):
        index, (order_id, amount) = data.draw(
            st.sampled_from([(i, pair) for i, pair in enumerate(self.topups) if pair[1]])
        )
        try:
            refund_flow.refund_order(order_id, amount, [], secrets.token_hex(8), ACTOR)
        except refund_flow.RefundRefused as refused:
            assert refused.code == "wallet_spent", refused
            assert self.expected < amount
            return
        self.topups[index] = (order_id, 0)
        self.expected -= amount

    @rule(amount=st.integers(min_value=-4000, max_value=4000).filter(bool))
    def admin_adjusts(self, amount):
        try:
            wallets.adjust(self.wallet_id, amount, "Property test", secrets.token_hex(8), ACTOR)
        except wallets.AdjustmentRefused:
            assert self.expected + amount < 0
            return
        self.expected += amount

    @invariant()
    def balance_is_the_ledger_and_never_negative(self):
        if not hasattr(self, "wallet_id"):
            return
        db.session.rollback()
        wallet = db.session.get(Wallet, self.wallet_id)
        assert wallet.balance == self.expected
        assert wallet.balance == wallets.ledger_sum(self.wallet_id)
        assert wallet.balance >= 0
        lowest = db.session.execute(
            db.select(db.func.min(WalletEntry.balance_after)).filter_by(wallet_id=self.wallet_id)
        ).scalar_one()
        assert lowest is None or lowest >= 0


@pytest.mark.slow
def test_any_sequence_of_wallet_movements_keeps_the_balance_equal_to_the_ledger(app, client):
    product = make_product(sku=f"WALLET-PROP-{next(_numbers)}", price=700)
    WalletMachine.client = client
    WalletMachine.pack_sku, WalletMachine.pack_price = product.sku, product.price
    run_state_machine_as_test(
        WalletMachine,
        settings=settings(
            max_examples=8, stateful_step_count=12, deadline=None, database=None, derandomize=True
        ),
    )
    db.session.rollback()
    assert wallets.BOOK.mismatches() == []
    kinds = {kind.value for kind in db.session.execute(db.select(WalletEntry.kind)).scalars()}
    assert {"topup", "purchase", "renewal", "refund", "adjustment"} <= kinds, kinds
