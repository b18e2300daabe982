"""A local stand-in for WeChat Pay API v3, for development, demos and tests.

It speaks what ``wechatpayv3`` calls (platform certificates, Native and H5 orders, query,
close, refund), checks the merchant's request signatures, signs every answer with the platform
key, shows the buyer a page after "scanning" a Native code or in the H5 cashier (pay / decline /
cancel), and sends notifications signed and encrypted exactly as WeChat does.
``python -m simulators wechatpay`` serves it; :class:`WeChatPaySimulator` serves it in a thread.
"""

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask

from simulators import keys
from simulators.runner import SimulatorServer, create_base_app
from simulators.wechatpay.state import STATE_KEY, WeChatState

#: Where the shop receives WeChat Pay's notifications.
WEBHOOK_PATH = "/payments/wechatpay/notify"
#: The demo merchant (loopback demo values, not secrets).
MCHID = "1900000001"
APPID = "wx0000000000000001"
APIV3_KEY = "WanderdataSimulatorAPIv3Key-2026"  # noqa: S105 - public demo value
PLATFORM_NAME = "wechatpay.simulator.invalid"
MERCHANT_NAME = "wechatpay-merchant.simulator.invalid"


def create_simulator_app(config: dict | None = None) -> Flask:
    """Build the simulator app; ``config`` may set MCHID, APPID, APIV3_KEY and identities."""
    from simulators.wechatpay.routes import api, buyer, controls, wechat_error
    from simulators.wechatpay.state import WeChatError

    app = create_base_app(__name__, "WeChat Pay")
    app.config.update(
        MCHID=MCHID,
        APPID=APPID,
        APIV3_KEY=APIV3_KEY,
        PUBLIC_URL=None,
        PLATFORM_IDENTITY=None,
        MERCHANT_IDENTITY=None,
        # Where notifications go when an order names no notify_url (the shop always names one).
        WEBHOOK_URL=None,
    )
    app.config.update(config or {})
    if app.config["PLATFORM_IDENTITY"] is None:
        app.config["PLATFORM_IDENTITY"] = keys.process_signing_identity(PLATFORM_NAME)
    if app.config["MERCHANT_IDENTITY"] is None:
        app.config["MERCHANT_IDENTITY"] = keys.process_signing_identity(MERCHANT_NAME)
    app.extensions[STATE_KEY] = WeChatState()
    app.register_blueprint(api)
    app.register_blueprint(buyer)
    app.register_blueprint(controls)
    app.register_error_handler(WeChatError, wechat_error)
    return app


class WeChatPaySimulator(SimulatorServer):
    """The WeChat Pay simulator in a thread on a free loopback port (tests, browser tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config):
        super().__init__(create_simulator_app(config), host, port)

    @property
    def state(self) -> WeChatState:
        """Return the simulator's orders and scenarios."""
        return self.app.extensions[STATE_KEY]

    def shop_config(self) -> dict:
        """Return the shop settings that point its WeChat Pay gateway at this simulator."""
        merchant = self.app.config["MERCHANT_IDENTITY"]
        serial = x509.load_pem_x509_certificate(merchant.certificate_pem).serial_number
        key = merchant.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "WECHATPAY_MODE": "simulator",
            "WECHATPAY_SIMULATOR_URL": self.url,
            "WECHATPAY_MCHID": self.app.config["MCHID"],
            "WECHATPAY_APPID": self.app.config["APPID"],
            "WECHATPAY_PRIVATE_KEY": key,
            "WECHATPAY_CERT_SERIAL_NO": f"{serial:X}",
            "WECHATPAY_APIV3_KEY": self.app.config["APIV3_KEY"],
        }


__all__ = ["WEBHOOK_PATH", "WeChatPaySimulator", "create_simulator_app"]
