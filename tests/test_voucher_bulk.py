"""Storing a batch: many rows per statement (SQLite) or one COPY (PostgreSQL), rows made ahead.

Invariant 6 (a batch is all or nothing) and the database's own guarantees: unique PINs and a
voucher's pack always its batch's, whatever writes the rows.
"""

import threading

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from shop.audit.services import Actor
from shop.extensions import db
from shop.vouchers import batches, bulk
from shop.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from shop.vouchers.pins import make_serial
from shop.vouchers.services import reveal_pin
from tests.factories import make_agent, make_product, make_user

ACTOR = Actor(label="test", ip_address="192.0.2.1")


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def assert_ids_follow_serials(batch_id: int, quantity: int) -> None:
    rows = db.session.execute(
        select(Voucher.id, Voucher.serial).filter_by(batch_id=batch_id).order_by(Voucher.id)
    ).all()
    assert [row.serial for row in rows] == [
        make_serial(batch_id, position) for position in range(1, quantity + 1)
    ]


def voucher_rows(batch_id: int) -> list:
    return db.session.execute(select(Voucher).filter_by(batch_id=batch_id)).scalars().all()


@pytest.mark.slow
def test_two_hundred_thousand_vouchers_hold_two_hundred_thousand_different_pins(app):
    product = make_product()

    batch = batches.generate_batch(product, 200_000).batch

    stored = db.session.execute(
        select(
            func.count(Voucher.id),
            func.count(func.distinct(Voucher.pin_hash)),
            func.count(func.distinct(Voucher.pin_ciphertext)),
            func.min(Voucher.serial),
            func.max(Voucher.serial),
        )
    ).one()
    assert tuple(stored) == (
        200_000,
        200_000,  # keyed hashes of different PINs: 200,000 different PINs
        200_000,
        make_serial(batch.id, 1),
        make_serial(batch.id, 200_000),
    )
    out_of_order = db.session.execute(
        text(
            "SELECT count(*) FROM voucher a JOIN voucher b ON b.id = a.id + 1"
            " WHERE b.serial <= a.serial"
        )
    ).scalar_one()
    assert out_of_order == 0  # ids follow serials


def test_rows_split_over_many_statements_are_stored_whole_and_in_order(app, monkeypatch):
    monkeypatch.setattr(bulk, "SQLITE_ROWS_PER_STATEMENT", 7)  # 20-row chunks: 7 + 7 + 6
    agent = make_agent()
    seller = make_user("agent_staff", agent=agent)
    product = make_product(price=750, currency="EUR", data_mb=3072, validity_days=15)
    actor = Actor(user_id=seller.id, label="clerk", ip_address="192.0.2.1")

    generated = batches.generate_batch(
        product, 50, agent_id=agent.id, actor=actor, unit_cost=700, chunk_size=20, keep_pins=True
    )

    batch = generated.batch
    assert_ids_follow_serials(batch.id, 50)
    db.session.expire_all()
    for voucher in voucher_rows(batch.id):
        assert (voucher.batch_id, voucher.product_id, voucher.agent_id) == (
            batch.id,
            product.id,
            agent.id,
        )
        assert voucher.status == VoucherStatus.ACTIVE
        assert (voucher.face_value, voucher.cost, voucher.currency) == (750, 700, "EUR")
        assert (voucher.data_mb, voucher.validity_days) == (3072, 15)
        assert (voucher.pin_hash_key, voucher.pin_key) == ("h1", "k1")
        assert voucher.expires_at == batch.expires_at
        assert voucher.created_at == voucher.sold_at == batch.created_at
        assert voucher.expires_at.tzinfo is not None
        assert voucher.sold_by_id == seller.id
        assert (voucher.redeemed_at, voucher.redeemed_card_id) == (None, None)
    issued = {voucher.serial: voucher.pin for voucher in generated.vouchers}
    assert {voucher.serial: reveal_pin(voucher) for voucher in voucher_rows(batch.id)} == issued


