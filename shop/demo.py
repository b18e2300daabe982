"""Demo data for ``flask --app wsgi shop demo``: realistic packs, cards, agent DEMO and users."""

from datetime import timedelta

from shop.agents import services as agent_services
from shop.agents import tree as agent_tree
from shop.agents.models import Agent
from shop.audit.services import Actor
from shop.auth import services as auth_services
from shop.auth.models import Role
from shop.cards import services as card_services
from shop.cards.models import Card, CardStatus, TopUp, TopUpSource
from shop.catalog import services as catalog_services
from shop.catalog.models import Product
from shop.extensions import db
from shop.timeutil import utcnow

DEMO_ACTOR = Actor.system("demo")
ASIA = "TH,VN,MY,SG,ID,PH,KH,LA"
EUROPE = "DE,FR,IT,ES,NL,PT,AT,BE,CH,GR,IE,PL,SE,DK,CZ"

#: (sku, name, region, data_mb, validity_days, price in cents, coverage, description)
DEMO_PRODUCTS = [
    (
        "ASIA-1GB-7D",
        "Asia 1 GB / 7 days",
        "Asia",
        1024,
        7,
        500,
        ASIA,
        "A week of maps and messages across Southeast Asia.",
    ),
    (
        "ASIA-10GB-30D",
        "Asia 10 GB / 30 days",
        "Asia",
        10240,
        30,
        2500,
        ASIA,
        "A month of everyday use in eight Southeast Asian countries.",
    ),
    (
        "CN-5GB-7D",
        "Greater China 5 GB / 7 days",
        "Asia",
        5120,
        7,
        1500,
        "CN,HK,MO,TW",
        "Mainland China, Hong Kong, Macau and Taiwan, with access to your usual apps.",
    ),
    (
        "JP-3GB-7D",
        "Japan 3 GB / 7 days",
        "Asia",
        3072,
        7,
        1200,
        "JP",
        "A week in Japan on a fast local network.",
    ),
    (
        "EU-DAY-1GB",
        "Europe Day Pass 1 GB / 1 day",
        "Europe",
        1024,
        1,
        300,
        EUROPE,
        "One day of data for a stopover.",
    ),
    (
        "EU-5GB-30D",
        "Europe 5 GB / 30 days",
        "Europe",
        5120,
        30,
        1800,
        EUROPE,
        "Fifteen European countries, one pack.",
    ),
    (
        "US-20GB-30D",
        "USA 20 GB / 30 days",
        "Americas",
        20480,
        30,
        3500,
        "US",
        "A month in the United States with plenty of data.",
    ),
    (
        "GLOBAL-3GB-15D",
        "Global 3 GB / 15 days",
        "Global",
        3072,
        15,
        2900,
        f"{ASIA},{EUROPE},US,CA,AU,NZ,JP",
        "For trips through several continents.",
    ),
    (
        "GLOBAL-50GB-365D",
        "Global 50 GB / 1 year",
        "Global",
        51200,
        365,
        9900,
        f"{ASIA},{EUROPE},US,CA,AU,NZ,JP",
        "A year of data for frequent travellers.",
    ),
]

#: Packs priced in yuan, for Alipay and WeChat Pay (which take CNY only): the same fields,
#: prices in fen.
DEMO_CNY_PRODUCTS = [
    (
        "CN-5GB-7D-CNY",
        "Greater China 5 GB / 7 days (CNY)",
        "Asia",
        5120,
        7,
        9900,
        "CN,HK,MO,TW",
        "Mainland China, Hong Kong, Macau and Taiwan, priced in yuan for Alipay and WeChat Pay.",
    ),
    (
        "ASIA-10GB-30D-CNY",
        "Asia 10 GB / 30 days (CNY)",
        "Asia",
        10240,
        30,
        16800,
        ASIA,
        "A month across Southeast Asia, priced in yuan for Alipay and WeChat Pay.",
    ),
]

