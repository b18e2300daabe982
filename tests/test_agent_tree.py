"""The reseller tree: sub-agents, floats down the tree, margins per level, suspension."""

import random

import pytest
from sqlalchemy import func

from shop.agents import float_requests, ledger, pricing, sales, transfers
from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.models import Agent, AgentStatus, LedgerEntry, LedgerKind, SaleEarning
from shop.audit.services import Actor
from shop.auth.models import Role, User
from shop.extensions import db
from shop.vouchers import batches
from shop.vouchers.models import Voucher
from tests.agents_helpers import db_get, make_tree
from tests.factories import PASSWORD, make_card, make_product

ACTOR = Actor(label="test")


def earnings_of(voucher_id=None, topup_id=None) -> list[SaleEarning]:
    query = db.select(SaleEarning).order_by(SaleEarning.level)
    if voucher_id is not None:
        query = query.where(SaleEarning.voucher_id == voucher_id)
    else:
        query = query.where(SaleEarning.topup_id == topup_id)
    return list(db.session.execute(query).scalars())


def assert_float_consistent():
    db.session.rollback()
    for agent in db.session.execute(db.select(Agent)).scalars():
        assert agent.balance == ledger.ledger_sum(agent.id), agent.code
        assert agent.balance >= -agent.credit_limit, agent.code


def test_a_sub_agent_sits_below_its_parent_with_its_first_manager(app):
    tree = make_tree()
    assert (tree.dist.depth, tree.sub1.depth, tree.leaf.depth) == (1, 2, 3)
    assert tree.dist.path == f"/{tree.dist.id}/"
    assert tree.leaf.path == f"/{tree.dist.id}/{tree.sub1.id}/{tree.leaf.id}/"
    assert tree.leaf.parent_id == tree.sub1.id
    manager = db.session.execute(
        db.select(User).filter_by(email="manager-leaf@example.com")
    ).scalar_one()
    assert manager.role == Role.AGENT_MANAGER and manager.agent_id == tree.leaf.id
    assert [agent.code for agent in agent_tree.subtree(tree.dist)] == [
        "DIST",
        "SUB1",
        "LEAF",
        "SUB2",
    ]
    assert [agent.code for agent in agent_tree.subtree(tree.sub1)] == ["SUB1", "LEAF"]
    assert agent_tree.is_within(tree.dist, tree.leaf, strict=True)
    assert not agent_tree.is_within(tree.sub2, tree.leaf)
    assert not agent_tree.is_within(tree.leaf, tree.sub1)


def test_the_tree_is_at_most_as_deep_as_the_configuration_says(app):
    tree = make_tree()
    assert app.config["AGENT_TREE_MAX_DEPTH"] == 3
    with pytest.raises(agent_services.TreeTooDeep):
        agent_tree.create_sub_agent(
            tree.leaf,
            "DEEP",
            "Too deep",
            discount_bps=0,
            credit_limit=0,
            manager_email="deep@example.com",
            manager_password=PASSWORD,
        )
    db.session.rollback()
    assert db.session.execute(db.select(Agent).filter_by(code="DEEP")).first() is None
    assert db.session.execute(db.select(User).filter_by(email="deep@example.com")).first() is None


def test_a_sub_agent_with_a_bad_first_manager_is_not_created_at_all(app):
    tree = make_tree()
    with pytest.raises(Exception) as caught:  # noqa: B017 - the type is checked below
        agent_tree.create_sub_agent(
            tree.dist,
            "HALF",
            "Half made",
            discount_bps=0,
            credit_limit=0,
            manager_email="half@example.com",
            manager_password="short",
        )
    assert type(caught.value).__name__ == "WeakPassword"
    db.session.rollback()
    assert db.session.execute(db.select(Agent).filter_by(code="HALF")).first() is None


def test_a_childs_discount_above_its_parents_is_refused(app):
    tree = make_tree()
    with pytest.raises(agent_services.DiscountAboveParent):
        agent_tree.create_sub_agent(
            tree.dist,
            "GREEDY",
            "Greedy",
            discount_bps=2001,
            credit_limit=0,
            manager_email="greedy@example.com",
            manager_password=PASSWORD,
        )
    db.session.rollback()
    with pytest.raises(agent_services.DiscountAboveParent):
        agent_tree.set_child_terms(tree.dist, "SUB1", discount_bps=2500, credit_limit=0)
    db.session.rollback()
    with pytest.raises(agent_services.DiscountAboveParent):
        agent_services.set_agent_terms("LEAF", discount_bps=1001, credit_limit=0)
    db.session.rollback()
    assert db_get(tree.sub1.id).discount_bps == 1000
    assert db_get(tree.leaf.id).discount_bps == 500
    agent_tree.set_child_terms(tree.dist, "SUB1", discount_bps=2000, credit_limit=0)
    assert db_get(tree.sub1.id).discount_bps == 2000
    with pytest.raises(agent_services.AgentNotFound):  # not a direct child
        agent_tree.set_child_terms(tree.dist, "LEAF", discount_bps=100, credit_limit=0)


