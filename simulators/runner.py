"""What every simulator shares: its Flask app's frame, the HTTP server, and the command line.

``python -m simulators PROVIDER`` parses the options every simulator takes (host, port, the
shop's webhook URL, the instance folder for its signing key) and serves the app the provider's
command builds, until Ctrl-C or SIGTERM. :class:`SimulatorServer` serves an app in a thread on
a free loopback port for tests.
"""

import functools
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; script-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}
DEFAULT_SHOP_URL = "http://127.0.0.1:5000"


def create_base_app(import_name: str, display_name: str) -> Flask:
    """Return a simulator's Flask app: shared templates and styles, strict security headers."""
    app = Flask(
        import_name,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
    )

    @app.context_processor
    def simulator_name():
        return {"simulator_name": display_name}

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


class SimulatorServer:
    """A threaded simulator on ``127.0.0.1``; ``start()``, ``.url``, ``stop()`` (or ``with``)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self._server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        if not app.config.get("PUBLIC_URL"):
            app.config["PUBLIC_URL"] = self.url
        self._thread: threading.Thread | None = None

    def start(self):
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator-{self.app.name}",
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@dataclass(frozen=True)
class CommonOptions:
    """The options every simulator's command takes."""

    host: str
    port: int
    #: Where the simulator's own links point (its approval page, its certificate URL).
    public_url: str
    #: Where it sends webhooks; None: it sends none.
    webhook_url: str | None
    #: The folder its signing key and certificate are kept in, created on first start.
    instance_path: Path


def simulator_command(name: str, *, webhook_path: str, help: str):  # noqa: A002 - click's name
    """Make a provider's app-building function a ``python -m simulators NAME`` command.

    The function takes :class:`CommonOptions` and its own options, and returns the app.
    """

    def decorate(build_app):
        @click.command(name, help=help)
        @click.option("--host", default="127.0.0.1", show_default=True)
        @click.option("--port", default=5001, type=int, show_default=True)
        @click.option(
            "--webhook-url",
            help=f"Where to send webhooks (default: $SHOP_BASE_URL{webhook_path}).",
        )
        @click.option("--no-webhooks", is_flag=True, help="Send no webhooks.")
        @click.option(
            "--instance-path",
            default="instance",
            show_default=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder for the simulator's signing key (generated on first start).",
        )
        @functools.wraps(build_app)
        def command(host, port, webhook_url, no_webhooks, instance_path, **provider_options):
            shop_url = click.get_current_context().obj or DEFAULT_SHOP_URL
            url = f"http://{host}:{port}"
            common = CommonOptions(
                host=host,
                port=port,
                public_url=url,
                webhook_url=None if no_webhooks else webhook_url or shop_url + webhook_path,
                instance_path=instance_path,
            )
            app = build_app(common, **provider_options)
            serve(app, common, name)

        return command

    return decorate


def serve(app: Flask, options: CommonOptions, name: str) -> None:
    """Serve ``app`` until Ctrl-C or SIGTERM, then close the socket."""
    server = make_server(options.host, options.port, app, threaded=True)

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    click.echo(
        f"{name} simulator on {options.public_url} (controls: {options.public_url}/simulator/)"
    )
    click.echo(f"Webhooks: {options.webhook_url or 'off'}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.group(
    "simulators",
    help="Serve a payment provider's local simulator (the shop's simulator mode talks to it).",
)
@click.option(
    "--shop-url",
    envvar="SHOP_BASE_URL",
    default=DEFAULT_SHOP_URL,
    show_default=True,
    help="The shop's base URL: webhooks go to its provider path unless --webhook-url says.",
)
@click.pass_context
def simulators_cli(context, shop_url):
    """Group the provider commands; remember the shop's URL for their webhooks."""
    context.obj = shop_url.rstrip("/")


def main() -> None:
    """Run the command line with every provider registered."""
    from simulators.alipay.command import alipay_command
    from simulators.network.command import network_command
    from simulators.paypal.command import paypal_command
    from simulators.sms.command import sms_command
    from simulators.wechatpay.command import wechatpay_command

    simulators_cli.add_command(paypal_command)
    simulators_cli.add_command(alipay_command)
    simulators_cli.add_command(wechatpay_command)
    simulators_cli.add_command(sms_command)
    simulators_cli.add_command(network_command)
    simulators_cli()
