"""The network simulator on its own: the shop's adapter against it, its switches and events."""

import json
import threading
from datetime import timedelta

import pytest
import requests

from shop.network.gateway import NetworkRefused, NetworkUnavailable, PackOrder
from shop.network.http import HttpNetwork
from shop.network.signing import SIGNATURE_HEADER, sign, verify
from simulators.network import NetworkSimulator, signed_event
from simulators.network.state import NetworkState, now_utc
from simulators.scenarios import Scenario

CARD = "8944000000000000027"


@pytest.fixture
def simulator():
    with NetworkSimulator(CARDS=(CARD,), SUSPENDED_CARDS=()) as running:
        yield running


@pytest.fixture
def adapter(simulator):
    return HttpNetwork(simulator.url, simulator.app.config["API_KEY"], timeout=2.0)


def order(request_id="wd-1", data_mb=1024, days=7):
    return PackOrder(request_id, CARD, "ASIA-1GB", data_mb, days)


def test_a_repeated_request_id_gets_the_first_answer_and_no_second_pack(simulator, adapter):
    first = adapter.apply_pack(order())
    again = adapter.apply_pack(order())

    assert again.reference == first.reference
    assert len(simulator.state.packs_of(CARD)) == 1
    assert adapter.card_figures(CARD).total_mb == 1024


def test_simultaneous_requests_with_one_id_apply_one_pack(simulator, adapter):
    references = []

    def apply():
        references.append(adapter.apply_pack(order("wd-same")).reference)

    threads = [threading.Thread(target=apply) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(references)) == 1 and len(references) == 8
    assert len(simulator.state.packs_of(CARD)) == 1


def test_packs_add_up_and_extend_validity(simulator, adapter):
    adapter.apply_pack(order("wd-a", 1024, 7))
    figures = adapter.apply_pack(order("wd-b", 2048, 30)).card

    assert (figures.total_mb, figures.remaining_mb, figures.used_mb) == (3072, 3072, 0)
    assert figures.expires_at - now_utc() > timedelta(days=36)


def test_failures_on_demand(simulator, adapter):
    simulator.state.add_scenario(Scenario("topup", "unknown_card"))
    with pytest.raises(NetworkRefused) as refused:
        adapter.apply_pack(order("wd-x"))
    assert refused.value.code == "card_unknown"

    simulator.state.down = True
    with pytest.raises(NetworkUnavailable):
        adapter.apply_pack(order("wd-y"))
    simulator.state.down = False

    with pytest.raises(NetworkRefused):
        HttpNetwork(simulator.url, simulator.app.config["API_KEY"], 2.0).apply_pack(
            PackOrder("wd-z", "8910000000000000036", "X", 1, 1)
        )
    assert simulator.state.packs == {}


def test_a_call_without_the_key_or_signature_is_refused(simulator):
    body = json.dumps({"iccid": CARD}).encode()
    assert requests.post(simulator.url + "/v1/topups", data=body, timeout=5).status_code == 401
    headers = {"Authorization": f"Bearer {simulator.app.config['API_KEY']}"}
    headers[SIGNATURE_HEADER] = sign("wrong-key", body)
    response = requests.post(simulator.url + "/v1/topups", data=body, headers=headers, timeout=5)
    assert response.status_code == 401


def test_usage_is_counted_per_day_and_reported_at_thresholds():
    network = NetworkState([CARD])
    network.apply_pack("wd-1", CARD, "X", 1000, 30)
    network.take_events()

    network.use_data(CARD, 850)
    network.use_data(CARD, 500)  # only 150 left to use

    card = network.card(CARD)
    assert (card.used_mb, card.remaining_mb()) == (1000, 0)
    kinds = [
        (event["type"], event["data"].get("threshold_percent")) for event in network.take_events()
    ]
    assert kinds == [("usage.threshold", 80), ("data.exhausted", None)]
    assert network.usage(CARD, 30) == [{"date": now_utc().date().isoformat(), "used_mb": 1000}]


def test_consumption_runs_on_active_cards_with_data_only():
    network = NetworkState([CARD, "8966000000000000012"])
    network.apply_pack("wd-1", CARD, "X", 1000, 30)

    network.consume(mb_per_minute=60, seconds=10)

    assert network.card(CARD).used_mb == 10
    assert network.card("8966000000000000012").used_mb == 0


def test_events_are_signed_for_the_shop():
    network = NetworkState([CARD])
    network.apply_pack("wd-1", CARD, "X", 10, 1)
    (event,) = network.take_events()

    headers, body = signed_event("secret", event)

    verify("secret", headers[SIGNATURE_HEADER], body, 300)
    assert json.loads(body)["data"]["request_id"] == "wd-1"


def test_the_page_adds_usage_by_hand(simulator, adapter):
    adapter.apply_pack(order())
    page = requests.get(simulator.url + "/simulator/", timeout=5)
    assert page.status_code == 200 and CARD in page.text

    requests.post(f"{simulator.url}/simulator/cards/{CARD}/usage", data={"mb": "100"}, timeout=5)

    assert adapter.card_figures(CARD).used_mb == 100
    assert adapter.usage(CARD, 30)[0].used_mb == 100
