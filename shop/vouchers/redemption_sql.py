"""The redemption transaction as plain SQL through the database driver.

Redeeming a PIN is the shop's hottest path, and it has to beat a hand-written raw-SQL prototype
with all its real work included (see docs/BENCHMARKS.md). The ORM session and statement
compilation cost more than the transaction itself, so this one transaction talks to the driver
directly: six prepared statements between ``BEGIN`` and ``COMMIT``, on a connection from the
app's own pool. Everything that decides stays in Python and in one place: the status move comes
from ``lifecycle.TRANSITIONS``, the new expiry from ``cards.services.extended_expiry``, and
values are converted by the very column types the ORM uses, so rows look exactly as if the ORM
had written them. The tests run every redemption through here on SQLite and PostgreSQL.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from shop.audit.models import AuditEvent
from shop.cards.models import Card, CardStatus, TopUpSource
from shop.cards.services import (
    AppliedTopUp,
    CardNotFound,
    CardState,
    CardSuspended,
    extended_expiry,
    new_delivery,
)
from shop.vouchers.lifecycle import TRANSITIONS
from shop.vouchers.models import VoucherStatus

FROM_STATUS = next(iter(TRANSITIONS[VoucherStatus.REDEEMED])).value


@dataclass(frozen=True)
class RedeemedRow:
    """The voucher row the redemption moved."""

    id: int
    serial: str
    product_id: int
    data_mb: int
    validity_days: int
    agent_id: int | None


class NoActiveVoucher(Exception):
    """No active, unexpired voucher has this PIN; the caller finds out why."""


@cache
def _statements(dialect_name: str, hash_count: int) -> dict[str, str]:
    postgres = dialect_name == "postgresql"
    mark = "%s" if postgres else "?"

    def sql(text: str) -> str:
        return text.replace("?", mark)

    pin_match = "pin_hash = ANY(%s)" if postgres else f"pin_hash IN ({', '.join('?' * hash_count)})"
    return {
        "lock_card": sql(
            "SELECT id, number, status, data_balance_mb, expires_at FROM card WHERE number = ?"
            + (" FOR UPDATE" if postgres else "")
        ),
        "redeem": sql(
            "UPDATE voucher SET status = ?, redeemed_at = ?, redeemed_card_id = ? "
            "WHERE status = ? AND expires_at > ? AND "
        )
        + pin_match
        + " RETURNING id, serial, product_id, data_mb, validity_days, agent_id",
        "credit_card": sql(
            "UPDATE card SET data_balance_mb = data_balance_mb + ?, expires_at = ? WHERE id = ?"
        ),
        "insert_topup": sql(
            "INSERT INTO topup (card_id, product_id, data_mb, validity_days, source, channel, "
            "agent_id, reference, old_expires_at, new_expires_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        ),
        "insert_delivery": sql(
            "INSERT INTO topup_delivery (topup_id, card_id, request_id, status, attempts, "
            "next_attempt_at, claimed_until, give_up_at, last_error, network_reference, "
            "created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        ),
        "insert_audit": sql(
            "INSERT INTO audit_event (action, actor_id, actor_label, object_type, object_id, "
            "agent_id, details, ip_address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?"
            + ("::json" if postgres else "")
            + ", ?, ?)"
        ),
    }


class _Converters:
    """Bind and result processors of the columns this transaction touches, for one dialect."""

    def __init__(self, dialect):
        expiry_type = Card.__table__.c.expires_at.type.dialect_impl(dialect)
        self.datetime_in = expiry_type.bind_processor(dialect) or (lambda value: value)
        self.datetime_out = expiry_type.result_processor(dialect, None) or (lambda value: value)
        details_type = AuditEvent.__table__.c.details.type.dialect_impl(dialect)
        self.json_in = details_type.bind_processor(dialect) or json.dumps


@cache
def _converters(dialect) -> _Converters:
    return _Converters(dialect)


def redeem(
    driver,
    dialect,
    *,
    card_number: str,
    pin_hashes: list[str],
    channel: str,
    actor,
    agent_id: int | None,
    now: datetime,
    audit_details: dict,
) -> tuple[RedeemedRow, AppliedTopUp]:
    """Run the redemption in the open transaction of a driver connection; the caller commits.

    ``driver`` is the DB-API connection (sqlite3 or psycopg) and ``dialect`` its SQLAlchemy
    dialect, whose column types convert the values.

    Raises :class:`CardNotFound`, :class:`CardSuspended` or :class:`NoActiveVoucher`; the
    caller then rolls back.
    """
    sql = _statements(dialect.name, len(pin_hashes))
    convert = _converters(dialect)
    card_row = driver.execute(sql["lock_card"], (card_number,)).fetchone()
    if card_row is None:
        raise CardNotFound(card_number)
    card = CardState(
        card_row[0],
        card_row[1],
        CardStatus(card_row[2]),
        card_row[3],
        convert.datetime_out(card_row[4]),
    )
    if card.status != CardStatus.ACTIVE:
        raise CardSuspended(card.number)
    at = convert.datetime_in(now)
    hashes = (pin_hashes,) if dialect.name == "postgresql" else tuple(pin_hashes)
    voucher_row = driver.execute(
        sql["redeem"], (VoucherStatus.REDEEMED.value, at, card.id, FROM_STATUS, at, *hashes)
    ).fetchone()
    if voucher_row is None:
        raise NoActiveVoucher()
    voucher = RedeemedRow(*voucher_row)
    new_expiry = extended_expiry(card.expires_at, voucher.validity_days, now)
    driver.execute(sql["credit_card"], (voucher.data_mb, convert.datetime_in(new_expiry), card.id))
    topup_id = driver.execute(
        sql["insert_topup"],
        (
            card.id,
            voucher.product_id,
            voucher.data_mb,
            voucher.validity_days,
            TopUpSource.VOUCHER.value,
            channel,
            agent_id,
            voucher.serial,
            convert.datetime_in(card.expires_at),
            convert.datetime_in(new_expiry),
            at,
        ),
    ).fetchone()[0]
    delivery = new_delivery(topup_id, card.id, now)
    delivery_id = driver.execute(
        sql["insert_delivery"],
        tuple(
            convert.datetime_in(value) if isinstance(value, datetime) else value
            for value in delivery.values()
        ),
    ).fetchone()[0]
    driver.execute(
        sql["insert_audit"],
        (
            "voucher.redeemed",
            actor.user_id,
            actor.label[:64],
            "voucher",
            voucher.serial,
            voucher.agent_id,
            convert.json_in(audit_details),
            actor.ip_address[:45],
            at,
        ),
    )
    after = CardState(
        card.id, card.number, card.status, card.data_balance_mb + voucher.data_mb, new_expiry
    )
    topup = AppliedTopUp(
        topup_id,
        voucher.product_id,
        voucher.data_mb,
        voucher.validity_days,
        channel,
        voucher.serial,
        card.expires_at,
        new_expiry,
        now,
        after,
        delivery_id,
    )
    return voucher, topup
