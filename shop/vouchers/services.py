"""Redeeming vouchers onto cards, and finding vouchers by serial.

Redemption is one transaction: the card row is locked, the voucher moves ``active -> redeemed``
by a conditional update, the card gains the pack, a TopUp and an AuditEvent are written. Of N
simultaneous redemptions of one PIN exactly one can match the conditional update.
"""

import logging
from dataclasses import dataclass

from flask import current_app

from shop.audit.services import Actor, record_event
from shop.cards import services as card_services
from shop.cards.models import Card, CardStatus, TopUp, TopUpSource
from shop.cards.numbers import normalise_card_number
from shop.db import begin_write
from shop.extensions import db
from shop.throttle import FailureLimit, Throttled, reserve_all
from shop.timeutil import utcnow
from shop.vouchers import lifecycle
from shop.vouchers.crypto import pin_vault
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import normalise_pin, normalise_serial

log = logging.getLogger(__name__)


class RedemptionError(Exception):
    """Base of the reasons a redemption is refused; ``code`` is the API's error code."""

    code = "redemption_failed"


class VoucherNotFound(RedemptionError):
    """No voucher has this PIN (or it does not belong to the given serial)."""

    code = "voucher_not_found"


class VoucherAlreadyRedeemed(RedemptionError):
    """The voucher was redeemed before."""

    code = "voucher_already_redeemed"


class VoucherVoid(RedemptionError):
    """The voucher was voided (refunded)."""

    code = "voucher_void"


class VoucherInactive(RedemptionError):
    """Pre-printed stock that was never sold."""

    code = "voucher_inactive"


class VoucherExpired(RedemptionError):
    """The voucher's shelf life is over, or it was disabled."""

    code = "voucher_expired"


STATUS_ERRORS = {
    VoucherStatus.REDEEMED: VoucherAlreadyRedeemed,
    VoucherStatus.VOID: VoucherVoid,
    VoucherStatus.INACTIVE: VoucherInactive,
    VoucherStatus.EXPIRED: VoucherExpired,
}


@dataclass
class Redemption:
    """A successful redemption."""

    voucher: Voucher
    card: Card
    topup: TopUp


def _guess_limits(card_number: str, client: str) -> list[tuple[FailureLimit, str]]:
    config = current_app.config
    return [
        (FailureLimit("pin-client", config["PIN_FAILURES_PER_CLIENT"]), client),
        (FailureLimit("pin-card", config["PIN_FAILURES_PER_CARD"]), card_number),
        (FailureLimit("pin-global", config["PIN_FAILURES_GLOBAL"]), "all"),
    ]


def _release(limits: list[tuple[FailureLimit, str]]) -> None:
    for failure_limit, key in limits:
        failure_limit.release(key)


def find_voucher_by_pin(pin: str) -> Voucher | None:
    """Return the voucher with this (normalised) PIN, looked up by its keyed hashes."""
    hashes = pin_vault().lookup_hashes(pin)
    return db.session.execute(
        db.select(Voucher).where(Voucher.pin_hash.in_(hashes))
    ).scalar_one_or_none()


def redeem_voucher(
    pin_text: str,
    card_number: str,
    *,
    channel: str,
    actor: Actor,
    serial: str | None = None,
    agent_id: int | None = None,
) -> Redemption:
    """Apply a voucher to a card, or raise saying why not.

    Checks run cheapest and least revealing first: the PIN's shape and check digit and the card
    number's shape (mistypes, never counted as guesses); then the attempt is reserved against
    the per-client, per-card and global guess limits (:class:`Throttled`); then the card, then
    the voucher. Only an unknown PIN keeps its reservation, i.e. counts as a failed guess.
    """
    pin = normalise_pin(pin_text)
    normalised_card = normalise_card_number(card_number)
    wanted_serial = normalise_serial(serial) if serial else None
    limits = _guess_limits(normalised_card, actor.ip_address or actor.label)
    try:
        reserve_all(limits)
    except Throttled:
        _maybe_alert(limits)
        raise
    try:
        result = _redeem(pin, normalised_card, wanted_serial, channel, actor, agent_id)
    except VoucherNotFound:
        db.session.rollback()
        _maybe_alert(limits)
        raise
    except BaseException:
        db.session.rollback()
        _release(limits)
        raise
    _release(limits)
    return result


def _maybe_alert(limits: list[tuple[FailureLimit, str]]) -> None:
    global_limit, key = limits[-1]
    failures = global_limit.failures(key)
    if failures in (global_limit.amount, global_limit.amount + 1):
        log.error(
            "ALERT: %d failed PIN attempts within the global window (%s); possible guessing attack",
            failures,
            global_limit.limit,
        )


def _redeem(pin, card_number, wanted_serial, channel, actor, agent_id) -> Redemption:
    begin_write(db.session)
    card = card_services.find_card(card_number, for_update=True)
    if card.status != CardStatus.ACTIVE:
        raise card_services.CardSuspended(card.number)
    voucher = find_voucher_by_pin(pin)
    if voucher is None or (wanted_serial and voucher.serial != wanted_serial):
        raise VoucherNotFound()
    now = utcnow()
    if voucher.status == VoucherStatus.ACTIVE and voucher.expires_at <= now:
        lifecycle.transition_one(
            voucher,
            VoucherStatus.EXPIRED,
            actor,
            now=now,
            audit_details={"reason": "shelf life over"},
            agent_id=voucher.agent_id,
        )
        db.session.commit()
        raise VoucherExpired()
    moved = lifecycle.transition_one(
        voucher,
        VoucherStatus.REDEEMED,
        actor,
        now=now,
        extra={"redeemed_card_id": card.id},
        agent_id=voucher.agent_id,
        audit_details={"card": card.number, "channel": channel},
    )
    if not moved:
        db.session.refresh(voucher)
        raise STATUS_ERRORS.get(voucher.status, VoucherAlreadyRedeemed)()
    grant = card_services.PackGrant(voucher.product_id, voucher.data_mb, voucher.validity_days)
    topup = card_services.apply_pack(
        card,
        grant,
        source=TopUpSource.VOUCHER,
        channel=channel,
        agent_id=agent_id,
        reference=voucher.serial,
        now=now,
    )
    voucher.redeemed_topup_id = topup.id
    record_event(
        "card.topped_up",
        actor,
        object_type="card",
        object_id=card.number,
        agent_id=agent_id,
        details={"serial": voucher.serial, "data_mb": voucher.data_mb},
    )
    db.session.commit()
    return Redemption(voucher=voucher, card=card, topup=topup)


def get_voucher_by_serial(serial: str, *, agent_id: int | None = None) -> Voucher | None:
    """Return the voucher with this serial; with ``agent_id``, only one of that agent's."""
    normalised = normalise_serial(serial)
    if normalised is None:
        return None
    query = db.select(Voucher).filter_by(serial=normalised)
    if agent_id is not None:
        query = query.filter_by(agent_id=agent_id)
    return db.session.execute(query).scalar_one_or_none()


def reveal_pin(voucher: Voucher) -> str:
    """Decrypt a voucher's PIN for an authorised reprint; the caller audits the reprint."""
    return pin_vault().decrypt(voucher.pin_ciphertext, voucher.serial, voucher.pin_key)
