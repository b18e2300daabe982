"""The operator's dashboard: counts and links to each admin area."""

from flask import Blueprint, render_template
from sqlalchemy import func

from shop.agents.models import Agent
from shop.audit.models import AuditEvent
from shop.auth.decorators import admin_required
from shop.auth.models import User
from shop.cards.models import Card, CardStatus
from shop.catalog.models import Product
from shop.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _count(query) -> int:
    return db.session.execute(query).scalar_one()


@bp.route("/")
@admin_required
def index():
    """Show what the shop holds and where to manage it."""
    counts = {
        "products_active": _count(db.select(func.count(Product.id)).filter_by(active=True)),
        "products_total": _count(db.select(func.count(Product.id))),
        "cards_total": _count(db.select(func.count(Card.id))),
        "cards_suspended": _count(
            db.select(func.count(Card.id)).filter_by(status=CardStatus.SUSPENDED)
        ),
        "agents": _count(db.select(func.count(Agent.id))),
        "users": _count(db.select(func.count(User.id))),
    }
    recent = db.session.execute(
        db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(10)
    ).scalars()
    return render_template("admin/index.html", counts=counts, recent=list(recent))
