"""Run the simulator in a background thread on a free loopback port (tests, browser tests)."""

import threading

from werkzeug.serving import make_server

from shop.payments.simulator.state import SimulatorState


class SimulatorServer:
    """A threaded simulator on ``127.0.0.1``; ``start()``, ``.url``, ``stop()`` (or ``with``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        from shop.payments.simulator import create_simulator_app

        self.app = create_simulator_app(config)
        self._server = make_server(host, port, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        if not self.app.config["PUBLIC_URL"]:
            self.app.config["PUBLIC_URL"] = self.url
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SimulatorState:
        """Return the simulator's payments, scenarios and stored answers."""
        return self.app.extensions["paypal_simulator"]

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

    def start(self) -> "SimulatorServer":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="paypal-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
