"""Auto-renew rules: set up by a card's owner, renewed from the owner's wallet exactly once.

A rule belongs to the card's owner (the registered customer whose account holds the card), who
alone may set it up, change, pause, resume or cancel it. ``renew`` is the one use case that
spends money: in one write transaction, with the card locked, it rechecks the rule and its
trigger, works out the pack period (the card's latest delivered top-up, as alerts count it) and
the renewal's key ``<card>:<rule>:<period>``, and then either

- debits the wallet, applies the pack (its network delivery written pending beside it), writes
  the ``Renewal`` row, the audit event and the receipt, and commits; or
- charges nothing and inserts a failure row ``<card>:<rule>:<period>:<outcome>`` with "on
  conflict do nothing", telling the owner only when this call inserted it.

The card lock serialises renewals of a card and the unique key backs it: a race that still
reaches the insert rolls everything back, so ten triggers of one period make one renewal, one
wallet entry and one delivery.

The owner's choices live in ``rules`` and are re-exported here: this module is the package's
one entry point for the edges and the job queue.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.autorenew import messages
from shop.autorenew.models import (
    Renewal,
    RenewalOutcome,
    RenewalRule,
    RenewalTrigger,
    RuleStatus,
)
from shop.autorenew.rules import CAP_RANGE as CAP_RANGE
from shop.autorenew.rules import THRESHOLD_RANGE as THRESHOLD_RANGE
from shop.autorenew.rules import AutoRenewError as AutoRenewError
from shop.autorenew.rules import InvalidRule as InvalidRule
from shop.autorenew.rules import NotCardOwner as NotCardOwner
from shop.autorenew.rules import RuleNotFound as RuleNotFound
from shop.autorenew.rules import change_status as change_status
from shop.autorenew.rules import live_rule_for_card as live_rule_for_card
from shop.autorenew.rules import packs_on_sale as packs_on_sale
from shop.autorenew.rules import rule_for_card
from shop.autorenew.rules import save_rule as save_rule
from shop.cards import services as card_services
from shop.cards.models import Card, CardStatus, TopUpSource
from shop.catalog.models import Product
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow
from shop.wallet import references
from shop.wallet import services as wallets
from shop.wallet.models import WalletEntryKind

log = logging.getLogger(__name__)

RENEW_ACTOR = Actor.system("auto-renew")
#: ``expiring`` renews when the validity ends within this time.
EXPIRING_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class RenewalResult:
    """What one call of :func:`renew` came to: an outcome, or ``skipped`` with why."""

    outcome: RenewalOutcome | None
    key: str = ""
    skipped: str = ""
    renewal_id: int | None = None


# --- reading ---------------------------------------------------------------------------------


def renewals_of(rule_id: int, limit: int = 100) -> list[Renewal]:
    """Return a rule's renewals and failed attempts, newest first."""
    return list(
        db.session.execute(
            select(Renewal)
            .filter_by(rule_id=rule_id)
            .order_by(Renewal.created_at.desc(), Renewal.id.desc())
            .limit(limit)
        ).scalars()
    )


def all_rules(limit: int = 500) -> list[RenewalRule]:
    """Return every rule, newest first (admin)."""
    return list(
        db.session.execute(
            select(RenewalRule).order_by(RenewalRule.id.desc()).limit(limit)
        ).scalars()
    )


def failed_renewals(limit: int = 200) -> list[Renewal]:
    """Return the latest attempts that charged nothing (admin)."""
    return list(
        db.session.execute(
            select(Renewal)
            .where(Renewal.outcome != RenewalOutcome.RENEWED)
            .order_by(Renewal.created_at.desc(), Renewal.id.desc())
            .limit(limit)
        ).scalars()
    )


def wallet_balance(rule: RenewalRule) -> int:
    """Return what the owner's wallet holds in the rule's pack currency (0 without a wallet)."""
    wallet = wallets.find_wallet(rule.user_id, rule.product.currency)
    return wallet.balance if wallet is not None else 0


def month_start(now: datetime) -> datetime:
    """Return the start of ``now``'s calendar month (UTC)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def renewed_this_month(rule_id: int, now: datetime | None = None) -> int:
    """Return how many times the rule renewed in the current UTC month."""
    now = now or utcnow()
    return db.session.execute(
        select(func.count(Renewal.id)).where(
            Renewal.rule_id == rule_id,
            Renewal.outcome == RenewalOutcome.RENEWED,
            Renewal.created_at >= month_start(now),
        )
    ).scalar_one()


def renewal_key(card_id: int, rule_id: int, period: int) -> str:
    """Return the key of the one renewal of a card's rule in a pack period."""
    return f"{card_id}:{rule_id}:{period}"


