"""Prices down the tree, and what each level earns on a sale.

Each agent buys at a price set by the level above it: its discount in basis points off face
value, or a fixed wholesale price for a pack (``PackPrice``), which wins over the discount.
No agent buys cheaper than its parent: walking the chain from the top, each level's buy price
is at least the one above it (a lower own price is raised to the parent's) and at most face
value. For a sale by the agent at level ``k``:

- the seller pays its buy price ``p[k]`` from its float and keeps ``face - p[k]`` at the till;
- each ancestor at level ``i < k`` earns ``p[i + 1] - p[i]``, credited to its float;
- the operator nets ``p[1]``, the top agent's buy price.

So ``sum(earnings) + p[1] == face`` for every sale, and the sale's float moves add up to
``-p[1]`` across the tree. Earnings are written per voucher (or top-up) and level when the
sale is made, so price changes later never change a sale already made.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select

from shop.agents import ledger
from shop.agents.models import Agent, LedgerKind, PackPrice, SaleEarning
from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher


class PriceError(Exception):
    """Base of pricing errors."""


class PriceOutOfRange(PriceError):
    """A fixed price is below the parent's buy price or above face value (``low``..``high``)."""

    def __init__(self, low: int, high: int):
        super().__init__(f"{low}..{high}")
        self.low, self.high = low, high


@dataclass(frozen=True)
class LevelPrice:
    """What one level of a sale's chain pays for the pack, and what it earns on one unit."""

    agent_id: int
    level: int
    buy_price: int
    earning: int


def _fixed_prices(agent_ids: list[int], product_id: int) -> dict[int, int]:
    rows = db.session.execute(
        select(PackPrice.agent_id, PackPrice.unit_price).where(
            PackPrice.agent_id.in_(agent_ids), PackPrice.product_id == product_id
        )
    ).all()
    return dict(rows)


def level_prices(chain: list[Agent], product_id: int, face_value: int) -> list[LevelPrice]:
    """Return each level's buy price and earning per unit, top of the chain first."""
    fixed = _fixed_prices([agent.id for agent in chain], product_id)
    prices: list[int] = []
    floor = 0
    for agent in chain:
        own = fixed.get(agent.id, agent.wholesale_cost(face_value))
        floor = min(max(own, floor), face_value)
        prices.append(floor)
    result = []
    for index, agent in enumerate(chain):
        above_next = prices[index + 1] if index + 1 < len(chain) else face_value
        result.append(LevelPrice(agent.id, agent.depth, prices[index], above_next - prices[index]))
    return result


def chain_of(agent: Agent) -> list[Agent]:
    """Return the agents from the top of the tree down to ``agent`` (itself last)."""
    ids = agent.ancestor_ids()
    found = {
        item.id: item
        for item in db.session.execute(select(Agent).where(Agent.id.in_(ids))).scalars()
    }
    return [*(found[ident] for ident in ids), agent]


def buy_price(agent: Agent, product) -> int:
    """Return what ``agent`` pays for one voucher of ``product`` today."""
    return level_prices(chain_of(agent), product.id, product.price)[-1].buy_price


def pay_for_sale(
    chain: list[Agent], prices: list[LevelPrice], quantity: int, reference: str, actor: Actor
) -> int:
    """Debit the seller's buy price, credit each ancestor its earning; return the seller's float.

    The balances are updated in primary-key order, as transfers do, so two use cases touching
    the same agents never wait on each other in a circle. A commission reaches only an active
    ancestor: one suspended while the sale was made refuses it, and the whole sale.
    """
    seller = chain[-1]
    moves = []
    cost = prices[-1].buy_price * quantity
    if cost:
        moves.append((seller.id, "debit", cost))
    for level in prices[:-1]:
        moves.append((level.agent_id, "credit", level.earning * quantity))
    balance = seller.balance
    for agent_id, direction, amount in sorted(moves):
        if direction == "credit" and not amount:
            ledger.hold_active(agent_id)
        elif direction == "debit":
            balance = ledger.debit_float(
                agent_id, amount, kind=LedgerKind.SALE, reference=reference, actor=actor
            )
        else:
            ledger.credit_float(
                agent_id,
                amount,
                kind=LedgerKind.COMMISSION,
                reference=reference,
                actor=actor,
                note=f"sale by {seller.code}",
                require_active=True,
            )
    return balance


_EARNING = SaleEarning.__table__


