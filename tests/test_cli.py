"""``flask --app wsgi shop ...``: setting up the shop and managing accounts, packs and cards."""

import re

import pytest
from werkzeug.security import check_password_hash

from shop.agents.models import Agent
from shop.auth.models import Role, User
from shop.cards.models import Card, CardStatus, TopUp
from shop.catalog.models import Product
from shop.extensions import db
from tests.factories import iccid, make_agent, make_card, make_product, make_user


def shop(runner, *args):
    """Run ``flask shop <args>``."""
    return runner.invoke(args=["shop", *args])


def count(model) -> int:
    return db.session.execute(db.select(db.func.count(model.id))).scalar_one()


def find(model, **filters):
    db.session.expire_all()
    return db.session.execute(db.select(model).filter_by(**filters)).scalar_one_or_none()


def assert_refused(result, *words):
    """Check the command failed with one "Error:" line that mentions ``words``."""
    assert result.exit_code != 0, result.output
    message = result.stderr.strip()
    assert message.startswith("Error:"), result.output
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word.lower() in message.lower(), message


def assert_succeeded(result):
    assert result.exit_code == 0, result.output + (repr(result.exception) or "")


# --- init and demo -------------------------------------------------------------------------


def test_init_on_an_up_to_date_database_changes_nothing_and_succeeds(runner):
    make_product(sku="KEEP-ME")

    result = shop(runner, "init")

    assert_succeeded(result)
    assert "up to date" in result.output
    assert find(Product, sku="KEEP-ME") is not None


def test_demo_loads_packs_on_sale_an_agent_users_and_cards(runner):
    result = shop(runner, "demo")

    assert_succeeded(result)
    active = db.session.execute(db.select(Product).filter_by(active=True)).scalars().all()
    assert len(active) >= 6
    assert find(Agent, code="DEMO") is not None
    for email in ("admin@demo.shop", "manager@demo.shop", "staff@demo.shop", "customer@demo.shop"):
        assert find(User, email=email) is not None
    assert find(User, email="admin@demo.shop").role == Role.ADMIN
    assert count(Card) >= 1


def test_demo_prints_the_logins(runner):
    result = shop(runner, "demo")

    assert_succeeded(result)
    assert "admin@demo.shop" in result.output
    assert "demo-admin-1" in result.output
    assert "customer@demo.shop" in result.output


def test_demo_logins_work_with_the_printed_passwords(runner):
    result = shop(runner, "demo")
    assert_succeeded(result)

    logins = re.findall(r"^\s+(\w+)\s+(\S+@demo\.shop)\s+(\S+)\s*$", result.output, re.MULTILINE)

    assert len(logins) == 5  # four roles and the sub-agent DEMO-KIOSK's manager
    for role, email, password in logins:
        user = find(User, email=email)
        assert user.role.value == role
        assert check_password_hash(user.password_hash, password)


def test_demo_run_twice_creates_nothing_new(runner):
    first = shop(runner, "demo")
    assert_succeeded(first)
    counts = {model: count(model) for model in (Product, User, Card, Agent, TopUp)}

    second = shop(runner, "demo")

    assert_succeeded(second)
    assert {model: count(model) for model in counts} == counts
    assert "admin@demo.shop" in second.output


def test_demo_keeps_packs_that_exist_already(runner):
    make_product(sku="ASIA-1GB-7D", name="My own Asia pack", price=450)

    assert_succeeded(shop(runner, "demo"))

    product = find(Product, sku="ASIA-1GB-7D")
    assert product.name == "My own Asia pack"
    assert product.price == 450


# --- create-user ---------------------------------------------------------------------------


def test_create_user_with_given_password(runner):
    result = shop(
        runner, "create-user", "Ops@Example.com", "--role", "admin", "--password", "a-long-secret-1"
    )

    assert_succeeded(result)
    assert "Password:" not in result.output
    user = find(User, email="ops@example.com")
    assert user.role == Role.ADMIN
    assert user.agent_id is None
    assert check_password_hash(user.password_hash, "a-long-secret-1")


def test_create_user_without_password_prints_a_generated_one_that_works(runner):
    result = shop(runner, "create-user", "buyer@example.com", "--role", "customer")

    assert_succeeded(result)
    match = re.search(r"^Password: (\S+)$", result.output, re.MULTILINE)
    assert match, result.output
    password = match.group(1)
    assert len(password) >= 10
    user = find(User, email="buyer@example.com")
    assert user.role == Role.CUSTOMER
    assert check_password_hash(user.password_hash, password)


def test_create_user_for_an_agent(runner):
    agent = make_agent("BKK1")

    result = shop(
        runner,
        "create-user",
        "counter@example.com",
        "--role",
        "agent_staff",
        "--agent",
        "bkk1",
        "--password",
        "a-long-secret-1",
    )

    assert_succeeded(result)
    user = find(User, email="counter@example.com")
    assert user.role == Role.AGENT_STAFF
    assert user.agent_id == agent.id