# --- the trigger -----------------------------------------------------------------------------


def trigger_reached(card: Card, rule: RenewalRule, now: datetime | None = None) -> bool:
    """Return whether the card's last known figures meet the rule's trigger.

    ``used_up`` and ``low_data`` need a card that has had a pack (an expiry): a new card holds
    no data and is not "used up".
    """
    now = now or utcnow()
    if rule.trigger == RenewalTrigger.EXPIRING:
        return card.expires_at is not None and card.expires_at <= now + EXPIRING_WITHIN
    if card.expires_at is None:
        return False
    left = card.data_balance_mb or 0
    if rule.trigger == RenewalTrigger.USED_UP:
        return left <= 0
    # A threshold at or above the pack's data would still be reached after the renewal: never
    # renew on it (the owner's form refuses it; a pack's data may change later).
    threshold = rule.threshold_mb or 0
    return left < threshold < rule.product.data_mb


def due(card: Card, rule: RenewalRule | None = None, now: datetime | None = None) -> bool:
    """Return whether the card's active rule should renew now (card active, trigger met)."""
    rule = rule if rule is not None else rule_for_card(card.id)
    return (
        rule is not None
        and rule.status == RuleStatus.ACTIVE
        and card.status == CardStatus.ACTIVE
        and card.owner_id == rule.user_id
        and trigger_reached(card, rule, now)
    )


def due_rule_for_card(card_id: int) -> int | None:
    """Return the id of the card's rule if it is due now, else None."""
    card = db.session.get(Card, card_id, populate_existing=True)
    if card is None:
        return None
    rule = rule_for_card(card_id)
    return rule.id if rule is not None and due(card, rule) else None


def due_rule_ids(now: datetime | None = None, limit: int = 5000) -> list[int]:
    """Return ids of every active rule whose card is due now (the periodic check), in SQL."""
    now = now or utcnow()
    reached = or_(
        and_(
            RenewalRule.trigger == RenewalTrigger.EXPIRING,
            Card.expires_at <= now + EXPIRING_WITHIN,
        ),
        and_(RenewalRule.trigger == RenewalTrigger.USED_UP, Card.data_balance_mb <= 0),
        and_(
            RenewalRule.trigger == RenewalTrigger.LOW_DATA,
            Card.data_balance_mb < RenewalRule.threshold_mb,
            RenewalRule.threshold_mb < Product.data_mb,
        ),
    )
    return list(
        db.session.execute(
            select(RenewalRule.id)
            .join(Card, Card.id == RenewalRule.card_id)
            .join(Product, Product.id == RenewalRule.product_id)
            .where(
                RenewalRule.status == RuleStatus.ACTIVE,
                Card.status == CardStatus.ACTIVE,
                Card.owner_id == RenewalRule.user_id,
                Card.expires_at.is_not(None),
                reached,
            )
            .order_by(RenewalRule.id)
            .limit(limit)
        ).scalars()
    )


# --- renewing --------------------------------------------------------------------------------


def _insert_failure(values: dict) -> int | None:
    """Insert a failure row unless its key exists; return its id when this call inserted it."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(Renewal).on_conflict_do_nothing(index_elements=["key"])
    return db.session.execute(statement.values(**values).returning(Renewal.id)).scalar()


def _pause_point() -> None:
    """Wait here while the test's pause file exists (``AUTORENEW_PAUSE_FILE``; tests only)."""
    path = current_app.config.get("AUTORENEW_PAUSE_FILE")
    if not path:
        return
    Path(path + ".reached").touch()
    while Path(path).exists():
        time.sleep(0.05)


def renew(rule_id: int, now: datetime | None = None) -> RenewalResult:
    """Renew the card of a due rule once per pack period, or record why not; commit.

    Nothing is charged unless the pack is applied in the same transaction.
    """
    begin_write(db.session)
    try:
        result = _renew_locked(rule_id, now or utcnow())
    except IntegrityError:
        # Another renewal of this key committed first (the card lock makes this rare).
        db.session.rollback()
        return RenewalResult(None, skipped="raced")
    except BaseException:
        db.session.rollback()
        raise
    if result.outcome is None:
        db.session.rollback()
    else:
        db.session.commit()
        log.info("rule %s: %s (%s)", rule_id, result.outcome.value, result.key)
    return result


