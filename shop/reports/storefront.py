"""Storefront sales for the operator: by pack and by promotion code, aggregated in SQL.

An online sale is an order paid in the period (``paid_at``) and not refunded: ``paid`` or
``fulfilled``. Refunded orders are counted apart, like voided vouchers in the agents' reports.
A wallet top-up is no sale: it is money kept for later orders (which are the sales, whether
paid from the wallet or not), so top-ups are counted apart too, never as packs.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from shop.extensions import db
from shop.reports.periods import Period
from shop.storefront.models import Delivery, LineKind, Order, OrderLine, OrderStatus, Promotion

SOLD = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class PackSales:
    """One pack's online sales in a period."""

    sku: str
    name: str
    currency: str
    orders: int
    quantity: int
    gross: int  # before discounts, minor units


@dataclass(frozen=True)
class PromotionSales:
    """One promotion code's (or no code's) orders in a period."""

    code: str  # "" for orders without a code
    currency: str
    orders: int
    discount: int
    paid: int


@dataclass(frozen=True)
class WalletTopUps:
    """Money customers put in their wallets in a period, in one currency (no sale)."""

    currency: str
    orders: int
    amount: int


@dataclass
class StorefrontReport:
    """Online sales of a period, with refunds and wallet top-ups apart."""

    packs: list[PackSales]
    promotions: list[PromotionSales]
    refunded_orders: int
    refunded_amount: int
    wallet_topups: list[WalletTopUps] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        """Return orders, discount and paid amount per currency."""
        result: dict[str, dict[str, int]] = {}
        for line in self.promotions:
            row = result.setdefault(line.currency, {"orders": 0, "discount": 0, "paid": 0})
            row["orders"] += line.orders
            row["discount"] += line.discount
            row["paid"] += line.paid
        return result


def _in_period(period: Period):
    return (Order.paid_at >= period.start, Order.paid_at < period.end)


def storefront_sales(period: Period) -> StorefrontReport:
    """Return the period's online sales grouped by pack and by promotion code."""
    packs = db.session.execute(
        select(
            OrderLine.sku,
            func.min(OrderLine.name),
            Order.currency,
            func.count(func.distinct(Order.id)),
            func.sum(OrderLine.quantity),
            func.sum(OrderLine.quantity * OrderLine.unit_price),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_in_period(period), Order.status.in_(SOLD), OrderLine.kind == LineKind.PACK)
        .group_by(OrderLine.sku, Order.currency)
        .order_by(OrderLine.sku)
    ).all()
    promotions = db.session.execute(
        select(
            Promotion.code,
            Order.currency,
            func.count(Order.id),
            func.sum(Order.discount),
            func.sum(Order.total),
        )
        .outerjoin(Promotion, Promotion.id == Order.promotion_id)
        .where(*_in_period(period), Order.status.in_(SOLD), Order.delivery != Delivery.WALLET)
        .group_by(Promotion.code, Order.currency)
        .order_by(Promotion.code)
    ).all()
    refunded = db.session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(
            *_in_period(period), Order.status == OrderStatus.REFUNDED
        )
    ).one()
    topups = db.session.execute(
        select(Order.currency, func.count(Order.id), func.sum(Order.total))
        .where(*_in_period(period), Order.status.in_(SOLD), Order.delivery == Delivery.WALLET)
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    return StorefrontReport(
        [PackSales(sku, name, cur, int(o), int(q), int(g)) for sku, name, cur, o, q, g in packs],
        [
            PromotionSales(code or "", cur, int(o), int(d), int(p))
            for code, cur, o, d, p in promotions
        ],
        int(refunded[0]),
        int(refunded[1]),
        [WalletTopUps(cur, int(o), int(a)) for cur, o, a in topups],
    )
