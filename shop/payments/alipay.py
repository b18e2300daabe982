"""Alipay (OpenAPI, RSA2) through ``python-alipay-sdk``: page and wap pay, notify, query, refund.

A refund notification (``out_biz_no`` set, ``refund_fee`` the total refunded so far) becomes a
refund report of that one refund, its amount queried; so does a trade closed by a full refund.

The SDK signs requests and checks the signature of every answer; its gateway URL is an
attribute, so :class:`PointedAliPay` points it at the configured one (the simulator, the sandbox
or live) with no other difference. The SDK's ``urlopen`` errors, its exceptions and Alipay's
business codes all become :class:`~shop.payments.gateway.PaymentError` subclasses here.

A notification (and the buyer's synchronous return) is verified with Alipay's public key over
the received parameters (all but ``sign`` and ``sign_type``, sorted) before anything else; then
its ``app_id`` must be this shop's and its ``notify_time`` recent.
"""

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.error import URLError
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from shop.money import InvalidAmount
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
    WebhookNotice,
    WebhookRejected,
)
from shop.payments.mobile_pay import (
    BEIJING,
    MOBILE_PAY_CURRENCY,
    MobilePayChannel,
    MobilePayment,
    fetch_simulator_credentials,
    parse_yuan,
    refund_number,
    trade_number,
    yuan,
)
from shop.payments.mobile_pay_settings import AlipaySettings

log = logging.getLogger(__name__)

#: Alipay retries a notification for about 25 hours; anything older is not a retry.
NOTIFY_MAX_AGE = timedelta(hours=25)
#: A notification from the future beyond this is refused (clock skew allowance).
NOTIFY_MAX_SKEW = timedelta(minutes=5)
#: Alipay's trade statuses and what they mean to the shop.
TRADE_STATES = {
    "WAIT_BUYER_PAY": PaymentState.CREATED,
    "TRADE_SUCCESS": PaymentState.COMPLETED,
    "TRADE_FINISHED": PaymentState.COMPLETED,
    "TRADE_CLOSED": PaymentState.CANCELLED,
}
SUCCESS_CODE = "10000"
#: Alipay's answer code for "the service is busy, try again".
UNAVAILABLE_CODES = frozenset({"20000", "20001"})
UNAVAILABLE_MESSAGE = "Alipay is not answering right now; please try again in a few minutes."
REJECTED_MESSAGE = "The payment could not be set up with Alipay; please contact us."
MAX_SUBJECT = 256
#: How long a trade stays payable when the caller names no deadline.
DEFAULT_EXPIRY = timedelta(hours=2)


