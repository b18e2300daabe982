"""The wallet's pages in English and Chinese; bad input answered with a message, never a 500.

The customer's balances, history and CSV; the admin's list, ledger and adjustments.
"""

import csv
import io

import pytest

from shop.audit.models import AuditEvent
from shop.auth.models import User
from shop.extensions import db
from shop.wallet.models import Wallet, WalletEntryKind
from tests.autorenew_helpers import owned_card, rule_for, set_figures
from tests.customer_wallet_helpers import balance, entries, fund, ledger_holds
from tests.factories import make_user

KEY = "00112233445566aa"


@pytest.fixture
def customer(login):
    return login("customer")


def test_the_account_menu_links_the_wallet_and_an_empty_wallet_says_so(app, client, customer):
    assert "/account/wallet" in client.get("/account").get_data(as_text=True)
    page = client.get("/account/wallet")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Your wallet is empty" in text and "/account/wallet/top-up" in text


def test_the_wallet_page_shows_each_balance_and_the_history_with_links(app, client, customer):
    fund(customer, 2500)
    wallet_id = fund(customer, 800, "CNY", reference="order:WD-0000000001")
    from shop.audit.services import Actor
    from shop.wallet import services

    services.debit(
        wallet_id,
        300,
        kind=WalletEntryKind.PURCHASE,
        reference="order:WD-0000000002",
        actor=Actor.system("test"),
        note="WD-0000000002",
    )
    db.session.commit()
    text = client.get("/account/wallet").get_data(as_text=True)
    assert "$25.00" in text and "CN¥5.00" in text
    assert "History in CNY" in text and "History in USD" in text
    assert 'href="/orders/WD-0000000002"' in text
    assert "Order paid" in text and "−CN¥3.00" in text
    assert "/account/wallet/CNY.csv" in text


def test_the_history_links_renewals_to_their_card_and_refunds_to_their_order(app, client, customer):
    from shop.audit.services import Actor
    from shop.autorenew import services as autorenew
    from shop.autorenew.models import RenewalOutcome
    from shop.wallet import services

    _user, card = owned_card(customer)
    rule = rule_for(customer, card)
    wallet_id = fund(customer, 1200)
    set_figures(card.id, left=0)
    assert autorenew.renew(rule.id).outcome == RenewalOutcome.RENEWED
    for reference, note in (("refund:WD-0000000003:k1", "WD-0000000003"), ("x:1", "by hand")):
        services.credit(
            wallet_id,
            100,
            kind=WalletEntryKind.ADJUSTMENT,
            reference=reference,
            actor=Actor.system("test"),
            note=note,
        )
    db.session.commit()

    text = client.get("/account/wallet").get_data(as_text=True)

    assert f'href="/card?number={card.number}">{card.number}</a>' in text
    assert 'href="/orders/WD-0000000003">WD-0000000003</a>' in text
    assert "<td>by hand</td>" in text


def test_the_wallet_page_in_chinese(app, client, customer):
    fund(customer, 2500)
    client.get("/lang/zh_Hans_CN")
    text = client.get("/account/wallet").get_data(as_text=True)
    assert "我的钱包" in text and "USD 记录" in text and "调整" in text
    text = client.get("/account/wallet/top-up").get_data(as_text=True)
    assert "为钱包充值" in text and "检查充值" in text


def test_the_csv_holds_every_entry_and_no_formula(app, client, customer):
    from shop.audit.services import Actor
    from shop.wallet import services

    wallet_id = fund(customer, 2500, reference="adjustment:test")
    services.debit(
        wallet_id,
        1000,
        kind=WalletEntryKind.ADJUSTMENT,
        reference="adjustment:x",
        actor=Actor.system("test"),
        note="=HYPERLINK(1)",
    )
    db.session.commit()
    response = client.get("/account/wallet/USD.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == [
        "date_utc",
        "kind",
        "amount",
        "balance_after",
        "currency",
        "reference",
        "note",
    ]
    assert [row[1:7] for row in rows[1:]] == [
        ["adjustment", "'-10.00", "15.00", "USD", "adjustment:x", "'=HYPERLINK(1)"],
        ["adjustment", "25.00", "25.00", "USD", "adjustment:test", "test money"],
    ]
    assert client.get("/account/wallet/EUR.csv").status_code == 404
    assert client.get("/account/wallet/usdx.csv").status_code == 404


def test_a_customer_never_sees_another_customers_wallet(app, client, customer, login):
    other = make_user("customer")
    fund(other, 9900)
    text = client.get("/account/wallet").get_data(as_text=True)
    assert "$99.00" not in text
    assert client.get("/account/wallet/USD.csv").status_code == 404
    wallet_id = db.session.execute(db.select(Wallet.id)).scalar_one()
    assert client.get(f"/admin/wallets/{wallet_id}").status_code in (403, 404)
    assert client.get("/admin/wallets").status_code in (403, 404)
    client.post("/logout")
    assert client.get("/account/wallet").status_code == 302


# --- the admin's pages ----------------------------------------------------------------------


@pytest.fixture
def admin(login):
    return login("admin")


def wallet_of(user, currency="USD") -> Wallet:
    db.session.rollback()
    return db.session.execute(
        db.select(Wallet).filter_by(user_id=user.id, currency=currency)
    ).scalar_one()


def adjust(client, wallet, amount, reason="Goodwill for a slow top-up", confirmed="yes", key=KEY):
    return client.post(
        f"/admin/wallets/{wallet.id}/adjust",
        data={"amount": amount, "reason": reason, "key": key, "confirmed": confirmed},
    )


