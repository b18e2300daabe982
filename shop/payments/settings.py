"""PayPal settings read from the app's configuration, checked before the shop starts.

``simulator`` mode points the real SDK at the local simulator with its fixed demo credentials;
``sandbox`` and ``live`` use real PayPal and refuse to start without credentials and a webhook id.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from shop.payments.webhooks import (
    PAYPAL_CERT_COMMON_NAMES,
    PAYPAL_CERT_HOSTS,
    AllowedCertOrigin,
    origin_of_url,
    origins_for_hosts,
)
from shop.provider_settings import (
    provider_mode,
    require_settings,
    simulator_url,
    timeout_seconds,
)

#: Where the SDK talks to real PayPal.
PAYPAL_ENDPOINTS = {
    "sandbox": "https://api.sandbox.paypal.com",
    "live": "https://api.paypal.com",
}
#: The simulator's fixed demo credentials and webhook id (not secrets: it runs on loopback).
SIMULATOR_CLIENT_ID = "wanderdata-simulator-client"
SIMULATOR_CLIENT_SECRET = "wanderdata-simulator-secret"  # noqa: S105 - public demo value
SIMULATOR_WEBHOOK_ID = "WH-SIMULATOR-1"


class PaymentConfigError(RuntimeError):
    """The payment settings cannot work; the shop refuses to start with them."""


@dataclass(frozen=True)
class PayPalSettings:
    """Everything the PayPal gateway needs, validated."""

    mode: str
    client_id: str
    client_secret: str = field(repr=False)
    endpoint: str
    webhook_id: str
    timeout: float
    cert_origins: tuple[AllowedCertOrigin, ...]
    #: Subject CN required of the webhook signing certificate (None: not checked, simulator).
    cert_common_name: str | None


def paypal_settings(config: Mapping) -> PayPalSettings:
    """Read and check the ``PAYPAL_*`` settings; raise PaymentConfigError with a clear reason."""
    mode = provider_mode(config, "PAYPAL_MODE", PaymentConfigError)
    timeout = timeout_seconds(config, "PAYPAL_TIMEOUT_SECONDS", PaymentConfigError)
    client_id = config.get("PAYPAL_CLIENT_ID") or ""
    client_secret = config.get("PAYPAL_CLIENT_SECRET") or ""
    webhook_id = config.get("PAYPAL_WEBHOOK_ID") or ""
    extra_hosts = [h for h in str(config.get("PAYPAL_CERT_HOSTS") or "").split(",") if h.strip()]
    if mode == "simulator":
        endpoint = simulator_url(
            config, "PAYPAL_SIMULATOR_URL", "http://127.0.0.1:5001", PaymentConfigError
        )
        return PayPalSettings(
            mode=mode,
            client_id=client_id or SIMULATOR_CLIENT_ID,
            client_secret=client_secret or SIMULATOR_CLIENT_SECRET,
            endpoint=endpoint,
            webhook_id=webhook_id or SIMULATOR_WEBHOOK_ID,
            timeout=timeout,
            cert_origins=(origin_of_url(endpoint), *origins_for_hosts(extra_hosts)),
            cert_common_name=None,
        )
    require_settings(
        "PAYPAL_MODE",
        mode,
        {
            "PAYPAL_CLIENT_ID": client_id,
            "PAYPAL_CLIENT_SECRET": client_secret,
            "PAYPAL_WEBHOOK_ID": webhook_id,
        },
        PaymentConfigError,
        "from the PayPal developer dashboard",
    )
    return PayPalSettings(
        mode=mode,
        client_id=client_id,
        client_secret=client_secret,
        endpoint=PAYPAL_ENDPOINTS[mode],
        webhook_id=webhook_id,
        timeout=timeout,
        cert_origins=origins_for_hosts(extra_hosts or PAYPAL_CERT_HOSTS[mode]),
        cert_common_name=PAYPAL_CERT_COMMON_NAMES[mode],
    )
