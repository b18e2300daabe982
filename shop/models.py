"""Import every model so that SQLAlchemy's metadata (and Alembic) sees all tables."""

from shop.agents.models import Agent
from shop.audit.models import AuditEvent
from shop.auth.models import User
from shop.cards.models import Card, TopUp
from shop.catalog.models import Product
from shop.mail.models import OutboxMessage

__all__ = ["Agent", "AuditEvent", "Card", "OutboxMessage", "Product", "TopUp", "User"]
