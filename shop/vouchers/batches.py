"""Generating voucher batches, exporting pre-printed stock, and disabling lost or stolen stock."""

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from shop.audit.services import Actor, record_event
from shop.db import begin_write
from shop.extensions import db
from shop.timeutil import utcnow
from shop.vouchers import bulk, lifecycle
from shop.vouchers.crypto import pin_vault
from shop.vouchers.models import BatchPurpose, Voucher, VoucherBatch, VoucherStatus
from shop.vouchers.pins import format_pin, generate_pins, normalise_serial, serials

#: Default shelf life of a voucher: how long an unredeemed PIN stays valid.
DEFAULT_SHELF_LIFE_DAYS = 365
MAX_BATCH_SIZE = 999_999
CHUNK_SIZE = 5_000
#: How often a batch whose PINs collided (astronomically rare) is generated again.
GENERATION_ATTEMPTS = 3


class BatchError(Exception):
    """Base of batch errors."""


class InvalidBatch(BatchError):
    """A batch request out of range; ``field`` names the problem."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


class BatchNotFound(BatchError):
    """No such batch."""


class ExportRefused(BatchError):
    """Only an inactive stock batch can be exported, and only once."""


@dataclass(frozen=True)
class VoucherTerms:
    """What each voucher of a batch is worth and grants: usually the pack's current terms."""

    face_value: int
    currency: str
    data_mb: int
    validity_days: int

    @classmethod
    def of(cls, product) -> "VoucherTerms":
        """Return a pack's terms as they are now."""
        return cls(product.price, product.currency, product.data_mb, product.validity_days)


@dataclass
class IssuedVoucher:
    """A voucher just generated, with its PIN in clear for the caller to print once."""

    id: int
    serial: str
    pin: str
    status: VoucherStatus
    expires_at: datetime
    face_value: int
    currency: str


@dataclass
class GeneratedBatch:
    """The result of a generation: the batch row and, when asked for, its PINs."""

    batch: VoucherBatch
    vouchers: list[IssuedVoucher]


def _voucher_chunk(batch_id: int, vault, start: int, stop: int) -> tuple[list[str], list[tuple]]:
    """Return the PINs and rows of positions ``start..stop-1``; see ``bulk.OWN_COLUMNS``."""
    chunk_serials = serials(batch_id, start, stop)
    pins = generate_pins(stop - start)
    rows = list(
        zip(
            chunk_serials,
            vault.pin_hashes(pins),
            vault.encrypt_pins(pins, chunk_serials),
            strict=True,
        )
    )
    return pins, rows


def _made_ahead(make: Callable, ranges: list[tuple[int, int]]) -> Iterator:
    """Yield ``make(start, stop)`` for each range, making the next one in a worker thread.

    Making rows (PINs, hashes, encryption) is Python work; storing them is mostly the
    database's: SQLite's C code runs a statement of many rows without holding the GIL, and
    PostgreSQL indexes in its own process. Done side by side they use both cores. The worker
    gets everything it needs as arguments (no app context, no session) and at most one chunk
    is ahead, so memory stays flat.
    """
    if len(ranges) == 1:
        yield make(*ranges[0])
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voucher-rows") as pool:
        pending = pool.submit(make, *ranges[0])
        for following in ranges[1:]:
            made = pending.result()
            pending = pool.submit(make, *following)
            yield made
        yield pending.result()


