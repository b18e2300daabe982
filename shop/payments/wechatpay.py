r"""WeChat Pay (API v3) through ``wechatpayv3``: Native QR and H5, notifications, query, refund.

The SDK's ``WeChatPay`` builds a ``Core`` whose host is fixed and which downloads the platform
certificates (``/v3/certificates``, encrypted with the APIv3 key) as it is made;
:class:`PointedCore` sets the configured host first, so the simulator, the sandbox merchant
and live differ only in settings. The SDK checks the platform signature of every answer.

A notification is checked here before the SDK touches it: the signature type, a serial that is
a certificate serial, and a timestamp within five minutes of now. The SDK then verifies the
platform signature over ``timestamp\nnonce\nbody\n`` and decrypts the resource with
AES-256-GCM and the APIv3 key; only a notification that passes all of it is believed.
A REFUND.SUCCESS notification (full or partial) reports one refund: its ``refund_id``, its own
amount, and the ``out_refund_no`` the shop asked it under (or WeChat's console chose).
"""

import json
import logging
import string
import threading
import time
from datetime import UTC, datetime, timedelta

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from shop.payments.gateway import (
    CreatedPayment,
    GatewayUnavailable,
    PaymentError,
    PaymentRejected,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    UnsupportedWebhookEvent,
    WebhookNotice,
    WebhookRejected,
)
from shop.payments.mobile_pay import (
    BEIJING,
    MOBILE_PAY_CURRENCY,
    MobilePayChannel,
    MobilePayment,
    fetch_simulator_credentials,
    refund_number,
    trade_number,
    yuan,
)
from shop.payments.mobile_pay_settings import WeChatPaySettings

log = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
#: WeChat's trade states and what they mean to the shop.
TRADE_STATES = {
    "SUCCESS": PaymentState.COMPLETED,
    "REFUND": PaymentState.COMPLETED,  # paid, then (partly) refunded: refunds come as events
    "NOTPAY": PaymentState.CREATED,
    "USERPAYING": PaymentState.CREATED,
    "CLOSED": PaymentState.CANCELLED,
    "REVOKED": PaymentState.CANCELLED,
    "PAYERROR": PaymentState.FAILED,
}
#: Refund states in which WeChat gave nothing back.
REFUND_FAILED = frozenset({"CLOSED", "ABNORMAL"})
UNAVAILABLE_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANKERROR"})
UNAVAILABLE_MESSAGE = "WeChat Pay is not answering right now; please try again in a few minutes."
REJECTED_MESSAGE = "The payment could not be set up with WeChat Pay; please contact us."
#: WeChat's limit on the description, in bytes of UTF-8.
MAX_DESCRIPTION_BYTES = 127


class PointedCore(Core):
    """The SDK's core talking to ``gateway_url`` (its certificates downloaded from there too)."""

    def __init__(self, gateway_url: str, **options):
        self._gateway_url = gateway_url
        super().__init__(**options)

    def _init_certificates(self):
        self._gate_way = self._gateway_url  # before the first download, which __init__ starts
        super()._init_certificates()


class PointedWeChatPay(WeChatPay):
    """``WeChatPay`` with a :class:`PointedCore`; the attributes are the ones its own sets."""

    def __init__(self, *, gateway_url, wechatpay_type, mchid, appid, notify_url, **core_options):
        # WeChatPay.__init__ would build a Core on the fixed host and download from it at once.
        self._type = wechatpay_type
        self._mchid = mchid
        self._appid = appid
        self._notify_url = notify_url
        self._partner_mode = False
        self._core = PointedCore(gateway_url, mchid=mchid, **core_options)


