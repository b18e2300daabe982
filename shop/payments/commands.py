"""``flask --app wsgi payments ...``: run the local PayPal simulator."""

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import make_server

from shop.payments.settings import (
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
    SIMULATOR_WEBHOOK_ID,
)

payments_cli = AppGroup("payments", help="Payment providers: the local PayPal simulator.")

#: Where the storefront receives PayPal webhooks.
WEBHOOK_PATH = "/payments/paypal/webhook"


@payments_cli.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, type=int, show_default=True)
@click.option(
    "--webhook-url",
    help=f"Where to send webhooks (default: SHOP_BASE_URL + {WEBHOOK_PATH}).",
)
@click.option("--no-webhooks", is_flag=True, help="Send no webhooks after payments.")
def simulator_command(host, port, webhook_url, no_webhooks):
    """Serve the PayPal simulator (PAYPAL_MODE=simulator talks to it) until interrupted."""
    from shop.payments.simulator import create_simulator_app

    config = current_app.config
    url = f"http://{host}:{port}"
    webhook_url = webhook_url or config["SHOP_BASE_URL"].rstrip("/") + WEBHOOK_PATH
    app = create_simulator_app(
        {
            "PUBLIC_URL": url,
            "WEBHOOK_URL": None if no_webhooks else webhook_url,
            "CLIENT_ID": config.get("PAYPAL_CLIENT_ID") or SIMULATOR_CLIENT_ID,
            "CLIENT_SECRET": config.get("PAYPAL_CLIENT_SECRET") or SIMULATOR_CLIENT_SECRET,
            "WEBHOOK_ID": config.get("PAYPAL_WEBHOOK_ID") or SIMULATOR_WEBHOOK_ID,
            "MERCHANT_NAME": config.get("SHOP_NAME", "Wanderdata"),
        }
    )
    server = make_server(host, port, app, threaded=True)
    click.echo(f"PayPal simulator on {url} (payments: {url}/simulator/)")
    click.echo(f"Webhooks: {'off' if no_webhooks else webhook_url}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