def test_each_level_earns_its_margin_and_they_add_up_to_face_value_less_the_operators_net(app):
    product = make_product(sku="ASIA-10", price=10_000)
    tree = make_tree(float_each=100_000)
    sale = sales.sell_vouchers(tree.leaf.id, "ASIA-10", 3, ACTOR)
    # Buy prices: DIST 8000 (20 %), SUB1 9000 (10 %), LEAF 9500 (5 %).
    assert sale.cost == 3 * 9500
    for voucher in sale.vouchers:
        rows = earnings_of(voucher_id=voucher.id)
        assert [(row.agent_id, row.level) for row in rows] == [
            (tree.dist.id, 1),
            (tree.sub1.id, 2),
            (tree.leaf.id, 3),
        ]
        assert [row.buy_price for row in rows] == [8000, 9000, 9500]
        assert [row.amount for row in rows] == [1000, 500, 500]
        operator_net = rows[0].buy_price
        assert sum(row.amount for row in rows) + operator_net == product.price
    db.session.rollback()
    assert db_get(tree.leaf.id).balance == 100_000 - 3 * 9500
    assert db_get(tree.sub1.id).balance == 100_000 + 3 * 500  # kept 2x, gave 1x to LEAF
    assert db_get(tree.dist.id).balance == 100_000 + 3 * 1000
    kinds = set(
        db.session.execute(
            db.select(LedgerEntry.kind).where(LedgerEntry.agent_id == tree.dist.id)
        ).scalars()
    )
    assert LedgerKind.COMMISSION in kinds and LedgerKind.TRANSFER_OUT in kinds
    assert_float_consistent()

    # A counter top-up and an activated pre-printed voucher record their levels as well.
    card = make_card()
    topup, _, _ = sales.counter_top_up(tree.sub2.id, "ASIA-10", card.number, ACTOR, channel="t")
    rows = earnings_of(topup_id=topup.id)
    assert [row.amount for row in rows] == [1000, 1000]
    assert sum(row.amount for row in rows) + rows[0].buy_price == 10_000
    stock = batches.generate_batch(product, 1, agent_id=tree.leaf.id, inactive=True)
    serial = db.session.execute(
        db.select(Voucher.serial).filter_by(batch_id=stock.batch.id)
    ).scalar_one()
    voucher, _ = sales.activate_stock(tree.leaf.id, serial, ACTOR)
    rows = earnings_of(voucher_id=voucher.id)
    assert [row.amount for row in rows] == [1000, 500, 500]
    assert_float_consistent()


def test_a_price_change_does_not_change_a_sale_already_made(app):
    make_product(sku="ASIA-10", price=10_000)
    tree = make_tree(float_each=100_000)
    first = sales.sell_vouchers(tree.leaf.id, "ASIA-10", 1, ACTOR).vouchers[0]
    agent_tree.set_child_terms(tree.sub1, "LEAF", discount_bps=0, credit_limit=0)
    agent_services.set_agent_terms("DIST", discount_bps=3000, credit_limit=0)
    second = sales.sell_vouchers(tree.leaf.id, "ASIA-10", 1, ACTOR).vouchers[0]
    db.session.rollback()
    assert db.session.get(Voucher, first.id).cost == 9500
    assert [row.amount for row in earnings_of(voucher_id=first.id)] == [1000, 500, 500]
    assert db.session.get(Voucher, second.id).cost == 10_000
    assert [row.amount for row in earnings_of(voucher_id=second.id)] == [2000, 1000, 0]
    assert_float_consistent()


