"""``flask --app wsgi vouchers generate``: voucher stock for the operator or an agent.

Generating is a vouchers use case; naming the agent that owns the stock is an agents one, so the
command lives here (agents call vouchers, never the reverse) and the app factory adds it to the
``vouchers`` group.
"""

import sys
from pathlib import Path

import click
from flask import current_app

from shop.agents import services as agent_services
from shop.audit.services import Actor
from shop.catalog import services as catalog_services
from shop.vouchers import batches, pdf
from shop.vouchers.pins import make_serial


def fail(message: str) -> None:
    """Print a one-line error and exit non-zero."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.command("generate")
@click.option("--sku", required=True, help="The pack the vouchers are for.")
@click.option("--count", type=int, required=True, help=f"How many (1 to {batches.MAX_BATCH_SIZE}).")
@click.option("--agent", "agent_code", help="Agent that owns the stock (default: the operator).")
@click.option(
    "--inactive", is_flag=True, help="Pre-printed stock: inactive until sold at a counter."
)
@click.option(
    "--shelf-life-days",
    type=int,
    default=batches.DEFAULT_SHELF_LIFE_DAYS,
    show_default=True,
    help="How long an unused PIN stays redeemable.",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the printable vouchers (A4 sheets) to this PDF file.",
)
@click.option("--note", default="", help="A note kept with the batch.")
def generate_command(sku, count, agent_code, inactive, shelf_life_days, pdf_path, note):
    """Generate a batch of vouchers in one transaction (all or nothing)."""
    if not 1 <= count <= batches.MAX_BATCH_SIZE:
        fail(f"--count must be from 1 to {batches.MAX_BATCH_SIZE}")
    if pdf_path is not None and not pdf_path.parent.exists():
        fail(f"folder {pdf_path.parent} does not exist")
    try:
        product = catalog_services.get_product_by_sku(sku)
        agent = agent_services.get_agent_by_code(agent_code) if agent_code else None
    except catalog_services.ProductNotFound:
        fail(f"no active pack with SKU {sku}")
    except agent_services.AgentNotFound:
        fail(f"no agent with code {agent_code}")
    with click.progressbar(
        length=count, label=f"Generating {count} vouchers", file=sys.stderr
    ) as bar:
        done = 0

        def advance(total: int) -> None:
            nonlocal done
            bar.update(total - done)
            done = total

        try:
            generated = batches.generate_batch(
                product,
                count,
                agent_id=agent.id if agent else None,
                inactive=inactive,
                shelf_life_days=shelf_life_days,
                actor=Actor.system("cli"),
                note=note,
                keep_pins=pdf_path is not None,
                progress=advance,
            )
        except batches.InvalidBatch as exc:
            fail(f"invalid {exc.field.replace('_', '-')}: {exc}")
    batch = generated.batch
    click.echo(
        f"Batch {batch.id}: {count} {batch.initial_status.value} vouchers of {product.sku}, "
        f"serials {make_serial(batch.id, 1)} to {make_serial(batch.id, batch.quantity)}, "
        f"PINs expire {batch.expires_at.date().isoformat()}"
    )
    if pdf_path is not None:
        agent_name = agent.name if agent else ""
        sheets = [pdf.printable(issued, product, agent_name) for issued in generated.vouchers]
        pdf_path.write_bytes(pdf.render_a4_sheets(sheets, pdf.print_context(current_app.config)))
        click.echo(f"Wrote {pdf_path} ({len(sheets)} vouchers)")
