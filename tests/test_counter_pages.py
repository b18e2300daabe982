"""The counter screen of an agent's shop: selling, printing, redeeming, topping up, voiding.

Every sale is paid out of the shop's float at its wholesale discount; a sale the float cannot pay
for issues nothing. Staff only ever reach their own shop's vouchers and sales: another shop's
objects answer 404 and stay exactly as they were.
"""

import io
import re

import pypdf
import pytest
from sqlalchemy import func, select

from shop.agents import sales
from shop.agents.ledger import ledger_sum
from shop.agents.models import Agent, AgentStatus, ApiKey, LedgerEntry, LedgerKind
from shop.agents.services import create_api_key, credit_agent, set_agent_status
from shop.audit.models import AuditEvent
from shop.audit.services import Actor
from shop.auth.models import User
from shop.cards.models import Card, TopUp, TopUpSource
from shop.catalog import services as catalog_services
from shop.extensions import db
from shop.vouchers.batches import generate_batch
from shop.vouchers.models import Voucher, VoucherStatus
from shop.vouchers.pins import format_pin
from shop.vouchers.services import reveal_pin
from tests.agents_helpers import auth
from tests.factories import PASSWORD, iccid, make_agent, make_card, make_product, make_user
from tests.vouchers_helpers import pin_spellings

SKU = "ASIA-10GB"
PRICE = 1500
#: What a shop with a 10 % discount pays for one ASIA-10GB voucher.
UNIT_COST = 1350
OPENING_FLOAT = 50_000


# --- helpers --------------------------------------------------------------------------------


def fresh():
    """Forget what the test's session loaded, so the next read sees what requests committed."""
    db.session.rollback()
    db.session.expire_all()


def client_of(app, user):
    """Return a new browser logged in as ``user``."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def shop_with_float(balance=OPENING_FLOAT, **kwargs) -> Agent:
    agent = make_agent(discount_bps=1000, **kwargs)
    if balance:
        credit_agent(agent.code, balance, note="opening float")
    return agent


def vouchers_of(agent) -> list[Voucher]:
    fresh()
    return list(
        db.session.execute(
            select(Voucher).filter_by(agent_id=agent.id).order_by(Voucher.serial)
        ).scalars()
    )


def ledger_of(agent) -> list[LedgerEntry]:
    fresh()
    return list(
        db.session.execute(
            select(LedgerEntry).filter_by(agent_id=agent.id).order_by(LedgerEntry.id)
        ).scalars()
    )


def balance_of(agent) -> int:
    """Return the agent's balance, checking it equals the sum of its ledger (invariant 3)."""
    fresh()
    balance = db.session.get(Agent, agent.id).balance
    assert balance == ledger_sum(agent.id)
    return balance


def audit_events(action: str) -> list[AuditEvent]:
    fresh()
    return list(db.session.execute(select(AuditEvent).filter_by(action=action)).scalars())


def pdf_text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    return "\n".join(page.extract_text() for page in reader.pages)


def sell_at_counter(client, quantity=1, sku=SKU):
    return client.post("/counter/sell", data={"sku": sku, "quantity": quantity})


def sold_batch_id(client, quantity=1) -> int:
    response = sell_at_counter(client, quantity)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/counter/batches/(\d+)\?new=1", response.location)
    assert match, response.location
    return int(match.group(1))


def stock_voucher(pack, agent):
    """Return one pre-printed, not yet sold voucher of ``agent``, with its PIN."""
    return generate_batch(pack, 1, agent_id=agent.id, inactive=True, keep_pins=True).vouchers[0]


def follow(client, response):
    """Follow a redirect by hand (the isolated test client runs each request on its own)."""
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.location)


def wrong_check_digit(pin: str) -> str:
    return pin[:-1] + str((int(pin[-1]) + 1) % 10)


@pytest.fixture
def pack(app):
    return make_product(sku=SKU, name="Asia 10 GB / 30 days", price=PRICE, data_mb=10_240)


@pytest.fixture
def shop(app):
    return shop_with_float()


@pytest.fixture
def staff(login, shop):
    return login("agent_staff", agent=shop)


# --- the counter screen ---------------------------------------------------------------------