def _renew_locked(rule_id: int, now: datetime) -> RenewalResult:
    rule = db.session.get(RenewalRule, rule_id)
    if rule is None:
        return RenewalResult(None, skipped="no_rule")
    card = db.session.get(Card, rule.card_id)
    state = card_services.lock_card(card.number)
    db.session.refresh(card)
    db.session.refresh(rule)
    if rule.status != RuleStatus.ACTIVE:
        return RenewalResult(None, skipped="not_active")
    if card.owner_id != rule.user_id:
        return RenewalResult(None, skipped="not_owner")
    if not trigger_reached(card, rule, now):
        return RenewalResult(None, skipped="not_due")
    period = card_services.pack_period(card.id)
    key = renewal_key(card.id, rule.id, period)
    exists = db.session.execute(select(Renewal.id).filter_by(key=key)).first()
    if exists is not None:
        return RenewalResult(None, key=key, skipped="renewed")
    product = rule.product
    base = {
        "rule_id": rule.id,
        "card_id": card.id,
        "period": period,
        "product_id": product.id,
        "currency": product.currency,
        "created_at": now,
    }
    if card.status != CardStatus.ACTIVE:
        return _fail(rule, card, key, base, RenewalOutcome.FAILED, "card_suspended")
    if not product.active:
        return _fail(rule, card, key, base, RenewalOutcome.FAILED, "pack_not_sold")
    if rule.monthly_cap is not None and renewed_this_month(rule.id, now) >= rule.monthly_cap:
        return _fail(rule, card, key, base, RenewalOutcome.CAP_REACHED, "monthly_cap")
    wallet = wallets.wallet_for(rule.user_id, product.currency)
    reference = references.for_renewal(key)
    try:
        balance = wallets.debit(
            wallet.id,
            product.price,
            kind=WalletEntryKind.RENEWAL,
            reference=reference,
            actor=RENEW_ACTOR,
            note=product.name,
        )
    except wallets.InsufficientFunds as short:
        if db.session.execute(select(Renewal.id).filter_by(key=key)).first() is not None:
            # a racing renewal of this key took the money and committed while we waited
            return RenewalResult(None, key=key, skipped="renewed")
        return _fail(
            rule,
            card,
            key,
            base,
            RenewalOutcome.INSUFFICIENT_FUNDS,
            "wallet_short",
            balance=short.balance,
        )
    _pause_point()
    applied = card_services.apply_pack(
        state,
        card_services.PackGrant.of_product(product),
        source=TopUpSource.AUTO_RENEW,
        channel="auto_renew",
        reference=reference,
        now=now,
    )
    renewal = Renewal(
        key=key,
        outcome=RenewalOutcome.RENEWED,
        amount=product.price,
        topup_id=applied.id,
        **base,
    )
    db.session.add(renewal)
    db.session.flush()  # the unique key: a racing renewal of this key fails here
    record_event(
        "card.auto_renewed",
        RENEW_ACTOR,
        object_type="card",
        object_id=card.number,
        details={
            "rule": rule.id,
            "key": key,
            "pack": product.sku,
            "amount": product.price,
            "currency": product.currency,
            "topup": applied.id,
        },
    )
    messages.send_receipt(rule, card, product, applied, balance)
    return RenewalResult(RenewalOutcome.RENEWED, key=key, renewal_id=renewal.id)


def _fail(rule, card, key, base, outcome: RenewalOutcome, reason: str, balance=None):
    """Record an attempt that charged nothing; tell the owner once per period and outcome."""
    failure_key = f"{key}:{outcome.value}"
    renewal_id = _insert_failure(
        {**base, "key": failure_key, "outcome": outcome.value, "amount": 0, "reason": reason}
    )
    if renewal_id is None:
        return RenewalResult(None, key=failure_key, skipped="told")
    record_event(
        "card.auto_renew_failed",
        RENEW_ACTOR,
        object_type="card",
        object_id=card.number,
        details={"rule": rule.id, "key": failure_key, "reason": reason},
    )
    if balance is None:
        balance = wallet_balance(rule)
    messages.send_failure(rule, card, outcome, reason, balance)
    return RenewalResult(outcome, key=failure_key, renewal_id=renewal_id)
