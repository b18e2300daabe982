"""A local stand-in for Twilio's Programmable Messaging API, for development, demos and tests.

It speaks what Twilio's official client calls to send a text message (``POST
/2010-04-01/Accounts/{AccountSid}/Messages.json`` with Basic authentication, and reading a
message back), answers Twilio's error codes where Twilio would, and keeps every message on a
page that stands in for the customer's phone. ``python -m simulators sms`` serves it;
:class:`SmsSimulator` serves it in a thread for tests.
"""

from flask import Flask

from shop.messaging.settings import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN, SIMULATOR_SENDER
from simulators.runner import SimulatorServer, create_base_app
from simulators.sms.state import STATE_KEY, SmsState


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set ACCOUNT_SID, AUTH_TOKEN, SENDER."""
    from simulators.sms.routes import api, controls

    app = create_base_app(__name__, "SMS (Twilio)")
    app.config.update(
        ACCOUNT_SID=SIMULATOR_ACCOUNT_SID,
        AUTH_TOKEN=SIMULATOR_AUTH_TOKEN,
        SENDER=SIMULATOR_SENDER,
        PUBLIC_URL=None,
    )
    app.config.update(config or {})
    app.extensions[STATE_KEY] = SmsState()
    app.register_blueprint(api)
    app.register_blueprint(controls)
    return app


class SmsSimulator(SimulatorServer):
    """The SMS simulator in a thread on a free loopback port (tests, browser tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        super().__init__(create_simulator_app(config), host, port)

    @property
    def state(self) -> SmsState:
        """Return the simulator's messages and scenarios."""
        return self.app.extensions[STATE_KEY]

    def shop_config(self) -> dict:
        """Return the shop settings that point its SMS gateway at this simulator."""
        return {
            "SMS_MODE": "simulator",
            "SMS_SIMULATOR_URL": self.url,
            "TWILIO_ACCOUNT_SID": self.app.config["ACCOUNT_SID"],
            "TWILIO_AUTH_TOKEN": self.app.config["AUTH_TOKEN"],
            "SMS_SENDER": self.app.config["SENDER"],
        }


__all__ = ["SmsSimulator", "create_simulator_app"]
