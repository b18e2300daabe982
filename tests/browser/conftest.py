"""Browser fixtures: one seeded gunicorn server and one Debian Chromium per test session.

The app runs with gunicorn on a free 127.0.0.1 port against a freshly migrated database
holding the demo data (``shop demo``) plus a float and PINs the journeys need. The database
is a SQLite file in a temporary folder unless ``BROWSER_DATABASE_URL`` names another one
(e.g. a PostgreSQL database of its own: its schema is dropped and migrated afresh; under
pytest-xdist each worker's server gets ``<database>_<worker>``).

Chromium comes from Debian (``apt-get install chromium``), never from ``playwright install``.
Without it the tests skip with the reason, except under ``CI=true`` where they fail.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from shop import create_app
from shop.audit.services import Actor
from shop.config import normalise_database_url
from shop.extensions import db
from simulators.alipay import AlipaySimulator
from simulators.paypal import PayPalSimulator
from simulators.wechatpay import WeChatPaySimulator
from tests.conftest import make_config, worker_database_url
from tests.live_server import LiveServer

# Playwright drives the browser we give it and must never try to fetch one of its own.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Demo logins (shop/demo.py) used by the journeys.
LOGINS = {
    "admin": ("admin@demo.shop", "demo-admin-1"),
    "manager": ("manager@demo.shop", "demo-manager-1"),
    "staff": ("staff@demo.shop", "demo-staff-1"),
    "customer": ("customer@demo.shop", "demo-customer-1"),
}
#: An active demo card with no owner: the redeem journey tops it up.
REDEEM_CARD = "8944000000000000027"
#: Seeded sold vouchers of this pack, their clear PINs kept for the journeys.
SEEDED_SKU = "ASIA-1GB-7D"
#: The demo agent's opening float (USD minor units).
OPENING_FLOAT = 50_000
#: Who the seeding is, in the audit log.
SEED_ACTOR = Actor.system("browser-tests")


@dataclass
class Seed:
    """What the seeded database holds that a journey needs to know."""

    pins: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    batch_id: int = 0
    #: A guest's order waiting for payment, and one paid with its PINs: their private links.
    pending_order: str = ""
    paid_order: str = ""
    #: The demo promotion code the paid orders used.
    promotion_id: int = 0


@dataclass
class Shop:
    """The server under test."""

    base_url: str
    database_url: str
    seed: Seed
    server: LiveServer
    instance_path: str
    #: The Alipay and WeChat Pay simulators the server pays with.
    alipay: AlipaySimulator | None = None
    wechatpay: WeChatPaySimulator | None = None

    @contextmanager
    def database(self):
        """Look into the server's database from the test (an app context of its own)."""
        app = create_app(make_config(self.database_url), instance_path=self.instance_path)
        with app.app_context():
            try:
                yield db.session
            finally:
                db.session.remove()
                db.engine.dispose()


def pytest_collection_modifyitems(items):
    """Mark every test of this folder ``browser`` so that ``-m browser`` selects them."""
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


