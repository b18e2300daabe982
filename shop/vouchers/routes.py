"""The public redeem page and the admin's voucher batch pages."""

import io

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _

from shop.auth.decorators import admin_required
from shop.cards.models import TopUp
from shop.cards.numbers import InvalidCardNumber
from shop.cards.services import CardNotFound, CardSuspended
from shop.extensions import db, rate_limit
from shop.throttle import Throttled
from shop.vouchers import batches, printing, services
from shop.vouchers.forms import DisableVouchersForm, GenerateBatchForm, RedeemForm, SerialSearchForm
from shop.vouchers.messages import REDEMPTION_MESSAGES, explain_refusal
from shop.vouchers.models import Voucher
from shop.vouchers.pins import InvalidPin
from shop.web import current_actor, download_response

bp = Blueprint("vouchers", __name__)

VOUCHERS_PER_PAGE = 100


def _redeem_rate():
    return current_app.config["REDEEM_REQUESTS_PER_CLIENT"]


@bp.route("/redeem", methods=["GET", "POST"])
@rate_limit(_redeem_rate, methods=["POST"])
def redeem():
    """Redeem a PIN onto a card."""
    form = RedeemForm(serial=request.args.get("serial", ""))
    status = 200
    if form.validate_on_submit():
        try:
            result = services.redeem_voucher(
                form.pin.data,
                form.card.data,
                channel="web",
                actor=current_actor(),
                serial=form.serial.data or None,
            )
        except Throttled as exc:
            flash(
                str(REDEMPTION_MESSAGES["rate_limited"])
                % {"minutes": max(1, -(-exc.retry_after // 60))},
                "error",
            )
            response = render_template("vouchers/redeem.html", form=form, serial_voucher=None)
            return response, 429, {"Retry-After": str(exc.retry_after)}
        except (
            InvalidPin,
            InvalidCardNumber,
            CardNotFound,
            CardSuspended,
            services.RedemptionError,
        ) as exc:
            field, message, status = explain_refusal(exc)
            getattr(form, field).errors.append(message)
        else:
            session["redeemed_topup"] = result.topup.id
            return redirect(url_for("vouchers.redeemed"))
    elif request.method == "POST":
        status = 400
    serial_voucher = services.get_voucher_by_serial(form.serial.data) if form.serial.data else None
    return render_template("vouchers/redeem.html", form=form, serial_voucher=serial_voucher), status


@bp.route("/redeem/done")
def redeemed():
    """Show the result of this browser's last redemption."""
    topup_id = session.get("redeemed_topup")
    topup = db.session.get(TopUp, topup_id) if isinstance(topup_id, int) else None
    if topup is None:
        return redirect(url_for("vouchers.redeem"))
    return render_template("vouchers/redeemed.html", topup=topup, card=topup.card)


@bp.route("/admin/vouchers", methods=["GET"])
@admin_required
def admin_batches():
    """List batches, find a voucher by serial, and offer the generate form."""
    search = SerialSearchForm(request.args)
    if "serial" in request.args and search.validate():
        voucher = services.get_voucher_by_serial(search.serial.data)
        if voucher is not None:
            return redirect(url_for("vouchers.admin_voucher", serial=voucher.serial))
        search.serial.errors.append(_("No voucher has this serial."))
    page = max(1, request.args.get("page", 1, type=int))
    return render_template(
        "vouchers/admin_batches.html",
        batches=batches.list_batches(limit=50, offset=(page - 1) * 50),
        page=page,
        search=search,
        form=GenerateBatchForm(),
    )


@bp.route("/admin/vouchers/batches/<id:batch_id>")
@admin_required
def admin_batch(batch_id):
    """One batch: counts by status, its vouchers (no PINs), export and disable actions."""
    try:
        batch = batches.get_batch(batch_id)
    except batches.BatchNotFound:
        abort(404)
    page = db.paginate(
        db.select(Voucher).filter_by(batch_id=batch.id).order_by(Voucher.serial),
        per_page=VOUCHERS_PER_PAGE,
        error_out=False,
    )
    return render_template(
        "vouchers/admin_batch.html",
        batch=batch,
        counts=batches.batch_status_counts(batch.id),
        page=page,
        disable_form=DisableVouchersForm(),
    )


@bp.route("/admin/vouchers/batches/<id:batch_id>/export", methods=["POST"])
@admin_required
def admin_export_batch(batch_id):
    """Download an inactive batch with its PINs for the print house, once."""
    try:
        filename, content = batches.export_batch_csv(batch_id, current_actor())
    except batches.BatchNotFound:
        abort(404)
    except batches.ExportRefused:
        flash(_("Only an inactive batch can be exported, and only once."), "error")
        return redirect(url_for("vouchers.admin_batch", batch_id=batch_id))
    response = send_file(
        io.BytesIO(content), mimetype="text/csv", as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/vouchers/batches/<id:batch_id>/disable", methods=["POST"])
@admin_required
def admin_disable_batch(batch_id):
    """Disable a whole batch or a serial range of it."""
    form = DisableVouchersForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for disabling the vouchers."), "error")
        return redirect(url_for("vouchers.admin_batch", batch_id=batch_id))
    try:
        count = batches.disable_vouchers(
            batch_id,
            current_actor(),
            first_serial=(form.first_serial.data or "").strip() or None,
            last_serial=(form.last_serial.data or "").strip() or None,
            reason=form.reason.data,
        )
    except batches.BatchNotFound:
        abort(404)
    except batches.InvalidBatch:
        flash(
            _("Check the serial range: both ends must be serials, the first before the last."),
            "error",
        )
        return redirect(url_for("vouchers.admin_batch", batch_id=batch_id))
    flash(_("%(count)d vouchers disabled.", count=count), "success")
    return redirect(url_for("vouchers.admin_batch", batch_id=batch_id))


@bp.route("/admin/vouchers/<serial>")
@admin_required
def admin_voucher(serial):
    """One voucher's facts and history (never its PIN)."""
    voucher = services.get_voucher_by_serial(serial)
    if voucher is None:
        abort(404)
    return render_template("vouchers/admin_voucher.html", voucher=voucher)


@bp.route("/admin/vouchers/batches/<id:batch_id>/print", methods=["POST"])
@admin_required
def admin_print_batch(batch_id):
    """Print a batch: small ones at once, large ones as a background job with progress."""
    try:
        batch = batches.get_batch(batch_id)
    except batches.BatchNotFound:
        abort(404)
    layout = request.form.get("format", "a4")
    if layout not in printing.LAYOUTS:
        abort(400)
    if batch.quantity > printing.BACKGROUND_ABOVE:
        job = printing.start_print_job(batch, layout, current_actor())
        return redirect(url_for("vouchers.admin_print_job", job_id=job.id))
    content = printing.print_batch(batch, layout, current_actor())
    return download_response(content, f"batch-{batch.id}-{layout}.pdf")


@bp.route("/admin/print-jobs/<id:job_id>")
@admin_required
def admin_print_job(job_id):
    """Show a background print's progress (the page refreshes itself until it is done)."""
    try:
        job = printing.get_job(job_id)
    except printing.PrintJobNotFound:
        abort(404)
    return render_template("vouchers/print_job.html", job=job)


@bp.route("/admin/print-jobs/<id:job_id>.pdf")
@admin_required
def admin_print_job_pdf(job_id):
    """Download a finished background print."""
    try:
        content = printing.job_pdf(printing.get_job(job_id), current_actor())
    except printing.PrintJobNotFound:
        abort(404)
    return download_response(content, f"print-job-{job_id}.pdf")
