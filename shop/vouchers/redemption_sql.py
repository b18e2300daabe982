"""The redemption transaction as plain SQL through the database driver.

Redeeming a PIN is the shop's hottest path, and it has to beat a hand-written raw-SQL prototype
with all its real work included (see docs/BENCHMARKS.md). The ORM session and statement
compilation cost more than the transaction itself, so this one transaction talks to the driver
directly, on a connection from the app's own pool.

- **PostgreSQL**: one statement does the whole redemption (card lock, conditional voucher
  update, card credit and new expiry, TopUp row, its pending delivery to the operator's network,
  AuditEvent row), sent in autocommit mode, so it
  is its own transaction: one round trip instead of eight (``BEGIN``, five statements,
  ``COMMIT`` and the pool's ping), and the server answers only once the commit is on disk.
- **SQLite**: six prepared statements between ``BEGIN IMMEDIATE`` and ``COMMIT``, in-process;
  every value that does not depend on the card row is converted before the write lock is taken,
  since the other workers wait for that lock.

Everything that decides stays in one place: the status move comes from
``lifecycle.TRANSITIONS``, the new expiry from ``cards.services.extended_expiry`` (and its SQL
twin ``EXTENDED_EXPIRY_SQL``), and values are converted by the very column types the ORM uses,
so rows look exactly as if the ORM had written them. The tests run every redemption through
here on SQLite and PostgreSQL.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from shop.audit.models import AuditEvent
from shop.cards.models import Card, CardStatus, TopUpSource
from shop.cards.services import (
    EXTENDED_EXPIRY_SQL,
    AppliedTopUp,
    CardNotFound,
    CardState,
    CardSuspended,
    extended_expiry,
    new_delivery,
)
from shop.db import begin_driver_write
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
def _sqlite_statements(hash_count: int) -> dict[str, str]:
    return {
        "lock_card": (
            "SELECT id, number, status, data_balance_mb, expires_at FROM card WHERE number = ?"
        ),
        "redeem": (
            "UPDATE voucher SET status = ?, redeemed_at = ?, redeemed_card_id = ? "
            f"WHERE status = ? AND expires_at > ? AND pin_hash IN ({', '.join('?' * hash_count)})"
            " RETURNING id, serial, product_id, data_mb, validity_days, agent_id"
        ),
        "credit_card": (
            "UPDATE card SET data_balance_mb = data_balance_mb + ?, expires_at = ? WHERE id = ?"
        ),
        "insert_topup": (
            "INSERT INTO topup (card_id, product_id, data_mb, validity_days, source, channel, "
            "agent_id, reference, old_expires_at, new_expires_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        ),
        "insert_delivery": (
            "INSERT INTO topup_delivery (topup_id, card_id, request_id, status, attempts, "
            "next_attempt_at, claimed_until, give_up_at, last_error, network_reference, "
            "created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
        ),
        "insert_audit": (
            "INSERT INTO audit_event (action, actor_id, actor_label, object_type, object_id, "
            "agent_id, details, ip_address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


#: The whole redemption in one PostgreSQL statement (see :func:`_postgres_statement` for its
#: ``{pin_hashes}``). The card row is locked first
#: (``FOR UPDATE``, as on SQLite), the voucher moves only if the card is active and the voucher
#: still is too (of N concurrent redemptions of one PIN, one matches), and every write after
#: it takes its rows ``FROM redeemed``: no voucher, no write. Under READ COMMITTED a row another
#: redemption changed meanwhile is re-read at its newest version before it is locked or
#: updated, so balance and expiry build on what that redemption committed. The last ``SELECT``
#: always returns one row, saying what happened.
POSTGRES_REDEEM_TEMPLATE = (
    """
