"""The simulator's in-memory Alipay: trades, refunds, notifications and failure switches.

One lock guards everything; no call waits on the network while holding it. Amounts are
checked with Decimal, independently of the shop's money code, as Alipay would check them.
"""

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

STATE_KEY = "alipay_simulator"
BEIJING = timezone(timedelta(hours=8))
#: "duplicate": the payment's notification is sent three times at once; "early": it is
#: delivered before the buyer is sent back; "silent": none is sent.
OUTCOMES = ("duplicate", "early", "silent", *COMMON_OUTCOMES)
OPERATIONS = ("query", "close", "refund", "pay", "notify", "any")
CASHIER_METHODS = {
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_PAY",
}


class AlipayError(Exception):
    """A business failure Alipay answers with a signed ``code``/``sub_code`` body."""

    def __init__(self, sub_code: str, sub_msg: str, code: str = "40004", msg="Business Failed"):
        super().__init__(sub_msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def beijing_now() -> str:
    """Return now as Alipay writes times."""
    return datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def amount_text(text) -> str:
    """Check an amount as Alipay does (yuan, at most two decimals, 0.01 to 100,000,000)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise AlipayError("ACQ.INVALID_PARAMETER", "total_amount is not a number") from None
    if value != value.quantize(Decimal("0.01")) or not Decimal("0.01") <= value <= 100_000_000:
        raise AlipayError("ACQ.INVALID_PARAMETER", "total_amount is out of range")
    return f"{value:.2f}"


@dataclass
class Trade:
    """One trade as Alipay holds it."""

    out_trade_no: str
    subject: str
    total_amount: str
    product_code: str
    notify_url: str
    return_url: str
    quit_url: str
    created: str
    trade_no: str = ""
    status: str = "WAIT_BUYER_PAY"
    buyer_choice: str = ""
    gmt_payment: str = ""
    refunds: dict = field(default_factory=dict)  # out_request_no -> amount text
    deliveries: list = field(default_factory=list)

    @property
    def refund_fee(self) -> str:
        """Return the amount refunded so far."""
        return f"{sum((Decimal(a) for a in self.refunds.values()), Decimal('0')):.2f}"

    def query_answer(self) -> dict:
        """Return ``alipay.trade.query``'s answer for this trade."""
        answer = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": self.out_trade_no,
            "trade_status": self.status,
            "total_amount": self.total_amount,
        }
        if self.trade_no:
            answer.update(
                trade_no=self.trade_no,
                buyer_logon_id="buy***@simulator.invalid",
                buyer_pay_amount=self.total_amount if self.gmt_payment else "0.00",
                send_pay_date=self.gmt_payment,
            )
        return answer

    def refund_answer(self, out_request_no: str) -> dict:
        """Return ``alipay.trade.fastpay.refund.query``'s answer (no data for no such refund)."""
        answer = {"code": "10000", "msg": "Success"}
        amount = self.refunds.get(out_request_no)
        if amount is not None:
            answer.update(
                out_trade_no=self.out_trade_no,
                trade_no=self.trade_no,
                out_request_no=out_request_no,
                total_amount=self.total_amount,
                refund_amount=amount,
                refund_status="REFUND_SUCCESS",
            )
        return answer

    def notification(self, merchant_app_id: str, overrides: dict | None = None) -> dict:
        """Return an unsigned notification of this trade's current state."""
        params = {
            "notify_time": beijing_now(),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": merchant_app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "trade_status": self.status,
            "total_amount": self.total_amount,
            "receipt_amount": self.total_amount,
            "buyer_pay_amount": self.total_amount,
            "subject": self.subject,
            "gmt_create": self.created,
            "seller_id": "2088000000000001",
            "buyer_id": "2088000000000002",
        }
        if self.gmt_payment:
            params["gmt_payment"] = self.gmt_payment
        if self.refunds:  # a refund's notification: the latest refund, the total refunded
            params["refund_fee"] = self.refund_fee
            params["gmt_refund"] = beijing_now()
            params["out_biz_no"] = list(self.refunds)[-1]
        params.update({key: str(value) for key, value in (overrides or {}).items()})
        return {key: value for key, value in params.items() if value != ""}


