"""Import every model so that SQLAlchemy's metadata (and Alembic) sees all tables."""

from shop.agents.models import Agent, ApiKey, FloatRequest, LedgerEntry
from shop.alerts.models import AlertPreference, CardAlert
from shop.api.models import IdempotencyRecord
from shop.audit.models import AuditEvent
from shop.auth.models import User
from shop.autorenew.models import Renewal, RenewalRule
from shop.cards.models import Card, CardUsageDay, TopUp, TopUpDelivery
from shop.catalog.models import Product
from shop.jobs.models import PeriodicRun
from shop.mail.models import OutboxMessage
from shop.network.models import NetworkEvent
from shop.storefront.models import (
    Order,
    OrderLine,
    Payment,
    Promotion,
    PromotionUse,
    SavedCard,
    WebhookEvent,
)
from shop.vouchers.models import PrintJob, Voucher, VoucherBatch
from shop.wallet.models import Wallet, WalletEntry

__all__ = [
    "Renewal",
    "RenewalRule",
    "Wallet",
    "WalletEntry",
    "Agent",
    "ApiKey",
    "FloatRequest",
    "LedgerEntry",
    "AlertPreference",
    "AuditEvent",
    "CardAlert",
    "Card",
    "CardUsageDay",
    "NetworkEvent",
    "TopUpDelivery",
    "IdempotencyRecord",
    "OutboxMessage",
    "PeriodicRun",
    "Order",
    "OrderLine",
    "Payment",
    "Promotion",
    "PromotionUse",
    "SavedCard",
    "WebhookEvent",
    "PrintJob",
    "Product",
    "TopUp",
    "User",
    "Voucher",
    "VoucherBatch",
]
