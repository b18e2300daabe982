"""A real job worker is killed between a renewal's wallet debit and its top-up: all or nothing.

The worker is the product's own command (``flask --app wsgi jobs worker``) with a SQLite queue
file, against the test's database. ``AUTORENEW_PAUSE_FILE`` (a setting only tests give) holds
the renewal right after its debit, inside its transaction; the test kills the worker there with
SIGKILL, checks that nothing was charged, starts a second worker and lets the periodic check
queue the rule again: one debit, one top-up and one delivery, never a debit alone, never two.
"""

import time

import pytest

from shop.autorenew import services as autorenew
from shop.autorenew.models import RenewalOutcome
from shop.jobs import tasks
from tests.autorenew_helpers import (
    PRICE,
    auto_topups,
    deliveries_of_auto_topups,
    owned_card,
    renewal_entries,
    renewals,
    rule_for,
    set_figures,
)
from tests.customer_wallet_helpers import balance, fund
from tests.worker_helpers import WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def app_config(tmp_path):
    return {"JOBS_IMMEDIATE": False, "JOBS_URL": f"sqlite:///{tmp_path / 'queue.db'}"}


def wait_until(condition, worker: WorkerProcess, what: str, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker.process.poll() is not None:
            pytest.fail("the job worker exited:\n" + worker.output())
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}:\n" + worker.output())


def test_a_worker_killed_after_the_debit_charges_nothing_and_the_next_renews_once(app, tmp_path):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 3 * PRICE)
    set_figures(card.id, left=0)
    pause = tmp_path / "pause"
    pause.touch()
    reached = tmp_path / "pause.reached"

    first = WorkerProcess(app, ("NETWORK_API_URL",), {"AUTORENEW_PAUSE_FILE": str(pause)})
    try:
        tasks.renew_card(rule.id)
        wait_until(reached.exists, first, "the renewal to debit the wallet")
        first.kill()
    finally:
        first.stop()

    assert balance(user.id) == 3 * PRICE, "the killed transaction charged nothing"
    assert renewal_entries(user.id) == [] and auto_topups(card.id) == []
    assert renewals(card.id) == []

    second = WorkerProcess(app, ("NETWORK_API_URL",))
    try:
        tasks.renew_due_cards()  # the periodic check finds the rule still due
        wait_until(lambda: renewals(card.id), second, "the second worker to renew")
    finally:
        second.stop()
    assert autorenew.renew(rule.id).outcome is None, "a later trigger renews nothing more"
    assert rule.id not in autorenew.due_rule_ids()

    (renewal,) = renewals(card.id)
    assert renewal.outcome == RenewalOutcome.RENEWED
    assert len(renewal_entries(user.id)) == 1
    (topup,) = auto_topups(card.id)
    assert renewal.topup_id == topup.id
    assert deliveries_of_auto_topups(card.id) == 1
    assert balance(user.id) == 2 * PRICE