def test_duplicate_email_is_refused_and_creates_nothing(runner):
    make_user(email="taken@example.com")

    result = shop(
        runner,
        "create-user",
        "TAKEN@example.com",
        "--role",
        "admin",
        "--password",
        "a-long-secret-1",
    )

    assert_refused(result, "taken@example.com")
    assert count(User) == 1
    assert find(User, email="taken@example.com").role == Role.CUSTOMER


@pytest.mark.parametrize("role", ["agent_staff", "agent_manager"])
def test_agent_role_without_agent_is_refused(runner, role):
    result = shop(
        runner, "create-user", "staff@example.com", "--role", role, "--password", "a-long-secret-1"
    )

    assert_refused(result, "agent")
    assert count(User) == 0


def test_unknown_agent_is_refused(runner):
    make_agent("REAL")

    result = shop(
        runner,
        "create-user",
        "staff@example.com",
        "--role",
        "agent_staff",
        "--agent",
        "GHOST",
        "--password",
        "a-long-secret-1",
    )

    assert_refused(result, "GHOST")
    assert count(User) == 0


def test_customer_tied_to_an_agent_is_refused(runner):
    make_agent("REAL")

    result = shop(
        runner,
        "create-user",
        "buyer@example.com",
        "--role",
        "customer",
        "--agent",
        "REAL",
        "--password",
        "a-long-secret-1",
    )

    assert_refused(result)
    assert count(User) == 0


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@@example.com", "spaces in@example.com", "@example.com"]
)
def test_bad_email_is_refused(runner, email):
    result = shop(
        runner, "create-user", email, "--role", "customer", "--password", "a-long-secret-1"
    )

    assert_refused(result, "e-mail")
    assert count(User) == 0


@pytest.mark.parametrize("password", ["short", "123456789", "weak@example.com"])
def test_weak_password_is_refused(runner, password):
    result = shop(
        runner, "create-user", "weak@example.com", "--role", "customer", "--password", password
    )

    assert_refused(result, "password")
    assert count(User) == 0


def test_unknown_role_is_refused(runner):
    result = shop(
        runner,
        "create-user",
        "who@example.com",
        "--role",
        "superuser",
        "--password",
        "a-long-secret-1",
    )

    assert result.exit_code != 0
    assert count(User) == 0


# --- create-product ------------------------------------------------------------------------


def test_create_product_stores_price_in_minor_units_and_coverage(runner):
    result = shop(
        runner,
        "create-product",
        "th-5gb-7d",
        "Thailand 5 GB / 7 days",
        "--data-mb",
        "5120",
        "--validity-days",
        "7",
        "--price",
        "1250",
        "--coverage",
        "th, vn MY",
        "--region",
        "Asia",
    )

    assert_succeeded(result)
    assert "TH-5GB-7D" in result.output
    product = find(Product, sku="TH-5GB-7D")
    assert product.name == "Thailand 5 GB / 7 days"
    assert product.data_mb == 5120
    assert product.validity_days == 7
    assert product.price == 1250
    assert type(product.price) is int
    assert product.currency == "USD"
    assert product.coverage == ["TH", "VN", "MY"]
    assert product.region == "Asia"
    assert product.active is True


def test_create_product_in_another_currency(runner):
    result = shop(
        runner,
        "create-product",
        "JP-3GB-7D",
        "Japan 3 GB",
        "--data-mb",
        "3072",
        "--validity-days",
        "7",
        "--price",
        "1800",
        "--currency",
        "jpy",
    )

    assert_succeeded(result)
    product = find(Product, sku="JP-3GB-7D")
    assert (product.price, product.currency) == (1800, "JPY")
    assert product.coverage == []


def test_duplicate_sku_is_refused_and_creates_nothing(runner):
    make_product(sku="ASIA-1GB-7D", name="Original", price=500)

    result = shop(
        runner,
        "create-product",
        "asia-1gb-7d",
        "Copy",
        "--data-mb",
        "1024",
        "--validity-days",
        "7",
        "--price",
        "900",
    )

    assert_refused(result, "ASIA-1GB-7D")
    assert count(Product) == 1
    product = find(Product, sku="ASIA-1GB-7D")
    assert (product.name, product.price) == ("Original", 500)


@pytest.mark.parametrize("price", ["0", "-500"])
def test_price_of_zero_or_less_is_refused_and_creates_nothing(runner, price):
    result = shop(
        runner,
        "create-product",
        "FREE-1GB",
        "Free",
        "--data-mb",
        "1024",
        "--validity-days",
        "7",
        "--price",
        price,
    )

    assert_refused(result, "price")
    assert count(Product) == 0


