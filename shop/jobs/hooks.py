"""Queue the work that a committed transaction created: new print jobs, mails, deliveries.

Lower packages only write rows (``PrintJob``, ``OutboxMessage``) in their use case's
transaction; they know nothing of the queue. These session hooks note the new rows at flush
and queue their tasks once the transaction has committed, never before (a task must find its
row) and never after a rollback. A task that cannot be queued (the queue's storage is down)
is only logged: the reaper and the mail sweeper find the rows again.

Top-up deliveries to the network are written with plain SQL, which the session does not
track: ``cards.services.apply_pack`` notes their ids in ``session.info``, and the voucher
redemption (committed on a driver connection) announces them with
``network.delivery.deliveries_committed``; both are queued here. The delivery sweeper finds
any that could not be queued.

New figures of a card (``network.status.card_figures_changed``) queue its auto-renew when the
card's rule is due; the periodic ``renew_due_cards`` finds any trigger this missed.
"""

import logging
import threading
import time

from sqlalchemy import event

from shop.cards.services import NEW_DELIVERIES
from shop.extensions import db
from shop.jobs.queue import jobs_enabled
from shop.mail.models import OutboxMessage, OutboxStatus
from shop.network.delivery import deliveries_committed
from shop.network.status import card_figures_changed
from shop.vouchers.models import PrintJob

log = logging.getLogger(__name__)

_NEW_ROWS = "jobs.new_rows"
_installed: list[bool] = []


def _after_flush(session, _flush_context) -> None:
    for row in session.new:
        if isinstance(row, PrintJob) or (
            isinstance(row, OutboxMessage) and row.status == OutboxStatus.PENDING
        ):
            session.info.setdefault(_NEW_ROWS, []).append((type(row), row.id))


def _after_commit(session) -> None:
    _queue_deliveries(session.info.pop(NEW_DELIVERIES, []))
    rows = session.info.pop(_NEW_ROWS, [])
    if not rows or not jobs_enabled():
        return
    from shop.jobs.tasks import render_print_job, send_outbox_message

    for kind, row_id in rows:
        task = render_print_job if kind is PrintJob else send_outbox_message
        try:
            task(row_id)
        except Exception:
            # The row is committed; the reaper or the mail sweeper queues it again.
            log.exception("could not queue %s for %s %s", task.name, kind.__name__, row_id)


def _after_rollback(session) -> None:
    session.info.pop(_NEW_ROWS, None)
    session.info.pop(NEW_DELIVERIES, None)


#: Deliveries committed within this window share one dispatch (per process): a redemption
#: pays for one enqueue at most twice a window, not once each (see ``_queue_deliveries``).
DISPATCH_WINDOW_SECONDS = 0.5
_dispatch_lock = threading.Lock()
#: ``until``: the end of the current window; ``trailing``: a dispatch is scheduled for it.
_dispatch_window = {"until": 0.0, "trailing": False}


def _queue_deliveries(delivery_ids) -> None:
    """Have the committed deliveries dispatched to the workers, coalescing busy moments.

    The first commit of a window queues a dispatch at once; later commits in the window
    schedule one more for the window's end (once), which runs after each of them committed and
    so finds their rows. The dispatch queues one delivery task per due row; the sweeper
    covers any dispatch that was lost. With ``JOBS_IMMEDIATE`` (tests) it runs at once.
    """
    if not delivery_ids or not jobs_enabled():
        return
    from shop.jobs.queue import huey
    from shop.jobs.tasks import dispatch_deliveries

    try:
        if huey.immediate:
            dispatch_deliveries()
            return
        now = time.monotonic()
        with _dispatch_lock:
            if now >= _dispatch_window["until"]:
                _dispatch_window.update(until=now + DISPATCH_WINDOW_SECONDS, trailing=False)
                delay = None
            elif not _dispatch_window["trailing"]:
                _dispatch_window["trailing"] = True
                delay = _dispatch_window["until"] - now
            else:
                return
        if delay is None:
            dispatch_deliveries()
        else:
            dispatch_deliveries.schedule(delay=delay)
    except Exception:
        # The rows are committed; the delivery sweeper queues them.
        log.exception("could not queue a dispatch of deliveries %s", delivery_ids)


def _deliveries_committed(_sender, ids) -> None:
    _queue_deliveries(ids)


def _renew_if_due(_sender, card_id: int, **_event) -> None:
    """Queue the card's auto-renew when its new figures meet the rule's trigger.

    The renewal itself rechecks everything under the card's lock; this only spares the queue
    a task for every card whose figures change.
    """
    if not jobs_enabled():
        return
    from shop.autorenew.services import due_rule_for_card
    from shop.jobs.tasks import renew_card

    rule_id = due_rule_for_card(card_id)
    db.session.commit()  # end this read: the renewal runs in its own transaction
    if rule_id is None:
        return
    try:
        renew_card(rule_id)
    except Exception:
        # The periodic check (``renew_due_cards``) finds the rule again.
        log.exception("could not queue the auto-renew of rule %s", rule_id)


def install() -> None:
    """Attach the hooks to the shop's database session (once per process)."""
    if _installed:
        return
    event.listen(db.session, "after_flush", _after_flush)
    event.listen(db.session, "after_commit", _after_commit)
    event.listen(db.session, "after_rollback", _after_rollback)
    deliveries_committed.connect(_deliveries_committed)
    card_figures_changed.connect(_renew_if_due)
    _installed.append(True)
