"""Partial refunds: the order_refund table, and room for the partially_refunded status.

An order refunded in parts records each provider refund once (unique provider + refund id) with
its amount and the PINs it voided; ``shop_order.status`` grows to 20 characters for
``partially_refunded``.

Revision ID: 0014_paypal_orders_v2
Revises: 0013_sms
Create Date: 2026-12-05 23:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_paypal_orders_v2'
down_revision = '0013_sms'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'paid', 'fulfilled', 'cancelled', 'failed', 'refunded')


def upgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(*STATUSES, name='orderstatus', native_enum=False, length=16),
            type_=sa.Enum(
                *STATUSES, 'partially_refunded', name='orderstatus', native_enum=False, length=20
            ),
            existing_nullable=False,
        )
    op.create_table('order_refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('refund_id', sa.String(length=80), nullable=True),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('requested', 'completed', 'failed', name='refundstatus', native_enum=False, length=16), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('chosen_voucher_ids', sa.Text(), nullable=False),
    sa.Column('voided', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_order_refund_amount_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_order_refund_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_order_refund_order_id_shop_order')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_order_refund_payment_id_payment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_refund')),
    sa.UniqueConstraint('order_id', 'key', name='uq_order_refund_order_key'),
    sa.UniqueConstraint('provider', 'refund_id', name='uq_order_refund_provider_refund')
    )
    with op.batch_alter_table('order_refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_refund_order_id'), ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('order_refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_refund_order_id'))
    op.drop_table('order_refund')
    op.execute("UPDATE shop_order SET status = 'refunded' WHERE status = 'partially_refunded'")
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(
                *STATUSES, 'partially_refunded', name='orderstatus', native_enum=False, length=20
            ),
            type_=sa.Enum(*STATUSES, name='orderstatus', native_enum=False, length=16),
            existing_nullable=False,
        )
