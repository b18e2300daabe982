"""Factory helpers creating domain objects through the services, as the app would."""

import itertools

from shop.agents import services as agent_services
from shop.agents.models import Agent
from shop.auth import services as auth_services
from shop.auth.models import Role
from shop.cards import services as card_services
from shop.cards.models import CardStatus
from shop.cards.numbers import luhn_check_digit
from shop.catalog import services as catalog_services

PASSWORD = "correct-horse-9"
_sequence = itertools.count(1)


def make_agent(code=None, **kwargs) -> Agent:
    """Create an agent."""
    number = next(_sequence)
    return agent_services.create_agent(
        code or f"AG{number}", kwargs.pop("name", f"Agent {number}"), **kwargs
    )


def make_user(role="customer", email=None, password=PASSWORD, agent=None):
    """Create a user of ``role``; agent roles get an agent of their own unless one is given."""
    role = Role(role)
    if role.is_agent_role and agent is None:
        agent = make_agent()
    email = email or f"user{next(_sequence)}@example.com"
    return auth_services.create_user(email, password, role, agent_id=agent.id if agent else None)


def make_product(sku=None, **kwargs):
    """Create an active data pack."""
    number = next(_sequence)
    data = {
        "sku": sku or f"PACK-{number}",
        "name": f"Test pack {number}",
        "data_mb": 1024,
        "validity_days": 7,
        "price": 500,
        "currency": "USD",
        "region": "Asia",
        "coverage": ["TH", "VN"],
    }
    data.update(kwargs)
    return catalog_services.create_product(catalog_services.ProductData(**data))


def iccid(serial: int) -> str:
    """Return a valid 19-digit ICCID built from ``serial``."""
    partial = f"894400{serial:012d}"
    return partial + luhn_check_digit(partial)


def make_card(number=None, status=CardStatus.ACTIVE, owner=None):
    """Register a card."""
    return card_services.register_card(
        number or iccid(next(_sequence)), status=status, owner_id=owner.id if owner else None
    )