class AlipayState(ScenarioSwitches):
    """Every trade of the simulator, by merchant trade number."""

    OPERATIONS = OPERATIONS
    OUTCOMES = OUTCOMES

    def __init__(self):
        super().__init__()
        self.trades: dict[str, Trade] = {}

    def open_cashier(self, method: str, biz: dict, notify_url: str, return_url: str) -> Trade:
        """Create the trade a page/wap pay request names, or find the same one again."""
        out_trade_no = str(biz.get("out_trade_no") or "")
        if not out_trade_no or len(out_trade_no) > 64:
            raise AlipayError("ACQ.INVALID_PARAMETER", "out_trade_no is missing or too long")
        if biz.get("product_code") != CASHIER_METHODS[method]:
            raise AlipayError("ACQ.INVALID_PARAMETER", "product_code does not fit the method")
        total = amount_text(biz.get("total_amount"))
        with self.lock:
            trade = self.trades.get(out_trade_no)
            if trade is None:
                trade = Trade(
                    out_trade_no=out_trade_no,
                    subject=str(biz.get("subject") or "")[:256],
                    total_amount=total,
                    product_code=biz["product_code"],
                    notify_url=notify_url,
                    return_url=return_url,
                    quit_url=str(biz.get("quit_url") or ""),
                    created=beijing_now(),
                )
                self.trades[out_trade_no] = trade
            elif trade.total_amount != total or trade.product_code != biz["product_code"]:
                raise AlipayError("ACQ.CONTEXT_INCONSISTENT", "the trade exists with other terms")
            return trade

    def trade(self, out_trade_no: str) -> Trade:
        """Return a trade, or raise Alipay's "no such trade"."""
        with self.lock:
            trade = self.trades.get(out_trade_no)
        if trade is None:
            raise AlipayError("ACQ.TRADE_NOT_EXIST", "the trade does not exist")
        return trade

    def buyer_decides(self, trade: Trade, choice: str) -> bool:
        """Record pay / decline / cancel; True when this call paid the trade."""
        with self.lock:
            if trade.status != "WAIT_BUYER_PAY":
                return False
            trade.buyer_choice = choice
            if choice != "pay":
                return False
            trade.status = "TRADE_SUCCESS"
            digits = str(secrets.randbelow(10**16)).zfill(16)
            trade.trade_no = datetime.now(UTC).strftime("%Y%m%d") + "2200" + digits
            trade.gmt_payment = beijing_now()
            return True

    def close(self, out_trade_no: str) -> Trade:
        """Close an unpaid trade (``alipay.trade.close``)."""
        trade = self.trade(out_trade_no)
        with self.lock:
            if trade.status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                raise AlipayError("ACQ.TRADE_STATUS_ERROR", "the trade is paid")
            trade.status = "TRADE_CLOSED"
        return trade

    def refund(self, out_trade_no: str, amount, out_request_no: str) -> tuple[Trade, bool]:
        """Refund all or part; the same ``out_request_no`` is the same refund. True if new."""
        trade = self.trade(out_trade_no)
        refund_amount = amount_text(amount)
        with self.lock:
            if out_request_no in trade.refunds:
                return trade, False
            if trade.status not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                raise AlipayError("ACQ.TRADE_STATUS_ERROR", "the trade is not paid")
            already = Decimal(trade.refund_fee)
            if already + Decimal(refund_amount) > Decimal(trade.total_amount):
                raise AlipayError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "refund exceeds the total")
            trade.refunds[out_request_no or uuid.uuid4().hex] = refund_amount
            if Decimal(trade.refund_fee) == Decimal(trade.total_amount):
                trade.status = "TRADE_CLOSED"
        return trade, True


def biz_content(params: dict) -> dict:
    """Return a request's ``biz_content`` as a dict, or raise AlipayError."""
    try:
        content = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        raise AlipayError("ACQ.INVALID_PARAMETER", "biz_content is not JSON") from None
    if not isinstance(content, dict):
        raise AlipayError("ACQ.INVALID_PARAMETER", "biz_content is not an object")
    return content
