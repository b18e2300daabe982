"""A local stand-in for Alipay's OpenAPI gateway, for development, demos and tests.

It speaks what ``python-alipay-sdk`` calls (``gateway.do``: page and wap pay, trade query,
close, refund), checks the shop's RSA2 request signatures with the demo app's public key,
shows the buyer a cashier (pay / decline / cancel), and signs its answers, returns and
notifications with its own key exactly as Alipay does. ``python -m simulators alipay`` serves it
(:mod:`simulators.alipay.command`); :class:`AlipaySimulator` serves it in a thread for tests.
"""

from flask import Flask

from simulators import keys
from simulators.alipay.signing import private_pem, public_pem
from simulators.alipay.state import STATE_KEY, AlipayState
from simulators.runner import SimulatorServer, create_base_app

#: Where the shop receives Alipay's notifications.
WEBHOOK_PATH = "/payments/alipay/notify"
#: The demo merchant app (a loopback demo value, not a secret).
APP_ID = "2021000000000001"
PLATFORM_NAME = "alipay.simulator.invalid"
APP_NAME = "alipay-app.simulator.invalid"


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set APP_ID, PLATFORM_IDENTITY, APP_IDENTITY."""
    from simulators.alipay.routes import controls, gateway

    app = create_base_app(__name__, "Alipay")
    app.config.update(
        APP_ID=APP_ID,
        PUBLIC_URL=None,
        PLATFORM_IDENTITY=None,
        APP_IDENTITY=None,
        # Where notifications go when a trade names no notify_url (the shop always names one).
        WEBHOOK_URL=None,
    )
    app.config.update(config or {})
    if app.config["PLATFORM_IDENTITY"] is None:
        app.config["PLATFORM_IDENTITY"] = keys.process_signing_identity(PLATFORM_NAME)
    if app.config["APP_IDENTITY"] is None:
        app.config["APP_IDENTITY"] = keys.process_signing_identity(APP_NAME)
    app.extensions[STATE_KEY] = AlipayState()
    app.register_blueprint(gateway)
    app.register_blueprint(controls)
    return app


class AlipaySimulator(SimulatorServer):
    """The Alipay simulator in a thread on a free loopback port (tests, browser tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        super().__init__(create_simulator_app(config), host, port)

    @property
    def state(self) -> AlipayState:
        """Return the simulator's trades and scenarios."""
        return self.app.extensions[STATE_KEY]

    def shop_config(self) -> dict:
        """Return the shop settings that point its Alipay gateway at this simulator."""
        return {
            "ALIPAY_MODE": "simulator",
            "ALIPAY_SIMULATOR_URL": self.url,
            "ALIPAY_APP_ID": self.app.config["APP_ID"],
            "ALIPAY_APP_PRIVATE_KEY": private_pem(self.app.config["APP_IDENTITY"].private_key),
            "ALIPAY_PUBLIC_KEY": public_pem(self.app.config["PLATFORM_IDENTITY"].private_key),
        }


__all__ = ["APP_ID", "WEBHOOK_PATH", "AlipaySimulator", "create_simulator_app"]
