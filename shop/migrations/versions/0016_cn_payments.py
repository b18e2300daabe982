"""Orders record the payment method the buyer chose (PayPal, Alipay or WeChat Pay).

Revision ID: 0016_cn_payments
Revises: 0015_agent_tree
Create Date: 2026-12-05 23:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_cn_payments'
down_revision = '0015_agent_tree'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'payment_method',
                sa.Enum('paypal', 'alipay', 'wechatpay', name='paymentmethod', native_enum=False, length=16),
                server_default='paypal',
                nullable=False,
            )
        )


def downgrade():
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_column('payment_method')
