"""``flask --app wsgi shop ...``: set up the database and manage accounts, packs and cards."""

import secrets
import sys

import click
from flask.cli import AppGroup
from flask_migrate import upgrade

from shop.agents import services as agent_services
from shop.audit.services import Actor
from shop.auth import services as auth_services
from shop.auth.models import Role
from shop.cards import services as card_services
from shop.cards.models import CardStatus
from shop.catalog import services as catalog_services

shop_cli = AppGroup("shop", help="Set up the shop and manage its accounts, packs and cards.")

CLI_ACTOR = Actor.system("cli")


def fail(message: str) -> None:
    """Print a one-line error and exit non-zero."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@shop_cli.command("init")
def init_command():
    """Create the database schema or upgrade it to the latest migration."""
    upgrade()
    click.echo("Database is up to date.")


@shop_cli.command("demo")
def demo_command():
    """Load demo packs, cards, an agent and users (safe to run twice); print the logins."""
    from shop.demo import load_demo_data

    logins = load_demo_data()
    click.echo("Demo data loaded. Logins (e-mail / password):")
    for role, email, password in logins:
        click.echo(f"  {role:<14} {email:<28} {password}")
    from shop.demo import DEMO_PROMOTIONS

    click.echo("Promotion codes: " + ", ".join(f"{c} ({d})" for c, d, *_ in DEMO_PROMOTIONS))


@shop_cli.command("create-user")
@click.argument("email")
@click.option("--role", "role_name", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--agent", "agent_code", help="Agent code, for agent_manager and agent_staff.")
@click.option("--password", help="Password; a random one is generated and printed when omitted.")
def create_user_command(email, role_name, agent_code, password):
    """Create a user account."""
    generated = password is None
    password = password if password is not None else secrets.token_urlsafe(12)
    try:
        agent = agent_services.get_agent_by_code(agent_code) if agent_code else None
        user = auth_services.create_user(
            email, password, Role(role_name), agent_id=agent.id if agent else None, actor=CLI_ACTOR
        )
    except agent_services.AgentNotFound:
        fail(f"no agent with code {agent_code!r}")
    except auth_services.InvalidEmail as exc:
        fail(f"invalid e-mail address: {exc}")
    except auth_services.EmailTaken:
        fail(f"a user with e-mail {email} exists already")
    except auth_services.WeakPassword as exc:
        fail(f"password too weak: {exc}")
    except auth_services.AgentRequired as exc:
        fail(str(exc))
    click.echo(f"Created {user.role.value} {user.email}")
    if generated:
        click.echo(f"Password: {password}")


@shop_cli.command("create-product")
@click.argument("sku")
@click.argument("name")
@click.option("--data-mb", type=int, required=True, help="Data in MB (1024 = 1 GB).")
@click.option("--validity-days", type=int, required=True, help="Days of validity from redemption.")
@click.option("--price", type=int, required=True, help="Price in minor units (1500 = 15.00).")
@click.option("--currency", default="USD", show_default=True)
@click.option("--coverage", default="", help="Country codes, comma separated: TH,VN,MY.")
@click.option("--region", default="", help='Region label, e.g. "Asia".')
@click.option("--description", default="")
def create_product_command(
    sku, name, data_mb, validity_days, price, currency, coverage, region, description
):
    """Add a data pack to the catalog."""
    try:
        data = catalog_services.ProductData(
            sku=sku,
            name=name,
            data_mb=data_mb,
            validity_days=validity_days,
            price=price,
            currency=currency.upper(),
            coverage=catalog_services.parse_coverage(coverage),
            region=region,
            description=description,
        )
        product = catalog_services.create_product(data, CLI_ACTOR)
    except catalog_services.InvalidProduct as exc:
        fail(f"invalid {exc.field.replace('_', '-')}: {exc}")
    except catalog_services.SkuTaken:
        fail(f"a product with SKU {sku.upper()} exists already")
    click.echo(f"Created product {product.sku}: {product.name}")


@shop_cli.command("create-card")
@click.argument("number")
@click.option(
    "--status",
    type=click.Choice([s.value for s in CardStatus]),
    default="active",
    show_default=True,
)
@click.option("--region", default="")
def create_card_command(number, status, region):
    """Register a SIM/eSIM card by ICCID or E.164 phone number."""
    try:
        card = card_services.register_card(
            number, status=CardStatus(status), region=region, actor=CLI_ACTOR
        )
    except card_services.InvalidCardNumber as exc:
        fail(f"invalid card number: {exc}")
    except card_services.CardExists:
        fail(f"card {number} is registered already")
    click.echo(f"Registered card {card.number} ({card.status.value})")


@shop_cli.command("create-agent")
@click.argument("code")
@click.argument("name")
@click.option(
    "--discount-bps",
    type=int,
    default=0,
    show_default=True,
    help="Wholesale discount in basis points (1000 = 10 %).",
)
@click.option(
    "--credit-limit",
    type=int,
    default=0,
    show_default=True,
    help="How far below zero the float may go, in minor units.",
)
@click.option(
    "--parent",
    default="",
    help="Code of the agent this one is a sub-agent of (default: an agent of the operator).",
)
def create_agent_command(code, name, discount_bps, credit_limit, parent):
    """Create an agent (a shop selling vouchers at its counter), or a sub-agent of --parent."""
    try:
        above = agent_services.get_agent_by_code(parent) if parent else None
        agent = agent_services.create_agent(
            code,
            name,
            discount_bps=discount_bps,
            credit_limit=credit_limit,
            parent=above,
            actor=CLI_ACTOR,
        )
    except agent_services.AgentNotFound:
        fail(f"no agent with code {parent}")
    except agent_services.TreeTooDeep as exc:
        fail(f"the tree has at most {exc.limit} levels of agents (AGENT_TREE_MAX_DEPTH)")
    except agent_services.DiscountAboveParent as exc:
        fail(f"invalid discount-bps: at most the parent's {exc.limit}")
    except agent_services.InvalidAgent as exc:
        fail(f"invalid {exc.field.replace('_', '-')}: {exc}")
    except agent_services.AgentCodeTaken:
        fail(f"an agent with code {code.upper()} exists already")
    click.echo(f"Created agent {agent.code}: {agent.name}")


@shop_cli.command("purge-expired")
def purge_expired_command():
    """Delete idempotency keys past their lifetime (run daily, e.g. from cron)."""
    from shop.api.idempotency import purge_expired

    click.echo(f"Deleted {purge_expired()} expired idempotency keys.")


@shop_cli.command("credit-agent")
@click.argument("code")
@click.argument("amount", type=int)
@click.option("--note", default="", help="Why, e.g. the payment reference.")
def credit_agent_command(code, amount, note):
    """Add float to an agent (a credit purchase), in minor units; writes a ledger entry."""
    from shop.agents.ledger import InvalidAmount

    try:
        balance = agent_services.credit_agent(code, amount, note=note, actor=CLI_ACTOR)
    except agent_services.AgentNotFound:
        fail(f"no agent with code {code}")
    except agent_services.SubAgentFloat:
        fail(f"{code} is a sub-agent: its float comes from its parent agent")
    except InvalidAmount:
        fail("AMOUNT must be a whole number of minor units greater than zero")
    click.echo(f"Credited {amount} to {code.upper()}; balance now {balance}")


@shop_cli.command("create-api-key")
@click.argument("code")
@click.option("--label", default="", help="What the key is for, e.g. the till's name.")
def create_api_key_command(code, label):
    """Create an API key for agent CODE; the key is printed once, alone on the last line."""
    try:
        api_key, key = agent_services.create_api_key(code, label, actor=CLI_ACTOR)
    except agent_services.AgentNotFound:
        fail(f"no agent with code {code}")
    click.echo(
        f"API key {api_key.id} for agent {code.upper()} (store it now; it is not shown again):"
    )
    click.echo(key)