def test_a_fixed_pack_price_wins_over_the_discount_but_never_below_the_parents(app):
    product = make_product(sku="EU-5", price=5000)
    tree = make_tree(float_each=50_000)
    with pytest.raises(pricing.PriceOutOfRange) as refused:
        pricing.set_pack_price(tree.sub1, product, 3999)  # DIST buys at 4000
    assert (refused.value.low, refused.value.high) == (4000, 5000)
    db.session.rollback()
    with pytest.raises(pricing.PriceOutOfRange):
        pricing.set_pack_price(tree.sub1, product, 5001)
    db.session.rollback()
    pricing.set_pack_price(tree.sub1, product, 4200)
    assert pricing.buy_price(db_get(tree.sub1.id), product) == 4200
    # LEAF's own discount (5 %: 4750) stays above SUB1's fixed price.
    sale = sales.sell_vouchers(tree.leaf.id, "EU-5", 1, ACTOR)
    rows = earnings_of(voucher_id=sale.vouchers[0].id)
    assert [row.buy_price for row in rows] == [4000, 4200, 4750]
    assert [row.amount for row in rows] == [200, 550, 250]
    # The operator lowers DIST's discount below what SUB1 was given: SUB1 still pays no less
    # than DIST, and DIST earns nothing rather than losing.
    agent_services.set_agent_terms("DIST", discount_bps=0, credit_limit=0)
    sale = sales.sell_vouchers(tree.sub1.id, "EU-5", 1, ACTOR)
    rows = earnings_of(voucher_id=sale.vouchers[0].id)
    assert [row.buy_price for row in rows] == [5000, 5000]
    assert [row.amount for row in rows] == [0, 0]
    pricing.remove_pack_price(db_get(tree.sub1.id), product.id)
    assert pricing.pack_prices(tree.sub1.id) == []
    assert_float_consistent()


def test_suspending_a_parent_stops_its_whole_subtree_selling_and_reactivation_restores_it(app):
    make_product(sku="ASIA-10", price=10_000)
    tree = make_tree(float_each=100_000)
    card = make_card()
    agent_services.set_agent_status("SUB1", AgentStatus.SUSPENDED)
    with pytest.raises(ledger.AgentSuspended) as refused:
        sales.sell_vouchers(tree.leaf.id, "ASIA-10", 1, ACTOR)
    assert refused.value.agent_code == "SUB1"
    with pytest.raises(ledger.AgentSuspended) as refused:
        sales.counter_top_up(tree.leaf.id, "ASIA-10", card.number, ACTOR, channel="t")
    assert refused.value.agent_code == "SUB1"
    with pytest.raises(ledger.AgentSuspended) as refused:
        sales.sell_vouchers(tree.sub1.id, "ASIA-10", 1, ACTOR)
    assert refused.value.agent_code == ""  # the seller itself
    sales.sell_vouchers(tree.sub2.id, "ASIA-10", 1, ACTOR)  # a sibling's subtree sells on

    agent_services.set_agent_status("DIST", AgentStatus.SUSPENDED)
    agent_services.set_agent_status("SUB1", AgentStatus.ACTIVE)
    for seller in (tree.leaf, tree.sub1, tree.sub2):
        with pytest.raises(ledger.AgentSuspended) as refused:
            sales.sell_vouchers(seller.id, "ASIA-10", 1, ACTOR)
        assert refused.value.agent_code == "DIST"
    agent_services.set_agent_status("DIST", AgentStatus.ACTIVE)
    for seller in (tree.leaf, tree.sub1, tree.sub2):
        sales.sell_vouchers(seller.id, "ASIA-10", 1, ACTOR)
    assert_float_consistent()


def test_a_parent_moves_float_to_a_child_and_takes_unused_float_back(app):
    tree = make_tree()
    agent_services.credit_agent("DIST", 10_000)
    moved = transfers.transfer_float(tree.dist.id, "SUB1", 6000, ACTOR)
    assert (moved.parent_balance, moved.child_balance) == (4000, 6000)
    with pytest.raises(ledger.InsufficientCredit):
        transfers.transfer_float(tree.dist.id, "SUB2", 4001, ACTOR)
    with pytest.raises(agent_services.AgentNotFound):  # LEAF is SUB1's, not DIST's
        transfers.transfer_float(tree.dist.id, "LEAF", 100, ACTOR)
    with pytest.raises(agent_services.AgentNotFound):  # a child never funds its parent
        transfers.transfer_float(tree.sub1.id, "DIST", 100, ACTOR)
    with pytest.raises(ledger.InvalidAmount):
        transfers.transfer_float(tree.dist.id, "SUB1", 0, ACTOR)
    back = transfers.take_back(tree.dist.id, "SUB1", 2500, ACTOR)
    assert (back.parent_balance, back.child_balance) == (6500, 3500)
    with pytest.raises(ledger.InsufficientCredit):  # only unused float comes back
        transfers.take_back(tree.dist.id, "SUB1", 3501, ACTOR)
    agent_services.set_agent_status("SUB1", AgentStatus.SUSPENDED)
    transfers.take_back(tree.dist.id, "SUB1", 3500, ACTOR)  # even from a suspended child
    agent_services.set_agent_status("DIST", AgentStatus.SUSPENDED)
    with pytest.raises(ledger.AgentSuspended):  # a suspended parent gives nothing
        transfers.transfer_float(tree.dist.id, "SUB2", 100, ACTOR)
    db.session.rollback()
    assert db_get(tree.dist.id).balance == 10_000
    assert db_get(tree.sub1.id).balance == 0
    entries = db.session.execute(
        db.select(LedgerEntry.kind, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.kind)
    ).all()
    sums = {kind: int(total) for kind, total in entries}
    assert sums[LedgerKind.TRANSFER_OUT] == -sums[LedgerKind.TRANSFER_IN] == -6000
    assert sums[LedgerKind.TAKE_BACK] == 0
    assert_float_consistent()


