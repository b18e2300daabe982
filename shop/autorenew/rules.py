"""The owner's choices of a card's auto-renew: set up, change, pause, resume, cancel.

Only the registered customer whose account holds the card (its owner) may make them. Each runs
under the card's lock, so a renewal in progress finishes first and none starts half-way
through a change. Meaning is checked here (a pack on sale, a trigger, a threshold and cap in
range); the forms only check shape.
"""

from sqlalchemy import select

from shop.audit.services import Actor, record_event
from shop.auth.models import Role, User
from shop.autorenew.models import RenewalRule, RenewalTrigger, RuleStatus
from shop.cards import services as card_services
from shop.cards.models import Card
from shop.catalog.models import Product
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow

#: "Less than N MB left" may be chosen in this range.
THRESHOLD_RANGE = (1, 100_000)
#: The largest id a database integer column holds.
MAX_ID = 2**31 - 1
#: At most this many renewals a month may be chosen as the cap.
CAP_RANGE = (1, 100)


class AutoRenewError(Exception):
    """Base of auto-renew errors; ``reason`` names what is wrong for the edges' messages."""

    reason = "invalid"

    def __init__(self, reason: str | None = None):
        super().__init__(reason or self.reason)
        if reason:
            self.reason = reason


class NotCardOwner(AutoRenewError):
    """Only the registered customer who owns the card may manage its auto-renew."""

    reason = "not_owner"


class RuleNotFound(AutoRenewError):
    """The card has no auto-renew rule (or only a cancelled one)."""

    reason = "no_rule"


class InvalidRule(AutoRenewError):
    """The choice cannot be kept: ``reason`` is pack, trigger, threshold, cap or status."""


def rule_for_card(card_id: int) -> RenewalRule | None:
    """Return the card's rule in any status (a card has at most one), or None."""
    return db.session.execute(select(RenewalRule).filter_by(card_id=card_id)).scalar_one_or_none()


def live_rule_for_card(card_id: int) -> RenewalRule | None:
    """Return the card's active or paused rule, or None.

    None also when the rule was set up by an earlier owner of the card: a card given up and
    saved by someone else shows its new owner nothing of the old owner's wallet or renewals.
    """
    rule = rule_for_card(card_id)
    if rule is None or rule.status == RuleStatus.CANCELLED:
        return None
    owner_id = db.session.execute(select(Card.owner_id).where(Card.id == card_id)).scalar()
    return rule if owner_id == rule.user_id else None


def packs_on_sale(currency: str | None = None) -> list[Product]:
    """Return the packs a rule may buy (on sale), optionally in one currency."""
    query = select(Product).where(Product.active.is_(True))
    if currency:
        query = query.where(Product.currency == currency.upper())
    return list(
        db.session.execute(query.order_by(Product.currency, Product.price, Product.id)).scalars()
    )


def _owned_card(user_id: int, card_id: int) -> Card:
    """Return the card locked for this use case if the user, a customer, owns it."""
    user = db.session.get(User, user_id)
    card = db.session.get(Card, card_id)
    if (
        user is None
        or not user.active
        or user.role != Role.CUSTOMER
        or card is None
        or card.owner_id != user_id
    ):
        raise NotCardOwner()
    card_services.lock_card(card.number)
    db.session.refresh(card)
    if card.owner_id != user_id:
        raise NotCardOwner()
    return card


def _validated(product_id, trigger, threshold_mb, monthly_cap):
    known = isinstance(product_id, int) and 0 < product_id <= MAX_ID
    product = db.session.get(Product, product_id) if known else None
    if product is None or not product.active:
        raise InvalidRule("pack")
    try:
        trigger = RenewalTrigger(trigger)
    except ValueError:
        raise InvalidRule("trigger") from None
    if trigger == RenewalTrigger.LOW_DATA:
        low, high = THRESHOLD_RANGE
        if not isinstance(threshold_mb, int) or not low <= threshold_mb <= high:
            raise InvalidRule("threshold")
        if threshold_mb >= product.data_mb:  # the pack would leave the card below it: renew again
            raise InvalidRule("threshold_pack")
    else:
        threshold_mb = None
    if monthly_cap is not None:
        low, high = CAP_RANGE
        if not isinstance(monthly_cap, int) or not low <= monthly_cap <= high:
            raise InvalidRule("cap")
    return product, trigger, threshold_mb, monthly_cap


def _in_write(use_case):
    """Run ``use_case`` in a write transaction; roll back on any error, commit on success."""
    begin_write(db.session)
    try:
        result = use_case()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def save_rule(
    user_id: int,
    card_id: int,
    product_id: int,
    trigger: str,
    *,
    threshold_mb: int | None = None,
    monthly_cap: int | None = None,
    actor: Actor | None = None,
) -> RenewalRule:
    """Set up the card's rule, or change it (keeping active or paused); commit.

    A cancelled rule set up again starts active. Raises NotCardOwner or InvalidRule.
    """

    def use_case():
        card = _owned_card(user_id, card_id)
        product, kind, threshold, cap = _validated(product_id, trigger, threshold_mb, monthly_cap)
        rule = rule_for_card(card.id)
        # A rule of an earlier owner of the card starts afresh for the new one.
        created = rule is None or rule.status == RuleStatus.CANCELLED or rule.user_id != user_id
        if rule is None:
            rule = RenewalRule(card_id=card.id)
            db.session.add(rule)
        rule.user_id = user_id
        rule.product_id = product.id
        rule.trigger = kind
        rule.threshold_mb = threshold
        rule.monthly_cap = cap
        if created:
            rule.status = RuleStatus.ACTIVE
        rule.updated_at = utcnow()
        db.session.flush()
        record_event(
            "autorenew.set_up" if created else "autorenew.changed",
            actor,
            object_type="card",
            object_id=card.number,
            details={
                "rule": rule.id,
                "pack": product.sku,
                "trigger": kind.value,
                "threshold_mb": threshold,
                "monthly_cap": cap,
            },
        )
        return rule

    return _in_write(use_case)


#: Which status each change moves a rule from, and to.
TRANSITIONS = {
    "pause": ({RuleStatus.ACTIVE}, RuleStatus.PAUSED),
    "resume": ({RuleStatus.PAUSED}, RuleStatus.ACTIVE),
    "cancel": ({RuleStatus.ACTIVE, RuleStatus.PAUSED}, RuleStatus.CANCELLED),
}


def change_status(user_id: int, card_id: int, change: str, actor: Actor | None = None):
    """Pause, resume or cancel the card's rule (``change``) and commit.

    Runs under the card's lock, so a renewal in progress finishes first and none starts after.
    Raises NotCardOwner, RuleNotFound, or InvalidRule("status") for a change not allowed now.
    """
    if change not in TRANSITIONS:
        raise InvalidRule("status")
    allowed, target = TRANSITIONS[change]

    def use_case():
        card = _owned_card(user_id, card_id)
        rule = rule_for_card(card.id)
        if rule is None or rule.status == RuleStatus.CANCELLED or rule.user_id != user_id:
            raise RuleNotFound()
        db.session.refresh(rule)
        if rule.status not in allowed:
            raise InvalidRule("status")
        rule.status = target
        rule.updated_at = utcnow()
        record_event(
            f"autorenew.{target.value}",
            actor,
            object_type="card",
            object_id=card.number,
            details={"rule": rule.id},
        )
        return rule

    return _in_write(use_case)
