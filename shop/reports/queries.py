"""Sales, settlement and stock figures, aggregated by the database over indexed columns.

What counts as a sale (the README's "Reports" section says the same):

- a **voucher sale**: a voucher of an agent with a wholesale ``cost`` recorded and ``sold_at`` in
  the period, that is sold at the counter, through the API or activated from pre-printed stock
  (vouchers the operator issued to an agent from the command line have no cost: not a sale);
- a **top-up sale**: a counter top-up of a card paid from the agent's float (``topup.source =
  'counter'``), at the pack's price then.

The sales of an agent are those of its whole subtree (its own and every sub-agent's below
it), broken down by agent; each sale's earnings per level of the tree (``sale_earning``,
written when it was made) are summed for the levels the reader may see: a manager sees its
own agent's level and those below, never what an agent above it earned.

Voided vouchers are counted apart (``voids``), never as sales. The redemption rate is the share
of sold, unvoided vouchers already redeemed (top-ups apply at once and are left out of it).

The database groups the period's sales by agent, pack, seller, local day and status in one
query per kind; the number of groups depends on those dimensions, never on the number of
sales, and Python only adds the groups up into totals and breakdowns (integer minor units).
Local days come from a balanced ``CASE`` over the UTC boundaries of the operator's days, so
every backend buckets the same way, whatever the time zone and its clock changes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, literal_column, select

from shop.agents.models import Agent, LedgerEntry, LedgerKind
from shop.agents.tree import scope_ids, whole_tree
from shop.auth.models import User
from shop.cards.models import TopUp, TopUpSource
from shop.catalog.models import Product
from shop.extensions import db
from shop.reports.earnings import EarningLine, earning_lines
from shop.reports.periods import Period
from shop.reports.scope import agent_scope
from shop.timeutil import utcnow
from shop.vouchers.models import Voucher, VoucherStatus

#: ``'inactive'`` as SQL text, as the partial index of inactive stock spells it.
INACTIVE_LITERAL = literal_column(f"'{VoucherStatus.INACTIVE.value}'")

#: The kinds of sale, as the CSV's ``kind`` column names them.
VOUCHER, TOPUP = "voucher", "topup"


@dataclass
class Figures:
    """A count of sales with their face value and wholesale cost (minor units)."""

    count: int = 0
    face_value: int = 0
    cost: int = 0

    @property
    def margin(self) -> int:
        """Return what the agent earns on these sales: face value less cost."""
        return self.face_value - self.cost

    def add(self, count: int, face_value: int, cost: int) -> None:
        """Add a group of sales."""
        self.count += count
        self.face_value += face_value
        self.cost += cost


@dataclass
class Line:
    """One row of a breakdown: what it is about, and its figures."""

    key: object
    label: str
    code: str = ""
    figures: Figures = field(default_factory=Figures)


@dataclass
class SalesReport:
    """Sales of one agent, or of every agent of one currency, in a period."""

    period: Period
    currency: str
    agent: Agent | None
    totals: Figures
    by_kind: dict[str, Figures]
    voids: Figures
    by_product: list[Line]
    by_day: list[Line]
    by_staff: list[Line]
    by_agent: list[Line]
    #: Sold, unvoided vouchers, and how many of them are redeemed.
    vouchers_sold: int
    vouchers_redeemed: int
    #: Earnings per agent and level, top of the tree first; only levels the reader may see.
    earnings: list[EarningLine] = field(default_factory=list)
    #: What the operator netted (the top agents' buy prices); only in the operator's reports.
    operator_net: int | None = None

    @property
    def redemption_rate_bps(self) -> int | None:
        """Return the share of sold vouchers redeemed, in basis points (None: none sold)."""
        if not self.vouchers_sold:
            return None
        return self.vouchers_redeemed * 10_000 // self.vouchers_sold


def _day_index(column, boundaries: list[datetime], low: int, high: int):
    """Return the index of the day whose ``[boundaries[i], boundaries[i + 1])`` holds ``column``.

    A balanced tree of ``CASE`` expressions: about log2(days) comparisons per row.
    """
    if high - low == 1:
        return literal_column(str(low))
    middle = (low + high) // 2
    return case(
        (column < boundaries[middle], _day_index(column, boundaries, low, middle)),
        else_=_day_index(column, boundaries, middle, high),
    )


def _voucher_groups(period: Period, ids: list[int] | None, currency: str):
    boundaries = period.boundaries()
    rows = (
        select(
            Voucher.agent_id,
            Voucher.product_id,
            Voucher.sold_by_id.label("seller_id"),
            Voucher.status,
            Voucher.face_value,
            Voucher.cost,
            _day_index(Voucher.sold_at, boundaries, 0, period.days).label("day"),
        )
        .where(
            agent_scope(Voucher.agent_id, ids, currency),
            Voucher.sold_at >= period.start,
            Voucher.sold_at < period.end,
            Voucher.cost.is_not(None),
        )
        .subquery()
    )
    keys = (rows.c.agent_id, rows.c.product_id, rows.c.seller_id, rows.c.status, rows.c.day)
    return db.session.execute(
        select(*keys, func.count(), func.sum(rows.c.face_value), func.sum(rows.c.cost)).group_by(
            *keys
        )
    ).all()


def _topup_groups(period: Period, ids: list[int] | None, currency: str):
    boundaries = period.boundaries()
    rows = (
        select(
            TopUp.agent_id,
            TopUp.product_id,
            TopUp.sold_by_id.label("seller_id"),
            TopUp.face_value,
            TopUp.cost,
            _day_index(TopUp.created_at, boundaries, 0, period.days).label("day"),
        )
        .where(
            agent_scope(TopUp.agent_id, ids, currency),
            TopUp.source == TopUpSource.COUNTER,
            TopUp.created_at >= period.start,
            TopUp.created_at < period.end,
            TopUp.cost.is_not(None),
        )
        .subquery()
    )
    keys = (rows.c.agent_id, rows.c.product_id, rows.c.seller_id, rows.c.day)
    return db.session.execute(
        select(*keys, func.count(), func.sum(rows.c.face_value), func.sum(rows.c.cost)).group_by(
            *keys
        )
    ).all()


def _names(model, columns, ids) -> dict:
    ids = [key for key in ids if key is not None]
    if not ids:
        return {}
    rows = db.session.execute(select(model.id, *columns).where(model.id.in_(ids))).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def agent_currencies() -> list[str]:
    """Return the currencies agents keep their floats in, most common first."""
    return list(
        db.session.execute(
            select(Agent.currency).group_by(Agent.currency).order_by(func.count().desc())
        ).scalars()
    )


def sales_report(
    period: Period, *, agent_id: int | None = None, currency: str | None = None
) -> SalesReport:
    """Return the sales of one agent's subtree (``agent_id``) or of all agents of ``currency``."""
    agent = db.session.get(Agent, agent_id) if agent_id is not None else None
    if agent is not None:
        currency = agent.currency
    currency = currency or "USD"
    totals, voids = Figures(), Figures()
    by_kind = {VOUCHER: Figures(), TOPUP: Figures()}
    products: dict = defaultdict(Figures)
    days: dict = defaultdict(Figures)
    sellers: dict = defaultdict(Figures)
    agents: dict = defaultdict(Figures)
    sold = redeemed = 0

    ids = scope_ids(agent_id) if agent_id is not None else None
    groups = [(VOUCHER, *row) for row in _voucher_groups(period, ids, currency)]
    groups += [
        (TOPUP, a, p, s, None, d, n, f, c)
        for a, p, s, d, n, f, c in _topup_groups(period, ids, currency)
    ]
    for kind, group_agent, product, seller, status, day, count, face, cost in groups:
        face, cost = int(face or 0), int(cost or 0)
        if status == VoucherStatus.VOID:
            voids.add(count, face, cost)
            continue
        if kind == VOUCHER:
            sold += count
            redeemed += count if status == VoucherStatus.REDEEMED else 0
        for figures in (
            totals,
            by_kind[kind],
            products[product],
            days[int(day)],
            sellers[seller],
            agents[group_agent],
        ):
            figures.add(count, face, cost)

    product_names = _names(Product, (Product.sku, Product.name), products)
    seller_names = _names(User, (User.email,), sellers)
    agent_names = _names(Agent, (Agent.code, Agent.name), agents)
    dates = period.dates()
    earnings, operator_net = earning_lines(period, ids, currency)
    return SalesReport(
        period=period,
        currency=currency,
        agent=agent,
        totals=totals,
        by_kind=by_kind,
        voids=voids,
        by_product=sorted(
            (
                Line(key, product_names[key][1], product_names[key][0], figures)
                for key, figures in products.items()
            ),
            key=lambda line: (-line.figures.face_value, line.code),
        ),
        by_day=[
            Line(day, day.isoformat(), figures=days.get(index, Figures()))
            for index, day in enumerate(dates)
        ],
        by_staff=sorted(
            (
                Line(key, seller_names[key][0] if key in seller_names else "", figures=figures)
                for key, figures in sellers.items()
            ),
            key=lambda line: (-line.figures.face_value, line.label),
        ),
        by_agent=sorted(
            (
                Line(key, agent_names[key][1], agent_names[key][0], figures)
                for key, figures in agents.items()
            ),
            key=lambda line: (-line.figures.face_value, line.code),
        )
        if agent_id is None or set(agents) - {agent_id}
        else [],
        vouchers_sold=sold,
        vouchers_redeemed=redeemed,
        earnings=earnings,
        operator_net=operator_net,
    )


