"""``python -m simulators network``: serve the network simulator beside a shop in simulator mode."""

import click

from shop.network.events import SIMULATOR_WEBHOOK_SECRET
from shop.network.http import SIMULATOR_API_KEY
from simulators.network import WEBHOOK_PATH, BackgroundWork, create_simulator_app
from simulators.runner import CommonOptions, simulator_command


@simulator_command(
    "network",
    webhook_path=WEBHOOK_PATH,
    help="Serve the operator's network simulator (the shop's NETWORK_MODE=simulator uses it).",
)
@click.option("--api-key", envvar="NETWORK_API_KEY", default=SIMULATOR_API_KEY)
@click.option("--webhook-secret", envvar="NETWORK_WEBHOOK_SECRET", default=SIMULATOR_WEBHOOK_SECRET)
@click.option(
    "--apply-delay", default=1.0, show_default=True, type=float, help="Seconds to apply a pack."
)
@click.option(
    "--usage-rate",
    default=5.0,
    show_default=True,
    type=float,
    help="MB each active card uses a minute (0: off).",
)
@click.option("--tick", default=5.0, show_default=True, type=float, help="Seconds between uses.")
def network_command(common: CommonOptions, api_key, webhook_secret, apply_delay, usage_rate, tick):
    """Build the network simulator for the command line's options, its loops running."""
    app = create_simulator_app(
        {
            "PUBLIC_URL": common.public_url,
            "WEBHOOK_URL": common.webhook_url,
            "API_KEY": api_key,
            "WEBHOOK_SECRET": webhook_secret,
            "APPLY_DELAY": apply_delay,
            "USAGE_MB_PER_MINUTE": usage_rate,
            "TICK_SECONDS": tick,
        }
    )
    BackgroundWork(app).start()
    return app
