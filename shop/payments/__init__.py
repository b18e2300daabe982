"""Payments: the provider-neutral gateway the storefront calls, and the configured provider.

``get_gateway()`` returns the current app's gateway, built once from the ``PAYPAL_*`` settings
by :func:`init_app` (which refuses to start the shop with settings that cannot work).
"""

import threading
from urllib.parse import urlsplit

from flask import Flask, current_app

from shop.payments.gateway import PaymentGateway
from shop.payments.settings import PaymentConfigError, paypal_settings

EXTENSION_KEY = "payment_gateway"
_build_lock = threading.Lock()

__all__ = [
    "PaymentConfigError",
    "all_approval_origins",
    "approval_origins",
    "build_gateway",
    "get_gateway",
    "init_app",
]

#: Where PayPal's buyer approval pages live, per mode (the shop's forms redirect there).
PAYPAL_APPROVAL_ORIGINS = {
    "live": "https://www.paypal.com",
    "sandbox": "https://www.sandbox.paypal.com",
}


def approval_origins(config) -> tuple[str, ...]:
    """Return the origins a "Pay" form may redirect the buyer to (the CSP's form-action)."""
    mode = str(config.get("PAYPAL_MODE") or "simulator").lower()
    if mode in PAYPAL_APPROVAL_ORIGINS:
        return (PAYPAL_APPROVAL_ORIGINS[mode],)
    parts = urlsplit(str(config.get("PAYPAL_SIMULATOR_URL") or ""))
    return (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()


def all_approval_origins(config) -> tuple[str, ...]:
    """Return PayPal's approval origins and those of Alipay's and WeChat Pay's pages."""
    from shop.payments.mobile_pay_settings import mobile_pay_redirect_origins

    return (*approval_origins(config), *mobile_pay_redirect_origins(config))


def build_gateway(config) -> PaymentGateway:
    """Build the gateway the configuration selects (PayPal in one of its three modes)."""
    from shop.payments.paypal import PayPalGateway

    return PayPalGateway(paypal_settings(config), brand_name=str(config.get("SHOP_NAME") or ""))


def init_app(app: Flask) -> None:
    """Check the payment settings and build the app's gateway; no network is touched."""
    app.extensions[EXTENSION_KEY] = build_gateway(app.config)
    from shop.payments.providers import check_mobile_pay_settings

    check_mobile_pay_settings(app.config)


def get_gateway() -> PaymentGateway:
    """Return the current app's payment gateway (built on first use if init_app did not)."""
    app = current_app._get_current_object()
    gateway = app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        with _build_lock:
            gateway = app.extensions.get(EXTENSION_KEY)
            if gateway is None:
                gateway = app.extensions[EXTENSION_KEY] = build_gateway(app.config)
    return gateway
