"""A local stand-in for the operator's network, for development, demos and tests.

It speaks the eSIM-provider-shaped API the shop's ``shop.network.http`` adapter calls: apply a
pack by ICCID under a transaction id (idempotent: a repeated id gets the first answer), read a
card's total / used / remaining data and expiry, read its daily usage. It knows the demo cards,
applies a pack after a short configurable delay, can fail on demand (network down, card
unknown, answer after the shop stopped waiting), lets active cards use data at a configurable
rate, and sends signed events to the shop. ``python -m simulators network`` serves it
(:mod:`simulators.network.command`); :class:`NetworkSimulator` serves it in a thread for tests.
"""

import json
import threading

from flask import Flask

from shop.network.events import SIMULATOR_WEBHOOK_SECRET
from shop.network.http import SIMULATOR_API_KEY
from shop.network.signing import SIGNATURE_HEADER, sign
from simulators.delivery import deliver
from simulators.network.state import STATE_KEY, NetworkState
from simulators.runner import SimulatorServer, create_base_app

#: Where the shop receives the network's events.
WEBHOOK_PATH = "/network/events"
#: The cards of ``flask --app wsgi shop demo``.
DEMO_CARDS = ("8966000000000000012", "8944000000000000027", "8910000000000000036", "+66812345678")
DEMO_SUSPENDED = ("8910000000000000036",)


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set WEBHOOK_URL, API_KEY, APPLY_DELAY, ..."""
    from simulators.network.routes import api, controls

    app = create_base_app(__name__, "Network")
    app.config.update(
        API_KEY=SIMULATOR_API_KEY,
        WEBHOOK_SECRET=SIMULATOR_WEBHOOK_SECRET,
        WEBHOOK_URL=None,
        #: Seconds a pack takes to apply.
        APPLY_DELAY=0.0,
        #: Data each active card uses a minute (0: only what is added by hand).
        USAGE_MB_PER_MINUTE=0.0,
        TICK_SECONDS=5.0,
        CARDS=DEMO_CARDS,
        SUSPENDED_CARDS=DEMO_SUSPENDED,
    )
    app.config.update(config or {})
    network = NetworkState(app.config["CARDS"])
    for number in app.config["SUSPENDED_CARDS"]:
        if number in network.cards:
            network.cards[number].suspended = True
    app.extensions[STATE_KEY] = network
    app.register_blueprint(api)
    app.register_blueprint(controls)
    return app


def signed_event(secret: str, event: dict) -> tuple[dict, bytes]:
    """Return the headers and body of one signed event."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}, body


class BackgroundWork:
    """The simulator's two loops: cards using data, and events going out to the shop."""

    def __init__(self, app: Flask):
        self.app = app
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start both loops in daemon threads."""
        for target in (self._consume, self._send_events):
            thread = threading.Thread(target=target, daemon=True, name=f"network-{target.__name__}")
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop both loops."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _consume(self) -> None:
        config = self.app.config
        network: NetworkState = self.app.extensions[STATE_KEY]
        while not self.stopping.wait(config["TICK_SECONDS"]):
            network.consume(config["USAGE_MB_PER_MINUTE"], config["TICK_SECONDS"])

    def _send_events(self) -> None:
        config = self.app.config
        network: NetworkState = self.app.extensions[STATE_KEY]
        while not self.stopping.wait(0.1):
            if not config["WEBHOOK_URL"]:
                continue
            for event in network.take_events():
                headers, body = signed_event(config["WEBHOOK_SECRET"], event)
                deliver(config["WEBHOOK_URL"], headers, body)


class NetworkSimulator(SimulatorServer):
    """The network simulator in a thread on a free loopback port (tests, benchmarks)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        super().__init__(create_simulator_app(config), host, port)
        self.background = BackgroundWork(self.app)

    def start(self):
        """Serve, and run the usage and event loops."""
        super().start()
        self.background.start()
        return self

    def stop(self) -> None:
        """Stop the loops and the server."""
        self.background.stop()
        super().stop()

    @property
    def state(self) -> NetworkState:
        """Return the simulator's cards, packs, switches and waiting events."""
        return self.app.extensions[STATE_KEY]

    def shop_config(self) -> dict:
        """Return the shop settings that point its network gateway at this simulator."""
        return {
            "NETWORK_MODE": "simulator",
            "NETWORK_API_URL": self.url,
            "NETWORK_API_KEY": self.app.config["API_KEY"],
            "NETWORK_WEBHOOK_SECRET": self.app.config["WEBHOOK_SECRET"],
        }


__all__ = ["WEBHOOK_PATH", "NetworkSimulator", "create_simulator_app", "signed_event"]
