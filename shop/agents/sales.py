"""Selling at the counter: vouchers, pre-printed stock, voids and direct top-ups of a card.

Vouchers are paid from the float, pre-printed stock is activated when sold, a voucher can be
voided within the void window for a refund. A sale is allowed only if the agent and every
agent above it in the tree are active; each level's price and earning come from
``pricing`` and are recorded with the sale. Each use case is one transaction: what is sold and
what the float pays for it commit together or not at all. A sale that cannot be paid issues
nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from shop.agents import ledger, pricing, tree
from shop.agents.models import Agent
from shop.audit.services import Actor, record_event
from shop.cards import services as card_services
from shop.cards.models import TopUp, TopUpSource
from shop.catalog import services as catalog_services
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import batches, lifecycle
from shop.vouchers.models import BatchPurpose, Voucher, VoucherStatus
from shop.vouchers.pins import normalise_serial
from shop.vouchers.services import (
    STATUS_ERRORS,
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherNotFound,
    VoucherVoid,
)

#: Most vouchers one sale may issue (the API's limit).
MAX_SALE_QUANTITY = 100


class SaleError(Exception):
    """Base of counter errors."""


class InvalidQuantity(SaleError):
    """A sale is 1 to 100 vouchers."""


class VoidWindowPassed(SaleError):
    """The voucher was sold longer ago than the void window."""


class NotStock(SaleError):
    """Only inactive pre-printed stock can be activated."""


class CurrencyMismatch(SaleError):
    """The pack is priced in another currency than the agent's float."""


@dataclass
class Sale:
    """Vouchers just sold, with their PINs to print once."""

    batch: object
    vouchers: list
    cost: int
    balance: int


def _agent(agent_id: int) -> tuple[Agent, list[Agent]]:
    """Return the selling agent and its chain, if it and every agent above it are active."""
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise ledger.AgentSuspended()
    return agent, tree.check_can_sell(agent)


def _priced(agent: Agent, sku: str):
    product = catalog_services.get_product_by_sku(sku)
    if product.currency != agent.currency:
        raise CurrencyMismatch(product.currency)
    return product


def sell_vouchers(agent_id: int, sku: str, quantity: int, actor: Actor) -> Sale:
    """Issue ``quantity`` active vouchers and debit their wholesale cost, or do nothing."""
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not 1 <= quantity <= MAX_SALE_QUANTITY
    ):
        raise InvalidQuantity(f"1 to {MAX_SALE_QUANTITY} vouchers")
    begin_write(db.session)
    try:
        agent, chain = _agent(agent_id)
        product = _priced(agent, sku)
        prices = pricing.level_prices(chain, product.id, product.price)
        unit_cost = prices[-1].buy_price
        generated = batches.generate_batch(
            product,
            quantity,
            purpose=BatchPurpose.SALE,
            agent_id=agent.id,
            actor=actor,
            keep_pins=True,
            commit=False,
            unit_cost=unit_cost,
        )
        balance = pricing.pay_for_sale(
            chain, prices, quantity, f"batch:{generated.batch.id}", actor
        )
        pricing.record_batch_earnings(prices, generated.batch.id, agent.id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return Sale(generated.batch, generated.vouchers, unit_cost * quantity, balance)


def _own_voucher(agent_id: int, serial: str) -> Voucher:
    normalised = normalise_serial(serial)
    voucher = None
    if normalised is not None:
        voucher = db.session.execute(
            db.select(Voucher).filter_by(serial=normalised, agent_id=agent_id)
        ).scalar_one_or_none()
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def activate_stock(agent_id: int, serial: str, actor: Actor) -> tuple[Voucher, int]:
    """Sell a pre-printed voucher: ``inactive -> active``, its cost debited from the float."""
    begin_write(db.session)
    try:
        agent, chain = _agent(agent_id)
        voucher = _own_voucher(agent.id, serial)
        if voucher.status != VoucherStatus.INACTIVE:
            raise NotStock(voucher.status.value)
        now = utcnow()
        if voucher.expires_at <= now:
            raise VoucherExpired()
        prices = pricing.level_prices(chain, voucher.product_id, voucher.face_value)
        cost = prices[-1].buy_price
        extra = {"sold_by_id": actor.user_id, "cost": cost}
        if not lifecycle.transition_one(
            voucher, VoucherStatus.ACTIVE, actor, now=now, extra=extra, agent_id=agent.id
        ):
            raise NotStock("changed meanwhile")
        balance = pricing.pay_for_sale(chain, prices, 1, voucher.serial, actor)
        pricing.record_earnings(prices, seller_id=agent.id, sold_at=now, voucher_id=voucher.id)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return voucher, balance


def void_window() -> timedelta:
    """Return how long after a sale a voucher can still be voided."""
    return timedelta(hours=current_app.config["VOID_WINDOW_HOURS"])


def void_sale(
    agent_id: int, serial: str, actor: Actor, *, now: datetime | None = None
) -> tuple[Voucher, int]:
    """Void an unredeemed voucher sold within the void window and refund its cost to the float."""
    now = now or utcnow()
    begin_write(db.session)
    try:
        voucher = _own_voucher(agent_id, serial)
        if voucher.status != VoucherStatus.ACTIVE:
            raise STATUS_ERRORS.get(voucher.status, VoucherVoid)()
        if voucher.sold_at is None or voucher.sold_at < now - void_window():
            raise VoidWindowPassed()
        refund = voucher.cost or 0
        moved = lifecycle.transition_one(
            voucher,
            VoucherStatus.VOID,
            actor,
            now=now,
            agent_id=agent_id,
            audit_details={"refund": refund},
        )
        if not moved:
            db.session.refresh(voucher)
            raise STATUS_ERRORS.get(voucher.status, VoucherAlreadyRedeemed)()
        balance = pricing.refund_sale(voucher, refund, actor)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return voucher, balance


def counter_top_up(agent_id: int, sku: str, card_number: str, actor: Actor, *, channel: str):
    """Top a card up directly (no voucher), paid from the float; return (top-up, balance)."""
    begin_write(db.session)
    try:
        agent, chain = _agent(agent_id)
        product = _priced(agent, sku)
        card = card_services.lock_card(card_number)
        topup = card_services.apply_pack(
            card,
            card_services.PackGrant.of_product(product),
            source=TopUpSource.COUNTER,
            channel=channel,
            agent_id=agent.id,
            reference=f"agent:{agent.code}",
        )
        prices = pricing.level_prices(chain, product.id, product.price)
        cost = prices[-1].buy_price
        balance = pricing.pay_for_sale(chain, prices, 1, f"topup:{topup.id}", actor)
        pricing.record_earnings(
            prices, seller_id=agent.id, sold_at=topup.created_at, topup_id=topup.id
        )
        # What the sales reports count: the price then, what the float paid, who sold it.
        db.session.execute(
            update(TopUp)
            .where(TopUp.id == topup.id)
            .values(face_value=product.price, cost=cost, sold_by_id=actor.user_id)
            .execution_options(synchronize_session=False)
        )
        record_event(
            "card.topped_up",
            actor,
            object_type="card",
            object_id=card.number,
            agent_id=agent.id,
            details={"sku": product.sku, "topup": topup.id},
        )
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return topup, product, balance
