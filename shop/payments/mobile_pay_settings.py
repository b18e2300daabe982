"""Alipay and WeChat Pay settings read from the app's configuration, checked before start.

Each has three modes, as PayPal does: ``simulator`` (the local stand-in of ``python -m
simulators``; its demo merchant credentials are fetched from the simulator on first use unless
the configuration names them), ``sandbox`` and ``live`` (credentials from the environment, the
shop refuses to start without them). The same code runs in every mode; only the URL and the
credentials change.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shop.payments.settings import PaymentConfigError
from shop.provider_settings import (
    provider_mode,
    require_settings,
    simulator_url,
    timeout_seconds,
)

#: Alipay's OpenAPI gateway, per mode (the simulator's is ``ALIPAY_SIMULATOR_URL``/gateway.do).
ALIPAY_GATEWAYS = {
    "sandbox": "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
    "live": "https://openapi.alipay.com/gateway.do",
}
#: WeChat Pay API v3 has one host; its "sandbox" is a test merchant on the same host.
WECHATPAY_GATEWAYS = {
    "sandbox": "https://api.mch.weixin.qq.com",
    "live": "https://api.mch.weixin.qq.com",
}
#: Where WeChat's H5 cashier pages live (the pay form's redirect target).
WECHATPAY_H5_ORIGIN = "https://wx.tenpay.com"
#: Where Alipay's gateway sends the buyer on to (its cashier hosts), per mode: the pay form's
#: redirects must all be allowed by the CSP's form-action.
ALIPAY_CASHIER_ORIGINS = {
    "sandbox": ("https://*.alipaydev.com",),
    "live": ("https://*.alipay.com",),
}
#: Path of the simulator's demo merchant credentials (loopback demo values, not secrets).
CREDENTIALS_PATH = "/simulator/credentials"
#: The APIv3 key is 32 bytes of text (AES-256).
APIV3_KEY_LENGTH = 32


def _mode(config: Mapping, name: str) -> str:
    return provider_mode(config, name, PaymentConfigError)


def _timeout(config: Mapping, name: str) -> float:
    return timeout_seconds(config, name, PaymentConfigError)


def _simulator_url(config: Mapping, name: str) -> str:
    return simulator_url(config, name, "http://127.0.0.1:5002", PaymentConfigError)


def _require(mode: str, prefix: str, values: dict[str, str]) -> None:
    require_settings(f"{prefix}_MODE", mode, values, PaymentConfigError, "from the provider")


def origin_of(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class AlipaySettings:
    """Everything the Alipay gateway needs; keys empty in simulator mode mean "ask it"."""

    mode: str
    gateway_url: str
    app_id: str
    app_private_key: str = field(repr=False)
    alipay_public_key: str
    timeout: float
    #: The simulator's base URL (credentials, controls); empty for real Alipay.
    simulator_url: str = ""


def alipay_settings(config: Mapping) -> AlipaySettings:
    """Read and check the ``ALIPAY_*`` settings; raise PaymentConfigError with a clear reason."""
    mode = _mode(config, "ALIPAY_MODE")
    timeout = _timeout(config, "ALIPAY_TIMEOUT_SECONDS")
    app_id = str(config.get("ALIPAY_APP_ID") or "")
    private_key = str(config.get("ALIPAY_APP_PRIVATE_KEY") or "")
    public_key = str(config.get("ALIPAY_PUBLIC_KEY") or "")
    if mode == "simulator":
        url = _simulator_url(config, "ALIPAY_SIMULATOR_URL")
        return AlipaySettings(
            mode, f"{url}/gateway.do", app_id, private_key, public_key, timeout, url
        )
    _require(
        mode,
        "ALIPAY",
        {
            "ALIPAY_APP_ID": app_id,
            "ALIPAY_APP_PRIVATE_KEY": private_key,
            "ALIPAY_PUBLIC_KEY": public_key,
        },
    )
    return AlipaySettings(mode, ALIPAY_GATEWAYS[mode], app_id, private_key, public_key, timeout)


@dataclass(frozen=True)
class WeChatPaySettings:
    """Everything the WeChat Pay gateway needs; keys empty in simulator mode mean "ask it"."""

    mode: str
    gateway_url: str
    mchid: str
    appid: str
    private_key: str = field(repr=False)
    cert_serial_no: str
    apiv3_key: str = field(repr=False)
    timeout: float
    #: Seconds a notification's timestamp may differ from now.
    notify_window: int = 300
    simulator_url: str = ""


def wechatpay_settings(config: Mapping) -> WeChatPaySettings:
    """Read and check the ``WECHATPAY_*`` settings; raise PaymentConfigError with a reason."""
    mode = _mode(config, "WECHATPAY_MODE")
    timeout = _timeout(config, "WECHATPAY_TIMEOUT_SECONDS")
    values = {
        "WECHATPAY_MCHID": str(config.get("WECHATPAY_MCHID") or ""),
        "WECHATPAY_APPID": str(config.get("WECHATPAY_APPID") or ""),
        "WECHATPAY_PRIVATE_KEY": str(config.get("WECHATPAY_PRIVATE_KEY") or ""),
        "WECHATPAY_CERT_SERIAL_NO": str(config.get("WECHATPAY_CERT_SERIAL_NO") or ""),
        "WECHATPAY_APIV3_KEY": str(config.get("WECHATPAY_APIV3_KEY") or ""),
    }
    apiv3_key = values["WECHATPAY_APIV3_KEY"]
    if apiv3_key and len(apiv3_key.encode()) != APIV3_KEY_LENGTH:
        raise PaymentConfigError("WECHATPAY_APIV3_KEY must be 32 characters (AES-256)")
    simulator_url = ""
    if mode == "simulator":
        simulator_url = _simulator_url(config, "WECHATPAY_SIMULATOR_URL")
        gateway = simulator_url
    else:
        _require(mode, "WECHATPAY", values)
        gateway = WECHATPAY_GATEWAYS[mode]
    return WeChatPaySettings(
        mode=mode,
        gateway_url=gateway,
        mchid=values["WECHATPAY_MCHID"],
        appid=values["WECHATPAY_APPID"],
        private_key=values["WECHATPAY_PRIVATE_KEY"],
        cert_serial_no=values["WECHATPAY_CERT_SERIAL_NO"],
        apiv3_key=apiv3_key,
        timeout=timeout,
        simulator_url=simulator_url,
    )


def mobile_pay_redirect_origins(config: Mapping) -> tuple[str, ...]:
    """Return the origins the Alipay and WeChat pay forms redirect the buyer to (CSP)."""
    origins = []
    try:
        alipay = alipay_settings(config)
        origins.append(origin_of(alipay.gateway_url))
        origins.extend(ALIPAY_CASHIER_ORIGINS.get(alipay.mode, ()))
        wechat = wechatpay_settings(config)
        origins.append(wechat.simulator_url or WECHATPAY_H5_ORIGIN)
    except PaymentConfigError:
        pass
    return tuple(origin for origin in origins if origin)
