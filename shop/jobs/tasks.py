"""Every piece of background work of the shop, as tasks of the job queue.

Tasks take row ids, never objects, and call the services of the package the work belongs to;
each runs in an application context of its own and commits its own work. The services make
a task safe to run twice (a print job or a mail is claimed by a conditional update), which is
what lets the reaper and the sweeper queue work again whenever they are in doubt.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import current_app
from flask_babel import lazy_gettext as _l
from huey import crontab
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from shop.cards.models import DeliveryStatus
from shop.extensions import db
from shop.jobs.models import PeriodicRun
from shop.jobs.queue import huey, in_app_context
from shop.mail import services as mail
from shop.mail.models import OutboxStatus
from shop.network import delivery as network_delivery
from shop.network import status as network_status
from shop.timeutil import utcnow
from shop.vouchers import print_jobs
from shop.vouchers.models import PrintJobStatus

log = logging.getLogger(__name__)


@huey.task()
@in_app_context
def render_print_job(job_id: int) -> None:
    """Render a queued print job; a failure with attempts left queues it again."""
    if print_jobs.run_print_job(job_id) == PrintJobStatus.QUEUED:
        render_print_job(job_id)


@huey.task()
@in_app_context
def send_outbox_message(message_id: int) -> None:
    """Send one mail of the outbox; a failure schedules this task again at the next attempt."""
    message = mail.deliver_message(message_id)
    if message is not None and message.status == OutboxStatus.RETRY:
        delay = max((message.next_attempt_at - utcnow()).total_seconds(), 0)
        send_outbox_message.schedule(args=(message_id,), delay=delay)


def ping_key(token: str) -> str:
    """Return the queue's key under which a worker answers the ping ``token``."""
    return f"ping:{token}"


def queue_delay(sent_at: float) -> float:
    """Return the seconds since ``sent_at`` (a ``time.time()``): how long a task waited."""
    return time.time() - sent_at


@huey.task()
def ping(sent_at: float, token: str) -> None:
    """Answer ``flask jobs ping``: store how long this task waited for a worker."""
    huey.put(ping_key(token), queue_delay(sent_at))


@huey.task()
@in_app_context
def deliver_topup(delivery_id: int) -> None:
    """Apply one top-up on the network; an unreachable network schedules the next attempt."""
    delivery = network_delivery.deliver(delivery_id)
    if delivery is not None and delivery.status == DeliveryStatus.PENDING:
        delay = max((delivery.next_attempt_at - utcnow()).total_seconds(), 0)
        deliver_topup.schedule(args=(delivery_id,), delay=delay)


@huey.task()
@in_app_context
def dispatch_deliveries() -> None:
    """Queue a delivery task for every due top-up delivery (after commits, see ``hooks``)."""
    due = network_delivery.due_delivery_ids()
    db.session.commit()  # end this read: each delivery runs in its own transactions
    for delivery_id in due:
        deliver_topup(delivery_id)


@dataclass(frozen=True)
class Periodic:
    """A periodic task as the admin page and the tests see it."""

    name: str
    #: huey's test of a minute (a naive UTC datetime): does the task run then?
    schedule: Callable[[datetime], bool]
    #: When it runs, in words.
    when: str


#: Every periodic task, by name.
SCHEDULE: dict[str, Periodic] = {}


def periodic(name: str, when, **schedule):
    """Declare a periodic task whose every run is recorded in ``PeriodicRun``.

    The task returns what it did, or ``(ok, what it did)`` when it can finish and still not be
    well (a payment provider that did not answer).
    """
    validate = crontab(**schedule)

    def decorator(func):
        @wraps(func)
        def run() -> None:
            started = utcnow()
            _record(name, started, None, False, "")
            try:
                outcome = func()
            except Exception as exc:
                db.session.rollback()
                _record(name, started, utcnow(), False, str(exc) or exc.__class__.__name__)
                raise
            ok, outcome = outcome if isinstance(outcome, tuple) else (True, outcome)
            _record(name, started, utcnow(), ok, outcome)

        SCHEDULE[name] = Periodic(name, validate, when)
        return huey.periodic_task(validate, name=name)(in_app_context(run))

    return decorator


