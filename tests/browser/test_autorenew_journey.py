"""A traveller tops up the wallet with PayPal, turns auto-renew on, and the card renews itself.

The shop runs on its own (gunicorn) beside the operator's network simulator, the PayPal
simulator and a real job worker: the network reports the card's data used up, the shop queues
the renewal, and the worker buys the pack from the wallet and delivers it to the network.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from shop import create_app
from shop.autorenew.models import Renewal, RenewalOutcome
from shop.cards.models import DeliveryStatus, TopUp, TopUpDelivery, TopUpSource
from shop.extensions import db
from shop.wallet.models import Wallet, WalletEntry, WalletEntryKind
from simulators.network import DEMO_CARDS, NetworkSimulator
from simulators.paypal import PayPalSimulator
from tests.conftest import make_config
from tests.factories import iccid
from tests.live_server import LiveServer
from tests.worker_helpers import WorkerProcess

CARD = iccid(990_002)
EMAIL = "traveller@example.com"
PASSWORD = "correct-horse-9"
PACK_SKU = "ASIA-1GB-7D"  # 1 GB, $5.00
PACK_PRICE = 500
TOP_UP = 2000


def seed(config: dict, instance: str) -> None:
    """Migrate, load the demo data and give a new customer a saved card with a 1 GB pack."""
    from flask_migrate import upgrade

    from shop.audit.services import Actor
    from shop.auth.models import Role
    from shop.auth.services import create_user
    from shop.cards import services as card_services
    from shop.catalog.services import get_product_by_sku
    from shop.demo import load_demo_data
    from shop.storefront.saved_cards import save_card

    app = create_app({**config, "JOBS_IMMEDIATE": True}, instance_path=instance)
    with app.app_context():
        upgrade()
        load_demo_data()
        customer = create_user(EMAIL, PASSWORD, Role.CUSTOMER)
        actor = Actor.system("browser-tests")
        card_services.register_card(CARD, owner_id=customer.id, actor=actor)
        save_card(customer.id, CARD, "Trip SIM", actor)
        card_services.apply_pack(
            card_services.lock_card(CARD),
            card_services.PackGrant.of_product(get_product_by_sku(PACK_SKU)),
            source=TopUpSource.ADMIN,
            channel="cli",
        )
        db.session.commit()  # delivered to the network at once: the first pack period
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def renewing_shop(tmp_path_factory, browser):
    """A shop with its own database and queue, the network and PayPal simulators, a worker."""
    folder = tmp_path_factory.mktemp("autorenew")
    url = f"sqlite:///{folder / 'shop.db'}"
    jobs_url = f"sqlite:///{folder / 'jobs.db'}"
    instance = str(tmp_path_factory.mktemp("autorenew-instance"))
    network = NetworkSimulator(CARDS=(*DEMO_CARDS, CARD), SUSPENDED_CARDS=()).start()
    paypal = PayPalSimulator().start()
    config = make_config(url, JOBS_URL=jobs_url, JOBS_IMMEDIATE=False, **network.shop_config())
    seed(config, instance)
    server = LiveServer(url, workers=1, threads=8)
    server.environment = {
        "SESSION_COOKIE_SECURE": "0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PAYMENT_CODE_ENABLED": "0",
        "DEV_OUTBOX": "1",
        "JOBS_URL": jobs_url,
        "SHOP_BASE_URL": server.base_url,
        **{name: str(value) for name, value in network.shop_config().items()},
        **{name: str(value) for name, value in paypal.shop_config().items()},
    }
    server.start()
    network.app.config["WEBHOOK_URL"] = f"{server.base_url}/network/events"
    paypal.webhook_url = f"{server.base_url}/payments/paypal/webhook"
    app = create_app(config, instance_path=instance)
    worker = WorkerProcess(
        app,
        settings=tuple(network.shop_config()),
        extra={"SHOP_BASE_URL": server.base_url, "PAYMENT_CODE_ENABLED": "0"},
    )
    yield server, network, app
    worker.stop()
    server.stop()
    network.stop()
    paypal.stop()


def wait_for(check, seconds: float = 30.0):
    """Poll ``check`` until it returns something true; return it (or the last falsy value)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_a_wallet_topped_up_with_paypal_renews_the_card_when_its_data_is_used_up(
    browser, renewing_shop
):
    server, network, app = renewing_shop
    context = browser.new_context(base_url=server.base_url, locale="en-GB")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/login")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login" not in page.url

    # Top the wallet up by $20.00 with PayPal (the simulator's approval page).
    page.goto("/account/wallet")
    expect(page.locator("h1")).to_have_text("Your wallet")
    page.goto("/account/wallet/top-up")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Amount", exact=True).fill("20.00")
    page.locator("input[name=payment_method][value=paypal]").check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/orders/WD-"))
    page.get_by_role("button", name=re.compile("^Pay .* with PayPal$")).click()
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(re.compile(r"/orders/WD-"))
    expect(page.locator("main")).to_contain_text("Completed")
    page.goto("/account/wallet")
    expect(page.locator("#balances")).to_contain_text("$20.00")

    # Turn auto-renew on for the saved card: the 1 GB pack when the data is used up.
    page.goto("/account/cards")
    page.get_by_role("link", name="Trip SIM").click()
    section = page.locator("section.autorenew")
    pack = section.get_by_label("Pack to buy")
    pack.select_option(pack.locator("option", has_text="Asia 1 GB / 7 days").get_attribute("value"))
    section.get_by_label("When to renew").select_option("used_up")
    section.get_by_role("button", name="Save auto-renew").click()
    section = page.locator("section.autorenew")
    expect(section.locator("dl.facts")).to_contain_text("Active")
    expect(section.locator("dl.facts")).to_contain_text("When the data is used up")
    card_page = page.url

    # The traveller uses the whole pack: the network tells the shop, the worker renews.
    network.state.use_data(CARD, 1024)

    def renewed_on_the_page():
        page.goto(card_page)
        return page.locator("section.autorenew tbody tr").filter(has_text="Renewed").count()

    assert wait_for(renewed_on_the_page), page.locator("section.autorenew").inner_text()
    row = page.locator("section.autorenew tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Asia 1 GB / 7 days")
    expect(row).to_contain_text("$5.00")

    page.goto("/account/wallet")
    expect(page.locator("#balances")).to_contain_text("$15.00")
    renewal = page.locator("table tbody tr").filter(has_text="Automatic renewal")
    expect(renewal).to_have_count(1)
    expect(renewal).to_contain_text("−$5.00")
    expect(renewal).to_contain_text("$15.00")

    def delivered_on_the_network():
        return network.state.card(CARD).remaining_mb() == 1024

    assert wait_for(delivered_on_the_network)
    with app.app_context():

        def delivered():
            db.session.rollback()  # a fresh read each time (SQLite keeps a read's snapshot)
            return (
                db.session.execute(
                    db.select(TopUpDelivery.status)
                    .join(TopUp, TopUp.id == TopUpDelivery.topup_id)
                    .filter(TopUp.source == TopUpSource.AUTO_RENEW)
                ).scalar_one_or_none()
                == DeliveryStatus.DELIVERED
            )

        assert wait_for(delivered)
        renewals = db.session.execute(db.select(Renewal)).scalars().all()
        assert [(r.outcome, r.amount) for r in renewals] == [(RenewalOutcome.RENEWED, PACK_PRICE)]
        assert db.session.get(TopUp, renewals[0].topup_id).source == TopUpSource.AUTO_RENEW
        wallet = db.session.execute(
            db.select(Wallet).join(Wallet.user).filter_by(email=EMAIL)
        ).scalar_one()
        moves = db.session.execute(
            db.select(WalletEntry.kind, WalletEntry.amount)
            .filter_by(wallet_id=wallet.id)
            .order_by(WalletEntry.id)
        ).all()
        assert moves == [(WalletEntryKind.TOPUP, TOP_UP), (WalletEntryKind.RENEWAL, -PACK_PRICE)]
        assert wallet.balance == TOP_UP - PACK_PRICE
        db.session.remove()
        db.engine.dispose()
    context.close()