WITH locked_card AS (
    SELECT id, status, expires_at FROM card WHERE number = %(card)s FOR UPDATE
), redeemed AS (
    UPDATE voucher SET status = %(to_status)s, redeemed_at = %(now)s,
        redeemed_card_id = locked_card.id
    FROM locked_card
    WHERE locked_card.status = %(card_active)s AND voucher.status = %(from_status)s
        AND voucher.expires_at > %(now)s AND voucher.pin_hash IN ({pin_hashes})
        AND (%(serial)s::text IS NULL OR voucher.serial = %(serial)s::text)
    RETURNING voucher.id, voucher.serial, voucher.product_id, voucher.data_mb,
        voucher.validity_days, voucher.agent_id, locked_card.id AS card_id,
        locked_card.expires_at AS old_expires_at
), credited AS (
    UPDATE card SET data_balance_mb = card.data_balance_mb + redeemed.data_mb,
        expires_at = """
    + EXTENDED_EXPIRY_SQL.format(
        current="card.expires_at", now="%(now)s", days="redeemed.validity_days"
    )
    + """
    FROM redeemed WHERE card.id = redeemed.card_id
    RETURNING card.data_balance_mb, card.expires_at
), topup_row AS (
    INSERT INTO topup (card_id, product_id, data_mb, validity_days, source, channel,
        agent_id, reference, old_expires_at, new_expires_at, created_at)
    SELECT redeemed.card_id, redeemed.product_id, redeemed.data_mb, redeemed.validity_days,
        %(source)s, %(channel)s, %(agent_id)s, redeemed.serial, redeemed.old_expires_at,
        credited.expires_at, %(now)s
    FROM redeemed, credited
    RETURNING id
), delivery_row AS (
    INSERT INTO topup_delivery (topup_id, card_id, request_id, status, attempts,
        next_attempt_at, claimed_until, give_up_at, last_error, network_reference, created_at,
        finished_at)
    SELECT topup_row.id, redeemed.card_id, %(request_id)s, %(delivery_status)s, 0, %(now)s,
        NULL, %(give_up_at)s, '', '', %(now)s, NULL
    FROM topup_row, redeemed
    RETURNING id
), audit AS (
    INSERT INTO audit_event (action, actor_id, actor_label, object_type, object_id, agent_id,
        details, ip_address, created_at)
    SELECT 'voucher.redeemed', %(actor_id)s, %(actor_label)s, 'voucher', redeemed.serial,
        redeemed.agent_id, %(details)s::json, %(ip_address)s, %(now)s
    FROM redeemed
)
SELECT locked_card.id, locked_card.status, redeemed.id, redeemed.serial, redeemed.product_id,
    redeemed.data_mb, redeemed.validity_days, redeemed.agent_id, redeemed.old_expires_at,
    credited.data_balance_mb, credited.expires_at, topup_row.id, delivery_row.id
