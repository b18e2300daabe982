"""Agents form a tree: parents, paths, fixed pack prices and each level's earnings per sale.

Every existing agent becomes an agent of the operator (no parent, depth 1, path ``/<id>/``).

Revision ID: 0015_agent_tree
Revises: 0014_paypal_orders_v2
Create Date: 2026-12-05 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_agent_tree'
down_revision = '0014_paypal_orders_v2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('path', sa.String(length=255), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('depth', sa.Integer(), nullable=False, server_default='1'))
    op.execute("UPDATE agent SET path = '/' || CAST(id AS VARCHAR(20)) || '/', depth = 1")
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.alter_column('path', server_default=None)
        batch_op.alter_column('depth', server_default=None)
        batch_op.create_foreign_key(
            batch_op.f('fk_agent_parent_id_agent'), 'agent', ['parent_id'], ['id']
        )
        batch_op.create_check_constraint(batch_op.f('ck_agent_depth_positive'), 'depth >= 1')
        batch_op.create_index(batch_op.f('ix_agent_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(
            'ix_agent_path', ['path'], unique=False, postgresql_ops={'path': 'varchar_pattern_ops'}
        )

    op.create_table('agent_pack_price',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_agent_pack_price_unit_price_not_negative')),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_agent_pack_price_agent_id_agent')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_agent_pack_price_product_id_product')),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_agent_pack_price_set_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_pack_price')),
    sa.UniqueConstraint('agent_id', 'product_id', name=op.f('uq_agent_pack_price_agent_id'))
    )
    op.create_table('sale_earning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('topup_id', sa.Integer(), nullable=True),
    sa.Column('seller_agent_id', sa.Integer(), nullable=False),
    sa.Column('sold_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('buy_price', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.CheckConstraint('(voucher_id IS NULL) <> (topup_id IS NULL)', name=op.f('ck_sale_earning_one_sale')),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_sale_earning_agent_id_agent')),
    sa.ForeignKeyConstraint(['seller_agent_id'], ['agent.id'], name=op.f('fk_sale_earning_seller_agent_id_agent')),
    sa.ForeignKeyConstraint(['topup_id'], ['topup.id'], name=op.f('fk_sale_earning_topup_id_topup')),
    sa.ForeignKeyConstraint(['voucher_id'], ['voucher.id'], name=op.f('fk_sale_earning_voucher_id_voucher')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_earning'))
    )
    with op.batch_alter_table('sale_earning', schema=None) as batch_op:
        batch_op.create_index('ix_sale_earning_seller_sold', ['seller_agent_id', 'sold_at'], unique=False)
        batch_op.create_index('ix_sale_earning_voucher', ['voucher_id'], unique=False)
        batch_op.create_index('ix_sale_earning_topup', ['topup_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sale_earning', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_earning_topup')
        batch_op.drop_index('ix_sale_earning_voucher')
        batch_op.drop_index('ix_sale_earning_seller_sold')
    op.drop_table('sale_earning')
    op.drop_table('agent_pack_price')
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_path')
        batch_op.drop_index(batch_op.f('ix_agent_parent_id'))
        batch_op.drop_constraint(batch_op.f('ck_agent_depth_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_agent_parent_id_agent'), type_='foreignkey')
        batch_op.drop_column('depth')
        batch_op.drop_column('path')
        batch_op.drop_column('parent_id')