# --- One row per sale (CSV) -----------------------------------------------------------------


@dataclass(frozen=True)
class SaleRow:
    """One sale (or voided voucher) as the CSV lists it."""

    kind: str
    sold_at: datetime
    agent_code: str
    agent_name: str
    seller: str
    reference: str
    sku: str
    pack: str
    status: str
    face_value: int
    cost: int
    currency: str

    @property
    def counted(self) -> bool:
        """Return whether the row counts as a sale (voided vouchers do not)."""
        return self.status != VoucherStatus.VOID.value


def sale_rows(period: Period, *, agent_id: int | None = None, currency: str = "USD"):
    """Yield every sale of the period in time order, voided vouchers included (marked)."""
    ids = scope_ids(agent_id) if agent_id is not None else None
    vouchers = (
        select(
            Voucher.sold_at,
            Agent.code,
            Agent.name,
            User.email,
            Voucher.serial,
            Product.sku,
            Product.name,
            Voucher.status,
            Voucher.face_value,
            Voucher.cost,
            Agent.currency,
        )
        .join(Agent, Agent.id == Voucher.agent_id)
        .join(Product, Product.id == Voucher.product_id)
        .outerjoin(User, User.id == Voucher.sold_by_id)
        .where(
            agent_scope(Voucher.agent_id, ids, currency),
            Voucher.sold_at >= period.start,
            Voucher.sold_at < period.end,
            Voucher.cost.is_not(None),
        )
        .order_by(Voucher.sold_at, Voucher.id)
        .execution_options(yield_per=2000)
    )
    topups = (
        select(
            TopUp.created_at,
            Agent.code,
            Agent.name,
            User.email,
            TopUp.id,
            Product.sku,
            Product.name,
            TopUp.face_value,
            TopUp.cost,
            Agent.currency,
        )
        .join(Agent, Agent.id == TopUp.agent_id)
        .join(Product, Product.id == TopUp.product_id)
        .outerjoin(User, User.id == TopUp.sold_by_id)
        .where(
            agent_scope(TopUp.agent_id, ids, currency),
            TopUp.source == TopUpSource.COUNTER,
            TopUp.created_at >= period.start,
            TopUp.created_at < period.end,
            TopUp.cost.is_not(None),
        )
        .order_by(TopUp.created_at, TopUp.id)
    )
    topup_rows = [
        SaleRow(
            TOPUP,
            at,
            code,
            name,
            email or "",
            f"topup:{ident}",
            sku,
            pack,
            "applied",
            face,
            cost,
            cur,
        )
        for at, code, name, email, ident, sku, pack, face, cost, cur in db.session.execute(topups)
    ]
    pending = iter(topup_rows)
    next_topup = next(pending, None)
    for at, code, name, email, serial, sku, pack, status, face, cost, cur in db.session.execute(
        vouchers
    ):
        while next_topup is not None and next_topup.sold_at <= at:
            yield next_topup
            next_topup = next(pending, None)
        yield SaleRow(
            VOUCHER, at, code, name, email or "", serial, sku, pack, status.value, face, cost, cur
        )
    while next_topup is not None:
        yield next_topup
        next_topup = next(pending, None)


