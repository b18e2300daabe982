"""Invariants 3 and 6: the float never goes below minus the limit and equals its ledger.

Whatever the concurrency, an agent's balance stays at or above minus its credit limit and equals
the sum of its ledger entries; a sale that cannot be paid issues nothing.
"""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

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

from shop.agents import ledger, sales
from shop.agents import services as agent_services
from shop.agents.models import Agent, LedgerEntry
from shop.audit.services import Actor
from shop.cards.models import Card
from shop.extensions import db
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.services import VoucherVoid
from tests.factories import make_agent, make_card, make_product

ACTOR = Actor(label="test", ip_address="10.1.1.1")
WORKERS = 15


@pytest.fixture
def app_config():
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": WORKERS + 5,
            "max_overflow": 0,
            "pool_timeout": 60,
        }
    }


def test_fifteen_concurrent_sales_against_a_float_for_five_sell_exactly_five(app):
    product = make_product(sku="ASIA-5", price=1000)
    agent = make_agent(code="RACE", discount_bps=0)
    agent_services.credit_agent("RACE", 5000)
    agent_id = agent.id
    barrier = threading.Barrier(WORKERS)

    def sell(_):
        with app.app_context():
            barrier.wait()
            try:
                sales.sell_vouchers(agent_id, "ASIA-5", 1, ACTOR)
            except ledger.InsufficientCredit:
                return "refused"
            finally:
                db.session.remove()
            return "sold"

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(sell, range(WORKERS)))
    assert outcomes.count("sold") == 5
    assert outcomes.count("refused") == 10
    db.session.rollback()
    agent = db.session.get(Agent, agent_id)
    assert agent.balance == 0
    assert ledger.ledger_sum(agent_id) == agent.balance
    sold = db.session.execute(
        db.select(db.func.count(Voucher.id)).filter_by(agent_id=agent_id)
    ).scalar_one()
    assert sold == 5, "a sale that could not be paid issued nothing"
    assert product.id


def test_a_sale_failing_half_way_leaves_no_voucher_and_no_ledger_entry(app, monkeypatch):
    make_product(sku="ASIA-5", price=1000)
    agent = make_agent(code="HALF", discount_bps=0)
    agent_services.credit_agent("HALF", 100_000)
    entries_before = db.session.execute(db.select(db.func.count(LedgerEntry.id))).scalar_one()

    def broken_debit(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ledger, "debit_float", broken_debit)
    with pytest.raises(RuntimeError):
        sales.sell_vouchers(agent.id, "ASIA-5", 10, ACTOR)
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(Voucher.id))).scalar_one() == 0
    assert (
        db.session.execute(db.select(db.func.count(LedgerEntry.id))).scalar_one() == entries_before
    )
    assert db.session.get(Agent, agent.id).balance == 100_000


_codes = itertools.count(1)


class FloatMachine(RuleBasedStateMachine):
    """Credit purchases, sales, voids and top-ups in any order keep the float consistent."""

    @initialize(limit=st.integers(0, 3000), discount=st.integers(0, 5000))
    def open_agent(self, limit, discount):
        self.code = f"SM{next(_codes)}"
        self.agent_id = make_agent(code=self.code, credit_limit=limit, discount_bps=discount).id
        self.limit = limit
        self.expected = 0
        self.sold: list[str] = []
        self.card = make_card().number

    def _cost(self, price: int, quantity: int = 1) -> int:
        agent = db.session.get(Agent, self.agent_id)
        return agent.wholesale_cost(price) * quantity

    @rule(amount=st.integers(1, 4000))
    def credit(self, amount):
        agent_services.credit_agent(self.code, amount)
        self.expected += amount

    @rule(quantity=st.integers(1, 4))
    def sell(self, quantity):
        cost = self._cost(FloatMachine.price, quantity)
        try:
            sale = sales.sell_vouchers(self.agent_id, FloatMachine.sku, quantity, ACTOR)
        except ledger.InsufficientCredit:
            assert self.expected - cost < -self.limit
            return
        assert self.expected - cost >= -self.limit
        self.expected -= cost
        self.sold.extend(v.serial for v in sale.vouchers)

    @precondition(lambda self: self.sold)
    @rule(data=st.data())
    def void(self, data):
        serial = data.draw(st.sampled_from(self.sold))
        voucher = db.session.execute(db.select(Voucher).filter_by(serial=serial)).scalar_one()
        if voucher.status != VoucherStatus.ACTIVE:
            with pytest.raises(VoucherVoid):
                sales.void_sale(self.agent_id, serial, ACTOR)
            db.session.rollback()
            return
        cost = voucher.cost
        sales.void_sale(self.agent_id, serial, ACTOR)
        self.expected += cost

    @rule()
    def top_up(self):
        cost = self._cost(FloatMachine.price)
        try:
            sales.counter_top_up(self.agent_id, FloatMachine.sku, self.card, ACTOR, channel="test")
        except ledger.InsufficientCredit:
            assert self.expected - cost < -self.limit
            return
        self.expected -= cost

    @invariant()
    def balance_matches_ledger_and_limit(self):
        if not hasattr(self, "agent_id"):
            return
        db.session.rollback()
        agent = db.session.get(Agent, self.agent_id)
        assert agent.balance == self.expected
        assert agent.balance == ledger.ledger_sum(self.agent_id)
        assert agent.balance >= -agent.credit_limit


def test_any_sequence_of_credits_sales_voids_and_top_ups_keeps_the_float_consistent(app):
    product = make_product(sku="STATE-PACK", price=1234)
    FloatMachine.sku, FloatMachine.price = product.sku, product.price
    run_state_machine_as_test(
        FloatMachine,
        settings=settings(
            max_examples=20, stateful_step_count=15, deadline=None, database=None, derandomize=True
        ),
    )
    db.session.rollback()
    for agent in db.session.execute(db.select(Agent)).scalars():
        assert agent.balance == ledger.ledger_sum(agent.id)
    kinds = set(db.session.execute(db.select(LedgerEntry.kind)).scalars())
    assert {"credit_purchase", "sale", "void_refund"} <= {kind.value for kind in kinds}, kinds
    assert db.session.execute(db.select(db.func.count(Card.id))).scalar_one() >= 1