#: (role, e-mail, password); the passwords are public demo passwords.
DEMO_USERS = [
    (Role.ADMIN, "admin@demo.shop", "demo-admin-1"),
    (Role.AGENT_MANAGER, "manager@demo.shop", "demo-manager-1"),
    (Role.AGENT_STAFF, "staff@demo.shop", "demo-staff-1"),
    (Role.CUSTOMER, "customer@demo.shop", "demo-customer-1"),
]

#: (number, status, region, owned by the demo customer)
DEMO_CARDS = [
    ("8966000000000000012", CardStatus.ACTIVE, "Asia", True),
    ("8944000000000000027", CardStatus.ACTIVE, "Europe", False),
    ("8910000000000000036", CardStatus.SUSPENDED, "Global", False),
    ("+66812345678", CardStatus.ACTIVE, "Asia", False),
]


def _ensure_products() -> None:
    priced = [(*product, "USD") for product in DEMO_PRODUCTS]
    priced += [(*product, "CNY") for product in DEMO_CNY_PRODUCTS]
    for sku, name, region, data_mb, days, price, coverage, description, currency in priced:
        if db.session.execute(db.select(Product.id).filter_by(sku=sku)).first():
            continue
        catalog_services.create_product(
            catalog_services.ProductData(
                sku=sku,
                name=name,
                region=region,
                data_mb=data_mb,
                validity_days=days,
                price=price,
                currency=currency,
                coverage=coverage.split(","),
                description=description,
            ),
            DEMO_ACTOR,
        )


def _ensure_agent() -> None:
    if db.session.execute(db.select(Agent.id).filter_by(code="DEMO")).first() is None:
        agent_services.create_agent(
            "DEMO",
            "Demo Travel Shop Bangkok",
            discount_bps=1000,
            credit_limit=5000,
            actor=DEMO_ACTOR,
        )


#: A sub-agent of DEMO with its own manager, so the reseller tree pages have something to show.
DEMO_SUB_AGENT = ("DEMO-KIOSK", "Demo Kiosk Chiang Mai", "kiosk@demo.shop", "demo-kiosk-1")


def _ensure_sub_agent() -> None:
    code, name, email, password = DEMO_SUB_AGENT
    if db.session.execute(db.select(Agent.id).filter_by(code=code)).first() is not None:
        return
    if auth_services.find_user_by_email(email) is not None:
        return
    parent = agent_services.get_agent_by_code("DEMO")
    agent_tree.create_sub_agent(
        parent,
        code,
        name,
        discount_bps=500,
        credit_limit=0,
        manager_email=email,
        manager_password=password,
        actor=DEMO_ACTOR,
    )


def _ensure_users() -> None:
    for role, email, password in DEMO_USERS:
        if auth_services.find_user_by_email(email) is not None:
            continue
        auth_services.create_user(
            email,
            password,
            role,
            agent_id=agent_services.get_agent_by_code("DEMO").id if role.is_agent_role else None,
            actor=DEMO_ACTOR,
        )


def _ensure_cards() -> None:
    customer = auth_services.find_user_by_email("customer@demo.shop")
    for number, status, region, owned in DEMO_CARDS:
        if db.session.execute(db.select(Card.id).filter_by(number=number)).first():
            continue
        card_services.register_card(
            number,
            status=status,
            region=region,
            owner_id=customer.id if owned else None,
            actor=DEMO_ACTOR,
        )
    _ensure_demo_history(customer)


def _ensure_demo_history(customer) -> None:
    """Give the customer's card two past top-ups so its history page has something to show."""
    card = db.session.execute(db.select(Card).filter_by(owner_id=customer.id)).scalars().first()
    if card is None or db.session.execute(db.select(TopUp.id).filter_by(card_id=card.id)).first():
        return
    now = utcnow()
    for sku, days_ago in (("ASIA-1GB-7D", 20), ("ASIA-10GB-30D", 3)):
        product = catalog_services.get_product_by_sku(sku)
        card_services.apply_pack(
            card,
            card_services.PackGrant.of_product(product),
            source=TopUpSource.ADMIN,
            channel="demo",
            reference="demo",
            now=now - timedelta(days=days_ago),
        )
    card.data_balance_mb = 10240 + 300
    db.session.commit()