# --- Settlement and stock ---------------------------------------------------------------------


@dataclass
class Settlement:
    """How an agent's float moved in a period; ``closing`` equals the ledger's sum at the end."""

    agent: Agent
    opening: int = 0
    credit_purchased: int = 0
    #: Sales at wholesale cost, as a positive amount taken from the float.
    sales_at_cost: int = 0
    refunds: int = 0
    adjustments: int = 0
    #: Float moved within the tree: received from the parent less given to sub-agents, with
    #: take-backs (positive for the parent, negative for the sub-agent).
    transfers: int = 0
    #: Commissions earned on sales below, less those given back for voided sales.
    commissions: int = 0
    closing: int = 0


#: Ledger kinds that move float within the tree, and the commissions on sales below.
TRANSFER_KINDS = {LedgerKind.TRANSFER_IN, LedgerKind.TRANSFER_OUT, LedgerKind.TAKE_BACK}
COMMISSION_KINDS = {LedgerKind.COMMISSION, LedgerKind.COMMISSION_REVERSAL}


def settlements(period: Period, *, agent_id: int | None = None) -> list[Settlement]:
    """Return the float settlement of one agent or of every agent in the period, in tree order.

    Each agent follows its parent (``agent.depth`` says how far to indent it).
    """
    agents = whole_tree()
    if agent_id is not None:
        agents = [agent for agent in agents if agent.id == agent_id]
    result = {agent.id: Settlement(agent) for agent in agents}
    scope = [LedgerEntry.agent_id == agent_id] if agent_id is not None else []
    opening = db.session.execute(
        select(LedgerEntry.agent_id, func.sum(LedgerEntry.amount))
        .where(*scope, LedgerEntry.created_at < period.start)
        .group_by(LedgerEntry.agent_id)
    ).all()
    for group_agent, amount in opening:
        result[group_agent].opening = int(amount)
    moves = db.session.execute(
        select(LedgerEntry.agent_id, LedgerEntry.kind, func.sum(LedgerEntry.amount))
        .where(*scope, LedgerEntry.created_at >= period.start, LedgerEntry.created_at < period.end)
        .group_by(LedgerEntry.agent_id, LedgerEntry.kind)
    ).all()
    for group_agent, kind, amount in moves:
        settlement = result[group_agent]
        amount = int(amount)
        if kind == LedgerKind.CREDIT_PURCHASE:
            settlement.credit_purchased += amount
        elif kind == LedgerKind.SALE:
            settlement.sales_at_cost -= amount
        elif kind == LedgerKind.VOID_REFUND:
            settlement.refunds += amount
        elif kind in TRANSFER_KINDS:
            settlement.transfers += amount
        elif kind in COMMISSION_KINDS:
            settlement.commissions += amount
        else:
            settlement.adjustments += amount
    for settlement in result.values():
        settlement.closing = (
            settlement.opening
            + settlement.credit_purchased
            - settlement.sales_at_cost
            + settlement.refunds
            + settlement.adjustments
            + settlement.transfers
            + settlement.commissions
        )
    return list(result.values())


