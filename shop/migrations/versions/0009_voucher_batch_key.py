"""A voucher's pack is its batch's pack: one (batch, pack) foreign key instead of two keys.

The voucher kept ``batch_id`` and ``product_id`` each with its own key, so a voucher could name
a pack other than its batch's. Both now refer together to the batch's (id, product_id), which
also leaves PostgreSQL one key check per inserted voucher instead of two.

Vouchers whose pack is not their batch's stop the upgrade with a message naming how many
(the application never wrote such rows; an older report benchmark loader did). The new key is
checked against every voucher while voucher writes wait (on SQLite the table is copied): on a
large database, upgrade with the app stopped.

Revision ID: 0009_voucher_batch_key
Revises: 0008_report_indexes
Create Date: 2026-11-22 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_voucher_batch_key'
down_revision = '0008_report_indexes'
branch_labels = None
depends_on = None


def upgrade():
    mismatched = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM voucher v JOIN voucher_batch b ON b.id = v.batch_id"
        " WHERE v.product_id <> b.product_id"
    )).scalar_one()
    if mismatched:
        raise RuntimeError(
            f"{mismatched} vouchers name a pack other than their batch's; give each its"
            " batch's pack (UPDATE voucher SET product_id = (SELECT product_id FROM"
            " voucher_batch WHERE id = voucher.batch_id)) or remove them, then upgrade again"
        )
    op.create_index(
        'uq_voucher_batch_id_product', 'voucher_batch', ['id', 'product_id'], unique=True
    )
    with op.batch_alter_table('voucher', schema=None) as batch_op:
        batch_op.drop_constraint('fk_voucher_batch_id_voucher_batch', type_='foreignkey')
        batch_op.drop_constraint('fk_voucher_product_id_product', type_='foreignkey')
        batch_op.create_foreign_key(
            'fk_voucher_batch_id_product_voucher_batch',
            'voucher_batch',
            ['batch_id', 'product_id'],
            ['id', 'product_id'],
        )


def downgrade():
    with op.batch_alter_table('voucher', schema=None) as batch_op:
        batch_op.drop_constraint('fk_voucher_batch_id_product_voucher_batch', type_='foreignkey')
        batch_op.create_foreign_key(
            'fk_voucher_product_id_product', 'product', ['product_id'], ['id']
        )
        batch_op.create_foreign_key(
            'fk_voucher_batch_id_voucher_batch', 'voucher_batch', ['batch_id'], ['id']
        )
    op.drop_index('uq_voucher_batch_id_product', table_name='voucher_batch')
