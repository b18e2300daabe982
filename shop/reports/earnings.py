"""Earnings per level of the tree on a period's sales, from ``sale_earning`` rows.

Each sale's rows were written when it was made (``shop.agents.pricing``). A report sums the
rows of the sales in its scope that were not voided, for the levels its reader may see: the
scope's own agents, never one above them. The operator (no scope agent) also sees its net:
the level-1 buy prices.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from shop.agents.models import Agent, SaleEarning
from shop.agents.tree import scope_ids
from shop.extensions import db
from shop.reports.periods import Period
from shop.reports.scope import agent_scope
from shop.vouchers.models import Voucher, VoucherStatus


@dataclass
class EarningLine:
    """What one agent earned at its level of the tree on the period's sales (minor units)."""

    level: int
    agent_code: str
    agent_name: str
    sales: int
    amount: int


def earning_lines(period: Period, ids: list[int] | None, currency: str):
    """Return the earnings per agent and level of the scope's unvoided sales in the period."""
    sellers = agent_scope(SaleEarning.seller_agent_id, ids, currency)
    earners = [SaleEarning.agent_id.in_(ids)] if ids is not None else []
    rows = db.session.execute(
        select(
            SaleEarning.level,
            Agent.code,
            Agent.name,
            func.count(),
            func.sum(SaleEarning.amount),
        )
        .join(Agent, Agent.id == SaleEarning.agent_id)
        .outerjoin(Voucher, Voucher.id == SaleEarning.voucher_id)
        .where(
            sellers,
            *earners,
            SaleEarning.sold_at >= period.start,
            SaleEarning.sold_at < period.end,
            or_(SaleEarning.voucher_id.is_(None), Voucher.status != VoucherStatus.VOID),
        )
        .group_by(SaleEarning.level, Agent.code, Agent.name)
        .order_by(SaleEarning.level, Agent.code)
    ).all()
    lines = [
        EarningLine(level, code, name, count, int(amount or 0))
        for level, code, name, count, amount in rows
    ]
    net = None
    if ids is None:
        net = db.session.execute(
            select(func.coalesce(func.sum(SaleEarning.buy_price), 0))
            .outerjoin(Voucher, Voucher.id == SaleEarning.voucher_id)
            .where(
                sellers,
                SaleEarning.level == 1,
                SaleEarning.sold_at >= period.start,
                SaleEarning.sold_at < period.end,
                or_(SaleEarning.voucher_id.is_(None), Voucher.status != VoucherStatus.VOID),
            )
        ).scalar_one()
    return lines, (int(net) if net is not None else None)


@dataclass(frozen=True)
class EarningRow:
    """One level's earning on one sale, as the earnings CSV lists it."""

    sold_at: datetime
    seller_code: str
    reference: str
    level: int
    agent_code: str
    buy_price: int
    amount: int
    counted: bool
    currency: str


def earning_rows(period: Period, *, agent_id: int | None = None, currency: str = "USD"):
    """Yield each visible level's earning on every sale of the period, in time order."""
    seller = Agent.__table__.alias("seller")
    ids = scope_ids(agent_id) if agent_id is not None else None
    earners = [SaleEarning.agent_id.in_(ids)] if ids is not None else []
    query = (
        select(
            SaleEarning.sold_at,
            seller.c.code,
            Voucher.serial,
            SaleEarning.topup_id,
            SaleEarning.level,
            Agent.code,
            SaleEarning.buy_price,
            SaleEarning.amount,
            Voucher.status,
            Agent.currency,
        )
        .join(Agent, Agent.id == SaleEarning.agent_id)
        .join(seller, seller.c.id == SaleEarning.seller_agent_id)
        .outerjoin(Voucher, Voucher.id == SaleEarning.voucher_id)
        .where(
            agent_scope(SaleEarning.seller_agent_id, ids, currency),
            *earners,
            SaleEarning.sold_at >= period.start,
            SaleEarning.sold_at < period.end,
        )
        .order_by(SaleEarning.sold_at, SaleEarning.id)
        .execution_options(yield_per=2000)
    )
    for (
        at,
        seller_code,
        serial,
        topup_id,
        level,
        code,
        price,
        amount,
        status,
        cur,
    ) in db.session.execute(query):
        yield EarningRow(
            at,
            seller_code,
            serial or f"topup:{topup_id}",
            level,
            code,
            price,
            amount,
            status != VoucherStatus.VOID,
            cur,
        )
