"""A local stand-in for PayPal's REST API, for development, demos and tests.

It speaks Orders v2 as the shop calls it through ``paypalrestsdk``'s client (OAuth token; create,
get and capture an order; refund a capture; verify a webhook's signature) and, for payments made
before the move, v1 (create, get and execute a payment; refund a sale). It shows the buyer's
approval page, and signs and sends webhooks the way PayPal does. ``python -m simulators
paypal`` serves it (:mod:`simulators.paypal.command`); :class:`PayPalSimulator` serves it in a
thread for tests.
"""

from flask import Flask

from shop.payments.settings import (
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
    SIMULATOR_WEBHOOK_ID,
)
from simulators.paypal.errors import SimulatorError
from simulators.paypal.signing import process_signing_identity
from simulators.paypal.state import STATE_KEY, SimulatorState
from simulators.runner import SimulatorServer, create_base_app

#: Where the shop receives PayPal webhooks.
WEBHOOK_PATH = "/payments/paypal/webhook"


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set WEBHOOK_URL, PUBLIC_URL, CLIENT_ID, ..."""
    from simulators.paypal.approval import buyer
    from simulators.paypal.orders_routes import order_controls, orders_api
    from simulators.paypal.routes import api, controls, handle_simulator_error

    app = create_base_app(__name__, "PayPal")
    app.config.update(
        CLIENT_ID=SIMULATOR_CLIENT_ID,
        CLIENT_SECRET=SIMULATOR_CLIENT_SECRET,
        WEBHOOK_ID=SIMULATOR_WEBHOOK_ID,
        WEBHOOK_URL=None,
        SEND_WEBHOOKS=True,
        PUBLIC_URL=None,
        MERCHANT_NAME="Wanderdata",
        SIGNING_IDENTITY=None,
    )
    app.config.update(config or {})
    if app.config["SIGNING_IDENTITY"] is None:
        app.config["SIGNING_IDENTITY"] = process_signing_identity()
    app.extensions[STATE_KEY] = SimulatorState()
    app.register_blueprint(api)
    app.register_blueprint(buyer)
    app.register_blueprint(controls)
    app.register_blueprint(orders_api)
    app.register_blueprint(order_controls)
    app.register_error_handler(SimulatorError, handle_simulator_error)
    return app


class PayPalSimulator(SimulatorServer):
    """The PayPal simulator in a thread on a free loopback port (tests, browser tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        super().__init__(create_simulator_app(config), host, port)

    @property
    def state(self) -> SimulatorState:
        """Return the simulator's payments, scenarios and stored answers."""
        return self.app.extensions[STATE_KEY]

    @property
    def webhook_url(self) -> str | None:
        """Return where webhooks go (None: not sent)."""
        return self.app.config["WEBHOOK_URL"]

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.app.config["WEBHOOK_URL"] = url

    def shop_config(self) -> dict:
        """Return the shop settings that point its PayPal gateway at this simulator."""
        return {
            "PAYPAL_MODE": "simulator",
            "PAYPAL_SIMULATOR_URL": self.url,
            "PAYPAL_CLIENT_ID": self.app.config["CLIENT_ID"],
            "PAYPAL_CLIENT_SECRET": self.app.config["CLIENT_SECRET"],
            "PAYPAL_WEBHOOK_ID": self.app.config["WEBHOOK_ID"],
        }


__all__ = ["WEBHOOK_PATH", "PayPalSimulator", "create_simulator_app"]
