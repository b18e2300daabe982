"""Migrations build exactly the schema the models describe, from empty, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from shop.extensions import db


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
