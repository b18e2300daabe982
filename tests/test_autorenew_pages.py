"""Auto-renew pages: the owner's section of a card, the admin's list, the counter's view."""

import re

import pytest

from shop.audit.services import Actor
from shop.autorenew import services as autorenew
from shop.autorenew.models import RuleStatus
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.storefront import saved_cards
from tests.autorenew_helpers import owned_card, rule_for, set_figures
from tests.customer_wallet_helpers import fund
from tests.factories import PASSWORD, make_product, make_user


@pytest.fixture
def customer(client):
    """A logged-in customer who saved a card with one delivered pack on it."""
    user, card = owned_card()
    saved = saved_cards.save_card(user.id, card.number, "Travel SIM", Actor.for_user(user))
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return user, card, saved.id


def page(response) -> str:
    return response.get_data(as_text=True)


def set_up(client, card, product, **fields):
    data = {"product_id": product.id, "trigger": "used_up", **fields}
    return client.post(f"/account/auto-renew/{card.id}", data=data)


def test_the_card_page_offers_auto_renew_and_the_owner_sets_it_up(client, customer):
    user, card, saved_id = customer
    pack = make_product(name="Asia 2 GB", price=450)
    html = page(client.get(f"/account/cards/{saved_id}"))
    assert "Auto-renew" in html and "Set up auto-renew" in html
    assert f'action="/account/auto-renew/{card.id}"' in html

    response = set_up(
        client,
        card,
        pack,
        trigger="low_data",
        threshold_mb="200",
        monthly_cap="3",
        next=f"/account/cards/{saved_id}",
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/account/cards/{saved_id}")
    rule = autorenew.rule_for_card(card.id)
    assert (rule.product_id, rule.trigger.value, rule.threshold_mb, rule.monthly_cap) == (
        pack.id,
        "low_data",
        200,
        3,
    )
    html = page(client.get(f"/account/cards/{saved_id}"))
    assert "Asia 2 GB" in html and "less than 200 MB" in html and "0 of 3 this month" in html
    assert "Pause" in html and "Cancel auto-renew" in html
    assert "Your wallet holds less than the pack costs" in html


def test_an_open_redirect_through_next_goes_to_the_auto_renew_page(client, customer):
    _, card, _ = customer
    response = set_up(client, card, make_product(), next="https://evil.example/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/account/auto-renew/{card.id}")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"trigger": "low_data"}, "Type how many MB left should start a renewal"),
        ({"trigger": "low_data", "threshold_mb": "0"}, "Choose between 1 and 100000 MB."),
        ({"monthly_cap": "0"}, "Choose between 1 and 100."),
        ({"monthly_cap": "many"}, "Not a valid integer value."),
        ({"trigger": "whenever"}, "Not a valid choice"),
        ({"product": "off-sale"}, "Choose a pack that is on sale."),
        ({"product_id": "99999999999999999999"}, "Choose a pack that is on sale."),
        # The pack holds 1024 MB: a card below 1024 MB would still be below it after renewing.
        ({"trigger": "low_data", "threshold_mb": "1024"}, "Choose fewer MB than the pack holds"),
    ],
)
def test_bad_choices_are_refused_with_a_message(client, customer, fields, message):
    _, card, _ = customer
    fields = dict(fields)
    pack = make_product()
    if fields.pop("product", None):
        catalog_services.set_product_active(pack.id, False)

    response = set_up(client, card, pack, **fields)

    assert response.status_code == 422
    assert message in page(response)
    assert autorenew.rule_for_card(card.id) is None


