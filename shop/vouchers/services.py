"""Redeeming vouchers onto cards, and finding vouchers by serial.

Redemption is one transaction: the card row is locked, the voucher moves ``active -> redeemed``
by a conditional update, the card gains the pack, a TopUp, its pending delivery to the network
and an AuditEvent are written. Of N
simultaneous redemptions of one PIN exactly one can match the conditional update.
"""

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from shop.audit.services import Actor
from shop.cards import services as card_services
from shop.cards.numbers import normalise_card_number
from shop.catalog.models import Product
from shop.db import end_transaction
from shop.extensions import db
from shop.network.delivery import deliveries_committed
from shop.throttle import FailureLimit, Throttled, release_all, reserve_all
from shop.timeutil import utcnow
from shop.vouchers import lifecycle, redemption_sql
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


@dataclass(frozen=True)
class Redemption:
    """A successful redemption: the voucher's serial and pack, and the top-up it made."""

    serial: str
    sku: str
    topup: card_services.AppliedTopUp


def _guess_limits(card_number: str, client: str) -> list[tuple[FailureLimit, str]]:
    config = current_app.config
    return [
        (FailureLimit("pin-client", config["PIN_FAILURES_PER_CLIENT"]), client),
        (FailureLimit("pin-card", config["PIN_FAILURES_PER_CARD"]), card_number),
    ]


def _count_global_failure() -> None:
    """Count a failed guess shop-wide and alert when the ceiling is crossed.

    The global ceiling only alerts: blocking every redemption would let someone guessing from
    many addresses shut the shop for all customers. Per-client and per-card limits block.
    """
    ceiling = FailureLimit("pin-global", current_app.config["PIN_FAILURES_GLOBAL"])
    try:
        ceiling.reserve("all")
    except Throttled:
        if ceiling.failures("all") == ceiling.amount + 1:
            log.error(
                "ALERT: more than %d failed PIN attempts within the global window (%s); "
                "possible guessing attack",
                ceiling.amount,
                ceiling.limit,
            )


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
    the per-client and per-card guess limits (:class:`Throttled`); then the card, then the
    voucher. Only an unknown PIN keeps its reservation, i.e. counts as a failed guess; it also
    counts towards the shop-wide ceiling, which raises an alert in the log.
    """
    pin = normalise_pin(pin_text)
    normalised_card = normalise_card_number(card_number)
    wanted_serial = normalise_serial(serial) if serial else None
    limits = _guess_limits(normalised_card, actor.ip_address or actor.label)
    reserve_all(limits)
    try:
        result = _redeem(pin, normalised_card, wanted_serial, channel, actor, agent_id)
    except VoucherNotFound:
        db.session.rollback()
        _count_global_failure()
        raise
    except BaseException:
        db.session.rollback()
        release_all(limits)
        raise
    release_all(limits)
    return result


_PRODUCT_SKU = select(Product.__table__.c.sku).where(
    Product.__table__.c.id == bindparam("product_id")
)


def _sku_of(product_id: int) -> str:
    """Return a pack's SKU, remembered for the app's life: SKUs never change, packs stay."""
    cache = current_app.extensions.setdefault("shop.sku_by_product_id", {})
    sku = cache.get(product_id)
    if sku is None:
        sku = db.session.execute(_PRODUCT_SKU, {"product_id": product_id}).scalar_one()
        cache[product_id] = sku
    return sku


def _redeem(pin, card_number, wanted_serial, channel, actor, agent_id) -> Redemption:
    """Run the redemption transaction (see ``redemption_sql``) and commit it, or say why not."""
    pin_hashes = pin_vault().lookup_hashes(pin)
    now = utcnow()
    end_transaction(db.session)
    engine = db.engine
    pooled = engine.raw_connection()  # the app's pool, without a Connection object around it
    try:
        voucher, topup = redemption_sql.redeem(
            pooled.driver_connection,
            engine,
            card_number=card_number,
            pin_hashes=pin_hashes,
            serial=wanted_serial,
            channel=channel,
            actor=actor,
            agent_id=agent_id,
            now=now,
            audit_details={"card": card_number, "channel": channel},
        )
    except redemption_sql.NoActiveVoucher:
        _explain_refusal(pin, wanted_serial, actor, now)
        raise AssertionError("unreachable") from None
    finally:
        pooled.close()  # back to the pool
    deliveries_committed.send(current_app._get_current_object(), ids=[topup.delivery_id])
    return Redemption(serial=voucher.serial, sku=_sku_of(voucher.product_id), topup=topup)


def _explain_refusal(pin, wanted_serial, actor, now) -> None:
    """Raise the reason a PIN could not be redeemed (not found, used, void, unsold, expired)."""
    voucher = find_voucher_by_pin(pin)
    if voucher is None or (wanted_serial and voucher.serial != wanted_serial):
        raise VoucherNotFound()
    if (
        voucher.status in (VoucherStatus.ACTIVE, VoucherStatus.INACTIVE)
        and voucher.expires_at <= now
    ):
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
    raise STATUS_ERRORS.get(voucher.status, VoucherAlreadyRedeemed)()


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


def printable_batch(batch_id: int, *, agent_name: str = "", serial: str | None = None) -> list:
    """Return a batch's vouchers (or the one with ``serial``) ready to print, PINs decrypted."""
    from shop.vouchers.pdf import PrintableVoucher

    query = db.select(Voucher).filter_by(batch_id=batch_id).order_by(Voucher.serial)
    if serial is not None:
        query = query.filter_by(serial=serial)
    vouchers = db.session.execute(query).scalars()
    return [
        PrintableVoucher(
            serial=voucher.serial,
            pin=reveal_pin(voucher),
            pack_name=voucher.product.name,
            data_mb=voucher.data_mb,
            validity_days=voucher.validity_days,
            coverage=tuple(voucher.product.coverage),
            face_value=voucher.face_value,
            currency=voucher.currency,
            expires_at=voucher.expires_at,
            agent_name=agent_name,
        )
        for voucher in vouchers
    ]