def as_pem(key: str, kind: str) -> str:
    """Wrap a bare base64 key (as Alipay's console shows it) in PEM armour."""
    key = key.strip()
    if key.startswith("-----BEGIN"):
        return key
    body = "\n".join(key[i : i + 64] for i in range(0, len(key), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


class PointedAliPay(AliPay):
    """The SDK's client talking to ``gateway_url`` instead of its built-in one."""

    def __init__(self, *, gateway_url: str, **options):
        super().__init__(**options)
        self._gateway = gateway_url

    @property
    def gateway_url(self) -> str:
        """Return the gateway this client talks to."""
        return self._gateway


class AlipayGateway:
    """Alipay behind the shop's gateway interface, plus close and refund."""

    name = "alipay"

    def __init__(self, settings: AlipaySettings):
        self.settings = settings
        self._client: PointedAliPay | None = None
        self._lock = threading.Lock()

    # --- the SDK client, built on first use ---------------------------------------------------

    def client(self) -> PointedAliPay:
        """Return the SDK client (in simulator mode, with the simulator's demo credentials)."""
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> PointedAliPay:
        app_id = self.settings.app_id
        private_key = self.settings.app_private_key
        public_key = self.settings.alipay_public_key
        if self.settings.simulator_url and not (app_id and private_key and public_key):
            credentials = fetch_simulator_credentials(
                self.settings.simulator_url, self.settings.timeout
            )
            app_id = app_id or str(credentials.get("app_id") or "")
            private_key = private_key or str(credentials.get("app_private_key") or "")
            public_key = public_key or str(credentials.get("alipay_public_key") or "")
        try:
            return PointedAliPay(
                gateway_url=self.settings.gateway_url,
                appid=app_id,
                app_private_key_string=as_pem(private_key, "PRIVATE KEY"),
                alipay_public_key_string=as_pem(public_key, "PUBLIC KEY"),
                sign_type="RSA2",
                config=_timeout_config(self.settings.timeout),
            )
        except (ValueError, IndexError, TypeError, AliPayException):
            log.error("Alipay keys do not load (check ALIPAY_APP_PRIVATE_KEY/ALIPAY_PUBLIC_KEY)")
            raise PaymentRejected(REJECTED_MESSAGE) from None

    # --- paying -------------------------------------------------------------------------------

    def start(
        self,
        request: PaymentRequest,
        channel: MobilePayChannel,
        notify_url: str,
        client_ip: str = "",
        expires_at: datetime | None = None,
    ) -> MobilePayment:
        """Sign a page (desktop) or wap (phone) pay request; the buyer opens its URL."""
        if request.discount < 0 or request.total <= 0:
            raise PaymentRejected("order total must be above zero")
        client = self.client()
        out_trade_no = trade_number(request.reference, channel)
        options = {
            "subject": request.description[:MAX_SUBJECT],
            "out_trade_no": out_trade_no,
            "total_amount": yuan(request.total, request.currency),
            "return_url": request.return_url,
            "notify_url": notify_url,
            # Past this the trade closes at Alipay (the same on every retry of the order).
            "time_expire": _beijing(expires_at or datetime.now(UTC) + DEFAULT_EXPIRY),
            # Where "back to the merchant" leads without paying (the cancel page).
            "quit_url": request.cancel_url,
        }
        if channel == MobilePayChannel.ALIPAY_WAP:
            query = client.api_alipay_trade_wap_pay(**options)
        elif channel == MobilePayChannel.ALIPAY_PAGE:
            query = client.api_alipay_trade_page_pay(**options)
        else:
            raise PaymentRejected(f"Alipay has no channel {channel}")
        return MobilePayment(out_trade_no, channel, redirect_url=f"{client.gateway_url}?{query}")

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create a desktop page-pay trade (the gateway interface's default channel)."""
        payment = self.start(request, MobilePayChannel.ALIPAY_PAGE, "")
        return CreatedPayment(payment.provider_payment_id, payment.redirect_url)

    def execute_payment(self, provider_payment_id: str, payer_id: str, reference: str):
        """Alipay captures when the buyer pays: executing is looking the trade up."""
        return self.get_payment(provider_payment_id)

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Query the trade (``alipay.trade.query``); a trade nobody opened is still created."""
        answer = self._call(
            "query", lambda c: c.api_alipay_trade_query(out_trade_no=provider_payment_id)
        )
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return PaymentStatus(provider_payment_id, PaymentState.CREATED)
            raise self._error("query", answer)
        return self._status(answer, provider_payment_id)

    def close(self, provider_payment_id: str) -> bool:
        """Close an unpaid trade; False when it is paid (the caller queries and settles)."""
        answer = self._call(
            "close", lambda c: c.api_alipay_trade_close(out_trade_no=provider_payment_id)
        )
        if answer.get("code") == SUCCESS_CODE or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return True
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            return False
        raise self._error("close", answer)

    def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a paid trade (``alipay.trade.refund``), once per request key.

        The refund's ``out_request_no`` is its id: a retry with the same one is the same
        refund at Alipay, and Alipay's refund notification names it in ``out_biz_no``.
        """
        refund_amount = yuan(request.amount, request.currency)
        out_request_no = refund_number(request)
        answer = self._call(
            "refund",
            lambda c: c.api_alipay_trade_refund(
                refund_amount,
                out_trade_no=request.provider_payment_id,
                out_request_no=out_request_no,
            ),
        )
        if answer.get("code") != SUCCESS_CODE:
            raise self._error("refund", answer)
        return RefundResult(out_request_no, request.amount, MOBILE_PAY_CURRENCY, True)

    def refund_amount(self, out_trade_no: str, out_request_no: str) -> int | None:
        """Return what one refund gave back (``alipay.trade.fastpay.refund.query``), if known."""
        answer = self._call(
            "refund query",
            lambda c: c.api_alipay_trade_fastpay_refund_query(
                out_request_no, out_trade_no=out_trade_no
            ),
        )
        if answer.get("code") != SUCCESS_CODE:
            raise self._error("refund query", answer)
        if answer.get("refund_status") not in (None, "", "REFUND_SUCCESS"):
            return None
        try:
            return parse_yuan(answer.get("refund_amount"))
        except InvalidAmount:
            return None  # Alipay knows no such refund (yet): the total refunded decides

    # --- notifications and the buyer's return -------------------------------------------------

    def verify_params(self, params: dict[str, str]) -> dict[str, str]:
        """Check Alipay's RSA2 signature over ``params`` and that they are for this app."""
        params = dict(params)
        signature = params.pop("sign", "")
        sign_type = params.pop("sign_type", "RSA2")
        if not signature:
            raise WebhookRejected("no signature")
        if sign_type != "RSA2":
            raise WebhookRejected("only RSA2 signatures are accepted")
        client = self.client()
        try:
            valid = client.verify(dict(params), signature)
        except (ValueError, TypeError, AliPayException):
            valid = False
        if not valid:
            raise WebhookRejected("signature does not match")
        if params.get("app_id") != client.appid:
            raise WebhookRejected("notification is for another app")
        return params

    def verify_webhook(self, headers, raw_body: bytes) -> WebhookNotice:
        """Verify an asynchronous notification (a form POST) and return what it reports."""
        try:
            pairs = parse_qsl(
                bytes(raw_body).decode("utf-8"), keep_blank_values=True, strict_parsing=True
            )
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected("body is not a form") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise WebhookRejected("a parameter is repeated")
        params = self.verify_params(params)
        _check_notify_time(params.get("notify_time", ""))
        notify_id = params.get("notify_id", "")
        out_trade_no = params.get("out_trade_no", "")
        if not notify_id or not out_trade_no:
            raise WebhookRejected("notification has no notify_id or out_trade_no")
        try:
            status = self._status(params, out_trade_no)
        except PaymentError:
            raise WebhookRejected("notification amounts do not parse") from None
        if params.get("out_biz_no") and status.refunded_total:
            # A refund (in part or in full, asked by the shop or at Alipay's console): it names
            # the refund's request number and the total refunded so far, not this refund's
            # amount, which Alipay is asked (exact even when notifications come out of order).
            status = replace(
                status,
                state=PaymentState.REFUNDED,
                amount=self.refund_amount(out_trade_no, params["out_biz_no"]),
                refund_id=params["out_biz_no"],
                reference=params["out_biz_no"],
            )
        return WebhookNotice(notify_id, params.get("notify_type", "trade_status_sync"), status)

    def verify_return(self, params: dict[str, str]) -> str:
        """Verify the buyer's synchronous return; return the trade number it names."""
        params = self.verify_params(params)
        out_trade_no = params.get("out_trade_no", "")
        if not out_trade_no:
            raise WebhookRejected("return has no out_trade_no")
        return out_trade_no

    # --- helpers ------------------------------------------------------------------------------

    def _status(self, data: dict, out_trade_no: str) -> PaymentStatus:
        state = TRADE_STATES.get(str(data.get("trade_status") or ""), PaymentState.CREATED)
        try:
            amount = parse_yuan(data.get("total_amount"))
            refunded = parse_yuan(data["refund_fee"]) if data.get("refund_fee") else 0
        except InvalidAmount:
            log.warning("Alipay answered an amount that does not parse for %s", out_trade_no)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        if state == PaymentState.CANCELLED and refunded and refunded >= amount:
            state = PaymentState.REFUNDED
        return PaymentStatus(
            provider_payment_id=str(data.get("out_trade_no") or out_trade_no),
            state=state,
            amount=None if state == PaymentState.REFUNDED else amount,
            currency=MOBILE_PAY_CURRENCY,
            sale_id=str(data.get("trade_no") or "") or None,
            reason=str(data.get("trade_status") or ""),
            refunded_total=refunded or None,
        )

    def _call(self, operation: str, call) -> dict:
        """Run one SDK call, turning whatever it raises into a PaymentError."""
        client = self.client()
        try:
            answer = call(client)
        except AliPayValidationError:
            log.error("Alipay %s: the answer's signature does not verify", operation)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except AliPayException as exc:
            log.warning("Alipay %s refused: %s", operation, str(exc)[:200])
            raise PaymentRejected(REJECTED_MESSAGE) from None
        except (URLError, OSError) as exc:
            log.warning("Alipay %s: %s", operation, exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Alipay %s: unreadable answer (%s)", operation, exc.__class__.__name__)
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE) from None
        if not isinstance(answer, dict):
            raise GatewayUnavailable(UNAVAILABLE_MESSAGE)
        return answer

    def _error(self, operation: str, answer: dict) -> PaymentError:
        code, sub_code = str(answer.get("code") or ""), str(answer.get("sub_code") or "")
        log.warning("Alipay %s answered %s %s", operation, code, sub_code)
        if code in UNAVAILABLE_CODES or sub_code.endswith("SYSTEM_ERROR"):
            return GatewayUnavailable(UNAVAILABLE_MESSAGE)
        return PaymentRejected(REJECTED_MESSAGE)


def _timeout_config(timeout: float):
    from alipay.utils import AliPayConfig

    return AliPayConfig(timeout=timeout)


def _beijing(moment: datetime) -> str:
    """Write an aware time as Alipay reads times (Beijing, to the second)."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _check_notify_time(text: str, now: datetime | None = None) -> None:
    try:
        sent = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        raise WebhookRejected("notification has no valid notify_time") from None
    now = now or datetime.now(UTC)
    if sent < now - NOTIFY_MAX_AGE or sent > now + NOTIFY_MAX_SKEW:
        raise WebhookRejected("notification is outside its time window")