def test_pause_resume_and_cancel_from_the_page(client, customer):
    user, card, saved_id = customer
    rule_for(user, card)
    back = {"next": f"/account/cards/{saved_id}"}
    base = f"/account/auto-renew/{card.id}"

    assert client.post(f"{base}/pause", data=back).status_code == 303
    assert autorenew.rule_for_card(card.id).status == RuleStatus.PAUSED
    assert "Paused" in page(client.get(f"/account/cards/{saved_id}"))
    refused = client.post(f"{base}/pause", data=back)
    assert refused.status_code == 409 and "This change is not possible now." in page(refused)
    assert client.post(f"{base}/resume", data=back).status_code == 303
    db.session.rollback()
    assert autorenew.rule_for_card(card.id).status == RuleStatus.ACTIVE
    assert client.post(f"{base}/cancel", data=back).status_code == 303
    db.session.rollback()
    assert autorenew.rule_for_card(card.id).status == RuleStatus.CANCELLED
    assert "Set up auto-renew" in page(client.get(f"/account/cards/{saved_id}"))
    assert client.post(f"{base}/stop", data=back).status_code == 404


def test_the_renewals_are_listed_with_their_outcome_and_reason(client, customer):
    user, card, saved_id = customer
    rule = rule_for(user, card)
    set_figures(card.id, left=0)
    autorenew.renew(rule.id)  # the wallet is empty
    fund(user.id, 1000)
    autorenew.renew(rule.id)

    html = page(client.get(f"/account/cards/{saved_id}"))

    assert "Not enough money in the wallet: The wallet held less than the pack" in html
    assert "Renewed" in html and "$5.00" in html


def test_another_customer_cannot_see_or_change_the_cards_auto_renew(client, customer, login):
    owner_user, card, _ = customer
    rule_for(owner_user, card)
    client.post("/logout")
    login("customer")
    base = f"/account/auto-renew/{card.id}"

    assert client.get(base).status_code == 404
    assert set_up(client, card, make_product()).status_code == 404
    assert client.post(f"{base}/cancel").status_code == 404
    assert client.get("/account/auto-renew/999999").status_code == 404
    db.session.rollback()
    assert autorenew.rule_for_card(card.id).status == RuleStatus.ACTIVE


def test_an_admin_cannot_change_a_customers_auto_renew_from_the_owners_page(
    client, customer, login
):
    owner_user, card, _ = customer
    rule_for(owner_user, card)
    client.post("/logout")
    login("admin")
    assert client.post(f"/account/auto-renew/{card.id}/pause").status_code == 404


def test_the_admin_lists_every_rule_and_the_failed_renewals(client, customer, login):
    user, card, _ = customer
    rule = rule_for(user, card, product=make_product(name="Europe 1 GB"))
    set_figures(card.id, left=0)
    autorenew.renew(rule.id)
    client.post("/logout")
    login("admin")

    assert "/admin/auto-renew" in page(client.get("/admin/"))
    html = page(client.get("/admin/auto-renew"))

    assert card.number in html and user.email in html and "Europe 1 GB" in html
    assert "Not enough money in the wallet" in html
    assert "The wallet held less than the pack" in html


def test_only_the_admin_sees_the_list_of_rules(client, login):
    login("customer")
    assert client.get("/admin/auto-renew").status_code == 403


def test_the_counter_sees_whether_a_card_has_auto_renew_and_cannot_change_it(
    client, customer, login
):
    user, card, _ = customer
    rule_for(user, card, product=make_product(name="Asia 5 GB"))
    client.post("/logout")
    login("agent_staff")

    assert 'action="/counter/cards"' in page(client.get("/counter"))
    html = page(client.get("/counter/cards", query_string={"number": card.number}))

    assert "Auto-renew" in html and "Asia 5 GB" in html and "Active" in html
    assert "/account/auto-renew" not in html
    assert 'method="post"' not in html.split("<main", 1)[-1]
    autorenew.change_status(user.id, card.id, "pause")
    assert "Paused" in page(client.get("/counter/cards", query_string={"number": card.number}))


def test_the_counter_says_when_a_card_has_no_auto_renew_or_is_unknown(client, login):
    _, card = owned_card()
    login("agent_staff")
    html = page(client.get("/counter/cards", query_string={"number": card.number}))
    assert "This card has no auto-renew." in html
    unknown = client.get("/counter/cards", query_string={"number": "12"})
    assert unknown.status_code == 422