def generate_batch(
    product,
    count: int,
    *,
    purpose: BatchPurpose = BatchPurpose.STOCK,
    agent_id: int | None = None,
    inactive: bool = False,
    shelf_life_days: int = DEFAULT_SHELF_LIFE_DAYS,
    actor: Actor | None = None,
    note: str = "",
    keep_pins: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    commit: bool = True,
    unit_cost: int | None = None,
    paid_for: bool = False,
    terms: VoucherTerms | None = None,
) -> GeneratedBatch:
    """Generate ``count`` vouchers of ``product`` in one transaction: all of them or none.

    PINs are hashed and encrypted as they are made and inserted in chunks, so memory stays
    flat. ``progress(done)`` is called after each chunk; if it (or anything) raises, nothing
    stays. With ``keep_pins`` the clear PINs are returned for printing once. With
    ``commit=False`` the caller owns the transaction (a sale that also debits a float), and
    ``unit_cost`` is what the selling agent pays for each voucher. ``paid_for`` issues
    vouchers already paid (an online order) even if the pack was taken off sale since, and
    ``terms`` gives them what the buyer was shown (price, data, validity) if the pack changed.
    """
    if not isinstance(count, int) or not 1 <= count <= MAX_BATCH_SIZE:
        raise InvalidBatch("count", f"from 1 to {MAX_BATCH_SIZE} vouchers")
    if not 1 <= shelf_life_days <= 3660:
        raise InvalidBatch("shelf_life_days", "from 1 to 3660 days")
    if not product.active and not paid_for:
        raise InvalidBatch("sku", "the pack is not on sale")
    for attempt in range(1, GENERATION_ATTEMPTS + 1):
        if commit:
            begin_write(db.session)
        savepoint = None if commit else db.session.begin_nested()
        undo = savepoint.rollback if savepoint is not None else db.session.rollback
        try:
            result = _generate(
                product,
                count,
                purpose,
                agent_id,
                inactive,
                shelf_life_days,
                actor,
                note,
                keep_pins,
                progress,
                chunk_size,
                unit_cost,
                terms or VoucherTerms.of(product),
            )
        except IntegrityError:
            undo()  # two PINs hashed alike: draw them all again
            if attempt == GENERATION_ATTEMPTS:
                raise
            continue
        except BaseException:
            undo()
            raise
        (savepoint.commit if savepoint is not None else db.session.commit)()
        return result
    raise AssertionError("unreachable")


def _generate(
    product,
    count,
    purpose,
    agent_id,
    inactive,
    shelf_life_days,
    actor,
    note,
    keep_pins,
    progress,
    chunk_size,
    unit_cost,
    terms,
) -> GeneratedBatch:
    now = utcnow()
    batch = VoucherBatch(
        product_id=product.id,
        agent_id=agent_id,
        purpose=purpose,
        quantity=count,
        initial_status=VoucherStatus.INACTIVE if inactive else VoucherStatus.ACTIVE,
        expires_at=now + timedelta(days=shelf_life_days),
        note=note[:200],
        created_by_id=actor.user_id if actor else None,
        created_at=now,
    )
    db.session.add(batch)
    db.session.flush()
    vault = pin_vault()
    active = batch.initial_status == VoucherStatus.ACTIVE
    batch_values = {
        "batch_id": batch.id,
        "product_id": product.id,
        "agent_id": agent_id,
        "status": batch.initial_status,
        "face_value": terms.face_value,
        "cost": unit_cost,
        "currency": terms.currency,
        "data_mb": terms.data_mb,
        "validity_days": terms.validity_days,
        "pin_hash_key": vault.current_hmac_key_id,
        "pin_key": vault.current_encryption_key_id,
        "expires_at": batch.expires_at,
        "created_at": now,
        "sold_at": now if active else None,
        "sold_by_id": actor.user_id if actor and active else None,
    }
    pins: list[str] = []
    ranges = [
        (start, min(start + chunk_size, count + 1)) for start in range(1, count + 1, chunk_size)
    ]
    chunks = _made_ahead(partial(_voucher_chunk, batch.id, vault), ranges)
    # closing(): a failure stops the worker before the transaction is rolled back.
    with closing(chunks), bulk.voucher_writer(db.session.connection(), batch_values) as write:
        for (_start, stop), (chunk_pins, rows) in zip(ranges, chunks, strict=True):
            write(rows)
            if keep_pins:
                pins.extend(chunk_pins)
            if progress is not None:
                progress(stop - 1)
    issued: list[IssuedVoucher] = []
    if keep_pins:
        rows = db.session.execute(
            db.select(Voucher.id, Voucher.serial)
            .filter_by(batch_id=batch.id)
            .order_by(Voucher.serial)
        ).all()
        issued = [
            IssuedVoucher(
                row.id,
                row.serial,
                pin,
                batch.initial_status,
                batch.expires_at,
                terms.face_value,
                terms.currency,
            )
            for row, pin in zip(rows, pins, strict=True)
        ]
    record_event(
        "batch.generated",
        actor,
        object_type="batch",
        object_id=batch.id,
        agent_id=agent_id,
        details={
            "sku": product.sku,
            "count": count,
            "status": batch.initial_status.value,
            "purpose": purpose.value,
        },
    )
    return GeneratedBatch(batch, issued)


def get_batch(batch_id: int, *, agent_id: int | None = None) -> VoucherBatch:
    """Return a batch; with ``agent_id`` only one of that agent's batches."""
    batch = db.session.get(VoucherBatch, batch_id)
    if batch is None or (agent_id is not None and batch.agent_id != agent_id):
        raise BatchNotFound(str(batch_id))
    return batch