@pytest.mark.parametrize("coverage", ["TH,THAILAND", "T1", "TH,V"])
def test_bad_coverage_code_is_refused_and_creates_nothing(runner, coverage):
    result = shop(
        runner,
        "create-product",
        "TH-1GB",
        "Thailand",
        "--data-mb",
        "1024",
        "--validity-days",
        "7",
        "--price",
        "500",
        "--coverage",
        coverage,
    )

    assert_refused(result, "coverage")
    assert count(Product) == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--data-mb", "0"),
        ("--validity-days", "0"),
        ("--validity-days", "36500"),
        ("--currency", "XYZ"),
    ],
)
def test_out_of_range_pack_is_refused_and_creates_nothing(runner, option, value):
    args = {"--data-mb": "1024", "--validity-days": "7", "--price": "500", "--currency": "USD"}
    args[option] = value
    flat = [part for pair in args.items() for part in pair]

    result = shop(runner, "create-product", "TH-1GB", "Thailand", *flat)

    assert_refused(result, option.removeprefix("--"))
    assert count(Product) == 0


def test_bad_sku_is_refused_and_creates_nothing(runner):
    result = shop(
        runner,
        "create-product",
        "TH 1GB!",
        "Thailand",
        "--data-mb",
        "1024",
        "--validity-days",
        "7",
        "--price",
        "500",
    )

    assert_refused(result, "sku")
    assert count(Product) == 0


# --- create-card ---------------------------------------------------------------------------


def test_create_card_by_iccid_typed_with_spaces(runner):
    number = iccid(555)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))

    result = shop(runner, "create-card", spaced)

    assert_succeeded(result)
    assert number in result.output
    card = find(Card, number=number)
    assert card.status == CardStatus.ACTIVE
    assert card.data_balance_mb == 0


def test_create_card_by_phone_number(runner):
    result = shop(
        runner, "create-card", "+66 81 234 5678", "--status", "suspended", "--region", "Asia"
    )

    assert_succeeded(result)
    card = find(Card, number="+66812345678")
    assert card.status == CardStatus.SUSPENDED
    assert card.region == "Asia"


def test_iccid_with_bad_check_digit_is_refused_and_registers_nothing(runner):
    number = iccid(556)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)

    result = shop(runner, "create-card", wrong)

    assert_refused(result, "card number")
    assert count(Card) == 0


def test_card_registered_twice_is_refused(runner):
    number = iccid(557)
    make_card(number)

    result = shop(runner, "create-card", f"{number[:4]}-{number[4:]}")

    assert_refused(result, "registered already")
    assert count(Card) == 1


def test_phone_card_registered_twice_is_refused(runner):
    make_card("+66812345678")

    result = shop(runner, "create-card", "+66812345678")

    assert_refused(result)
    assert count(Card) == 1


# --- create-agent --------------------------------------------------------------------------


def test_create_agent_with_discount_and_credit_limit(runner):
    result = shop(
        runner,
        "create-agent",
        "bkk-01",
        "Khao San Travel",
        "--discount-bps",
        "1200",
        "--credit-limit",
        "50000",
    )

    assert_succeeded(result)
    assert "BKK-01" in result.output
    agent = find(Agent, code="BKK-01")
    assert agent.name == "Khao San Travel"
    assert agent.discount_bps == 1200
    assert agent.credit_limit == 50000
    assert agent.balance == 0


def test_duplicate_agent_code_is_refused_and_creates_nothing(runner):
    make_agent("BKK-01", name="First shop")

    result = shop(runner, "create-agent", "bkk-01", "Second shop")

    assert_refused(result, "BKK-01")
    assert count(Agent) == 1
    assert find(Agent, code="BKK-01").name == "First shop"


@pytest.mark.parametrize(
    "extra",
    [["--discount-bps", "10001"], ["--discount-bps", "-1"], ["--credit-limit", "-100"]],
)
def test_agent_terms_out_of_range_are_refused(runner, extra):
    result = shop(runner, "create-agent", "BKK-02", "Shop", *extra)

    assert_refused(result, extra[0].removeprefix("--"))
    assert count(Agent) == 0


def test_purge_expired_deletes_only_old_idempotency_keys(app, runner):
    from datetime import timedelta

    from shop.api.models import IdempotencyRecord
    from shop.timeutil import utcnow

    now = utcnow()
    db.session.add_all(
        [
            IdempotencyRecord(
                scope="public", key="old", fingerprint="x", created_at=now - timedelta(days=3)
            ),
            IdempotencyRecord(
                scope="public", key="new", fingerprint="x", created_at=now - timedelta(hours=1)
            ),
        ]
    )
    db.session.commit()
    result = runner.invoke(args=["shop", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 " in result.output
    keys = db.session.execute(db.select(IdempotencyRecord.key)).scalars().all()
    assert keys == ["new"]
