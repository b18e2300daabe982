"""Background work on a job queue: print job claims and heartbeats, outbox states, periodic runs.

Print jobs get the claim, attempts and heartbeat that let a reaper hand on the job of a dead
worker, and the language they print in. Outbox messages get a status with attempts and the
time of the next one; existing rows are classified from what they hold (sent, failed with an
error, or kept unsent without SMTP). ``periodic_run`` keeps the last run of each periodic task.

Revision ID: 0011_jobs
Revises: 0010_partial_indexes
Create Date: 2026-12-05 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_jobs'
down_revision = '0010_partial_indexes'
branch_labels = None
depends_on = None

OUTBOX_STATUS = sa.Enum(
    'pending', 'sending', 'retry', 'sent', 'failed', 'unsent',
    name='outboxstatus', native_enum=False, length=10,
)


def upgrade():
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('claim', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_print_job_status', ['status'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', OUTBOX_STATUS, nullable=False, server_default='unsent'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_message_status_due', ['status', 'next_attempt_at'], unique=False)
    # Mails written before: sent inline, failed inline (never retried), or kept without SMTP.
    op.execute("UPDATE outbox_message SET status = 'sent', attempts = 1 WHERE sent_at IS NOT NULL")
    op.execute(
        "UPDATE outbox_message SET status = 'failed', attempts = 1"
        " WHERE sent_at IS NULL AND error <> ''"
    )

    op.create_table('periodic_run',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_periodic_run'))
    )


def downgrade():
    op.drop_table('periodic_run')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_status_due')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('status')

    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index('ix_print_job_status')
        batch_op.drop_column('started_at')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('claim')
        batch_op.drop_column('attempts')
        batch_op.drop_column('locale')
