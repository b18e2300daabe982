"""The admin's page of jobs: print jobs, periodic tasks, failed mail; retry and resend."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.auth.decorators import admin_required
from shop.jobs import services
from shop.mail import services as mail
from shop.mail.services import MessageNotResendable
from shop.vouchers import print_jobs
from shop.vouchers.print_jobs import PrintJobNotRetriable
from shop.vouchers.printing import PrintJobNotFound
from shop.web import current_actor

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

#: Errors that the shop itself records, in the reader's language (others are shown as written).
KNOWN_ERRORS = {
    print_jobs.WORKER_DIED: _l("The worker stopped responding."),
    mail.WORKER_DIED: _l(
        "The worker stopped while sending: the mail may or may not have gone out."
    ),
    mail.NO_MAIL_SERVER: _l("No MAIL_SERVER is configured."),
}


@bp.get("")
@admin_required
def admin_jobs():
    """Show queued, running and failed print jobs, the periodic tasks and failed mails."""
    return render_template(
        "jobs/admin_jobs.html", overview=services.jobs_overview(), known_errors=KNOWN_ERRORS
    )


@bp.post("/print/<id:job_id>/retry")
@admin_required
def retry_print_job(job_id):
    """Queue a failed print job again."""
    try:
        services.retry_print_job(job_id, current_actor())
    except PrintJobNotFound:
        abort(404)
    except PrintJobNotRetriable:
        flash(_("Only a failed print job can be retried."), "error")
    else:
        flash(_("Print job %(id)d is queued again.", id=job_id), "success")
    return redirect(url_for("jobs.admin_jobs"))


@bp.post("/mail/<id:message_id>/resend")
@admin_required
def resend_mail(message_id):
    """Queue a failed mail again."""
    try:
        services.resend_mail(message_id, current_actor())
    except MessageNotResendable:
        flash(_("Only a failed mail can be sent again."), "error")
    else:
        flash(_("The mail is queued to be sent again."), "success")
    return redirect(url_for("jobs.admin_jobs"))
