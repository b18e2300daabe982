"""What Alipay and WeChat Pay share beyond the gateway interface: channels, refunds, amounts.

Both price in CNY, take the buyer to a page (or a QR code) chosen by the kind of device, can
close a trade nobody paid, and refund in part (through the gateway interface's
``refund_payment``, as PayPal does). Their gateways implement
:class:`~shop.payments.gateway.PaymentGateway` plus the methods of :class:`MobilePayGateway`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

import requests

from shop.money import InvalidAmount, format_minor, parse_major
from shop.payments.gateway import (
    GatewayUnavailable,
    PaymentRejected,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookNotice,
)
from shop.payments.mobile_pay_settings import CREDENTIALS_PATH

log = logging.getLogger(__name__)

#: The only currency Alipay and WeChat Pay take from this shop.
MOBILE_PAY_CURRENCY = "CNY"
#: Alipay and WeChat Pay write their times in Beijing time.
BEIJING = timezone(timedelta(hours=8))


class MobilePayChannel(StrEnum):
    """How the buyer pays: which page or code the provider shows."""

    ALIPAY_PAGE = "page"  #: Alipay's desktop cashier (computer website pay)
    ALIPAY_WAP = "wap"  #: Alipay's phone-browser cashier (wap pay)
    WECHAT_NATIVE = "native"  #: a QR code on the shop's page, scanned with WeChat
    WECHAT_H5 = "h5"  #: WeChat's cashier for phone browsers outside WeChat


#: Short suffix of the provider trade number per channel: one trade per order and channel.
CHANNEL_SUFFIX = {
    MobilePayChannel.ALIPAY_PAGE: "P",
    MobilePayChannel.ALIPAY_WAP: "W",
    MobilePayChannel.WECHAT_NATIVE: "N",
    MobilePayChannel.WECHAT_H5: "H",
}


@dataclass(frozen=True)
class MobilePayment:
    """A trade the buyer must now pay: at ``redirect_url``, or by scanning ``code_url``."""

    provider_payment_id: str
    channel: MobilePayChannel
    redirect_url: str = ""
    code_url: str = ""


class MobilePayGateway(Protocol):
    """The calls the storefront makes to Alipay or WeChat Pay besides the common interface."""

    name: str

    def start(
        self,
        request: PaymentRequest,
        channel: MobilePayChannel,
        notify_url: str,
        client_ip: str,
        expires_at: datetime | None,
    ) -> MobilePayment:
        """Create the trade of ``request`` for ``channel``, payable until ``expires_at``."""

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Query the trade."""

    def close(self, provider_payment_id: str) -> bool:
        """Close an unpaid trade; False when it was paid meanwhile (query it then)."""

    def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a paid trade, once per ``request.key``."""

    def verify_webhook(self, headers, raw_body: bytes) -> WebhookNotice:
        """Verify a notification before anything else and return what it says."""


def trade_number(reference: str, channel: MobilePayChannel) -> str:
    """Return the merchant trade number of an order's trade in one channel."""
    return f"{reference}-{CHANNEL_SUFFIX[channel]}"


def refund_number(request: RefundRequest) -> str:
    """Return the merchant refund number of a refund (``out_request_no`` / ``out_refund_no``).

    "<order reference>-<refund key>", as PayPal's refund ``invoice_id``: the provider echoes it
    in its refund notification, which then finds the admin's request (and the PINs chosen).
    """
    return f"{request.reference}-{request.key}"[:64]


def yuan(amount: int, currency: str) -> str:
    """Write minor units as the yuan string both providers expect ("12.30"), exactly."""
    if currency != MOBILE_PAY_CURRENCY:
        raise PaymentRejected(f"this provider takes {MOBILE_PAY_CURRENCY} only, not {currency}")
    if amount <= 0:
        raise PaymentRejected("the amount must be above zero")
    return format_minor(amount, currency)


def parse_yuan(text) -> int:
    """Parse a yuan amount the provider wrote ("12.30") into fen; raise InvalidAmount."""
    if not isinstance(text, str):
        raise InvalidAmount(f"not an amount: {text!r}")
    return parse_major(text, MOBILE_PAY_CURRENCY)


def fetch_simulator_credentials(simulator_url: str, timeout: float) -> dict:
    """Ask a local simulator for its demo merchant's credentials (simulator mode only)."""
    url = simulator_url + CREDENTIALS_PATH
    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        log.warning("simulator credentials from %s: %s", url, exc.__class__.__name__)
        raise GatewayUnavailable("The payment simulator is not running.") from None
    if response.status_code != 200:
        raise GatewayUnavailable("The payment simulator did not give its credentials.")
    try:
        data = response.json()
    except ValueError:
        raise GatewayUnavailable("The payment simulator's credentials are not JSON.") from None
    if not isinstance(data, dict):
        raise GatewayUnavailable("The payment simulator's credentials are not an object.")
    return data