def record_batch_earnings(prices: list[LevelPrice], batch_id: int, seller_id: int) -> None:
    """Write each level's earning for every voucher of a sold batch (one INSERT per level)."""
    for level in prices:
        rows = select(
            Voucher.id,
            literal(seller_id),
            Voucher.sold_at,
            literal(level.agent_id),
            literal(level.level),
            literal(level.buy_price),
            literal(level.earning),
        ).where(Voucher.batch_id == batch_id)
        db.session.execute(
            insert(_EARNING).from_select(
                [
                    "voucher_id",
                    "seller_agent_id",
                    "sold_at",
                    "agent_id",
                    "level",
                    "buy_price",
                    "amount",
                ],
                rows,
            )
        )


def record_earnings(
    prices: list[LevelPrice],
    *,
    seller_id: int,
    sold_at: datetime,
    voucher_id: int | None = None,
    topup_id: int | None = None,
) -> None:
    """Write each level's earning on one sale (a voucher or a counter top-up)."""
    db.session.execute(
        insert(_EARNING),
        [
            {
                "voucher_id": voucher_id,
                "topup_id": topup_id,
                "seller_agent_id": seller_id,
                "sold_at": sold_at,
                "agent_id": level.agent_id,
                "level": level.level,
                "buy_price": level.buy_price,
                "amount": level.earning,
            }
            for level in prices
        ],
    )


_VOUCHER_EARNINGS = select(SaleEarning.agent_id, SaleEarning.amount).where(
    SaleEarning.voucher_id == bindparam("voucher_id")
)


def refund_sale(voucher: Voucher, refund: int, actor: Actor) -> int:
    """Give a voided voucher's cost back to the seller and take back its ancestors' earnings.

    Returns the seller's new balance. An ancestor gives back even when suspended, but never
    beyond its credit limit (then the void is refused with ``InsufficientCredit``). Balances
    move in primary-key order, as in a sale.
    """
    moves = [(voucher.agent_id, refund)] if refund else []
    rows = db.session.execute(_VOUCHER_EARNINGS, {"voucher_id": voucher.id}).all()
    moves += [(agent_id, -amount) for agent_id, amount in rows if agent_id != voucher.agent_id]
    balance = None
    for agent_id, amount in sorted(moves):
        if amount > 0:
            balance = ledger.credit_float(
                agent_id, amount, kind=LedgerKind.VOID_REFUND, reference=voucher.serial, actor=actor
            )
        elif amount < 0:
            ledger.debit_float(
                agent_id,
                -amount,
                kind=LedgerKind.COMMISSION_REVERSAL,
                reference=voucher.serial,
                actor=actor,
                note="voided sale",
                require_active=False,
            )
    if balance is None:
        balance = db.session.get(Agent, voucher.agent_id).balance
    return balance


def pack_prices(agent_id: int) -> list[PackPrice]:
    """Return an agent's fixed pack prices, by pack."""
    return list(
        db.session.execute(
            select(PackPrice).where(PackPrice.agent_id == agent_id).order_by(PackPrice.product_id)
        ).scalars()
    )


def set_pack_price(agent: Agent, product, unit_price: int, actor: Actor | None = None) -> None:
    """Fix ``agent``'s price for one pack, within its parent's buy price and face value; commit."""
    begin_write(db.session)
    agent = db.session.get(Agent, agent.id)
    low = 0
    if agent.parent_id is not None:
        low = buy_price(db.session.get(Agent, agent.parent_id), product)
    if not isinstance(unit_price, int) or not low <= unit_price <= product.price:
        raise PriceOutOfRange(low, product.price)
    price = db.session.execute(
        select(PackPrice).filter_by(agent_id=agent.id, product_id=product.id)
    ).scalar_one_or_none()
    if price is None:
        price = PackPrice(agent_id=agent.id, product_id=product.id, unit_price=unit_price)
        db.session.add(price)
    price.unit_price = unit_price
    price.set_by_id = actor.user_id if actor else None
    price.updated_at = utcnow()
    record_event(
        "agent.pack_price_set",
        actor,
        object_type="agent",
        object_id=agent.code,
        agent_id=agent.id,
        details={"sku": product.sku, "unit_price": unit_price},
    )
    db.session.commit()


def remove_pack_price(agent: Agent, product_id: int, actor: Actor | None = None) -> None:
    """Remove a fixed pack price: the agent buys the pack at its discount again; commit."""
    begin_write(db.session)
    deleted = db.session.execute(
        db.delete(PackPrice).where(
            PackPrice.agent_id == agent.id, PackPrice.product_id == product_id
        )
    ).rowcount
    if deleted:
        record_event(
            "agent.pack_price_removed",
            actor,
            object_type="agent",
            object_id=agent.code,
            agent_id=agent.id,
            details={"product_id": product_id},
        )
    db.session.commit()
