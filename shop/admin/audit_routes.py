"""The operator's audit log (an admin page; the audit package below it only records)."""

from flask import Blueprint, render_template, request

from shop.audit.models import AuditEvent
from shop.auth.decorators import admin_required
from shop.extensions import db

bp = Blueprint("audit", __name__)

PAGE_SIZE = 100


@bp.route("/admin/audit")
@admin_required
def log():
    """Show the latest audit events, optionally filtered by action prefix."""
    query = db.select(AuditEvent).order_by(AuditEvent.id.desc())
    action = (request.args.get("action") or "").strip()[:64]
    if action:
        query = query.filter(AuditEvent.action.startswith(action, autoescape=True))
    page = db.paginate(query, per_page=PAGE_SIZE, error_out=False)
    return render_template("audit/log.html", page=page, action=action)
