"""Development only: the outbox as a page, so a demo without SMTP can read codes and PINs.

Served only when ``DEV_OUTBOX`` is on (``make run`` sets it); anywhere else the page does not
exist (404). It shows what the shop would have sent, secrets included: never turn it on for a
shop that real customers use.
"""

from flask import Blueprint, abort, current_app, render_template

from shop.extensions import db
from shop.mail.models import OutboxMessage

bp = Blueprint("dev_outbox", __name__)

SHOWN = 50


@bp.before_request
def development_only():
    """Answer 404 unless the development outbox is switched on."""
    if not current_app.config["DEV_OUTBOX"]:
        abort(404)


@bp.route("/dev/outbox")
def outbox():
    """Show the latest messages of the outbox, newest first."""
    messages = (
        db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(SHOWN))
        .scalars()
        .all()
    )
    return (
        render_template("admin/dev_outbox.html", messages=messages),
        200,
        {"Cache-Control": "no-store"},
    )