@dataclass(frozen=True)
class StockLine:
    """Unsold pre-printed vouchers of one agent and pack."""

    agent_code: str
    agent_name: str
    sku: str
    pack: str
    count: int
    face_value: int
    currency: str
    earliest_expiry: datetime


def stock(*, agent_id: int | None = None, now: datetime | None = None) -> list[StockLine]:
    """Return the inactive, unexpired pre-printed vouchers per agent and pack."""
    now = now or utcnow()
    query = (
        select(
            Agent.code,
            Agent.name,
            Product.sku,
            Product.name,
            func.count(),
            func.sum(Voucher.face_value),
            Voucher.currency,
            func.min(Voucher.expires_at),
        )
        .join(Agent, Agent.id == Voucher.agent_id)
        .join(Product, Product.id == Voucher.product_id)
        # The status as a literal, as the index of inactive stock has it: a plan made for
        # any status (a generic plan of a prepared statement) could not use that index.
        .where(Voucher.status == INACTIVE_LITERAL, Voucher.expires_at > now)
        .group_by(Agent.code, Agent.name, Product.sku, Product.name, Voucher.currency)
        .order_by(Agent.code, Product.sku)
    )
    if agent_id is not None:
        query = query.where(Voucher.agent_id == agent_id)
    else:
        query = query.where(Voucher.agent_id.is_not(None))
    return [
        StockLine(code, name, sku, pack, count, int(face), currency, expiry)
        for code, name, sku, pack, count, face, currency, expiry in db.session.execute(query)
    ]