def test_a_void_below_gives_back_the_sellers_cost_and_every_levels_commission(app):
    make_product(sku="ASIA-10", price=10_000)
    tree = make_tree(float_each=100_000)
    before = {agent.id: db_get(agent.id).balance for agent in (tree.dist, tree.sub1, tree.leaf)}
    sale = sales.sell_vouchers(tree.leaf.id, "ASIA-10", 1, ACTOR)
    sales.void_sale(tree.leaf.id, sale.vouchers[0].serial, ACTOR)
    after = {agent_id: db_get(agent_id).balance for agent_id in before}
    assert after == before
    assert_float_consistent()


def test_a_sub_agents_float_request_goes_to_its_parent_who_pays_it(app):
    tree = make_tree()
    agent_services.credit_agent("DIST", 5000)
    request = float_requests.request_float(tree.sub1.id, 3000, "cash 12", b"", ACTOR)
    operator_list = float_requests.list_requests(decider_id=float_requests.OPERATOR)
    assert request.id not in [item.id for item in operator_list]
    assert [item.id for item in float_requests.list_requests(decider_id=tree.dist.id)] == [
        request.id
    ]
    with pytest.raises(float_requests.RequestNotFound):  # the operator does not decide it
        float_requests.approve_request(request.id, ACTOR)
    db.session.rollback()
    with pytest.raises(float_requests.RequestNotFound):  # nor does a sibling
        float_requests.approve_request(request.id, ACTOR, decider_id=tree.sub2.id)
    db.session.rollback()
    balance = float_requests.approve_request(request.id, ACTOR, decider_id=tree.dist.id)
    assert balance == 3000
    assert db_get(tree.dist.id).balance == 2000
    big = float_requests.request_float(tree.sub1.id, 9000, "cash 13", b"", ACTOR)
    with pytest.raises(ledger.InsufficientCredit):
        float_requests.approve_request(big.id, ACTOR, decider_id=tree.dist.id)
    db.session.rollback()
    assert float_requests.get_request(big.id).status.value == "pending"
    assert_float_consistent()


def test_moving_an_agent_keeps_paths_depths_and_refuses_cycles_and_depth(app):
    tree = make_tree()
    other = agent_services.create_agent("OTHER", "Other distributor", discount_bps=2000)
    with pytest.raises(agent_tree.MoveRefused):
        agent_tree.move_agent("DIST", "LEAF")  # under its own subtree
    db.session.rollback()
    with pytest.raises(agent_tree.MoveRefused):
        agent_tree.move_agent("SUB1", "SUB1")
    db.session.rollback()
    with pytest.raises(agent_services.TreeTooDeep):
        agent_tree.move_agent("SUB1", "SUB2")  # SUB1 > LEAF would reach depth 4
    db.session.rollback()
    moved = agent_tree.move_agent("SUB1", "OTHER")
    assert (moved.parent_id, moved.depth, moved.path) == (
        other.id,
        2,
        f"/{other.id}/{tree.sub1.id}/",
    )
    leaf = db_get(tree.leaf.id)
    assert (leaf.depth, leaf.path) == (3, f"/{other.id}/{tree.sub1.id}/{tree.leaf.id}/")
    top = agent_tree.move_agent("SUB1", None)
    assert (top.parent_id, top.depth, top.path) == (None, 1, f"/{tree.sub1.id}/")
    assert db_get(tree.leaf.id).path == f"/{tree.sub1.id}/{tree.leaf.id}/"
    assert [agent.code for agent in agent_tree.subtree(db_get(tree.dist.id))] == ["DIST", "SUB2"]
    with pytest.raises(agent_services.DiscountAboveParent):  # SUB2 gets more than LEAF
        agent_tree.move_agent("SUB2", "LEAF")
    db.session.rollback()
    agent_services.set_agent_terms("SUB2", discount_bps=500, credit_limit=0)
    agent_tree.move_agent("SUB2", "LEAF")  # depth 3 is allowed
    assert db_get(tree.sub2.id).depth == 3


