"""Auto-renew: a card's pack bought from its owner's wallet once per pack period, or nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from shop.autorenew import services as autorenew
from shop.autorenew.models import RenewalOutcome, RuleStatus
from shop.cards import services as card_services
from shop.cards.models import CardStatus
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.jobs import tasks
from shop.mail.models import Channel
from shop.network.status import announce_figures
from shop.wallet import services as wallets
from tests.autorenew_helpers import (
    PACK_MB,
    PHONE,
    PRICE,
    auto_topups,
    deliver_all,
    deliveries_of_auto_topups,
    messages,
    owned_card,
    owner,
    renewal_entries,
    renewals,
    rule_for,
    set_figures,
)
from tests.customer_wallet_helpers import balance, fund
from tests.factories import make_card, make_product, make_user


@pytest.fixture
def app_config():
    return {"SHOP_BASE_URL": "https://shop.example"}


def trigger(card) -> None:
    """The network reports new figures of the card (what its events and answers do)."""
    announce_figures(card.id)


def test_a_used_up_card_is_renewed_once_from_the_wallet_with_a_receipt(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 1200)
    set_figures(card.id, left=0)

    trigger(card)
    trigger(card)

    (renewal,) = renewals(card.id)
    assert (renewal.outcome, renewal.amount, renewal.currency) == (
        RenewalOutcome.RENEWED,
        PRICE,
        "USD",
    )
    period = card_services.pack_period(card.id)
    assert renewal.key == f"{card.id}:{rule.id}:{renewal.period}"
    assert renewal.period == period, "the pack renewed is the latest delivered one"
    (topup,) = auto_topups(card.id)
    assert (topup.channel, topup.reference, renewal.topup_id) == (
        "auto_renew",
        f"renewal:{renewal.key}",
        topup.id,
    )
    assert deliveries_of_auto_topups(card.id) == 1
    (entry,) = renewal_entries(user.id)
    assert (entry.amount, entry.reference) == (-PRICE, f"renewal:{renewal.key}")
    assert balance(user.id) == 700
    assert wallets.ledger_sum(entry.wallet_id) == 700
    receipts = messages()
    assert sorted(m.channel for m in receipts) == [Channel.EMAIL, Channel.SMS]
    assert {m.kind for m in receipts} == {"autorenew_receipt"}
    assert {m.recipient for m in receipts} == {user.email, PHONE}


def test_the_next_pack_period_renews_again(app):
    user, card = owned_card()
    rule_for(user, card)
    fund(user.id, 2000)
    set_figures(card.id, left=0)
    trigger(card)
    assert len(renewals(card.id)) == 1

    set_figures(card.id, left=0)  # the network has not applied the renewal yet: same period
    trigger(card)
    assert len(renewals(card.id)) == 1

    deliver_all(card.id)  # the network applied it: a new period
    set_figures(card.id, left=0)
    trigger(card)
    assert len(renewals(card.id, RenewalOutcome.RENEWED)) == 2
    assert balance(user.id) == 1000


@pytest.mark.parametrize(
    ("held", "renewed"),
    [(0, False), (PRICE - 1, False), (PRICE, True)],
    ids=["empty-wallet", "one-short", "exactly-the-price"],
)
def test_the_wallet_pays_only_what_it_holds(app, held, renewed):
    user, card = owned_card()
    rule_for(user, card)
    if held:
        fund(user.id, held)
    set_figures(card.id, left=0)

    trigger(card)

    if renewed:
        assert [r.outcome for r in renewals(card.id)] == [RenewalOutcome.RENEWED]
        assert balance(user.id) == 0
        assert len(auto_topups(card.id)) == 1
        return
    (failure,) = renewals(card.id)
    assert (failure.outcome, failure.amount, failure.reason) == (
        RenewalOutcome.INSUFFICIENT_FUNDS,
        0,
        "wallet_short",
    )
    assert failure.key.endswith(":insufficient_funds")
    assert balance(user.id) == held, "nothing charged"
    assert renewal_entries(user.id) == []
    assert auto_topups(card.id) == []
    told = messages()
    assert sorted(m.channel for m in told) == [Channel.EMAIL, Channel.SMS]
    mail = next(m for m in told if m.channel == Channel.EMAIL)
    missing = PRICE - held
    assert f"https://shop.example/account/wallet/top-up?currency=USD&amount={missing}" in mail.body
    assert f"https://shop.example/checkout?card={card.number}" in mail.body
    sms = next(m for m in told if m.channel == Channel.SMS)
    assert f"amount={missing}" in sms.body


def test_a_short_wallet_is_told_once_a_period_and_renews_once_topped_up(app):
    user, card = owned_card()
    rule_for(user, card)
    set_figures(card.id, left=0)

    trigger(card)
    trigger(card)  # the same period: no second message
    assert len(messages()) == 2
    assert len(renewals(card.id)) == 1

    fund(user.id, PRICE)
    tasks.renew_due_cards()  # the periodic check finds the rule still due

    outcomes = [r.outcome for r in renewals(card.id)]
    assert outcomes == [RenewalOutcome.INSUFFICIENT_FUNDS, RenewalOutcome.RENEWED]
    assert balance(user.id) == 0
    assert [m.kind for m in messages()][2:] == ["autorenew_receipt", "autorenew_receipt"]


def test_the_monthly_cap_stops_renewals_without_charging(app):
    user, card = owned_card()
    rule_for(user, card, monthly_cap=1)
    fund(user.id, 2000)
    set_figures(card.id, left=0)
    trigger(card)
    deliver_all(card.id)
    set_figures(card.id, left=0)

    trigger(card)
    trigger(card)

    assert [r.outcome for r in renewals(card.id)] == [
        RenewalOutcome.RENEWED,
        RenewalOutcome.CAP_REACHED,
    ]
    assert balance(user.id) == 2000 - PRICE, "nothing charged past the cap"
    assert len(renewal_entries(user.id)) == 1
    capped = [m for m in messages() if m.kind == "autorenew_cap_reached"]
    assert sorted(m.channel for m in capped) == [Channel.EMAIL, Channel.SMS]


@pytest.mark.parametrize("problem", ["card_suspended", "pack_not_sold"])
def test_a_suspended_card_or_a_pack_off_sale_charges_nothing_and_says_why(app, problem):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 2000)
    set_figures(card.id, left=0)
    if problem == "card_suspended":
        card_services.set_card_status(card.id, CardStatus.SUSPENDED)
    else:
        catalog_services.set_product_active(rule.product_id, False)

    assert autorenew.renew(rule.id).outcome == RenewalOutcome.FAILED
    assert autorenew.renew(rule.id).skipped == "told", "told once a period"

    assert [r.reason for r in renewals(card.id)] == [problem]
    assert balance(user.id) == 2000
    assert renewal_entries(user.id) == [] and auto_topups(card.id) == []
    assert len(messages("autorenew_failed")) == 2, "one e-mail and one SMS"


@pytest.mark.parametrize(
    ("trigger_name", "figures", "due"),
    [
        ("used_up", {"left": 0}, True),
        ("used_up", {"left": 1}, False),
        ("low_data", {"left": 99}, True),
        ("low_data", {"left": 100}, False),
        ("expiring", {"left": 900, "expires_in": timedelta(hours=23)}, True),
        ("expiring", {"left": 900, "expires_in": timedelta(hours=25)}, False),
    ],
)
def test_each_trigger_is_due_by_the_cards_last_known_figures(app, trigger_name, figures, due):
    user, card = owned_card()
    rule = rule_for(user, card, trigger=trigger_name, threshold_mb=100)
    set_figures(card.id, **figures)
    db.session.refresh(card)

    assert autorenew.due(card, rule) is due
    assert (rule.id in autorenew.due_rule_ids()) is due


def test_a_new_card_without_a_pack_is_not_used_up(app):
    user = owner()
    card = make_card(owner=user)
    rule = rule_for(user, card)
    assert not autorenew.due(card, rule)


def test_pause_and_cancel_stop_renewals_and_resume_starts_them_again(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 2000)
    set_figures(card.id, left=0)

    autorenew.change_status(user.id, card.id, "pause")
    trigger(card)
    assert tasks.renew_due_cards() is None and renewals(card.id) == []
    assert autorenew.renew(rule.id).skipped == "not_active"

    autorenew.change_status(user.id, card.id, "resume")
    trigger(card)
    assert len(renewals(card.id)) == 1

    deliver_all(card.id)
    set_figures(card.id, left=0)
    autorenew.change_status(user.id, card.id, "cancel")
    trigger(card)
    assert autorenew.renew(rule.id).skipped == "not_active"
    assert len(renewals(card.id)) == 1
    assert balance(user.id) == 2000 - PRICE
    with pytest.raises(autorenew.RuleNotFound):
        autorenew.change_status(user.id, card.id, "pause")


def test_a_changed_pack_is_the_one_the_next_renewal_buys(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    bigger = make_product(price=800, data_mb=PACK_MB * 2)
    autorenew.save_rule(user.id, card.id, bigger.id, "used_up")
    fund(user.id, 1000)
    set_figures(card.id, left=0)

    trigger(card)

    (renewal,) = renewals(card.id)
    assert (renewal.product_id, renewal.amount, renewal.rule_id) == (bigger.id, 800, rule.id)
    assert auto_topups(card.id)[0].data_mb == PACK_MB * 2
    assert balance(user.id) == 200


def test_a_pack_priced_in_another_currency_is_paid_from_that_wallet(app):
    user, card = owned_card()
    baht = make_product(price=15_000, currency="THB")
    rule_for(user, card, product=baht)
    fund(user.id, 5000, "USD")
    fund(user.id, 20_000, "THB")
    set_figures(card.id, left=0)

    trigger(card)

    assert (balance(user.id, "USD"), balance(user.id, "THB")) == (5000, 5000)


def test_only_the_cards_owning_customer_may_set_up_its_rule(app):
    user, card = owned_card()
    stranger = make_user()
    product = make_product()
    with pytest.raises(autorenew.NotCardOwner):
        autorenew.save_rule(stranger.id, card.id, product.id, "used_up")
    admin = make_user("admin")
    with pytest.raises(autorenew.NotCardOwner):
        autorenew.save_rule(admin.id, card.id, product.id, "used_up")


@pytest.mark.parametrize(
    ("choice", "reason"),
    [
        ({"trigger": "sometimes"}, "trigger"),
        ({"trigger": "low_data"}, "threshold"),
        ({"trigger": "low_data", "threshold_mb": 0}, "threshold"),
        ({"monthly_cap": 0}, "cap"),
        ({"monthly_cap": 101}, "cap"),
        ({"product": "off-sale"}, "pack"),
    ],
)
def test_a_choice_that_cannot_be_kept_is_refused_with_its_reason(app, choice, reason):
    choice = dict(choice)  # shared by both backends' runs
    user, card = owned_card()
    product = make_product()
    if choice.pop("product", None):
        catalog_services.set_product_active(product.id, False)
    trigger_name = choice.pop("trigger", "used_up")
    with pytest.raises(autorenew.InvalidRule) as refused:
        autorenew.save_rule(user.id, card.id, product.id, trigger_name, **choice)
    assert refused.value.reason == reason
    assert autorenew.rule_for_card(card.id) is None


def test_a_card_given_up_by_its_owner_is_not_renewed(app):
    user, card = owned_card()
    rule = rule_for(user, card)
    fund(user.id, 2000)
    set_figures(card.id, left=0)
    db.session.execute(
        update(card.__class__).where(card.__class__.id == card.id).values(owner_id=None)
    )
    db.session.commit()

    assert autorenew.renew(rule.id).skipped == "not_owner"
    assert rule.id not in autorenew.due_rule_ids()
    assert balance(user.id) == 2000


def test_the_rule_status_after_cancel_and_set_up_again_is_active(app):
    user, card = owned_card()
    rule_for(user, card)
    autorenew.change_status(user.id, card.id, "cancel")
    rule = rule_for(user, card)
    assert rule.status == RuleStatus.ACTIVE
    with pytest.raises(autorenew.InvalidRule):
        autorenew.change_status(user.id, card.id, "resume")


def test_a_threshold_the_pack_cannot_lift_the_card_above_never_triggers(app):
    """A pack whose data shrank below the rule's threshold would renew again at once: never."""
    user, card = owned_card()
    pack = make_product(price=PRICE, data_mb=1024)
    rule = rule_for(user, card, product=pack, trigger="low_data", threshold_mb=500)
    fund(user.id, 10 * PRICE)
    set_figures(card.id, left=100)
    assert autorenew.due(db.session.get(type(card), card.id), rule)
    assert autorenew.due_rule_ids() == [rule.id]

    catalog_services.get_product_by_sku(pack.sku).data_mb = 400
    db.session.commit()

    db.session.expire_all()
    assert not autorenew.due(db.session.get(type(card), card.id), autorenew.rule_for_card(card.id))
    assert autorenew.due_rule_ids() == []
    assert autorenew.renew(rule.id).outcome is None
    assert balance(user.id) == 10 * PRICE
