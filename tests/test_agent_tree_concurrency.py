"""Floats down the tree under concurrency: transfers from one parent racing sales below it.

Fifty transfers from one distributor to its sub-agents run at once with fifty sales at those
sub-agents (whose commissions credit the same distributor). No balance is ever below minus
its limit (every ledger row's balance after is checked, not only the end), every balance
equals its ledger, and what left the parent equals what reached the children.
"""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func

from shop.agents import ledger, sales, transfers
from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.models import Agent, LedgerEntry, LedgerKind, SaleEarning
from shop.audit.services import Actor
from shop.extensions import db
from shop.vouchers.models import Voucher
from tests.factories import PASSWORD, make_product

ACTOR = Actor(label="race")
THREADS = 16
TRANSFERS = SALES = 50


@pytest.fixture
def app_config():
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": THREADS + 4,
            "max_overflow": 0,
            "pool_timeout": 60,
        }
    }


def test_fifty_concurrent_transfers_and_sales_keep_every_float_within_limit_and_equal_to_its_ledger(
    app,
):
    make_product(sku="ASIA-10", price=1000)
    parent = agent_services.create_agent(
        "DIST", "Distributor", discount_bps=2000, credit_limit=3000
    )
    agent_services.credit_agent("DIST", 20_000)
    children = [
        agent_tree.create_sub_agent(
            parent,
            f"KID{number}",
            f"Kid {number}",
            discount_bps=1000,
            credit_limit=500,
            manager_email=f"kid{number}@example.com",
            manager_password=PASSWORD,
        )
        for number in range(4)
    ]
    ids = [child.id for child in children]
    codes = [child.code for child in children]
    parent_id = parent.id
    rng = random.Random(7)
    # Transfers ask for more than the parent holds in total (50 x ~600 > 20,000 + 3,000).
    work = [("transfer", codes[i % 4], rng.randint(300, 900)) for i in range(TRANSFERS)]
    work += [("sale", ids[i % 4], rng.randint(1, 3)) for i in range(SALES)]
    rng.shuffle(work)
    start = threading.Event()

    def run(item):
        kind, target, amount = item
        with app.app_context():
            start.wait()
            try:
                if kind == "transfer":
                    transfers.transfer_float(parent_id, target, amount, ACTOR)
                else:
                    sales.sell_vouchers(target, "ASIA-10", amount, ACTOR)
            except ledger.InsufficientCredit:
                return kind, "refused"
            finally:
                db.session.remove()
            return kind, "done"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, item) for item in work]
        start.set()
        outcomes = [future.result() for future in futures]

    assert ("transfer", "done") in outcomes and ("transfer", "refused") in outcomes
    assert ("sale", "done") in outcomes
    db.session.rollback()
    agents = list(db.session.execute(db.select(Agent)).scalars())
    for agent in agents:
        assert agent.balance == ledger.ledger_sum(agent.id), agent.code
        assert agent.balance >= -agent.credit_limit, agent.code
        lowest = db.session.execute(
            db.select(func.min(LedgerEntry.balance_after)).where(LedgerEntry.agent_id == agent.id)
        ).scalar_one()
        assert lowest >= -agent.credit_limit, f"{agent.code} went below its limit at some point"

    def total(kind):
        return int(
            db.session.execute(
                db.select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.kind == kind
                )
            ).scalar_one()
        )

    transferred = sum(
        amount
        for (kind, _, amount), outcome in zip(work, outcomes, strict=True)
        if kind == "transfer" and outcome[1] == "done"
    )
    assert total(LedgerKind.TRANSFER_OUT) == -transferred
    assert total(LedgerKind.TRANSFER_IN) == transferred
    # Every voucher sold below paid its parent its commission: 100 per voucher (900 - 800).
    sold = db.session.execute(
        db.select(func.count(Voucher.id)).where(Voucher.agent_id.in_(ids))
    ).scalar_one()
    assert total(LedgerKind.COMMISSION) == 100 * sold
    assert db.session.execute(db.select(func.count(SaleEarning.id))).scalar_one() == 2 * sold
    # The whole tree's float is what the operator sold it less the operator's net per voucher.
    assert sum(agent.balance for agent in agents) == 20_000 - 800 * sold
