"""Invariant 1: a PIN is redeemed at most once, whatever the concurrency.

Each worker thread pushes its own application context, so it has its own session and its own
connection from the app's real engine and pool, exactly as gunicorn threads would.
"""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.cards.models import Card, TopUp
from shop.extensions import db
from shop.vouchers import services
from shop.vouchers.models import Voucher, VoucherStatus
from tests.factories import make_card, make_product
from tests.vouchers_helpers import make_vouchers

WORKERS = 50


@pytest.fixture
def app_config():
    # Enough connections for every worker at once, and guess limits out of the way: this test
    # is about the voucher, not about throttling (which counts parallel attempts up front).
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_size": WORKERS + 5,
            "max_overflow": 0,
            "pool_timeout": 60,
        },
        "PIN_FAILURES_PER_CARD": "1000 per minute",
        "PIN_FAILURES_PER_CLIENT": "1000 per minute",
    }


def redeem_in_parallel(app, pin, card_numbers):
    barrier = threading.Barrier(len(card_numbers))

    def attempt(card_number):
        with app.app_context():
            barrier.wait()
            try:
                services.redeem_voucher(
                    pin, card_number, channel="api", actor=Actor(label="t", ip_address="10.0.0.1")
                )
            except services.RedemptionError as exc:
                return exc.code
            finally:
                db.session.remove()
            return "redeemed"

    with ThreadPoolExecutor(max_workers=len(card_numbers)) as pool:
        return list(pool.map(attempt, card_numbers))


def test_fifty_simultaneous_redemptions_of_one_pin_credit_the_card_once(app):
    product = make_product(data_mb=1024, validity_days=30)
    card = make_card()
    (voucher,) = make_vouchers(product)
    outcomes = redeem_in_parallel(app, voucher.pin, [card.number] * WORKERS)
    assert outcomes.count("redeemed") == 1
    assert outcomes.count("voucher_already_redeemed") == WORKERS - 1
    db.session.rollback()
    card = db.session.get(Card, card.id)
    assert card.data_balance_mb == 1024
    assert db.session.execute(db.select(db.func.count(TopUp.id))).scalar_one() == 1
    stored = db.session.get(Voucher, voucher.id)
    assert stored.status == VoucherStatus.REDEEMED
    assert stored.redeemed_card_id == card.id


def test_one_pin_raced_onto_fifty_different_cards_credits_exactly_one(app):
    product = make_product(data_mb=2048)
    cards = [make_card() for _ in range(WORKERS)]
    (voucher,) = make_vouchers(product)
    outcomes = redeem_in_parallel(app, voucher.pin, [c.number for c in cards])
    assert outcomes.count("redeemed") == 1
    db.session.rollback()
    balances = db.session.execute(db.select(Card.data_balance_mb)).scalars().all()
    assert sorted(balances) == [0] * (WORKERS - 1) + [2048]
    assert db.session.execute(db.select(db.func.count(TopUp.id))).scalar_one() == 1


def test_parallel_top_ups_of_one_card_with_different_pins_all_extend_its_validity(app):
    product = make_product(data_mb=100, validity_days=10)
    card = make_card()
    vouchers = make_vouchers(product, count=10)
    number = card.number
    barrier = threading.Barrier(len(vouchers))

    def attempt(pin):
        with app.app_context():
            barrier.wait()
            try:
                services.redeem_voucher(
                    pin, number, channel="api", actor=Actor(label="t", ip_address="10.0.0.2")
                )
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(vouchers)) as pool:
        list(pool.map(attempt, [v.pin for v in vouchers]))
    db.session.rollback()
    card = db.session.get(Card, card.id)
    assert card.data_balance_mb == 1000
    topups = db.session.execute(db.select(TopUp).order_by(TopUp.id)).scalars().all()
    first_expiry = topups[0].new_expires_at
    assert (card.expires_at - first_expiry).days == 90, "no top-up extended from a stale expiry"


@pytest.mark.slow
def test_two_hundred_pins_from_eight_threads_credit_every_card_and_audit_every_voucher(app):
    # Twenty cards of ten PINs each, the PINs dealt round the threads so that several threads
    # top up one card at the same moment: each top-up must build on the one committed before.
    packs = [make_product(data_mb=100 + n, validity_days=30) for n in range(2)]
    cards = [make_card() for _ in range(20)]
    vouchers = make_vouchers(packs[0], count=100) + make_vouchers(packs[1], count=100)
    data_mb = {
        v.serial: (packs[0] if n < 100 else packs[1]).data_mb for n, v in enumerate(vouchers)
    }
    plan = [(v, cards[n % len(cards)].number) for n, v in enumerate(vouchers)]
    threads = 8
    barrier = threading.Barrier(threads)

    def redeem_share(share):
        with app.app_context():
            barrier.wait()
            try:
                for voucher, number in share:
                    services.redeem_voucher(
                        voucher.pin,
                        number,
                        channel="api",
                        actor=Actor(label="t", ip_address="10.0.0.3"),
                    )
            finally:
                db.session.remove()
        return len(share)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        done = list(pool.map(redeem_share, [plan[n::threads] for n in range(threads)]))
    assert sum(done) == 200
    db.session.rollback()
    for card in cards:
        card = db.session.get(Card, card.id)
        mine = [v for v, number in plan if number == card.number]
        assert card.data_balance_mb == sum(data_mb[v.serial] for v in mine)
        topups = (
            db.session.execute(db.select(TopUp).filter_by(card_id=card.id).order_by(TopUp.id))
            .scalars()
            .all()
        )
        assert sorted(t.reference for t in topups) == sorted(v.serial for v in mine)
        assert topups[0].old_expires_at is None
        for before, after in itertools.pairwise(topups):
            assert after.old_expires_at == before.new_expires_at, "built on a stale expiry"
        for topup in topups[1:]:
            assert topup.new_expires_at == topup.old_expires_at + timedelta(days=30)
        assert card.expires_at == topups[-1].new_expires_at
    stored = db.session.execute(db.select(Voucher)).scalars().all()
    assert {v.status for v in stored} == {VoucherStatus.REDEEMED}
    card_of = {v.serial: number for v, number in plan}
    id_of = {card.number: card.id for card in cards}
    assert all(v.redeemed_card_id == id_of[card_of[v.serial]] for v in stored)
    events = (
        db.session.execute(db.select(AuditEvent).filter_by(action="voucher.redeemed"))
        .scalars()
        .all()
    )
    assert sorted(e.object_id for e in events) == sorted(card_of)
    for event in events:
        assert event.object_type == "voucher"
        assert event.details == {"card": card_of[event.object_id], "channel": "api"}
        assert (event.actor_label, event.ip_address) == ("t", "10.0.0.3")
