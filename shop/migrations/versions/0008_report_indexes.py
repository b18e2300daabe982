"""Sales reports: indexes for period queries, and what a counter top-up sold for.

Counter top-ups get the pack's price, the float's cost and the seller; existing ones are filled
in from their ledger entry (``topup:<id>``) and the pack's current price.

Revision ID: 0008_report_indexes
Revises: 0007_storefront
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_report_indexes'
down_revision = '0007_storefront'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('topup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face_value', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cost', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sold_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_topup_sold_by_id_user_account'), 'user_account', ['sold_by_id'], ['id']
        )
        batch_op.create_index('ix_topup_agent_created', ['agent_id', 'created_at'], unique=False)

    with op.batch_alter_table('voucher', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_sold_at', ['sold_at'], unique=False)
        batch_op.create_index('ix_voucher_status_agent', ['status', 'agent_id'], unique=False)

    # Counter top-ups made before this revision: cost and seller from the ledger, face value
    # from the pack (its price may have changed since; nothing better is recorded).
    op.execute(
        "UPDATE topup SET"
        " cost = COALESCE((SELECT -l.amount FROM ledger_entry l WHERE l.kind = 'sale'"
        " AND l.agent_id = topup.agent_id AND l.reference = 'topup:' || topup.id), 0),"
        " sold_by_id = (SELECT l.user_id FROM ledger_entry l WHERE l.kind = 'sale'"
        " AND l.agent_id = topup.agent_id AND l.reference = 'topup:' || topup.id),"
        " face_value = (SELECT p.price FROM product p WHERE p.id = topup.product_id)"
        " WHERE source = 'counter' AND agent_id IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('voucher', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_status_agent')
        batch_op.drop_index('ix_voucher_sold_at')

    with op.batch_alter_table('topup', schema=None) as batch_op:
        batch_op.drop_index('ix_topup_agent_created')
        batch_op.drop_constraint(
            batch_op.f('fk_topup_sold_by_id_user_account'), type_='foreignkey'
        )
        batch_op.drop_column('sold_by_id')
        batch_op.drop_column('cost')
        batch_op.drop_column('face_value')
