"""A real job worker is killed after the network applied a pack but before the shop recorded it.

The worker is the product's own command (``flask --app wsgi jobs worker``) with a SQLite queue
file, against the test's database; the network simulator runs in the test process and is told
to apply the next pack and then hang. The test waits until the network holds the pack, kills
the worker with SIGKILL, lets its claim run out, starts a second worker and lets the sweeper
queue the delivery again: the retry carries the same request id, the network answers its first
result, and it holds the pack once.
"""

import time

import pytest

from shop.cards.models import DeliveryStatus
from shop.jobs import tasks
from shop.network import delivery as network_delivery
from simulators.scenarios import Scenario
from tests.factories import make_card, make_product
from tests.network_helpers import delivery_of, empty_network
from tests.vouchers_helpers import make_vouchers
from tests.worker_helpers import WorkerProcess

pytestmark = pytest.mark.slow

#: The shop waits this long for the network; a worker's claim lasts 5 s more.
TIMEOUT_SECONDS = 4.0


@pytest.fixture
def network():
    """The network simulator, serving for the test."""
    with empty_network() as simulator:
        yield simulator


@pytest.fixture
def app_config(tmp_path, network):
    return {
        **network.shop_config(),
        "JOBS_IMMEDIATE": False,
        "JOBS_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "NETWORK_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
        "NETWORK_DELIVERY_LEASE_SECONDS": 1.0,
    }


def Worker(app) -> WorkerProcess:  # noqa: N802 - reads as the worker it starts
    """Start a worker that talks to this test's network simulator."""
    return WorkerProcess(
        app,
        (
            "NETWORK_API_URL",
            "NETWORK_API_KEY",
            "NETWORK_TIMEOUT_SECONDS",
            "NETWORK_DELIVERY_LEASE_SECONDS",
        ),
        {"NETWORK_MODE": "simulator"},
    )


def wait_until(condition, worker: WorkerProcess | None, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.process.poll() is not None:
            pytest.fail("the job worker exited:\n" + worker.output())
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}:\n" + (worker.output() if worker else ""))


def test_a_worker_killed_between_apply_and_record_leaves_the_pack_applied_once(
    app, client, network
):
    card = make_card()
    network.state.add_card(card.number)
    (voucher,) = make_vouchers(make_product(data_mb=3072))
    network.state.add_scenario(Scenario("topup", "timeout_after_apply", seconds=120.0))
    first = Worker(app)
    try:
        response = client.post(
            "/api/v1/redemptions", json={"pin": voucher.pin, "card": card.number}
        )
        assert response.status_code == 201
        topup_id = response.get_json()["topup"]["id"]
        wait_until(lambda: network.state.packs_of(card.number), first, "the network to apply")
        first.kill()
    finally:
        first.stop()

    delivery = delivery_of(topup_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.id not in network_delivery.due_delivery_ids(), "the dead worker's claim holds"
    wait_until(
        lambda: delivery.id in network_delivery.due_delivery_ids(), None, "the claim to run out"
    )

    second = Worker(app)
    try:
        tasks.deliver_due_topups()  # the sweeper's periodic pass
        delivery = wait_until(
            lambda: (d := delivery_of(topup_id)).status == DeliveryStatus.DELIVERED and d,
            second,
            "the second worker to deliver",
        )
    finally:
        second.stop()

    (pack,) = network.state.packs_of(card.number)
    assert delivery.attempts == 2
    assert (delivery.network_reference, delivery.request_id) == (
        pack.reference,
        pack.transaction_id,
    )
    assert network.state.card(card.number).total_mb == 3072, "the pack is on the card once"