def test_a_suspension_committed_while_a_sale_runs_refuses_that_sale(app, monkeypatch):
    """The commission's update re-checks each ancestor under its row lock, even at zero."""
    make_product(sku="ASIA-10", price=10_000)
    tree = make_tree(float_each=100_000, discounts=(1000, 1000, 1000, 500))
    vouchers_before = db.session.execute(db.select(func.count(Voucher.id))).scalar_one()

    def checked_before_the_suspension(agent):
        return [*agent_tree.ancestors(agent), agent]

    monkeypatch.setattr(sales.tree, "check_can_sell", checked_before_the_suspension)
    for suspended in ("SUB1", "DIST"):  # SUB1 earns 500 a voucher, DIST nothing
        agent_services.set_agent_status(suspended, AgentStatus.SUSPENDED)
        with pytest.raises(ledger.AgentSuspended) as refused:
            sales.sell_vouchers(tree.leaf.id, "ASIA-10", 1, ACTOR)
        assert refused.value.agent_code == suspended
        agent_services.set_agent_status(suspended, AgentStatus.ACTIVE)
    db.session.rollback()
    assert db.session.execute(db.select(func.count(Voucher.id))).scalar_one() == vouchers_before
    assert_float_consistent()


def test_any_sequence_of_moves_sales_and_voids_keeps_every_float_and_the_operators_net(app):
    """Each balance equals its ledger within its limit, and the tree's floats add up.

    After every step the whole tree holds what the operator sold it less the operator's net
    on the sales not voided.
    """
    make_product(sku="ASIA-10", price=1000)
    make_product(sku="EU-7", price=730)
    tree = make_tree(discounts=(2500, 1500, 2000, 700))
    agent_services.credit_agent("DIST", 40_000)
    agents = [tree.dist, tree.sub1, tree.sub2, tree.leaf]
    parents = {tree.sub1.id: tree.dist, tree.sub2.id: tree.dist, tree.leaf.id: tree.sub1}
    card = make_card()
    rng = random.Random(20261206)
    sold: list[tuple[int, str]] = []
    credited = 40_000
    for _step in range(120):
        action = rng.choice(["give", "take", "sell", "sell", "topup", "void", "suspend"])
        child = rng.choice([tree.sub1, tree.sub2, tree.leaf])
        parent = parents[child.id]
        seller = rng.choice(agents)
        try:
            if action == "give":
                transfers.transfer_float(parent.id, child.code, rng.randint(1, 9000), ACTOR)
            elif action == "take":
                transfers.take_back(parent.id, child.code, rng.randint(1, 4000), ACTOR)
            elif action == "sell":
                sale = sales.sell_vouchers(
                    seller.id, rng.choice(["ASIA-10", "EU-7"]), rng.randint(1, 3), ACTOR
                )
                sold += [(seller.id, voucher.serial) for voucher in sale.vouchers]
            elif action == "topup":
                sales.counter_top_up(seller.id, "EU-7", card.number, ACTOR, channel="t")
            elif action == "void" and sold:
                seller_id, serial = sold.pop(rng.randrange(len(sold)))
                sales.void_sale(seller_id, serial, ACTOR)
            elif action == "suspend":
                status = rng.choice([AgentStatus.ACTIVE, AgentStatus.SUSPENDED])
                agent_services.set_agent_status(child.code, status)
        except (ledger.InsufficientCredit, ledger.AgentSuspended):
            db.session.rollback()
        assert_float_consistent()
        operator_net = db.session.execute(
            db.select(func.coalesce(func.sum(SaleEarning.buy_price), 0))
            .outerjoin(Voucher, Voucher.id == SaleEarning.voucher_id)
            .where(
                SaleEarning.level == 1,
                (SaleEarning.voucher_id.is_(None)) | (Voucher.status != "void"),
            )
        ).scalar_one()
        total = db.session.execute(db.select(func.sum(Agent.balance))).scalar_one()
        assert total == credited - operator_net
    kinds = set(db.session.execute(db.select(LedgerEntry.kind)).scalars())
    assert {
        LedgerKind.COMMISSION,
        LedgerKind.COMMISSION_REVERSAL,
        LedgerKind.TAKE_BACK,
        LedgerKind.TRANSFER_IN,
        LedgerKind.VOID_REFUND,
    } <= kinds