class WeChatPayGateway:
    """WeChat Pay behind the shop's gateway interface, plus close and refund."""

    name = "wechatpay"

    def __init__(self, settings: WeChatPaySettings):
        self.settings = settings
        self._client: PointedWeChatPay | None = None
        self._lock = threading.Lock()
        # The SDK's certificate list is refreshed in place: one notification at a time uses it.
        self._verify_lock = threading.Lock()

    def client(self) -> PointedWeChatPay:
        """Return the SDK client; made (and the platform certificates fetched) on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> PointedWeChatPay:
        values = {
            "mchid": self.settings.mchid,
            "appid": self.settings.appid,
            "private_key": self.settings.private_key,
            "cert_serial_no": self.settings.cert_serial_no,
            "apiv3_key": self.settings.apiv3_key,
        }
        if self.settings.simulator_url and not all(values.values()):
            credentials = fetch_simulator_credentials(
                self.settings.simulator_url, self.settings.timeout
            )
            values = {
                key: value or str(credentials.get(key) or "") for key, value in values.items()
            }
        try:
            return PointedWeChatPay(
                gateway_url=self.settings.gateway_url,
                wechatpay_type=WeChatPayType.NATIVE,
                notify_url=None,
                timeout=self.settings.timeout,
                **values,
            )
        except requests.RequestException as exc:
            log.warning("WeChat Pay certificates: %s", exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception for bad keys
            log.error("WeChat Pay client could not be made: %s", str(exc)[:200])
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None

    # --- paying -------------------------------------------------------------------------------

    def start(
        self,
        request: PaymentRequest,
        channel: MobilePayChannel,
        notify_url: str,
        client_ip: str = "",
        expires_at: datetime | None = None,
    ) -> MobilePayment:
        """Place a Native (QR) or H5 (phone browser) order; return the code or the page."""
        yuan(request.total, request.currency)  # CNY and above zero, or PaymentRejected
        out_trade_no = trade_number(request.reference, channel)
        # The same deadline on every retry: WeChat refuses a trade number asked with new terms.
        expires = (expires_at or datetime.now(UTC) + timedelta(hours=2)).astimezone(BEIJING)
        options = {
            "description": _truncate(request.description, MAX_DESCRIPTION_BYTES),
            "out_trade_no": out_trade_no,
            "amount": {"total": request.total, "currency": MOBILE_PAY_CURRENCY},
            "notify_url": notify_url,
            "time_expire": expires.isoformat(timespec="seconds"),
        }
        if channel == MobilePayChannel.WECHAT_NATIVE:
            answer = self._call("native", lambda c: c.pay(pay_type=WeChatPayType.NATIVE, **options))
            code_url = answer.get("code_url")
            if not isinstance(code_url, str) or not code_url:
                raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
            return MobilePayment(out_trade_no, channel, code_url=code_url)
        if channel == MobilePayChannel.WECHAT_H5:
            scene = {"payer_client_ip": client_ip or "127.0.0.1", "h5_info": {"type": "Wap"}}
            answer = self._call(
                "h5", lambda c: c.pay(pay_type=WeChatPayType.H5, scene_info=scene, **options)
            )
            h5_url = answer.get("h5_url")
            if not isinstance(h5_url, str) or not h5_url:
                raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
            return MobilePayment(out_trade_no, channel, redirect_url=h5_url)
        raise PaymentRejected(f"WeChat Pay has no channel {channel}")

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Place a Native order (the gateway interface's default); its code is the "URL"."""
        payment = self.start(request, MobilePayChannel.WECHAT_NATIVE, "")
        return CreatedPayment(payment.provider_payment_id, payment.code_url)

    def execute_payment(self, provider_payment_id: str, payer_id: str, reference: str):
        """WeChat captures when the buyer pays: executing is looking the order up."""
        return self.get_payment(provider_payment_id)

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Query the order by our trade number; an order WeChat does not know is unpaid."""
        answer = self._call(
            "query",
            lambda c: c.query(out_trade_no=provider_payment_id),
            missing_ok=True,
        )
        if answer is None:
            return PaymentStatus(provider_payment_id, PaymentState.CREATED)
        return self._status(answer, provider_payment_id)

    def close(self, provider_payment_id: str) -> bool:
        """Close an unpaid order; False when it was paid meanwhile."""
        try:
            self._call(
                "close", lambda c: c.close(out_trade_no=provider_payment_id), missing_ok=True
            )
        except _AlreadyPaid:
            return False
        return True

    def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a paid order (v3 domestic refund), once per request key.

        WeChat wants the order's total with the refund, so the order is queried first. The
        refund's ``out_refund_no`` is the same on every retry: WeChat refunds it once.
        """
        yuan(request.amount, request.currency)  # CNY and above zero, or PaymentRejected
        paid = self.get_payment(request.provider_payment_id)
        if paid.state != PaymentState.COMPLETED or paid.amount is None:
            raise PaymentRejected("only a paid order can be refunded")
        answer = self._call(
            "refund",
            lambda c: c.refund(
                out_refund_no=refund_number(request),
                amount={
                    "refund": request.amount,
                    "total": paid.amount,
                    "currency": MOBILE_PAY_CURRENCY,
                },
                out_trade_no=request.provider_payment_id,
            ),
        )
        refund_id = answer.get("refund_id")
        if not isinstance(refund_id, str) or not refund_id:
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        status = str(answer.get("status") or "")
        if status in REFUND_FAILED:
            raise PaymentRejected(f"WeChat Pay answered the refund {status}")
        return RefundResult(refund_id, request.amount, MOBILE_PAY_CURRENCY, status == "SUCCESS")

    # --- notifications ------------------------------------------------------------------------

    def verify_webhook(self, headers, raw_body: bytes, now: float | None = None) -> WebhookNotice:
        """Verify a notification (window, signature, decryption) and return what it reports."""
        if not isinstance(raw_body, bytes | bytearray):
            raise WebhookRejected("the body must be the raw request bytes")
        found = _headers(headers)
        if found.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise WebhookRejected("unsupported signature type")
        serial = found.get("wechatpay-serial", "")
        if not serial or len(serial) > 64 or any(c not in string.hexdigits for c in serial):
            raise WebhookRejected("no certificate serial")
        try:
            stamp = int(found.get("wechatpay-timestamp", ""))
        except ValueError:
            raise WebhookRejected("no timestamp") from None
        if abs((now or time.time()) - stamp) > self.settings.notify_window:
            raise WebhookRejected("notification is outside its time window")
        if not found.get("wechatpay-nonce") or not found.get("wechatpay-signature"):
            raise WebhookRejected("no nonce or signature")
        try:
            body = bytes(raw_body).decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("body is not UTF-8") from None
        sdk_headers = {
            "Wechatpay-Signature": found["wechatpay-signature"],
            "Wechatpay-Timestamp": found["wechatpay-timestamp"],
            "Wechatpay-Nonce": found["wechatpay-nonce"],
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }
        client = self.client()
        try:
            with self._verify_lock:
                data = client.callback(sdk_headers, body)
        except Exception:  # noqa: BLE001 - the SDK raises bare Exception; any of it is a refusal
            raise WebhookRejected("notification does not verify") from None
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            raise WebhookRejected("signature or decryption failed")
        return self._notice(data)

    def _notice(self, data: dict) -> WebhookNotice:
        event_id, event_type = str(data.get("id") or ""), str(data.get("event_type") or "")
        resource = data["resource"]
        if not event_id or not event_type:
            raise WebhookRejected("notification has no id or event_type")
        if resource.get("mchid") not in (None, self.client()._mchid):
            raise WebhookRejected("notification is for another merchant")
        out_trade_no = str(resource.get("out_trade_no") or "")
        if not out_trade_no:
            raise WebhookRejected("notification has no out_trade_no")
        if event_type.startswith("REFUND."):
            if event_type != "REFUND.SUCCESS":  # closed or abnormal: nothing was given back
                raise UnsupportedWebhookEvent("an unfinished refund", event_id, event_type)
            return WebhookNotice(
                event_id, event_type, _refund_status(resource), raw_resource=resource
            )
        try:
            status = self._status(resource, out_trade_no)
        except PaymentError:
            raise WebhookRejected("notification amounts do not parse") from None
        return WebhookNotice(event_id, event_type, status, raw_resource=resource)

    # --- helpers ------------------------------------------------------------------------------

    def _status(self, data: dict, out_trade_no: str) -> PaymentStatus:
        money = data.get("amount")
        total = money.get("total") if isinstance(money, dict) else None
        currency = money.get("currency") if isinstance(money, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or not isinstance(currency, str):
            log.warning("WeChat Pay answered no usable amount for %s", out_trade_no)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        trade_state = str(data.get("trade_state") or "")
        return PaymentStatus(
            provider_payment_id=str(data.get("out_trade_no") or out_trade_no),
            state=TRADE_STATES.get(trade_state, PaymentState.CREATED),
            amount=total,
            currency=currency,
            sale_id=str(data.get("transaction_id") or "") or None,
            reason=trade_state,
        )

    def _call(self, operation: str, call, missing_ok: bool = False) -> dict | None:
        """Run one SDK call: a dict for a 2xx, None for a missing order (if allowed), or raise."""
        client = self.client()
        try:
            code, message = call(client)
        except requests.RequestException as exc:
            log.warning("WeChat Pay %s: %s", operation, exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except Exception as exc:  # noqa: BLE001 - e.g. "failed to verify the signature"
            log.error("WeChat Pay %s: %s", operation, str(exc)[:200])
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        try:
            answer = json.loads(message) if message else {}
        except (TypeError, ValueError):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= code < 300:
            return answer
        error = str(answer.get("code") or "")
        log.warning("WeChat Pay %s answered %s %s", operation, code, error)
        if missing_ok and (code == 404 or error in ("ORDER_NOT_EXIST", "ORDERNOTEXIST")):
            return None
        if error in ("ORDERPAID", "ORDER_PAID", "TRADE_ERROR") and operation == "close":
            raise _AlreadyPaid()
        if code >= 500 or error in UNAVAILABLE_CODES:
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        raise PaymentRejected(REJECTED_MESSAGE)


def _refund_status(resource: dict) -> PaymentStatus:
    """Read a REFUND.SUCCESS notification (full or partial) into a refund report."""
    refund_id = str(resource.get("refund_id") or "")
    money = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    refund = money.get("refund")
    if not isinstance(refund, int) or isinstance(refund, bool) or refund < 1 or not refund_id:
        raise WebhookRejected("refund notification has no refund id or amount")
    return PaymentStatus(
        str(resource["out_trade_no"]),
        PaymentState.REFUNDED,
        amount=refund,
        currency=MOBILE_PAY_CURRENCY,
        sale_id=str(resource.get("transaction_id") or "") or None,
        reason="refunded",
        reference=str(resource.get("out_refund_no") or "") or None,
        refund_id=refund_id,
    )


class _AlreadyPaid(PaymentError):
    """WeChat refused to close an order because it is paid."""


def _truncate(text: str, limit: int) -> str:
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", "ignore")


def _headers(headers) -> dict[str, str]:
    try:
        return {str(name).lower(): str(value) for name, value in headers.items()}
    except (AttributeError, TypeError):
        raise WebhookRejected("headers are not a mapping") from None
