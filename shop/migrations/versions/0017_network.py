"""The operator's network: top-up deliveries, network events, daily usage, cards' network figures.

Every top-up gets a delivery row; top-ups made before this migration were never sent to a
network and are recorded as delivered (the figures on the card are what the customer was
promised), so no job replays years of history onto the network.

Revision ID: 0017_network
Revises: 0016_cn_payments
Create Date: 2026-12-05 23:59:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_network'
down_revision = '0016_cn_payments'
branch_labels = None
depends_on = None

DELIVERY_STATUS = sa.Enum(
    'pending', 'delivered', 'failed', 'cancelled',
    name='deliverystatus', native_enum=False, length=16,
)
EVENT_KIND = sa.Enum(
    'pack.applied', 'pack.failed', 'usage.threshold', 'data.exhausted', 'validity.ended',
    'card.suspended',
    name='networkeventkind', native_enum=False, length=24,
)


def upgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_used_mb', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('network_as_of', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('network_asked_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('topup_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topup_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('status', DELIVERY_STATUS, nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('give_up_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=False),
    sa.Column('network_reference', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_topup_delivery_card_id_card')),
    sa.ForeignKeyConstraint(['topup_id'], ['topup.id'], name=op.f('fk_topup_delivery_topup_id_topup')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topup_delivery')),
    sa.UniqueConstraint('request_id', name=op.f('uq_topup_delivery_request_id')),
    sa.UniqueConstraint('topup_id', name=op.f('uq_topup_delivery_topup_id'))
    )
    with op.batch_alter_table('topup_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_topup_delivery_status_due', ['status', 'next_attempt_at'], unique=False)
    # Top-ups from before the network: recorded as delivered, never sent.
    op.execute(
        "INSERT INTO topup_delivery (topup_id, card_id, request_id, status, attempts,"
        " next_attempt_at, give_up_at, last_error, network_reference, created_at, finished_at)"
        " SELECT id, card_id, 'legacy-' || id, 'delivered', 0, created_at, created_at, '',"
        " '', created_at, created_at FROM topup"
    )

    op.create_table('network_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('kind', EVENT_KIND, nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_network_event_card_id_card')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_network_event_event_id'))
    )
    with op.batch_alter_table('network_event', schema=None) as batch_op:
        batch_op.create_index('ix_network_event_card_received', ['card_id', 'received_at'], unique=False)

    op.create_table('card_usage_day',
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('used_mb', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_card_usage_day_card_id_card')),
    sa.PrimaryKeyConstraint('card_id', 'day', name=op.f('pk_card_usage_day'))
    )


def downgrade():
    op.drop_table('card_usage_day')
    with op.batch_alter_table('network_event', schema=None) as batch_op:
        batch_op.drop_index('ix_network_event_card_received')
    op.drop_table('network_event')
    with op.batch_alter_table('topup_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_topup_delivery_status_due')
    op.drop_table('topup_delivery')
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_column('network_asked_at')
        batch_op.drop_column('network_as_of')
        batch_op.drop_column('data_used_mb')
