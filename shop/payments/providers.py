"""The Alipay and WeChat Pay gateways of the current app, built once and on first use.

PayPal's gateway stays ``shop.payments.get_gateway()``; an order paid another way asks
:func:`mobile_pay_gateway` for its provider's, and :func:`gateway_for` returns any payment's
provider's gateway (what a refund talks to). Settings are checked when the app starts
(:func:`check_mobile_pay_settings`); the SDK clients, which may download certificates, are built
only when a payment first needs them.
"""

import threading

from flask import current_app

from shop.payments.gateway import PaymentGateway
from shop.payments.mobile_pay import MobilePayGateway
from shop.payments.mobile_pay_settings import alipay_settings, wechatpay_settings
from shop.payments.settings import PaymentConfigError

EXTENSION_KEY = "mobile_pay_gateways"
#: The providers :func:`mobile_pay_gateway` knows.
MOBILE_PAY_PROVIDERS = ("alipay", "wechatpay")
_build_lock = threading.Lock()


def build_mobile_pay_gateway(name: str, config) -> MobilePayGateway:
    """Build one provider's gateway from the configuration (no network touched)."""
    if name == "alipay":
        from shop.payments.alipay import AlipayGateway

        return AlipayGateway(alipay_settings(config))
    if name == "wechatpay":
        from shop.payments.wechatpay import WeChatPayGateway

        return WeChatPayGateway(wechatpay_settings(config))
    raise PaymentConfigError(f"no mobile payment provider {name!r}")


def check_mobile_pay_settings(config) -> None:
    """Refuse to start with Alipay or WeChat Pay settings that cannot work."""
    alipay_settings(config)
    wechatpay_settings(config)


def mobile_pay_gateway(name: str) -> MobilePayGateway:
    """Return the current app's gateway for ``name`` ("alipay" or "wechatpay")."""
    app = current_app._get_current_object()
    gateways = app.extensions.setdefault(EXTENSION_KEY, {})
    gateway = gateways.get(name)
    if gateway is None:
        with _build_lock:
            gateway = gateways.get(name)
            if gateway is None:
                gateway = gateways[name] = build_mobile_pay_gateway(name, app.config)
    return gateway


def gateway_for(provider: str) -> PaymentGateway:
    """Return the gateway of the provider a payment was made with (PayPal, Alipay, WeChat)."""
    if provider in MOBILE_PAY_PROVIDERS:
        return mobile_pay_gateway(provider)
    from shop.payments import get_gateway

    gateway = get_gateway()
    if gateway.name != provider:
        raise PaymentConfigError(f"no payment provider {provider!r}")
    return gateway
