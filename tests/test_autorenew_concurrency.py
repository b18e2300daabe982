"""Ten triggers of one card's rule at once renew once: one renewal, one debit, one delivery."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop.autorenew import services as autorenew
from shop.autorenew.models import RenewalOutcome
from shop.cards import services as card_services
from shop.cards.models import Card
from shop.extensions import db
from shop.network.signing import SIGNATURE_HEADER, sign
from tests.autorenew_helpers import (
    PRICE,
    auto_topups,
    deliveries_of_auto_topups,
    messages,
    owned_card,
    renewal_entries,
    renewals,
    rule_for,
    set_figures,
)
from tests.customer_wallet_helpers import balance, fund
from tests.test_network_events import SECRET, event, figures

TRIGGERS = 10


@pytest.fixture
def app_config():
    return {
        "NETWORK_WEBHOOK_SECRET": SECRET,
        "SHOP_BASE_URL": "https://shop.example",
        # each trigger holds its request's connection and its renewal task's
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2 * TRIGGERS + 5, "max_overflow": 0},
    }


def in_threads(app, work) -> list:
    """Run ``work(copy)`` in ten threads released together, each in its own app context."""
    barrier = threading.Barrier(TRIGGERS)

    def run(copy):
        with app.app_context():
            barrier.wait()
            try:
                return work(copy)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=TRIGGERS) as pool:
        return list(pool.map(run, range(TRIGGERS)))


def assert_renewed_once(user, card, funded):
    (renewal,) = renewals(card.id)
    assert renewal.outcome == RenewalOutcome.RENEWED
    assert len(renewal_entries(user.id)) == 1, "one ledger row of kind renewal"
    (topup,) = auto_topups(card.id)
    assert renewal.topup_id == topup.id
    assert deliveries_of_auto_topups(card.id) == 1
    assert balance(user.id) == funded - PRICE
    assert [m.kind for m in messages()] == ["autorenew_receipt"] * 2


def test_ten_concurrent_data_exhausted_events_renew_the_card_once(app):
    user, card = owned_card()
    rule_for(user, card)
    fund(user.id, 5 * PRICE)
    number = card.number

    def post_event(copy):
        body = event("data.exhausted", number, f"evt_{copy}", card=figures(number, 0, 2048))
        headers = {SIGNATURE_HEADER: sign(SECRET, body), "Content-Type": "application/json"}
        return app.test_client().post("/network/events", data=body, headers=headers).status_code

    assert in_threads(app, post_event) == [200] * TRIGGERS
    assert_renewed_once(user, card, 5 * PRICE)


def test_ten_concurrent_renewals_of_one_rule_make_one(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 5 * PRICE)
    set_figures(card.id, left=0)
    rule_id = rule.id

    results = in_threads(app, lambda _copy: autorenew.renew(rule_id))

    assert sum(result.outcome == RenewalOutcome.RENEWED for result in results) == 1
    assert {result.skipped for result in results} <= {"", "renewed", "not_due"}
    assert_renewed_once(user, card, 5 * PRICE)


def test_ten_concurrent_renewals_of_a_short_wallet_tell_the_owner_once(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, PRICE - 1)
    set_figures(card.id, left=0)
    rule_id = rule.id

    in_threads(app, lambda _copy: autorenew.renew(rule_id))

    (failure,) = renewals(card.id)
    assert failure.outcome == RenewalOutcome.INSUFFICIENT_FUNDS
    assert balance(user.id) == PRICE - 1 and renewal_entries(user.id) == []
    assert [m.kind for m in messages()] == ["autorenew_insufficient_funds"] * 2


@pytest.mark.parametrize("funded", [5 * PRICE, PRICE], ids=["plenty", "exactly-one-pack"])
def test_without_the_card_lock_the_unique_key_still_lets_one_renewal_through(
    app, monkeypatch, funded
):
    """The keys back the lock: of renewals racing past every check, one commits, none is told."""
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, funded)
    set_figures(card.id, left=0)
    rule_id = rule.id
    real_lock = card_services.lock_card
    checked = threading.Barrier(TRIGGERS, timeout=30)

    def read_without_lock(number):
        row = db.session.get(Card, card.id)
        state = card_services.CardState(
            row.id, row.number, row.status, row.data_balance_mb, row.expires_at
        )
        if db.session.get_bind().dialect.name == "postgresql":
            checked.wait()  # every renewal has read the card before any writes
        # (SQLite's write lock lets one renewal in at a time: nothing to line up)
        return state

    monkeypatch.setattr(card_services, "lock_card", read_without_lock)
    results = in_threads(app, lambda _copy: autorenew.renew(rule_id))
    monkeypatch.setattr(card_services, "lock_card", real_lock)

    assert sum(result.outcome == RenewalOutcome.RENEWED for result in results) == 1
    assert_renewed_once(user, card, funded)
