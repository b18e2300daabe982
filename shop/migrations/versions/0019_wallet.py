"""Customers' wallets and their ledger, auto-renew rules and renewals, wallet top-up lines.

Revision ID: 0019_wallet
Revises: 0018_card_alerts
Create Date: 2026-12-06 02:05:34.278007

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_wallet'
down_revision = '0018_card_alerts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('wallet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_wallet_balance_not_negative')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_wallet_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet')),
    sa.UniqueConstraint('user_id', 'currency', name='uq_wallet_user_currency')
    )
    op.create_table('renewal_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.Enum('expiring', 'used_up', 'low_data', name='renewaltrigger', native_enum=False, length=20), nullable=False),
    sa.Column('threshold_mb', sa.Integer(), nullable=True),
    sa.Column('monthly_cap', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('active', 'paused', 'cancelled', name='rulestatus', native_enum=False, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_renewal_rule_card_id_card')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_renewal_rule_product_id_product')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_renewal_rule_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_renewal_rule')),
    sa.UniqueConstraint('card_id', name=op.f('uq_renewal_rule_card_id'))
    )
    with op.batch_alter_table('renewal_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renewal_rule_user_id'), ['user_id'], unique=False)

    op.create_table('wallet_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wallet_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('balance_after', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('topup', 'purchase', 'renewal', 'refund', 'adjustment', name='walletentrykind', native_enum=False, length=16), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_wallet_entry_amount_not_zero')),
    sa.CheckConstraint('balance_after >= 0', name=op.f('ck_wallet_entry_balance_after_not_negative')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_wallet_entry_user_id_user_account')),
    sa.ForeignKeyConstraint(['wallet_id'], ['wallet.id'], name=op.f('fk_wallet_entry_wallet_id_wallet')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_entry')),
    sa.UniqueConstraint('wallet_id', 'kind', 'reference', name='uq_wallet_entry_reference')
    )
    with op.batch_alter_table('wallet_entry', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_entry_wallet_created', ['wallet_id', 'created_at'], unique=False)

    op.create_table('renewal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('renewed', 'insufficient_funds', 'cap_reached', 'failed', name='renewaloutcome', native_enum=False, length=20), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('topup_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_renewal_card_id_card')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_renewal_product_id_product')),
    sa.ForeignKeyConstraint(['rule_id'], ['renewal_rule.id'], name=op.f('fk_renewal_rule_id_renewal_rule')),
    sa.ForeignKeyConstraint(['topup_id'], ['topup.id'], name=op.f('fk_renewal_topup_id_topup')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_renewal')),
    sa.UniqueConstraint('key', name=op.f('uq_renewal_key'))
    )
    with op.batch_alter_table('renewal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renewal_card_id'), ['card_id'], unique=False)
        batch_op.create_index('ix_renewal_rule_created', ['rule_id', 'created_at'], unique=False)

    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('pack', 'wallet_topup', name='linekind', native_enum=False, length=16), server_default='pack', nullable=False))
        batch_op.alter_column('product_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_check_constraint(
            op.f('ck_order_line_pack_has_product'), "kind <> 'pack' OR product_id IS NOT NULL"
        )



def downgrade():
    # Wallet top-up lines have no pack and cannot exist in the older schema.
    op.execute("DELETE FROM order_line WHERE product_id IS NULL")
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_line_pack_has_product'), type_='check')
        batch_op.alter_column('product_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('kind')

    with op.batch_alter_table('renewal', schema=None) as batch_op:
        batch_op.drop_index('ix_renewal_rule_created')
        batch_op.drop_index(batch_op.f('ix_renewal_card_id'))

    op.drop_table('renewal')
    with op.batch_alter_table('wallet_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_entry_wallet_created')

    op.drop_table('wallet_entry')
    with op.batch_alter_table('renewal_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renewal_rule_user_id'))

    op.drop_table('renewal_rule')
    op.drop_table('wallet')