def _record(name, started_at, finished_at, ok: bool, outcome: str) -> None:
    values = {
        "started_at": started_at,
        "finished_at": finished_at,
        "ok": ok,
        "outcome": outcome[:300],
    }
    update_run = update(PeriodicRun).where(PeriodicRun.name == name).values(**values)
    if not db.session.execute(update_run).rowcount:
        db.session.add(PeriodicRun(name=name, **values))
        try:
            db.session.commit()
        except IntegrityError:  # another worker wrote the first run of this task just now
            db.session.rollback()
            db.session.execute(update_run)
    db.session.commit()


@periodic("reconcile_orders", _l("every 5 minutes"), minute="*/5")
def reconcile_orders() -> tuple[bool, str]:
    """Finish or close orders that a crash or a lost webhook left open (``orders reconcile``)."""
    from shop.storefront import payment_flow

    report = payment_flow.reconcile()
    return not report.unreachable, (
        f"checked {report.checked}, fulfilled {len(report.fulfilled)}, "
        f"closed {len(report.closed)}, expired {len(report.expired)}, "
        f"unreachable {len(report.unreachable)}"
    )


@periodic("purge_expired", _l("daily at 03:00 UTC"), minute="0", hour="3")
def purge_expired() -> str:
    """Delete idempotency keys past their lifetime (``shop purge-expired``)."""
    from shop.api.idempotency import purge_expired as purge

    return f"deleted {purge()} expired idempotency keys"


@periodic("reap_stale_jobs", _l("every minute"), minute="*")
def reap_stale_jobs() -> str:
    """Hand on print jobs and mails whose worker died (see :func:`reap`)."""
    report = reap()
    return (
        f"requeued {len(report.requeued_print_jobs)} print job(s), "
        f"failed {len(report.failed_print_jobs)}, "
        f"abandoned mails {len(report.abandoned_mails)}"
    )


@periodic("send_due_mail", _l("every minute"), minute="*")
def send_due_mail() -> str:
    """Queue every mail whose time has come: a lost enqueue is never a lost mail."""
    due = mail.due_message_ids()
    db.session.commit()  # end this read: each send runs in its own transaction
    for message_id in due:
        send_outbox_message(message_id)
    return f"queued {len(due)} mail(s)"


@dataclass
class ReapReport:
    """What one pass of the reaper did."""

    requeued_print_jobs: list[int]
    failed_print_jobs: list[int]
    abandoned_mails: list[int]


def reap(now=None) -> ReapReport:
    """Requeue (or fail) work whose worker's heartbeat is older than ``JOBS_STALE_SECONDS``."""
    stale_before = (now or utcnow()) - timedelta(seconds=current_app.config["JOBS_STALE_SECONDS"])
    jobs = print_jobs.reap_print_jobs(stale_before)
    for job_id in jobs.requeued:
        render_print_job(job_id)
    abandoned = mail.fail_abandoned_sends(stale_before)
    return ReapReport(jobs.requeued, jobs.failed, abandoned)


@periodic("deliver_due_topups", _l("every minute"), minute="*")
def deliver_due_topups() -> str:
    """Queue every due top-up delivery: a lost enqueue or a killed worker loses no pack."""
    due = network_delivery.due_delivery_ids()
    db.session.commit()  # end this read: each delivery runs in its own transactions
    for delivery_id in due:
        deliver_topup(delivery_id)
    return f"queued {len(due)} delivery(ies)"


@periodic("sync_network_cards", _l("every 10 minutes"), minute="*/10")
def sync_network_cards() -> str:
    """Read remaining data and usage of recently active cards from the network."""
    report = network_status.sync_recent_cards()
    return f"asked {report.asked}, updated {report.updated}, unanswered {report.unanswered}"


@huey.task()
@in_app_context
def renew_card(rule_id: int) -> None:
    """Renew a card by its auto-renew rule (once per pack period, see ``autorenew.services``)."""
    from shop.autorenew.services import renew

    renew(rule_id)


@periodic("renew_due_cards", _l("every 10 minutes"), minute="*/10")
def renew_due_cards() -> str:
    """Queue the renewal of every active auto-renew rule whose card is due."""
    from shop.autorenew.services import due_rule_ids

    due = due_rule_ids()
    db.session.commit()  # end this read: each renewal runs in its own transaction
    for rule_id in due:
        renew_card(rule_id)
    return f"queued {len(due)} renewal(s)"


@periodic("send_expiry_alerts", _l("every 15 minutes"), minute="*/15")
def send_expiry_alerts() -> str:
    """Alert the owners of cards whose data expires within 3 days, within a day, or expired."""
    from shop.alerts.services import check_expiring_cards

    return f"sent {check_expiring_cards()} alert(s)"