def list_batches(limit: int = 100, offset: int = 0) -> list[VoucherBatch]:
    """Return the latest batches, newest first."""
    query = db.select(VoucherBatch).order_by(VoucherBatch.id.desc()).limit(limit).offset(offset)
    return list(db.session.execute(query).scalars())


def batch_status_counts(batch_id: int) -> dict[VoucherStatus, int]:
    """Return how many of a batch's vouchers are in each status."""
    query = (
        db.select(Voucher.status, func.count(Voucher.id))
        .where(Voucher.batch_id == batch_id)
        .group_by(Voucher.status)
    )
    return dict(db.session.execute(query).all())


def export_batch_csv(batch_id: int, actor: Actor) -> tuple[str, bytes]:
    """Return (file name, CSV bytes) of an inactive stock batch with its PINs, exactly once.

    The export is audited and the file's SHA-256 recorded; a second export is refused, so a
    print house's file is the only clear copy of those PINs.
    """
    begin_write(db.session)
    batch = get_batch(batch_id)
    claimed = db.session.execute(
        db.update(VoucherBatch)
        .where(
            VoucherBatch.id == batch_id,
            VoucherBatch.exported_at.is_(None),
            VoucherBatch.initial_status == VoucherStatus.INACTIVE,
        )
        .values(exported_at=utcnow(), exported_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise ExportRefused("only an inactive batch that was never exported")
    vault = pin_vault()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["serial", "pin", "sku", "face_value", "currency", "expires_at"])
    query = db.select(Voucher).filter_by(batch_id=batch_id).order_by(Voucher.serial)
    for voucher in db.session.execute(query.execution_options(yield_per=2000)).scalars():
        pin = vault.decrypt(voucher.pin_ciphertext, voucher.serial, voucher.pin_key)
        writer.writerow(
            [
                voucher.serial,
                format_pin(pin),
                batch.product.sku,
                voucher.face_value,
                voucher.currency,
                voucher.expires_at.date().isoformat(),
            ]
        )
    content = buffer.getvalue().encode("utf-8")
    digest = hashlib.sha256(content).hexdigest()
    batch.export_sha256 = digest
    record_event(
        "batch.exported",
        actor,
        object_type="batch",
        object_id=batch.id,
        agent_id=batch.agent_id,
        details={"sha256": digest, "count": batch.quantity},
    )
    db.session.commit()
    return f"batch-{batch.id}-pins.csv", content


def disable_vouchers(
    batch_id: int,
    actor: Actor,
    *,
    first_serial: str | None = None,
    last_serial: str | None = None,
    reason: str = "",
) -> int:
    """Disable a batch's unsold or unredeemed vouchers (lost or stolen stock); return how many.

    Disabling is the ``-> expired`` move of the status machine: redeemed and void vouchers stay
    as they are. ``first_serial``/``last_serial`` limit it to a serial range of the batch.
    """
    bounds = []
    for bound in (first_serial, last_serial):
        if bound is None or not bound.strip():
            bounds.append(None)
            continue
        serial = normalise_serial(bound)
        if serial is None:
            raise InvalidBatch("serial_range", f"{bound!r} is not a voucher serial")
        bounds.append(serial)
    first, last = bounds
    if first and last and first > last:
        raise InvalidBatch("serial_range", "the first serial comes after the last")
    begin_write(db.session)
    batch = get_batch(batch_id)
    query = db.select(Voucher.id).filter(
        Voucher.batch_id == batch.id,
        Voucher.status.in_(lifecycle.TRANSITIONS[VoucherStatus.EXPIRED]),
    )
    if first:
        query = query.filter(Voucher.serial >= first)
    if last:
        query = query.filter(Voucher.serial <= last)
    ids = list(db.session.execute(query.order_by(Voucher.id)).scalars())
    moved = lifecycle.transition(
        ids,
        VoucherStatus.EXPIRED,
        actor,
        agent_id=batch.agent_id,
        audit_details={"reason": reason[:200] or "disabled", "batch": batch.id},
    )
    record_event(
        "batch.disabled",
        actor,
        object_type="batch",
        object_id=batch.id,
        agent_id=batch.agent_id,
        details={
            "count": len(moved),
            "first": first,
            "last": last,
            "reason": reason[:200],
        },
    )
    db.session.commit()
    return len(moved)
