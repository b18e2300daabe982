"""``python -m simulators paypal``: serve the PayPal simulator beside a shop in simulator mode."""

import click

from shop.payments.settings import (
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
    SIMULATOR_WEBHOOK_ID,
)
from simulators.keys import instance_signing_identity
from simulators.paypal import WEBHOOK_PATH, create_simulator_app
from simulators.paypal.signing import CERT_COMMON_NAME
from simulators.runner import CommonOptions, simulator_command


@simulator_command(
    "paypal",
    webhook_path=WEBHOOK_PATH,
    help="Serve the PayPal simulator (the shop's PAYPAL_MODE=simulator talks to it).",
)
@click.option("--client-id", envvar="PAYPAL_CLIENT_ID", default=SIMULATOR_CLIENT_ID)
@click.option("--client-secret", envvar="PAYPAL_CLIENT_SECRET", default=SIMULATOR_CLIENT_SECRET)
@click.option("--webhook-id", envvar="PAYPAL_WEBHOOK_ID", default=SIMULATOR_WEBHOOK_ID)
@click.option("--merchant-name", envvar="SHOP_NAME", default="Wanderdata", show_default=True)
def paypal_command(common: CommonOptions, client_id, client_secret, webhook_id, merchant_name):
    """Build the PayPal simulator for the command line's options."""
    return create_simulator_app(
        {
            "PUBLIC_URL": common.public_url,
            "WEBHOOK_URL": common.webhook_url,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": client_secret,
            "WEBHOOK_ID": webhook_id,
            "MERCHANT_NAME": merchant_name,
            "SIGNING_IDENTITY": instance_signing_identity(
                common.instance_path, "paypal", CERT_COMMON_NAME
            ),
        }
    )