def test_counter_shows_the_float_and_sells_only_active_packs(client, pack, shop, staff):
    retired = make_product(sku="OLD-PACK", name="Retired pack")
    catalog_services.set_product_active(retired.id, False)

    response = client.get("/counter")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "$500.00" in page
    assert 'action="/counter/sell"' in page
    assert f'value="{SKU}"' in page and "Asia 10 GB / 30 days" in page
    assert "OLD-PACK" not in page
    assert "The float is low" not in page


def test_selling_debits_the_float_and_opens_the_sale_to_print(client, pack, shop, staff):
    batch_id = sold_batch_id(client, quantity=3)

    vouchers = vouchers_of(shop)
    assert len(vouchers) == 3
    assert {v.batch_id for v in vouchers} == {batch_id}
    assert all(v.status == VoucherStatus.ACTIVE for v in vouchers)
    assert all(v.sold_by_id == staff.id for v in vouchers)
    assert balance_of(shop) == OPENING_FLOAT - 3 * UNIT_COST
    sale = ledger_of(shop)[-1]
    assert (sale.kind, sale.amount, sale.user_id) == (LedgerKind.SALE, -3 * UNIT_COST, staff.id)

    response = client.get(f"/counter/batches/{batch_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for voucher in vouchers:
        assert voucher.serial in page
        for spelling in pin_spellings(reveal_pin(voucher)):
            assert spelling not in page


@pytest.mark.parametrize("layout", ["receipt", "a4"])
def test_printing_a_sale_gives_a_pdf_with_every_pin_and_is_audited(
    client, pack, shop, staff, layout
):
    batch_id = sold_batch_id(client, quantity=2)

    text = pdf_text(client.get(f"/counter/batches/{batch_id}.pdf?format={layout}"))

    for voucher in vouchers_of(shop):
        assert format_pin(reveal_pin(voucher)) in text
        assert voucher.serial in text
    [event] = audit_events("batch.printed")
    assert event.object_id == str(batch_id)
    assert event.actor_id == staff.id
    assert event.agent_id == shop.id
    assert event.details["format"] == layout


#: A Chinese browser; the counter's PDF of two vouchers has this many pages in each layout.
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
PAGES_OF_TWO = {"receipt": 2, "a4": 1}
#: The English labels of a voucher; a Chinese print has none of them (its redeem help is
#: printed in English too, after the Chinese, for a traveller who reads no Chinese).
ENGLISH_ONLY_LABELS = ("Serial", "Redeem by", "Coverage:", "after redemption")


def chinese_sale_pdf_pages(client, layout: str) -> list[str]:
    """Sell two vouchers and print them from a Chinese browser; return each page's text.

    Whitespace is taken out: pypdf puts line breaks between Chinese and Latin runs of a line.
    """
    batch_id = sold_batch_id(client, quantity=2)
    response = client.get(f"/counter/batches/{batch_id}.pdf?format={layout}", headers=CHINESE)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = pypdf.PdfReader(io.BytesIO(response.data)).pages
    return ["".join(page.extract_text().split()) for page in pages]


@pytest.mark.parametrize("layout", ["receipt", "a4"])
def test_a_sale_printed_from_a_chinese_browser_is_in_chinese_for_every_voucher(
    client, pack, shop, staff, layout
):
    pages = chinese_sale_pdf_pages(client, layout)

    assert len(pages) == PAGES_OF_TWO[layout]
    text = "".join(pages)
    for voucher in vouchers_of(shop):
        assert format_pin(reveal_pin(voucher)).replace(" ", "") in text
    assert text.count("每个PIN码仅可使用一次") == 2  # the footer of each voucher
    assert text.count("序列号") == 2 and text.count("兑换截止") == 2
    assert text.count("Oneuseonly.") == 2  # the English line of the redeem help, after the Chinese
    assert text.index("每个PIN码仅可使用一次") < text.index("Oneuseonly.")
    if layout == "receipt":
        assert all("兑换方法" in page and "流量立即到账" in page for page in pages)
        assert all(page.index("兑换方法") < page.index("Howtoredeem:") for page in pages)
    assert [label for label in ENGLISH_ONLY_LABELS if label.replace(" ", "") in text] == []


def test_a_sale_the_float_cannot_pay_issues_nothing(client, pack, login):
    poor = shop_with_float(balance=UNIT_COST * 2)
    login("agent_staff", agent=poor)

    response = sell_at_counter(client, quantity=3)

    assert response.status_code == 409
    assert "The float cannot pay for this sale" in response.get_data(as_text=True)
    assert vouchers_of(poor) == []
    assert [entry.kind for entry in ledger_of(poor)] == [LedgerKind.CREDIT_PURCHASE]
    assert balance_of(poor) == UNIT_COST * 2


def test_staff_redeem_a_customers_pin_onto_their_card(client, pack, shop, staff):
    batch_id = sold_batch_id(client)
    [voucher] = vouchers_of(shop)
    card = make_card()
    before = card.data_balance_mb

    response = client.post(
        "/counter/redeem", data={"pin": format_pin(reveal_pin(voucher)), "card": card.number}
    )

    assert response.status_code == 302
    assert response.location == "/counter"
    fresh()
    assert db.session.get(Card, card.id).data_balance_mb == before + 10_240
    assert db.session.get(Voucher, voucher.id).status == VoucherStatus.REDEEMED
    [topup] = db.session.execute(select(TopUp).filter_by(card_id=card.id)).scalars().all()
    assert (topup.channel, topup.agent_id) == ("counter", shop.id)
    assert batch_id == voucher.batch_id


def test_a_mistyped_pin_at_the_counter_is_explained_and_changes_nothing(client, pack, shop, staff):
    sold_batch_id(client)
    [voucher] = vouchers_of(shop)
    card = make_card()
    before = card.data_balance_mb

    response = client.post(
        "/counter/redeem", data={"pin": wrong_check_digit(reveal_pin(voucher)), "card": card.number}
    )

    assert 400 <= response.status_code < 500
    assert "the last one is a check digit" in response.get_data(as_text=True)
    fresh()
    assert db.session.get(Card, card.id).data_balance_mb == before
    assert db.session.get(Voucher, voucher.id).status == VoucherStatus.ACTIVE
    assert db.session.execute(select(func.count()).select_from(TopUp)).scalar_one() == 0


def test_staff_top_a_card_up_directly_from_the_float(client, pack, shop, staff):
    card = make_card()
    before = card.data_balance_mb

    response = client.post("/counter/topup", data={"sku": SKU, "card": card.number})

    assert response.status_code == 302
    fresh()
    assert db.session.get(Card, card.id).data_balance_mb == before + 10_240
    [topup] = db.session.execute(select(TopUp).filter_by(card_id=card.id)).scalars().all()
    assert (topup.source, topup.channel, topup.agent_id) == (
        TopUpSource.COUNTER,
        "counter",
        shop.id,
    )
    assert balance_of(shop) == OPENING_FLOAT - UNIT_COST
    assert ledger_of(shop)[-1].reference == f"topup:{topup.id}"
    assert vouchers_of(shop) == []


def test_topping_up_an_unknown_card_is_explained_and_charges_nothing(client, pack, shop, staff):
    response = client.post("/counter/topup", data={"sku": SKU, "card": iccid(987_654)})

    assert 400 <= response.status_code < 500
    assert "No card with this number is registered" in response.get_data(as_text=True)
    assert balance_of(shop) == OPENING_FLOAT
    assert len(ledger_of(shop)) == 1
    assert db.session.execute(select(func.count()).select_from(TopUp)).scalar_one() == 0


def test_looking_up_a_serial_opens_the_voucher(client, pack, shop, staff):
    sold_batch_id(client)
    [voucher] = vouchers_of(shop)

    response = client.get(f"/counter/vouchers?serial={voucher.serial}")

    assert response.status_code == 302
    assert response.location == f"/counter/vouchers/{voucher.serial}"
    page = client.get(response.location)
    assert page.status_code == 200
    assert voucher.serial in page.get_data(as_text=True)
    assert format_pin(reveal_pin(voucher)) not in page.get_data(as_text=True)


def test_reprinting_a_voucher_gives_its_pin_and_is_audited(client, pack, shop, staff):
    sold_batch_id(client, quantity=2)
    first, second = vouchers_of(shop)

    text = pdf_text(client.post(f"/counter/vouchers/{first.serial}/reprint"))

    assert format_pin(reveal_pin(first)) in text
    assert format_pin(reveal_pin(second)) not in text
    [event] = audit_events("voucher.reprinted")
    assert (event.object_id, event.actor_id, event.agent_id) == (first.serial, staff.id, shop.id)


def test_voiding_within_the_window_refunds_the_float(client, pack, shop, staff):
    sold_batch_id(client)
    [voucher] = vouchers_of(shop)

    response = follow(client, client.post(f"/counter/vouchers/{voucher.serial}/void"))

    assert response.status_code == 200
    assert "is void" in response.get_data(as_text=True)
    fresh()
    assert db.session.get(Voucher, voucher.id).status == VoucherStatus.VOID
    refund = ledger_of(shop)[-1]
    assert (refund.kind, refund.amount, refund.reference) == (
        LedgerKind.VOID_REFUND,
        UNIT_COST,
        voucher.serial,
    )
    assert balance_of(shop) == OPENING_FLOAT


def test_voiding_after_the_window_is_refused(app, client, pack, shop, staff):
    sold_batch_id(client)
    [voucher] = vouchers_of(shop)
    app.config["VOID_WINDOW_HOURS"] = 0

    response = follow(client, client.post(f"/counter/vouchers/{voucher.serial}/void"))

    assert "The void window for this voucher has passed." in response.get_data(as_text=True)
    fresh()
    assert db.session.get(Voucher, voucher.id).status == VoucherStatus.ACTIVE
    assert [entry.kind for entry in ledger_of(shop)] == [
        LedgerKind.CREDIT_PURCHASE,
        LedgerKind.SALE,
    ]
    assert balance_of(shop) == OPENING_FLOAT - UNIT_COST


def test_selling_a_pre_printed_voucher_activates_it_and_debits_its_cost(client, pack, shop, staff):
    stock = stock_voucher(pack, shop)
    assert stock.status == VoucherStatus.INACTIVE

    response = follow(client, client.post(f"/counter/vouchers/{stock.serial}/activate"))

    assert response.status_code == 200
    assert "can be redeemed now" in response.get_data(as_text=True)
    fresh()
    voucher = db.session.get(Voucher, stock.id)
    assert voucher.status == VoucherStatus.ACTIVE
    assert voucher.sold_by_id == staff.id
    assert balance_of(shop) == OPENING_FLOAT - UNIT_COST
    assert ledger_of(shop)[-1].reference == stock.serial


def test_a_pre_printed_voucher_the_float_cannot_pay_stays_unsold(client, pack, login):
    empty = shop_with_float(balance=0, credit_limit=0)
    login("agent_staff", agent=empty)
    stock = stock_voucher(pack, empty)

    response = follow(client, client.post(f"/counter/vouchers/{stock.serial}/activate"))

    assert "The float cannot pay for this voucher" in response.get_data(as_text=True)
    fresh()
    assert db.session.get(Voucher, stock.id).status == VoucherStatus.INACTIVE
    assert ledger_of(empty) == []
    assert balance_of(empty) == 0


def test_your_sales_today_lists_only_this_staff_members_sales(app, client, pack, shop, staff):
    colleague = make_user("agent_staff", agent=shop)
    sold_batch_id(client_of(app, colleague))
    theirs = {v.serial for v in vouchers_of(shop)}
    sold_batch_id(client, quantity=2)
    mine = {v.serial for v in vouchers_of(shop)} - theirs

    page = client.get("/counter").get_data(as_text=True)

    assert "Your sales today" in page
    assert all(serial in page for serial in mine)
    assert not any(serial in page for serial in theirs)
    assert "2 vouchers, $30.00 face value." in page


def test_the_low_float_banner_shows_below_the_threshold(app, client, pack, login):
    app.config["LOW_FLOAT_THRESHOLD"] = 10_000
    low = shop_with_float(balance=9_999)
    login("agent_staff", agent=low)

    assert "The float is low" in client.get("/counter").get_data(as_text=True)

    credit_agent(low.code, 1)
    assert "The float is low" not in client.get("/counter").get_data(as_text=True)


# --- one shop never reaches another's objects -----------------------------------------------


@pytest.fixture
def shop_a(app, pack):
    """Shop A with one sale (an active voucher) and one pre-printed voucher in stock."""
    agent = shop_with_float()
    seller = make_user("agent_staff", agent=agent)
    sale = sales.sell_vouchers(agent.id, SKU, 1, Actor.for_user(seller))
    stock = stock_voucher(pack, agent)
    return agent, sale.batch.id, sale.vouchers[0].serial, stock.serial


def snapshot(agent):
    """Everything of an agent another shop must not be able to change."""
    return (
        [(v.serial, v.status, v.sold_by_id, v.redeemed_at) for v in vouchers_of(agent)],
        [(e.id, e.amount) for e in ledger_of(agent)],
        balance_of(agent),
        len(audit_events("batch.printed")) + len(audit_events("voucher.reprinted")),
    )


@pytest.mark.parametrize(
    "method, url",
    [
        ("GET", "/counter/batches/{batch}"),
        ("GET", "/counter/batches/{batch}.pdf?format=receipt"),
        ("GET", "/counter/batches/{batch}.pdf?format=a4"),
        ("GET", "/counter/vouchers/{sold}"),
        ("GET", "/counter/vouchers/{stock}"),
        ("POST", "/counter/vouchers/{sold}/reprint"),
        ("POST", "/counter/vouchers/{stock}/reprint"),
        ("POST", "/counter/vouchers/{sold}/void"),
        ("POST", "/counter/vouchers/{stock}/activate"),
    ],
)
def test_staff_of_another_shop_get_404_on_every_object_of_shop_a(
    client, login, shop_a, method, url
):
    agent_a, batch, sold, stock = shop_a
    shop_b = shop_with_float()
    login("agent_staff", agent=shop_b)
    before = snapshot(agent_a)

    response = client.open(url.format(batch=batch, sold=sold, stock=stock), method=method)

    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert not any(format_pin(reveal_pin(v)) in body for v in vouchers_of(agent_a))
    assert snapshot(agent_a) == before
    assert balance_of(shop_b) == OPENING_FLOAT
    assert vouchers_of(shop_b) == []


def test_looking_up_another_shops_serial_finds_nothing(client, login, shop_a):
    agent_a, _, sold, _ = shop_a
    login("agent_staff", agent=shop_with_float())

    response = follow(client, client.get(f"/counter/vouchers?serial={sold}"))

    assert "No voucher of this shop has this serial." in response.get_data(as_text=True)
    assert f"/counter/vouchers/{sold}" not in response.get_data(as_text=True)


def test_a_manager_of_another_shop_cannot_touch_shop_as_staff_or_keys(client, login, app):
    agent_a = make_agent()
    staff_a = make_user("agent_staff", agent=agent_a)
    key_a, clear_key = create_api_key(agent_a.code, label="till A")
    login("agent_manager", agent=make_agent())

    deactivate = client.post(f"/manage/staff/{staff_a.id}/active", data={"active": "0"})
    revoke = client.post(f"/manage/keys/{key_a.id}/revoke")

    assert (deactivate.status_code, revoke.status_code) == (404, 404)
    fresh()
    assert db.session.get(User, staff_a.id).active is True
    assert db.session.get(ApiKey, key_a.id).revoked_at is None
    assert client_of(app, staff_a).get("/counter").status_code == 200
    assert app.test_client().get("/api/v1/agent", headers=auth(clear_key)).status_code == 200


@pytest.mark.parametrize("path", ["/counter", "/manage/"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.location.startswith("/login")


@pytest.mark.parametrize(
    "role, path",
    [
        ("customer", "/counter"),
        ("customer", "/manage/"),
        ("admin", "/counter"),
        ("agent_staff", "/manage/"),
        ("agent_staff", "/admin/agents"),
    ],
)
def test_roles_without_access_get_403(client, login, role, path):
    login(role)

    assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    "path", ["/counter/sell", "/counter/redeem", "/counter/topup", "/manage/staff", "/manage/keys"]
)
def test_customers_cannot_post_to_the_counter_or_manager_forms(client, login, path):
    login("customer")
    users = db.session.execute(select(func.count()).select_from(User)).scalar_one()

    response = client.post(path, data={"sku": SKU, "quantity": 1, "email": "x@example.com"})

    assert response.status_code == 403
    fresh()
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == users
    assert db.session.execute(select(func.count()).select_from(Voucher)).scalar_one() == 0


# --- a suspended shop sells nothing ---------------------------------------------------------


def test_a_suspended_shop_sells_nothing_at_the_counter(client, pack, shop, staff):
    set_agent_status(shop.code, AgentStatus.SUSPENDED)

    response = sell_at_counter(client)

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This shop is suspended and cannot sell." in page
    assert vouchers_of(shop) == []
    assert balance_of(shop) == OPENING_FLOAT
