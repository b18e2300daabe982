"""Admin: generate voucher stock for the operator or for an agent named by its code.

The batch pages themselves belong to the vouchers package; this form names an agent, so it is
handled here, where agents may call vouchers (never the reverse).
"""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from shop.agents import services as agent_services
from shop.auth.decorators import admin_required
from shop.catalog import services as catalog_services
from shop.vouchers import batches
from shop.vouchers.forms import GenerateBatchForm, SerialSearchForm
from shop.web import current_actor

bp = Blueprint("stock", __name__)


@bp.route("/admin/vouchers/batches", methods=["POST"])
@admin_required
def generate_batch():
    """Generate a batch from the admin's batch page."""
    form = GenerateBatchForm()
    if form.validate_on_submit():
        try:
            product = catalog_services.get_product_by_sku(form.sku.data)
            agent_id = (
                agent_services.get_agent_by_code(form.agent.data).id if form.agent.data else None
            )
            generated = batches.generate_batch(
                product,
                form.count.data,
                agent_id=agent_id,
                inactive=form.inactive.data,
                shelf_life_days=form.shelf_life_days.data,
                actor=current_actor(),
                note=form.note.data or "",
            )
        except catalog_services.ProductNotFound:
            form.sku.errors.append(_("No pack on sale has this SKU."))
        except agent_services.AgentNotFound:
            form.agent.errors.append(_("No agent has this code."))
        except batches.InvalidBatch as exc:
            form.count.errors.append(str(exc))
        else:
            flash(
                _(
                    "Batch %(id)d generated: %(count)d vouchers.",
                    id=generated.batch.id,
                    count=generated.batch.quantity,
                ),
                "success",
            )
            return redirect(url_for("vouchers.admin_batch", batch_id=generated.batch.id))
    return render_template(
        "vouchers/admin_batches.html",
        batches=batches.list_batches(limit=50),
        page=1,
        search=SerialSearchForm(),
        form=form,
    ), 400
