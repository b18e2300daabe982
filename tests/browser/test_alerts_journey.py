"""A customer watches a card's data fall, gets the low-data alert and tops up from its link.

This journey needs the operator's network: it runs its own shop (gunicorn) beside the network
simulator, which posts its signed usage events to that shop, and the PayPal simulator.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from shop import create_app
from shop.cards.models import TopUp, TopUpSource
from shop.extensions import db
from simulators.network import DEMO_CARDS, NetworkSimulator
from simulators.paypal import PayPalSimulator
from tests.browser.conftest import log_in
from tests.browser.main_pages import FAILING_IMPACTS, axe_violations
from tests.conftest import make_config
from tests.factories import iccid
from tests.live_server import LiveServer

CARD = iccid(990_001)
PACK_SKU = "ASIA-1GB-7D"  # 1 GB
PHONE = "+66812345678"


def seed(url: str, instance: str, network: NetworkSimulator) -> None:
    """Migrate, load the demo data and give the demo customer a card with a 1 GB pack."""
    from flask_migrate import upgrade

    from shop.audit.services import Actor
    from shop.auth.models import User
    from shop.auth.services import find_user_by_email
    from shop.cards import services as card_services
    from shop.catalog.services import get_product_by_sku
    from shop.demo import load_demo_data
    from shop.storefront.saved_cards import save_card

    app = create_app(make_config(url, **network.shop_config()), instance_path=instance)
    with app.app_context():
        upgrade()
        load_demo_data()
        customer = find_user_by_email("customer@demo.shop")
        db.session.execute(db.update(User).where(User.id == customer.id).values(phone=PHONE))
        db.session.commit()
        actor = Actor.system("browser-tests")
        card_services.register_card(CARD, owner_id=customer.id, actor=actor)
        save_card(customer.id, CARD, "Trip SIM", actor)
        card_services.apply_pack(
            card_services.lock_card(CARD),
            card_services.PackGrant.of_product(get_product_by_sku(PACK_SKU)),
            source=TopUpSource.ADMIN,
            channel="cli",
        )
        db.session.commit()  # the network applies it at once (tasks run where they are queued)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def networked_shop(tmp_path_factory, browser):
    """A shop of its own, on the network simulator and the PayPal simulator."""
    url = f"sqlite:///{tmp_path_factory.mktemp('alerts-db') / 'shop.db'}"
    instance = str(tmp_path_factory.mktemp("alerts-instance"))
    network = NetworkSimulator(CARDS=(*DEMO_CARDS, CARD), SUSPENDED_CARDS=()).start()
    paypal = PayPalSimulator().start()
    seed(url, instance, network)
    server = LiveServer(url, workers=1, threads=8)
    server.environment = {
        "SESSION_COOKIE_SECURE": "0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PAYMENT_CODE_ENABLED": "0",
        "DEV_OUTBOX": "1",
        "SHOP_BASE_URL": server.base_url,
        **{name: str(value) for name, value in network.shop_config().items()},
        **{name: str(value) for name, value in paypal.shop_config().items()},
    }
    server.start()
    network.app.config["WEBHOOK_URL"] = f"{server.base_url}/network/events"
    paypal.webhook_url = f"{server.base_url}/payments/paypal/webhook"
    yield server, network, url, instance
    server.stop()
    network.stop()
    paypal.stop()


def shown_data_left(page) -> str:
    return page.locator("dl.facts div", has_text="Data left").locator("dd").inner_text()


def test_a_customer_sees_usage_fall_gets_the_low_data_alert_and_tops_up(browser, networked_shop):
    server, network, url, instance = networked_shop
    context = browser.new_context(base_url=server.base_url, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, "customer")

    page.goto(f"/card?number={CARD}")
    assert shown_data_left(page) == "1 GB"

    network.state.use_data(CARD, 960)  # the network reports crossing 80 % to the shop
    deadline = time.monotonic() + 15
    while shown_data_left(page) != "64 MB" and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    assert shown_data_left(page) == "64 MB"

    page.goto("/dev/outbox")
    alert = page.locator("article.outbox-message").filter(
        has_text=f"Less than 100 MB of data is left on card {CARD}"
    )
    expect(alert.first).to_be_visible()
    text_message = (
        page.locator("article.outbox-message")
        .filter(has_text=PHONE)
        .filter(has_text="Less than 100 MB")
    )
    expect(text_message).to_have_count(1)
    mail = alert.filter(has_text="customer@demo.shop")
    expect(mail).to_have_count(1)
    assert "Data left: 64 MB of 1024 MB" in mail.inner_text()
    mail.locator(f"a[href$='/checkout?card={CARD}']").click()

    expect(page.locator("main")).to_contain_text(f"Choose a pack for card {CARD}")
    page.goto(f"/packs/{PACK_SKU}")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_label("Top up my card now")).to_be_checked()
    expect(page.get_by_label("Card to top up (ICCID or phone number)")).to_have_value(CARD)
    page.get_by_role("button", name="Review order").click()
    page.get_by_role("button", name=re.compile("^Pay .* with PayPal$")).click()
    page.get_by_role("button", name="Pay now").click()  # the simulator's approval page
    page.wait_for_url(re.compile(r"/orders/WD-"))
    expect(page.locator("main")).to_contain_text("Completed")

    app = create_app(make_config(url), instance_path=instance)
    with app.app_context():
        topups = db.session.execute(
            db.select(TopUp.source).join(TopUp.card).filter_by(number=CARD).order_by(TopUp.id)
        ).scalars()
        assert list(topups) == [TopUpSource.ADMIN, TopUpSource.ORDER]
        db.session.remove()
        db.engine.dispose()
    context.close()


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_the_customer_chooses_a_cards_alerts_in_either_language(browser, networked_shop, locale):
    server, _network, url, instance = networked_shop
    context = browser.new_context(base_url=server.base_url, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, "customer")
    chinese = locale == "zh-CN"

    page.goto("/account/cards")
    page.get_by_role("link", name="Trip SIM").click()
    page.get_by_role("link", name="此卡的提醒" if chinese else "Alerts for this card").click()
    heading = f"卡 {CARD} 的提醒" if chinese else f"Alerts for card {CARD}"
    expect(page.locator("h1")).to_have_text(heading)
    assert not [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]

    page.get_by_label("流量使用达到 75%" if chinese else "Data use reaches 75%").uncheck()
    page.locator("#low_data_mb").fill("0")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".field-errors")).to_contain_text("请选择" if chinese else "Choose between")
    page.locator("#low_data_mb").fill("50")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("body")).to_contain_text(
        "提醒设置已保存" if chinese else "Alert settings saved"
    )
    expect(
        page.get_by_label("流量使用达到 75%" if chinese else "Data use reaches 75%")
    ).not_to_be_checked()
    expect(page.locator("#low_data_mb")).to_have_value("50")
    context.close()