def _fresh_database_url(tmp_path_factory) -> str:
    url = os.environ.get("BROWSER_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'shop.db'}"
    url = normalise_database_url(url)
    if url.startswith("postgresql"):
        url = worker_database_url(url)  # under xdist, each worker's server has its own
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    return url


def seed_database(url: str, instance_path: str, simulator: PayPalSimulator) -> Seed:
    """Migrate ``url`` and load the demo data, a float, a few sold PINs and online orders."""
    from flask_migrate import upgrade

    from shop.agents import sales
    from shop.agents import services as agent_services
    from shop.demo import load_demo_data

    app = create_app(make_config(url, **simulator.shop_config()), instance_path=instance_path)
    with app.app_context():
        upgrade()
        load_demo_data()
        agent_services.credit_agent("DEMO", OPENING_FLOAT, note="opening float")
        agent = agent_services.get_agent_by_code("DEMO")
        sale = sales.sell_vouchers(agent.id, SEEDED_SKU, 4, SEED_ACTOR)
        seed = Seed(
            pins=[v.pin for v in sale.vouchers],
            serials=[v.serial for v in sale.vouchers],
            batch_id=sale.batch.id,
        )
        _seed_reports(agent)
        _seed_orders(seed)
        db.session.remove()
        db.engine.dispose()
    return seed


def _seed_reports(agent) -> None:
    """Give the reports a second pack sold at the counter and pre-printed stock to count."""
    from shop.agents import sales
    from shop.catalog.services import get_product_by_sku
    from shop.vouchers import batches

    sales.sell_vouchers(agent.id, "JP-3GB-7D", 2, SEED_ACTOR)
    stock = get_product_by_sku("EU-5GB-30D")
    batches.generate_batch(stock, 10, agent_id=agent.id, inactive=True, actor=SEED_ACTOR)


def _seed_orders(seed: Seed) -> None:
    """Place orders through the storefront's services (one pending, three paid); save a card."""
    from shop.auth.services import find_user_by_email
    from shop.storefront.models import Delivery
    from shop.storefront.orders import CheckoutRequest, order_link_key, place_order
    from shop.storefront.promotions import find_promotion
    from shop.storefront.saved_cards import save_card

    def order(email, items, promotion="", user_id=None):
        request = CheckoutRequest(items, email, Delivery.VOUCHERS, "", promotion, user_id)
        return place_order(request, SEED_ACTOR)

    def private_link(placed) -> str:
        return f"/orders/{placed.reference}?key={order_link_key(placed)}"

    pending = order("guest@example.com", {"ASIA-10GB-30D": 1, "JP-3GB-7D": 2}, "TRAVEL5")
    paid = _pay(order("backpacker@example.com", {"ASIA-1GB-7D": 2, "EU-5GB-30D": 1}, "WELCOME10"))
    _pay(order("nomad@example.com", {"GLOBAL-3GB-15D": 1}, "WELCOME10"))
    customer = find_user_by_email(LOGINS["customer"][0])
    _pay(order(customer.email, {"ASIA-10GB-30D": 1}, user_id=customer.id))
    save_card(customer.id, "8966000000000000012", "Travel SIM", SEED_ACTOR)
    seed.pending_order = private_link(pending)
    seed.paid_order = private_link(paid)
    seed.promotion_id = find_promotion("WELCOME10").id


def _pay(order):
    """Pay ``order`` at the PayPal simulator and bring the buyer back: the order is fulfilled."""
    from shop.storefront import payment_flow
    from shop.storefront.models import OrderStatus
    from tests.storefront_helpers import approve

    # The simulator sends the buyer to these; the seeding completes the return itself.
    urls = payment_flow.ReturnUrls("http://127.0.0.1/return", "http://127.0.0.1/cancel")
    back = parse_qs(urlsplit(approve(payment_flow.start_payment(order, urls))).query)
    settled = payment_flow.complete_return(order, back["token"][0], back["PayerID"][0])
    assert settled.status == OrderStatus.FULFILLED, settled
    return order


@pytest.fixture(scope="session")
def shop(tmp_path_factory):
    """The seeded shop served by gunicorn for the whole session."""
    url = _fresh_database_url(tmp_path_factory)
    instance = tmp_path_factory.mktemp("browser-instance")
    simulator = PayPalSimulator().start()  # PayPal for the seeded orders and the journey
    alipay = AlipaySimulator().start()  # Alipay and WeChat Pay for their journeys
    wechatpay = WeChatPaySimulator().start()
    seed = seed_database(url, str(instance), simulator)
    server = LiveServer(
        url,
        environment={
            "SESSION_COOKIE_SECURE": "0",  # plain HTTP on loopback, as `make run`
            "RATELIMIT_STORAGE_URI": "memory://",
            # The journeys pay without a one-time code unless a test sets the admin's rules.
            "PAYMENT_CODE_ENABLED": "0",
            "DEV_OUTBOX": "1",
            **{name: str(value) for name, value in simulator.shop_config().items()},
            **alipay.shop_config(),
            **wechatpay.shop_config(),
        },
        workers=1,
        threads=8,
    ).start()
    simulator.webhook_url = f"{server.base_url}/payments/paypal/webhook"
    yield Shop(server.base_url, url, seed, server, str(instance), alipay, wechatpay)
    server.stop()
    simulator.stop()
    alipay.stop()
    wechatpay.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, launched once with the project's fixed flags."""
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium): browser tests not run"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def session_cookies(browser, shop):
    """Log each demo role in once per session (a login costs a slow password hash).

    ``session_cookies("admin")`` returns a storage state for ``new_context(role=...)``.
    Nothing in the browser tests logs out, so the sessions stay valid.
    """
    states = {}

    def state_of(role: str) -> dict:
        if role not in states:
            context = browser.new_context(base_url=shop.base_url)
            log_in(context.new_page(), role)
            states[role] = context.storage_state()
            context.close()
        return states[role]

    return state_of


@pytest.fixture
def new_context(browser, shop, session_cookies):
    """Open browser contexts (cookie jars) on the shop; all closed after the test.

    ``new_context(locale="zh-CN", width=390, role="staff")`` sets the browser's language (sent
    as Accept-Language), the viewport width and, with ``role``, a logged-in demo user.
    """
    contexts = []

    def open_context(locale="en-GB", width=1280, height=900, role=None, **options):
        if role is not None:
            options["storage_state"] = session_cookies(role)
        context = browser.new_context(
            base_url=shop.base_url,
            locale=locale,
            viewport={"width": width, "height": height},
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(10_000)
        # Headless Chromium has no print dialog, and printing a PDF frame (the counter prints
        # each sale as its page loads) crashes it now and then: printing does nothing here.
        context.add_init_script("window.print = function () {};")
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()  # closing twice is harmless


@pytest.fixture
def page(new_context):
    """A page of a fresh English desktop browser context."""
    return new_context().new_page()


def log_in(page, role: str) -> None:
    """Log ``page``'s context in as the demo user of ``role`` through the login form."""
    email, password = LOGINS[role]
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.locator("main").inner_text()


@pytest.fixture
def login_as():
    """``login_as(page, "staff")`` logs the page in as a demo user."""
    return log_in
