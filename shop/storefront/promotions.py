"""Promotion codes: what they take off an order, whether they still apply, and their use.

A code is held by an order from the moment it is placed: the promotion's ``uses`` counter goes
up by a conditional UPDATE that refuses to pass ``max_uses``, so two customers racing for the
last use cannot both get it. A cancelled, failed or expired order gives its use back.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from shop.audit.services import Actor, record_event
from shop.catalog.models import Product
from shop.extensions import db
from shop.storefront.models import Order, Promotion, PromotionKind, PromotionUse
from shop.timeutil import utcnow

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$", re.ASCII)


class PromotionError(Exception):
    """A code that cannot be used for this order; ``reason`` says why, for the message."""

    def __init__(self, reason: str, **facts):
        super().__init__(reason)
        self.reason = reason
        self.facts = facts


class InvalidPromotion(ValueError):
    """A promotion an admin described badly; ``field`` names the problem."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class PricedLine:
    """One pack of a cart or order, enough to price a promotion."""

    product_id: int
    unit_price: int
    quantity: int

    @property
    def total(self) -> int:
        """Return quantity times unit price."""
        return self.unit_price * self.quantity


def normalise_code(text: str | None) -> str:
    """Return a typed code in its stored form (upper case, no surrounding spaces)."""
    return (text or "").strip().upper()


def find_promotion(code: str) -> Promotion | None:
    """Return the promotion with this code, whatever its state."""
    normalised = normalise_code(code)
    if not normalised:
        return None
    return db.session.execute(select(Promotion).filter_by(code=normalised)).scalar_one_or_none()


def customer_key(user_id: int | None, email: str) -> str:
    """Return who the per-customer limit counts: the account, or a guest's e-mail address."""
    return f"user:{user_id}" if user_id is not None else f"email:{email.strip().lower()}"


def eligible_total(promotion: Promotion, lines: list[PricedLine]) -> int:
    """Return the total of the lines the promotion applies to (all of them if unrestricted)."""
    allowed = {product.id for product in promotion.products}
    return sum(line.total for line in lines if not allowed or line.product_id in allowed)


def discount_for(promotion: Promotion, eligible: int) -> int:
    """Return what the promotion takes off ``eligible`` minor units; never more than it."""
    if promotion.kind == PromotionKind.PERCENT:
        return eligible * promotion.percent_bps // 10_000
    return min(promotion.amount_off, eligible)


def check_promotion(
    promotion: Promotion | None,
    lines: list[PricedLine],
    currency: str,
    key: str,
    now: datetime | None = None,
) -> int:
    """Return the discount ``promotion`` gives these lines, or raise PromotionError.

    Reasons: ``unknown``, ``inactive``, ``not_started``, ``expired``, ``exhausted``,
    ``customer_limit``, ``currency``, ``not_applicable`` (none of the packs),
    ``below_minimum``.
    """
    now = now or utcnow()
    if promotion is None:
        raise PromotionError("unknown")
    if not promotion.active:
        raise PromotionError("inactive")
    if promotion.valid_from is not None and now < promotion.valid_from:
        raise PromotionError("not_started", valid_from=promotion.valid_from)
    if promotion.valid_until is not None and now >= promotion.valid_until:
        raise PromotionError("expired")
    if promotion.max_uses is not None and promotion.uses >= promotion.max_uses:
        raise PromotionError("exhausted")
    if (
        promotion.max_uses_per_customer is not None
        and customer_uses(promotion.id, key) >= promotion.max_uses_per_customer
    ):
        raise PromotionError("customer_limit")
    if promotion.currency != currency and (
        promotion.kind == PromotionKind.AMOUNT or promotion.min_total
    ):  # an amount off or a minimum total is money of the promotion's currency
        raise PromotionError("currency")
    eligible = eligible_total(promotion, lines)
    if eligible == 0:
        raise PromotionError("not_applicable")
    if eligible < promotion.min_total:
        raise PromotionError("below_minimum", minimum=promotion.min_total)
    discount = discount_for(promotion, eligible)
    if discount <= 0:
        raise PromotionError("not_applicable")
    return discount


def customer_uses(promotion_id: int, key: str) -> int:
    """Return how many live orders of this customer hold the promotion."""
    return db.session.execute(
        select(func.count())
        .select_from(PromotionUse)
        .filter_by(promotion_id=promotion_id, customer_key=key)
    ).scalar_one()


