"""Indexes hold only the rows their queries look for; a redundant top-up index goes.

Every redemption wrote to indexes whose rows no query reads: the voucher's status index
(active and redeemed vouchers; only inactive stock is looked up by it), the NULL entries of
unredeemed vouchers, and the agent indexes of top-ups and audit events of no agent. Each is
now partial, and ``ix_topup_agent_id`` is dropped: ``ix_topup_agent_created`` starts with the
same column. A redemption writes six index entries fewer, and holds the write lock that
much shorter (docs/BENCHMARKS.md). The indexes are built while writes to those tables wait:
on a large database, upgrade with the app stopped.

Revision ID: 0010_partial_indexes
Revises: 0009_voucher_batch_key
Create Date: 2026-11-22 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_partial_indexes'
down_revision = '0009_voucher_batch_key'
branch_labels = None
depends_on = None


def _partial(name, table, columns, where):
    op.create_index(
        name,
        table,
        columns,
        unique=False,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade():
    op.drop_index('ix_voucher_status_agent', table_name='voucher')
    _partial('ix_voucher_inactive_agent', 'voucher', ['agent_id'], "status = 'inactive'")
    op.drop_index('ix_voucher_redeemed_card_id', table_name='voucher')
    _partial(
        'ix_voucher_redeemed_card_id', 'voucher', ['redeemed_card_id'],
        'redeemed_card_id IS NOT NULL',
    )
    op.drop_index('ix_topup_agent_id', table_name='topup')
    op.drop_index('ix_topup_agent_created', table_name='topup')
    _partial(
        'ix_topup_agent_created', 'topup', ['agent_id', 'created_at'], 'agent_id IS NOT NULL'
    )
    op.drop_index('ix_audit_event_agent_id', table_name='audit_event')
    _partial('ix_audit_event_agent_id', 'audit_event', ['agent_id'], 'agent_id IS NOT NULL')


def downgrade():
    op.drop_index('ix_audit_event_agent_id', table_name='audit_event')
    op.create_index('ix_audit_event_agent_id', 'audit_event', ['agent_id'], unique=False)
    op.drop_index('ix_topup_agent_created', table_name='topup')
    op.create_index(
        'ix_topup_agent_created', 'topup', ['agent_id', 'created_at'], unique=False
    )
    op.create_index('ix_topup_agent_id', 'topup', ['agent_id'], unique=False)
    op.drop_index('ix_voucher_redeemed_card_id', table_name='voucher')
    op.create_index(
        'ix_voucher_redeemed_card_id', 'voucher', ['redeemed_card_id'], unique=False
    )
    op.drop_index('ix_voucher_inactive_agent', table_name='voucher')
    op.create_index('ix_voucher_status_agent', 'voucher', ['status', 'agent_id'], unique=False)