def test_the_auto_renew_section_speaks_chinese(client, customer):
    user, card, saved_id = customer
    rule_for(user, card)
    assert client.get("/lang/zh_Hans_CN").status_code == 302

    html = page(client.get(f"/account/cards/{saved_id}"))

    assert "自动续订" in html and "暂停" in html and "流量用完时" in html


def test_a_failure_message_is_in_the_owners_language(app):
    from tests.autorenew_helpers import messages, owner

    user, card = owned_card(owner(locale="zh_Hans_CN"))
    rule = rule_for(user, card)
    set_figures(card.id, left=0)
    autorenew.renew(rule.id)
    mail = next(m for m in messages() if m.channel.value == "email")
    assert "钱包" in mail.body and "/account/wallet/top-up?currency=USD&amount=500" in mail.body


def test_a_customer_without_a_card_of_theirs_has_nothing_to_set_up(client, login):
    login("customer")
    other = make_user()
    _, card = owned_card(other)
    assert client.get(f"/account/auto-renew/{card.id}").status_code == 404


def test_the_demo_customers_card_has_an_active_auto_renew_paid_from_a_funded_wallet(app):
    from shop.autorenew.models import RenewalRule
    from shop.demo import load_demo_data
    from shop.wallet import services as wallets

    load_demo_data()
    load_demo_data()  # twice: nothing new

    (rule,) = db.session.execute(db.select(RenewalRule)).scalars().all()
    assert (rule.status, rule.trigger.value, rule.threshold_mb) == (
        RuleStatus.ACTIVE,
        "low_data",
        500,
    )
    assert rule.user.email == "customer@demo.shop" and rule.card.owner_id == rule.user_id
    held = wallets.find_wallet(rule.user_id, rule.product.currency).balance
    assert held == 7500 and held >= rule.product.price  # the demo wallet pays three renewals
    db.session.refresh(rule.card)
    assert not autorenew.due(rule.card, rule), "the demo card has data to spare"


def test_a_card_given_up_shows_its_next_owner_nothing_of_the_old_owners_rule(
    client, customer, login
):
    user, card, saved_id = customer
    fund(user, 98765)
    assert set_up(client, card, make_product(name="Old owner's pack")).status_code == 303
    saved_cards.remove_saved_card(db.session.get(saved_cards.SavedCard, saved_id), Actor())
    client.post("/logout")
    new_owner = login("customer")
    saved = saved_cards.save_card(new_owner.id, card.number, "Second-hand", Actor())

    html = page(client.get(f"/account/cards/{saved.id}"))
    assert "987.65" not in html and "Old owner's pack" not in html
    assert "Set up auto-renew" in html
    refused = client.post(f"/account/auto-renew/{card.id}/pause")
    assert refused.status_code == 409 and "This card has no auto-renew." in page(refused)
    assert autorenew.rule_for_card(card.id).status == RuleStatus.ACTIVE  # the old rule, untouched

    assert set_up(client, card, make_product(name="New owner's pack")).status_code == 303
    rule = autorenew.rule_for_card(card.id)
    assert (rule.user_id, rule.status, rule.product.name) == (
        new_owner.id,
        RuleStatus.ACTIVE,
        "New owner's pack",
    )


def test_the_auto_renew_page_shows_the_rule_in_its_form(client, customer):
    """Changing one choice must not silently change the others: the form starts as the rule."""
    _, card, _ = customer
    make_product(name="Another pack")
    pack = make_product(name="Chosen pack", data_mb=2048)
    fields = {"trigger": "low_data", "threshold_mb": "300", "monthly_cap": "4"}
    assert set_up(client, card, pack, **fields).status_code == 303

    html = page(client.get(f"/account/auto-renew/{card.id}"))

    assert f'<option selected value="{pack.id}">Chosen pack' in html
    assert '<option selected value="low_data">' in html
    assert re.search(r'<input[^>]*id="threshold_mb"[^>]*value="300"', html)
    assert re.search(r'<input[^>]*id="monthly_cap"[^>]*value="4"', html)
