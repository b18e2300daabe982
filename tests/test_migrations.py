"""Migrations build the schema the models describe and keep the data they migrate."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, update

from shop.extensions import db
from shop.vouchers import batches, services
from shop.vouchers.models import Voucher
from tests.factories import make_product


def schema_differences():
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_the_models(app):
    assert schema_differences() == []


def test_migrations_go_down_to_empty_and_up_again(app):
    downgrade(revision="base")
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    assert {"user_account", "product", "card", "topup", "audit_event", "agent"} <= set(
        inspect(db.engine).get_table_names()
    )
    assert schema_differences() == []


def test_shop_init_creates_the_schema_on_an_empty_database(tmp_path):
    from shop import create_app
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path / 'empty.db'}"), instance_path=str(tmp_path))
    result = app.test_cli_runner().invoke(args=["shop", "init"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "product" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def voucher_foreign_keys() -> set[tuple]:
    keys = inspect(db.engine).get_foreign_keys("voucher")
    return {(tuple(key["constrained_columns"]), key["referred_table"]) for key in keys}


def test_vouchers_made_before_the_batch_key_keep_their_data_both_ways(app):
    """0009 replaces the voucher's two keys (batch, pack) with one; existing rows survive it."""
    product = make_product()
    generated = batches.generate_batch(product, 25, keep_pins=True, chunk_size=10)
    db.session.commit()
    before = db.session.execute(select(Voucher.__table__).order_by(Voucher.id)).all()
    db.session.remove()

    downgrade(revision="0008_report_indexes")
    assert voucher_foreign_keys() >= {
        (("batch_id",), "voucher_batch"),
        (("product_id",), "product"),
    }
    assert db.session.execute(select(func.count()).select_from(Voucher)).scalar_one() == 25
    db.session.remove()

    upgrade()
    assert (("batch_id", "product_id"), "voucher_batch") in voucher_foreign_keys()
    assert (("product_id",), "product") not in voucher_foreign_keys()
    assert db.session.execute(select(Voucher.__table__).order_by(Voucher.id)).all() == before
    pins = {v.serial: v.pin for v in generated.vouchers}
    vouchers = db.session.execute(select(Voucher)).scalars()
    assert {v.serial: services.reveal_pin(v) for v in vouchers} == pins
    assert schema_differences() == []


def test_vouchers_naming_another_pack_than_their_batchs_stop_0009_with_a_clear_message(app, caplog):
    product, other = make_product(), make_product()
    product_id, other_id = product.id, other.id
    batches.generate_batch(product, 3)
    db.session.commit()
    db.session.remove()
    downgrade(revision="0008_report_indexes")
    db.session.execute(update(Voucher.__table__).where(Voucher.id == 2).values(product_id=other_id))
    db.session.commit()
    db.session.remove()

    with pytest.raises(SystemExit) as stopped:  # Flask-Migrate logs the error and exits
        upgrade()
    assert "1 vouchers name a pack other than their batch's" in str(stopped.value.__context__)
    db.session.remove()

    with db.engine.connect() as connection:
        assert (
            MigrationContext.configure(connection).get_current_revision() == "0008_report_indexes"
        )
    db.session.execute(
        update(Voucher.__table__).where(Voucher.id == 2).values(product_id=product_id)
    )
    db.session.commit()
    db.session.remove()
    upgrade()
    assert (("batch_id", "product_id"), "voucher_batch") in voucher_foreign_keys()
    assert db.session.execute(select(func.count()).select_from(Voucher)).scalar_one() == 3