def test_inactive_stock_is_stored_unsold(app):
    product = make_product()

    generated = batches.generate_batch(product, 30, inactive=True, chunk_size=8, actor=ACTOR)

    vouchers = voucher_rows(generated.batch.id)
    assert len(vouchers) == 30
    assert {voucher.status for voucher in vouchers} == {VoucherStatus.INACTIVE}
    assert {(voucher.sold_at, voucher.sold_by_id, voucher.cost) for voucher in vouchers} == {
        (None, None, None)
    }


@pytest.fixture
def database_fails_at_the_500th_voucher(app):
    """A trigger that makes the database itself refuse the 500th voucher row."""
    if db.engine.dialect.name == "postgresql":
        create = [
            "CREATE FUNCTION fail_half_way() RETURNS trigger AS $$ BEGIN"
            " IF (SELECT count(*) FROM voucher) >= 499 THEN RAISE EXCEPTION 'disk on fire';"
            " END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_half_way BEFORE INSERT ON voucher"
            " FOR EACH ROW EXECUTE FUNCTION fail_half_way()",
        ]
        drop = ["DROP TRIGGER fail_half_way ON voucher", "DROP FUNCTION fail_half_way()"]
    else:
        create = [
            "CREATE TRIGGER fail_half_way BEFORE INSERT ON voucher"
            " WHEN (SELECT count(*) FROM voucher) >= 499"
            " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        ]
        drop = ["DROP TRIGGER fail_half_way"]
    with db.engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    yield
    db.session.rollback()
    with db.engine.begin() as connection:
        for statement in drop:
            connection.execute(text(statement))


def test_the_database_refusing_a_row_half_way_leaves_no_voucher(
    app, database_fails_at_the_500th_voucher
):
    product = make_product()
    progress = []

    with pytest.raises(DBAPIError, match="disk on fire"):
        batches.generate_batch(product, 1000, chunk_size=100, progress=progress.append)

    if db.engine.dialect.name == "sqlite":
        assert progress[-1] <= 500  # it failed inside the chunk holding the 500th voucher
    # (PostgreSQL reports a refused row of a COPY when the COPY ends, after the last chunk.)
    db.session.rollback()
    assert count(Voucher) == 0
    assert count(VoucherBatch) == 0


def test_a_failure_while_rows_are_made_ahead_leaves_no_voucher_and_no_worker(app, monkeypatch):
    product = make_product()
    real_generate_pins = batches.generate_pins
    made = []

    def failing_on_the_fourth_chunk(count):
        made.append(threading.current_thread().name)
        if len(made) == 4:
            raise OSError("entropy pool on fire")
        return real_generate_pins(count)

    monkeypatch.setattr(batches, "generate_pins", failing_on_the_fourth_chunk)

    with pytest.raises(OSError, match="entropy pool on fire"):
        batches.generate_batch(product, 1000, chunk_size=100)

    assert all(name.startswith("voucher-rows") for name in made)  # made in the worker
    assert not [t for t in threading.enumerate() if t.name.startswith("voucher-rows")]
    db.session.rollback()
    assert count(Voucher) == 0
    assert count(VoucherBatch) == 0


def test_a_small_batch_is_made_without_a_worker(app, monkeypatch):
    real_generate_pins = batches.generate_pins
    made = []

    def recording(count):
        made.append(threading.current_thread().name)
        return real_generate_pins(count)

    monkeypatch.setattr(batches, "generate_pins", recording)

    batches.generate_batch(make_product(), 3)

    assert made == [threading.current_thread().name]


def test_a_voucher_naming_a_pack_other_than_its_batchs_is_refused(app):
    product, other = make_product(), make_product()
    batch = batches.generate_batch(product, 1).batch
    row = dict(db.session.execute(select(Voucher.__table__)).one()._mapping)
    row.pop("id")
    row.update(serial=make_serial(batch.id, 2), pin_hash="f" * 64, product_id=other.id)

    with pytest.raises(IntegrityError):
        db.session.execute(insert(Voucher.__table__).values(**row))
        db.session.flush()
    db.session.rollback()
    assert count(Voucher) == 1
