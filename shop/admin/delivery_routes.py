"""The operator's list of top-ups the network did not apply: deliver again, or make good."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from shop.auth.decorators import admin_required
from shop.network import delivery as network_delivery
from shop.vouchers.replacements import compensate_failed_delivery
from shop.web import current_actor

bp = Blueprint("admin_deliveries", __name__, url_prefix="/admin/deliveries")


@bp.get("")
@admin_required
def failed():
    """List failed deliveries, newest first."""
    return render_template("admin/deliveries.html", deliveries=network_delivery.failed_deliveries())


@bp.post("/<id:delivery_id>/retry")
@admin_required
def deliver_again(delivery_id):
    """Queue a failed delivery again, with a new day of retries."""
    try:
        network_delivery.deliver_again(delivery_id, current_actor())
    except network_delivery.DeliveryNotFound:
        abort(404)
    except network_delivery.DeliveryNotFailed:
        flash(_("Only a failed delivery can be delivered again."), "error")
    else:
        flash(_("Delivery %(id)d is queued again.", id=delivery_id), "success")
    return redirect(url_for("admin_deliveries.failed"))


@bp.post("/<id:delivery_id>/refund")
@admin_required
def refund(delivery_id):
    """Cancel a failed delivery and show what makes it good.

    The page is rendered, not redirected to: a replacement voucher's PIN is shown this once
    and never kept in a session.
    """
    try:
        result = compensate_failed_delivery(delivery_id, current_actor())
    except network_delivery.DeliveryNotFound:
        abort(404)
    except network_delivery.DeliveryNotFailed:
        flash(_("Only a failed delivery can be refunded."), "error")
        return redirect(url_for("admin_deliveries.failed"))
    return render_template("admin/delivery_refunded.html", result=result)