#: Promotion codes of the demo storefront: (code, description, kind, value, minimum total).
DEMO_PROMOTIONS = (
    ("WELCOME10", "10 % off your first packs", "percent", 1000, 0),
    ("TRAVEL5", "USD 5 off orders from USD 20", "amount", 500, 2000),
)


def _ensure_promotions() -> None:
    from shop.storefront.models import Promotion, PromotionKind

    for code, description, kind, value, minimum in DEMO_PROMOTIONS:
        if db.session.execute(db.select(Promotion.id).filter_by(code=code)).first():
            continue
        db.session.add(
            Promotion(
                code=code,
                description=description,
                kind=PromotionKind(kind),
                percent_bps=value if kind == "percent" else 0,
                amount_off=value if kind == "amount" else 0,
                currency="USD",
                min_total=minimum,
            )
        )
    db.session.commit()


#: The demo customer's wallet: a credit by the operator, then one order paid from it.
DEMO_WALLET_CREDIT = 8000
DEMO_WALLET_KEY = "de00000000000001"


def _ensure_wallet() -> None:
    """Give the demo customer a USD wallet with a credit and an order paid from it."""
    from shop.storefront import orders, payment_codes, wallet_orders
    from shop.storefront.models import Delivery, PaymentMethod
    from shop.wallet import services as wallet_services

    customer = auth_services.find_user_by_email("customer@demo.shop")
    if wallet_services.find_wallet(customer.id, "USD") is not None:
        return
    wallet = wallet_services.wallet_for(customer.id, "USD")
    db.session.commit()
    wallet_services.adjust(
        wallet.id, DEMO_WALLET_CREDIT, "Welcome credit (demo)", DEMO_WALLET_KEY, DEMO_ACTOR
    )
    order = orders.place_order(
        orders.CheckoutRequest(
            items={"ASIA-1GB-7D": 1},
            email=customer.email,
            delivery=Delivery.VOUCHERS,
            user_id=customer.id,
            payment_method=PaymentMethod.WALLET,
        ),
        DEMO_ACTOR,
    )
    check = payment_codes.check_of(order)
    if check is not None and check.required:  # the demo customer "typed" the code
        check.verified_at = utcnow()
        db.session.commit()
    wallet_orders.pay_from_wallet(order.id, customer.id, DEMO_ACTOR)


#: The demo customer's card renews itself from the wallet: (pack, trigger, below MB, monthly cap).
DEMO_AUTO_RENEW = ("ASIA-10GB-30D", "low_data", 500, 2)


def _ensure_auto_renew() -> None:
    """Set up the auto-renew of the card the demo customer owns (paid from the demo wallet)."""
    from shop.autorenew import services as autorenew

    customer = auth_services.find_user_by_email("customer@demo.shop")
    card = db.session.execute(db.select(Card).filter_by(owner_id=customer.id)).scalars().first()
    if card is None or autorenew.rule_for_card(card.id) is not None:
        return
    sku, trigger, below_mb, cap = DEMO_AUTO_RENEW
    product = catalog_services.get_product_by_sku(sku)
    autorenew.save_rule(
        customer.id,
        card.id,
        product.id,
        trigger,
        threshold_mb=below_mb,
        monthly_cap=cap,
        actor=DEMO_ACTOR,
    )


def load_demo_data() -> list[tuple[str, str, str]]:
    """Create whatever demo data is missing and return the logins as (role, e-mail, password)."""
    _ensure_products()
    _ensure_agent()
    _ensure_users()
    _ensure_sub_agent()
    _ensure_cards()
    _ensure_promotions()
    _ensure_wallet()
    _ensure_auto_renew()
    logins = [(role.value, email, password) for role, email, password in DEMO_USERS]
    _code, _name, email, password = DEMO_SUB_AGENT
    return [*logins, (Role.AGENT_MANAGER.value, email, password)]