def reserve_use(promotion: Promotion, order: Order, key: str, discount: int) -> None:
    """Hold one use of the promotion for ``order``, inside the caller's write transaction.

    The UPDATE locks the promotion's row (PostgreSQL) and refuses to pass ``max_uses``; the
    per-customer count is read after it, under that lock, so two orders of one customer racing
    for their last use are serialised too.
    """
    table = Promotion.__table__
    condition = table.c.id == promotion.id
    if promotion.max_uses is not None:
        condition &= table.c.uses < table.c.max_uses
    taken = db.session.execute(
        update(table).where(condition).values(uses=table.c.uses + 1)
    ).rowcount
    if taken != 1:
        raise PromotionError("exhausted")
    if (
        promotion.max_uses_per_customer is not None
        and customer_uses(promotion.id, key) >= promotion.max_uses_per_customer
    ):
        raise PromotionError("customer_limit")
    db.session.add(
        PromotionUse(
            promotion_id=promotion.id, order_id=order.id, customer_key=key, discount=discount
        )
    )
    db.session.expire(promotion, ["uses"])


def release_use(order: Order) -> None:
    """Give back the use an order held, inside the caller's transaction (no-op if none)."""
    if order.promotion_id is None:
        return
    removed = db.session.execute(
        delete(PromotionUse).where(PromotionUse.order_id == order.id)
    ).rowcount
    if removed:
        table = Promotion.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == order.promotion_id, table.c.uses > 0)
            .values(uses=table.c.uses - 1)
        )


def list_promotions() -> list[Promotion]:
    """Return every promotion, newest first."""
    return list(
        db.session.execute(select(Promotion).order_by(Promotion.created_at.desc())).scalars()
    )


def get_promotion(promotion_id: int) -> Promotion | None:
    """Return a promotion by id."""
    return db.session.get(Promotion, promotion_id)


def promotion_orders(promotion_id: int, limit: int = 200) -> list[Order]:
    """Return the orders that used a promotion, newest first."""
    return list(
        db.session.execute(
            select(Order)
            .filter_by(promotion_id=promotion_id)
            .order_by(Order.created_at.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class PromotionDraft:
    """What an admin typed to create a promotion, parsed."""

    code: str
    description: str
    kind: PromotionKind
    percent_bps: int
    amount_off: int
    currency: str
    min_total: int
    valid_from: datetime | None
    valid_until: datetime | None
    max_uses: int | None
    max_uses_per_customer: int | None
    skus: tuple[str, ...] = ()


def create_promotion(draft: PromotionDraft, actor: Actor) -> Promotion:
    """Create a promotion from a checked draft; raise InvalidPromotion naming the bad field."""
    code = normalise_code(draft.code)
    if not CODE_PATTERN.match(code):
        raise InvalidPromotion("code", "3 to 32 letters, digits, '-' or '_'")
    if find_promotion(code) is not None:
        raise InvalidPromotion("code", "a promotion with this code exists")
    if draft.kind == PromotionKind.PERCENT and not 1 <= draft.percent_bps <= 10_000:
        raise InvalidPromotion("percent", "from 0.01 to 100 percent")
    if draft.kind == PromotionKind.AMOUNT and draft.amount_off <= 0:
        raise InvalidPromotion("amount_off", "more than zero")
    if draft.min_total < 0:
        raise InvalidPromotion("min_total", "zero or more")
    if draft.valid_from and draft.valid_until and draft.valid_until <= draft.valid_from:
        raise InvalidPromotion("valid_until", "after the start")
    for name in ("max_uses", "max_uses_per_customer"):
        value = getattr(draft, name)
        if value is not None and value < 1:
            raise InvalidPromotion(name, "at least 1, or empty for no limit")
    products = []
    for sku in draft.skus:
        product = db.session.execute(select(Product).filter_by(sku=sku)).scalar_one_or_none()
        if product is None:
            raise InvalidPromotion("skus", f"no pack {sku}")
        products.append(product)
    promotion = Promotion(
        code=code,
        description=draft.description.strip()[:200],
        kind=draft.kind,
        percent_bps=draft.percent_bps if draft.kind == PromotionKind.PERCENT else 0,
        amount_off=draft.amount_off if draft.kind == PromotionKind.AMOUNT else 0,
        currency=draft.currency,
        min_total=draft.min_total,
        valid_from=draft.valid_from,
        valid_until=draft.valid_until,
        max_uses=draft.max_uses,
        max_uses_per_customer=draft.max_uses_per_customer,
        created_by_id=actor.user_id,
        products=products,
    )
    db.session.add(promotion)
    db.session.flush()
    record_event(
        "promotion.created",
        actor,
        object_type="promotion",
        object_id=code,
        details={"kind": draft.kind.value, "skus": list(draft.skus)},
    )
    db.session.commit()
    return promotion


def set_promotion_active(promotion: Promotion, active: bool, actor: Actor) -> None:
    """Deactivate (or reactivate) a promotion; orders already placed keep their discount."""
    if promotion.active == active:
        return
    promotion.active = active
    record_event(
        "promotion.activated" if active else "promotion.deactivated",
        actor,
        object_type="promotion",
        object_id=promotion.code,
    )
    db.session.commit()
