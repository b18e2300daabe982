"""``flask --app wsgi orders ...``: finishing orders that a crash or a lost webhook left open."""

import click
from flask.cli import AppGroup

from shop.storefront import mobile_pay_flow, payment_flow

orders_cli = AppGroup("orders", help="Storefront orders.")


@orders_cli.command("reconcile")
def reconcile_command():
    """Ask the payment providers about unfinished orders and complete or close them."""
    report = payment_flow.reconcile(report=mobile_pay_flow.reconcile_mobile_payments())
    click.echo(
        f"checked {report.checked} payment(s): fulfilled {len(report.fulfilled)}, "
        f"closed {len(report.closed)}, expired {len(report.expired)}, "
        f"provider unreachable for {len(report.unreachable)}"
    )
    for label, references in (
        ("fulfilled", report.fulfilled),
        ("closed", report.closed),
        ("expired", report.expired),
        ("unreachable", report.unreachable),
    ):
        for reference in references:
            click.echo(f"{label}: {reference}")
    if report.unreachable:
        raise SystemExit(1)
