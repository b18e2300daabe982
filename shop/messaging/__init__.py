"""Text messages (SMS): the provider-neutral gateway, phone numbers, and the configured provider.

Messages are never sent from a request: ``shop.mail.services.send_sms`` writes them to the one
outbox (beside e-mail) and a job worker hands them to :func:`get_sms_gateway`. ``init_app``
checks the ``SMS_*`` settings when the shop starts.
"""

from flask import Flask, current_app

from shop.messaging.gateway import SmsGateway
from shop.messaging.settings import SmsConfigError, sms_settings

EXTENSION_KEY = "sms_gateway"

__all__ = ["SmsConfigError", "build_sms_gateway", "get_sms_gateway", "init_app"]


def build_sms_gateway(config) -> SmsGateway:
    """Build the gateway the configuration selects (Twilio's API in one of its three modes)."""
    from shop.messaging.twilio_sms import TwilioSmsGateway

    return TwilioSmsGateway(sms_settings(config))


def init_app(app: Flask) -> None:
    """Check the SMS settings and build the app's gateway; no network is touched."""
    app.extensions[EXTENSION_KEY] = build_sms_gateway(app.config)


def get_sms_gateway() -> SmsGateway:
    """Return the current app's SMS gateway."""
    app = current_app._get_current_object()
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = build_sms_gateway(app.config)
    return app.extensions[EXTENSION_KEY]
