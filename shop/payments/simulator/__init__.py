"""A local stand-in for PayPal's v1 REST API, for development, demos and tests.

It speaks what ``paypalrestsdk`` calls (OAuth token; create, get and execute payment), shows a
buyer's approval page, and signs and sends webhooks the way PayPal does. It is its own small
Flask app, not part of the shop: ``flask --app wsgi payments simulator`` runs it, and
:class:`SimulatorServer` runs it in a thread for tests.
"""

from pathlib import Path

from flask import Flask

from shop.payments.settings import (
    SIMULATOR_CLIENT_ID,
    SIMULATOR_CLIENT_SECRET,
    SIMULATOR_WEBHOOK_ID,
)
from shop.payments.simulator.signing import process_signing_identity
from shop.payments.simulator.state import SimulatorState

ROOT = Path(__file__).resolve().parents[3]
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; script-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set WEBHOOK_URL, PUBLIC_URL, CLIENT_ID, ..."""
    from shop.payments.simulator.routes import api, buyer, controls, handle_simulator_error
    from shop.payments.simulator.state import SimulatorError

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "shop" / "static"),
    )
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
    app.extensions["paypal_simulator"] = SimulatorState()
    app.register_blueprint(api)
    app.register_blueprint(buyer)
    app.register_blueprint(controls)
    app.register_error_handler(SimulatorError, handle_simulator_error)

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


from shop.payments.simulator.server import SimulatorServer  # noqa: E402

__all__ = ["SimulatorServer", "create_simulator_app"]