def adjustments() -> list[AuditEvent]:
    db.session.rollback()
    return list(
        db.session.execute(db.select(AuditEvent).filter_by(action="wallet.adjusted")).scalars()
    )


def test_the_admin_finds_wallets_by_email(app, client, admin):
    alice = make_user("customer", email="alice@example.com")
    bob = make_user("customer", email="bob@example.com")
    fund(alice, 100)
    fund(bob, 200)
    assert "/admin/wallets" in client.get("/admin/").get_data(as_text=True)
    text = client.get("/admin/wallets?email=ALICE").get_data(as_text=True)
    assert "alice@example.com" in text and "bob@example.com" not in text
    text = client.get("/admin/wallets?email=%25").get_data(as_text=True)  # no wildcard
    assert "No wallet found." in text
    text = client.get("/admin/wallets").get_data(as_text=True)
    assert "alice@example.com" in text and "bob@example.com" in text
    client.get("/lang/zh_Hans_CN")
    assert "钱包" in client.get("/admin/wallets").get_data(as_text=True)


def test_an_adjustment_is_shown_first_then_made_once_and_audited(app, client, admin):
    customer = make_user("customer")
    fund(customer, 1000)
    wallet = wallet_of(customer)
    page = client.get(f"/admin/wallets/{wallet.id}").get_data(as_text=True)
    assert "$10.00" in page and "Adjust the balance" in page
    preview = adjust(client, wallet, "-4.00", confirmed="")
    assert preview.status_code == 200
    assert "Take $4.00 out of this wallet? It will then hold $6.00." in preview.get_data(
        as_text=True
    )
    assert balance(customer) == 1000 and adjustments() == []
    for _ in range(2):  # the confirmed form sent twice
        assert adjust(client, wallet, "-4.00").status_code == 303
    assert balance(customer) == 600
    made = entries(customer, kind=WalletEntryKind.ADJUSTMENT)
    assert [(e.amount, e.note, e.user_id) for e in made[1:]] == [
        (-400, "Goodwill for a slow top-up", admin.id)
    ]
    events = adjustments()
    assert len(events) == 1
    assert events[0].details["amount"] == -400 and events[0].details["balance"] == 600
    assert ledger_holds(customer)
    client.get("/lang/zh_Hans_CN")
    page = client.get(f"/admin/wallets/{wallet.id}").get_data(as_text=True)
    assert "调整余额" in page and "Goodwill for a slow top-up" in page


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("5.00", "", "Say why: the customer sees it."),
        ("5.00", "   ", "Say why: the customer sees it."),
        ("0", "why", "Type an amount other than zero"),
        ("abc", "why", "Type an amount other than zero"),
        ("1.001", "why", "Type an amount other than zero"),
        ("-10.01", "why", "A wallet never goes below zero: it holds $10.00."),
        ("--5.00", "why", "Type an amount other than zero"),
        ("+-5.00", "why", "Type an amount other than zero"),
        ("1000000.01", "why", "At most $1,000,000.00 in one adjustment."),
        ("99999999999999999999", "why", "At most $1,000,000.00 in one adjustment."),
    ],
)
def test_a_bad_adjustment_changes_nothing(app, client, admin, amount, reason, message):
    customer = make_user("customer")
    fund(customer, 1000)
    wallet = wallet_of(customer)
    response = adjust(client, wallet, amount, reason)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert balance(customer) == 1000 and adjustments() == []


def test_an_adjustment_taking_all_leaves_zero_and_adding_works(app, client, admin):
    customer = make_user("customer")
    fund(customer, 1000)
    wallet = wallet_of(customer)
    assert adjust(client, wallet, "-10.00").status_code == 303
    assert balance(customer) == 0
    assert adjust(client, wallet, "+7.50", key="ffeeddccbbaa0099").status_code == 303
    assert balance(customer) == 750
    assert ledger_holds(customer)


def test_the_service_refuses_below_zero_even_past_the_form(app):
    from shop.audit.services import Actor
    from shop.wallet import services

    customer = make_user("customer")
    wallet_id = fund(customer, 100)
    with pytest.raises(services.AdjustmentRefused) as refused:
        services.adjust(wallet_id, -101, "why", KEY, Actor.system("test"))
    assert refused.value.reason == "below_zero"
    with pytest.raises(services.AdjustmentRefused) as refused:
        services.adjust(wallet_id, 5, "", KEY, Actor.system("test"))
    assert refused.value.reason == "reason_missing"
    assert balance(customer) == 100


def test_unknown_wallets_and_bad_forms_are_4xx(app, client, admin):
    assert client.get("/admin/wallets/999999").status_code == 404
    assert client.post("/admin/wallets/999999/adjust").status_code == 404
    customer = make_user("customer")
    fund(customer, 100)
    wallet = wallet_of(customer)
    assert client.post(f"/admin/wallets/{wallet.id}/adjust", data={}).status_code == 422
    assert adjust(client, wallet, "1.00", key="short").status_code == 422


def test_the_demo_customer_has_a_wallet_with_history(app, runner):
    result = runner.invoke(args=["shop", "demo"])
    assert result.exit_code == 0, result.output
    customer = db.session.execute(
        db.select(User).filter_by(email="customer@demo.shop")
    ).scalar_one()
    kinds = [entry.kind for entry in entries(customer)]
    assert kinds == [WalletEntryKind.ADJUSTMENT, WalletEntryKind.PURCHASE]
    assert balance(customer) == 7500  # 80.00 credited, one 5.00 pack bought
    assert ledger_holds(customer)
    again = runner.invoke(args=["shop", "demo"])  # loading twice adds nothing
    assert again.exit_code == 0
    assert len(entries(customer)) == 2