FROM (SELECT 1) AS one
LEFT JOIN locked_card ON true
LEFT JOIN redeemed ON true
LEFT JOIN credited ON true
LEFT JOIN topup_row ON true
LEFT JOIN delivery_row ON true
"""
)


@cache
def _postgres_statement(hash_count: int) -> str:
    """Return the redemption statement for a PIN looked up by ``hash_count`` hashes (one per key).

    Each hash is a parameter of its own (``pin_hash IN (%(hash0)s, ...)``), not one array
    (``= ANY(%(hashes)s)``): PostgreSQL cannot tell an array's length in advance, so the plan it
    could keep for every execution looked dearer than one planned for the array in hand, and
    it planned the statement anew on every redemption (about a third of the server's time).
    With one parameter per hash it keeps the prepared plan.
    """
    names = ", ".join(f"%(hash{index})s" for index in range(hash_count))
    return POSTGRES_REDEEM_TEMPLATE.replace("{pin_hashes}", names)


def redeem(
    driver,
    engine,
    *,
    card_number: str,
    pin_hashes: list[str],
    serial: str | None,
    channel: str,
    actor,
    agent_id: int | None,
    now: datetime,
    audit_details: dict,
) -> tuple[RedeemedRow, AppliedTopUp]:
    """Redeem and commit on a pooled driver connection, or roll back and raise saying why not.

    ``driver`` is the DB-API connection (sqlite3 or psycopg) of ``engine``, whose dialect's
    column types convert the values. With ``serial``, only the voucher of that
    serial is redeemed.

    Raises :class:`CardNotFound`, :class:`CardSuspended` or :class:`NoActiveVoucher` (the
    caller finds out why); nothing is written then.
    """
    arguments = {
        "card_number": card_number,
        "pin_hashes": pin_hashes,
        "serial": serial,
        "channel": channel,
        "actor": actor,
        "agent_id": agent_id,
        "now": now,
        "audit_details": audit_details,
    }
    dialect = engine.dialect
    if dialect.name == "postgresql":
        return _redeem_in_one_statement(driver, dialect, **arguments)
    # Everything that does not depend on the card row is worked out before the write lock is
    # taken: the other workers wait for that lock, so it is held for the statements only.
    prepared = _SqliteRedemption(dialect, **arguments)
    begin_driver_write(driver, engine)
    try:
        result = prepared.run(driver)
    except BaseException:
        driver.rollback()
        raise
    driver.commit()
    return result


def _redeem_in_one_statement(
    driver,
    dialect,
    *,
    card_number,
    pin_hashes,
    serial,
    channel,
    actor,
    agent_id,
    now,
    audit_details,
) -> tuple[RedeemedRow, AppliedTopUp]:
    convert = _converters(dialect)
    at = convert.datetime_in(now)
    delivery = new_delivery(None, None, now)
    parameters = {
        "card": card_number,
        "to_status": VoucherStatus.REDEEMED.value,
        "from_status": FROM_STATUS,
        "card_active": CardStatus.ACTIVE.value,
        "now": at,
        **{f"hash{index}": pin_hash for index, pin_hash in enumerate(pin_hashes)},
        "serial": serial,
        "source": TopUpSource.VOUCHER.value,
        "channel": channel,
        "agent_id": agent_id,
        "actor_id": actor.user_id,
        "actor_label": actor.label[:64],
        "details": convert.json_in(audit_details),
        "ip_address": actor.ip_address[:45],
        "request_id": delivery["request_id"],
        "delivery_status": delivery["status"],
        "give_up_at": convert.datetime_in(delivery["give_up_at"]),
    }
    statement = _postgres_statement(len(pin_hashes))
    driver.autocommit = True  # the statement is its own transaction
    try:
        row = driver.execute(statement, parameters, prepare=True).fetchone()
    finally:
        driver.autocommit = False
    (card_id, card_status, voucher_id, *voucher_columns) = row[:8]
    if card_id is None:
        raise CardNotFound(card_number)
    if card_status != CardStatus.ACTIVE:
        raise CardSuspended(card_number)
    if voucher_id is None:
        raise NoActiveVoucher()
    voucher = RedeemedRow(voucher_id, *voucher_columns)
    old_expiry, balance, new_expiry, topup_id, delivery_id = row[8:]
    old_expiry, new_expiry = convert.datetime_out(old_expiry), convert.datetime_out(new_expiry)
    after = CardState(card_id, card_number, CardStatus.ACTIVE, balance, new_expiry)
    applied = (topup_id, voucher, channel, old_expiry, new_expiry, now, after, delivery_id)
    return voucher, _applied(*applied)


def _applied(
    topup_id, voucher, channel, old_expiry, new_expiry, now, after, delivery_id
) -> AppliedTopUp:
    return AppliedTopUp(
        topup_id,
        voucher.product_id,
        voucher.data_mb,
        voucher.validity_days,
        channel,
        voucher.serial,
        old_expiry,
        new_expiry,
        now,
        after,
        delivery_id,
    )


class _SqliteRedemption:
    """The SQLite redemption: its values converted up front, then its six statements."""

    def __init__(
        self,
        dialect,
        *,
        card_number,
        pin_hashes,
        serial,
        channel,
        actor,
        agent_id,
        now,
        audit_details,
    ):
        self.sql = _sqlite_statements(len(pin_hashes))
        self.convert = convert = _converters(dialect)
        self.card_number = card_number
        self.serial = serial
        self.channel = channel
        self.agent_id = agent_id
        self.now = now
        self.at = at = convert.datetime_in(now)
        self.pin_hashes = tuple(pin_hashes)
        delivery = new_delivery(None, None, now)
        #: The delivery row's values after ``topup_id`` and ``card_id``, in column order.
        self.delivery_values = tuple(
            convert.datetime_in(value) if isinstance(value, datetime) else value
            for value in list(delivery.values())[2:]
        )
        self.audit_values = (
            "voucher.redeemed",
            actor.user_id,
            actor.label[:64],
            "voucher",
            None,  # the voucher's serial, once it is known
            None,  # the voucher's agent
            convert.json_in(audit_details),
            actor.ip_address[:45],
            at,
        )

    def run(self, driver) -> tuple[RedeemedRow, AppliedTopUp]:
        """Run the statements in the open write transaction; raise saying why not."""
        sql, convert, now, at = self.sql, self.convert, self.now, self.at
        card_row = driver.execute(sql["lock_card"], (self.card_number,)).fetchone()
        if card_row is None:
            raise CardNotFound(self.card_number)
        card_id, number, status, balance, stored_expiry = card_row
        if status != CardStatus.ACTIVE:
            raise CardSuspended(number)
        voucher_row = driver.execute(
            sql["redeem"],
            (VoucherStatus.REDEEMED.value, at, card_id, FROM_STATUS, at, *self.pin_hashes),
        ).fetchone()
        if voucher_row is None:
            raise NoActiveVoucher()
        voucher = RedeemedRow(*voucher_row)
        if self.serial and voucher.serial != self.serial:
            raise NoActiveVoucher()  # rolled back: another voucher's PIN
        old_expiry = convert.datetime_out(stored_expiry)
        new_expiry = extended_expiry(old_expiry, voucher.validity_days, now)
        stored_new_expiry = convert.datetime_in(new_expiry)
        driver.execute(sql["credit_card"], (voucher.data_mb, stored_new_expiry, card_id))
        topup_id = driver.execute(
            sql["insert_topup"],
            (
                card_id,
                voucher.product_id,
                voucher.data_mb,
                voucher.validity_days,
                TopUpSource.VOUCHER.value,
                self.channel,
                self.agent_id,
                voucher.serial,
                convert.datetime_in(old_expiry),
                stored_new_expiry,
                at,
            ),
        ).fetchone()[0]
        delivery_id = driver.execute(
            sql["insert_delivery"], (topup_id, card_id, *self.delivery_values)
        ).fetchone()[0]
        audit = list(self.audit_values)
        audit[4], audit[5] = voucher.serial, voucher.agent_id
        driver.execute(sql["insert_audit"], audit)
        after = CardState(card_id, number, CardStatus.ACTIVE, balance + voucher.data_mb, new_expiry)
        topup = _applied(
            topup_id, voucher, self.channel, old_expiry, new_expiry, now, after, delivery_id
        )
        return voucher, topup
