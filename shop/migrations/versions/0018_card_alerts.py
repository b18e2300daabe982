"""Card alerts: one row per card, pack period and kind; owners' alert choices.

Revision ID: 0018_card_alerts
Revises: 0017_network
Create Date: 2026-12-06 00:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_card_alerts'
down_revision = '0017_network'
branch_labels = None
depends_on = None

KINDS = ('usage_75', 'usage_90', 'low_data', 'used_up', 'expires_3d', 'expires_1d', 'expired')


def upgrade():
    op.create_table(
        'card_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*KINDS, name='alertkind', native_enum=False, length=16), nullable=False),
        sa.Column('sent', sa.Boolean(), nullable=False),
        sa.Column('recipients', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_card_alert_card_id_card')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_card_alert')),
        sa.UniqueConstraint('card_id', 'period', 'kind', name='uq_card_alert_period'),
    )
    op.create_table(
        'alert_preference',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('owner_key', sa.String(length=260), nullable=False),
        sa.Column('disabled_kinds', sa.String(length=120), nullable=False),
        sa.Column('low_data_mb', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_alert_preference_card_id_card')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_preference')),
        sa.UniqueConstraint('card_id', 'owner_key', name='uq_alert_preference_owner'),
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.create_index('ix_card_expires_at', ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_index('ix_card_expires_at')
    op.drop_table('alert_preference')
    op.drop_table('card_alert')
