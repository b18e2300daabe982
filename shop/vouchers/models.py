"""Vouchers and the batches they are generated in."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import partial_index
from shop.extensions import db
from shop.timeutil import utcnow


def _values(enum_cls):
    return [member.value for member in enum_cls]


class VoucherStatus(enum.StrEnum):
    """Where a voucher is in its life; the allowed moves are in ``lifecycle.TRANSITIONS``."""

    INACTIVE = "inactive"  #: pre-printed stock, allocated but not sold
    ACTIVE = "active"  #: sold or issued; can be redeemed
    REDEEMED = "redeemed"  #: applied to a card; final
    VOID = "void"  #: refunded within the void window; final
    EXPIRED = "expired"  #: shelf life over, or disabled as lost/stolen stock; final


class BatchPurpose(enum.StrEnum):
    """Why a batch was generated."""

    STOCK = "stock"  #: bulk stock for printing (scratch cards, print house)
    SALE = "sale"  #: one counter or API sale
    ORDER = "order"  #: one storefront order


class VoucherBatch(db.Model):
    """A set of vouchers generated together for one product."""

    __tablename__ = "voucher_batch"
    __table_args__ = (
        #: What a voucher's (batch, pack) pair refers to: its pack is always its batch's.
        Index("uq_voucher_batch_id_product", "id", "product_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    purpose: Mapped[BatchPurpose] = mapped_column(
        Enum(BatchPurpose, native_enum=False, length=16, values_callable=_values)
    )
    quantity: Mapped[int]
    initial_status: Mapped[VoucherStatus] = mapped_column(
        Enum(VoucherStatus, native_enum=False, length=16, values_callable=_values)
    )
    #: Shelf life of the batch's vouchers: after this a PIN can no longer be redeemed.
    expires_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The one-time CSV export of an inactive batch's PINs for a print house.
    exported_at: Mapped[datetime | None]
    exported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: SHA-256 of the exported file, to recognise it later.
    export_sha256: Mapped[str] = mapped_column(String(64), default="")

    product = relationship("Product")
    agent = relationship("Agent")


class Voucher(db.Model):
    """A PIN voucher for one data pack. The PIN itself is never stored in clear."""

    __tablename__ = "voucher"
    __table_args__ = (
        CheckConstraint("face_value > 0", name="face_value_positive"),
        Index("ix_voucher_agent_sold", "agent_id", "sold_at"),
        #: Sales reports across all agents in a period.
        Index("ix_voucher_sold_at", "sold_at"),
        #: Pre-printed stock per agent: inactive vouchers only, so selling, redeeming or
        #: voiding any other voucher writes nothing here.
        partial_index("ix_voucher_inactive_agent", "agent_id", where="status = 'inactive'"),
        #: A card's redeemed vouchers; the many unredeemed ones are not in it.
        partial_index(
            "ix_voucher_redeemed_card_id",
            "redeemed_card_id",
            where="redeemed_card_id IS NOT NULL",
        ),
        Index("ix_voucher_batch_serial", "batch_id", "serial"),
        #: A voucher's pack is its batch's pack. One key for both also means one check per
        #: inserted row instead of two, which PostgreSQL makes row by row (a third of the time
        #: of a 100,000-voucher COPY).
        ForeignKeyConstraint(
            ["batch_id", "product_id"],
            ["voucher_batch.id", "voucher_batch.product_id"],
            name="fk_voucher_batch_id_product_voucher_batch",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public, printed, sequential: batch number, position, Luhn digit.
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    batch_id: Mapped[int]
    #: The batch's pack, kept on each voucher for reports; the batch key makes them agree.
    product_id: Mapped[int]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    status: Mapped[VoucherStatus] = mapped_column(
        Enum(VoucherStatus, native_enum=False, length=16, values_callable=_values)
    )
    #: What the voucher was sold as, fixed at generation even if the pack changes later.
    face_value: Mapped[int]
    #: What the selling agent paid for it (face value less its discount); empty until sold by one.
    cost: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    data_mb: Mapped[int]
    validity_days: Mapped[int]
    #: HMAC-SHA256 of the PIN under key ``pin_hash_key``: the only way to find a voucher by PIN.
    pin_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pin_hash_key: Mapped[str] = mapped_column(String(16))
    #: AES-GCM sealed PIN (nonce + ciphertext, base64), bound to the serial, key ``pin_key``.
    pin_ciphertext: Mapped[str] = mapped_column(String(120))
    pin_key: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sold_at: Mapped[datetime | None]
    sold_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    redeemed_at: Mapped[datetime | None]
    redeemed_card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    voided_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]

    #: Joined on the batch id alone (the pack follows from it), so that a batch already
    #: loaded is taken from the session instead of being queried again.
    batch = relationship(
        "VoucherBatch",
        primaryjoin="Voucher.batch_id == VoucherBatch.id",
        foreign_keys="Voucher.batch_id",
    )
    product = relationship(
        "Product",
        primaryjoin="Voucher.product_id == Product.id",
        foreign_keys="Voucher.product_id",
        viewonly=True,
    )
    redeemed_card = relationship("Card")

    def __repr__(self) -> str:
        return f"<Voucher {self.serial} {self.status.value}>"


class PrintJobStatus(enum.StrEnum):
    """Where a background print of a large batch stands."""

    QUEUED = "queued"  #: waiting for a worker (new, retried, or handed on by the reaper)
    RUNNING = "running"  #: claimed by a worker that proves it is alive by its heartbeat
    DONE = "done"  #: the sealed file is stored; final
    FAILED = "failed"  #: gave up after its attempts; an admin may queue it again


class PrintJob(db.Model):
    """A large batch rendered to PDF by a job worker, with its progress."""

    __tablename__ = "print_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batch.id"), index=True)
    #: "a4" or "receipt".
    layout: Mapped[str] = mapped_column(String(10))
    #: The language of the page that asked for the print: the vouchers' labels are in it.
    locale: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[PrintJobStatus] = mapped_column(
        Enum(PrintJobStatus, native_enum=False, length=10, values_callable=_values),
        default=PrintJobStatus.QUEUED,
    )
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    #: How many times a worker has claimed the job.
    attempts: Mapped[int] = mapped_column(default=0)
    #: The claim of the worker running it now: its updates count only while it holds it.
    claim: Mapped[str] = mapped_column(String(32), default="")
    #: Last sign of life of the worker running it; older than the stale age means it died.
    heartbeat_at: Mapped[datetime | None]
    #: The finished PDF in the print file store, sealed with the PIN key (it holds PINs).
    file_name: Mapped[str] = mapped_column(String(80), default="")
    error: Mapped[str] = mapped_column(String(200), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    batch = relationship("VoucherBatch")

    __table_args__ = (Index("ix_print_job_status", "status"),)
