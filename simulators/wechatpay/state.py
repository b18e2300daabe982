"""The simulator's in-memory WeChat Pay: orders, refunds, notifications, failure switches.

One lock guards everything; no call waits on the network while holding it.
"""

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

STATE_KEY = "wechatpay_simulator"
BEIJING = timezone(timedelta(hours=8))
#: "duplicate": the payment's notification is sent three times at once; "early": delivered
#: before the buyer is sent back; "silent": none is sent.
OUTCOMES = ("duplicate", "early", "silent", *COMMON_OUTCOMES)
OPERATIONS = ("create", "query", "close", "refund", "pay", "any")
TRADE_TYPES = {"native": "NATIVE", "h5": "MWEB"}


class WeChatError(Exception):
    """An API error: HTTP status, WeChat's ``code`` and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message}


def beijing_now() -> str:
    """Return now in RFC 3339 as WeChat writes times."""
    return datetime.now(UTC).astimezone(BEIJING).isoformat(timespec="seconds")


@dataclass
class Order:
    """One order (transaction) as WeChat Pay holds it."""

    out_trade_no: str
    trade_type: str
    description: str
    total: int
    notify_url: str
    prepay: str
    created: str
    transaction_id: str = ""
    trade_state: str = "NOTPAY"
    buyer_choice: str = ""
    success_time: str = ""
    refunds: dict = field(default_factory=dict)  # out_refund_no -> refund dict
    deliveries: list = field(default_factory=list)

    @property
    def refunded(self) -> int:
        """Return the fen refunded so far."""
        return sum(refund["amount"]["refund"] for refund in self.refunds.values())

    def transaction(self, mchid: str, appid: str) -> dict:
        """Return the order as the query API and payment notifications show it."""
        data = {
            "appid": appid,
            "mchid": mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": self.trade_type,
            "trade_state": self.trade_state,
            "trade_state_desc": self.trade_state,
            "amount": {"total": self.total, "currency": "CNY"},
        }
        if self.transaction_id:
            data.update(
                transaction_id=self.transaction_id,
                bank_type="OTHERS",
                success_time=self.success_time,
                payer={"openid": "o-simulated-buyer"},
            )
            data["amount"].update(payer_total=self.total, payer_currency="CNY")
        return data


class WeChatState(ScenarioSwitches):
    """Every order of the simulator, by merchant trade number."""

    OPERATIONS = OPERATIONS
    OUTCOMES = OUTCOMES

    def __init__(self):
        super().__init__()
        self.orders: dict[str, Order] = {}

    def place(self, kind: str, body: dict, mchid: str, appid: str) -> Order:
        """Place a Native or H5 order; the same trade number and terms find it again."""
        if body.get("mchid") != mchid or body.get("appid") != appid:
            raise WeChatError(400, "PARAM_ERROR", "mchid and appid do not match")
        out_trade_no = str(body.get("out_trade_no") or "")
        amount = body.get("amount") if isinstance(body.get("amount"), dict) else {}
        total = amount.get("total")
        if not 6 <= len(out_trade_no) <= 32:
            raise WeChatError(400, "PARAM_ERROR", "out_trade_no must be 6 to 32 characters")
        if not isinstance(total, int) or isinstance(total, bool) or total < 1:
            raise WeChatError(400, "PARAM_ERROR", "amount.total must be a whole number of fen")
        if amount.get("currency", "CNY") != "CNY":
            raise WeChatError(400, "PARAM_ERROR", "only CNY")
        if kind == "h5" and not isinstance(body.get("scene_info"), dict):
            raise WeChatError(400, "PARAM_ERROR", "scene_info is required for H5")
        description = str(body.get("description") or "")
        if not description or len(description.encode()) > 127:
            raise WeChatError(400, "PARAM_ERROR", "description must be 1 to 127 bytes")
        with self.lock:
            order = self.orders.get(out_trade_no)
            if order is None:
                order = Order(
                    out_trade_no=out_trade_no,
                    trade_type=TRADE_TYPES[kind],
                    description=description,
                    total=total,
                    notify_url=str(body.get("notify_url") or ""),
                    prepay=secrets.token_urlsafe(12),
                    created=beijing_now(),
                )
                self.orders[out_trade_no] = order
            elif order.total != total or order.trade_type != TRADE_TYPES[kind]:
                raise WeChatError(400, "INVALID_REQUEST", "the order exists with other terms")
            elif order.trade_state != "NOTPAY":
                raise WeChatError(400, "ORDERPAID" if order.transaction_id else "ORDERCLOSED", "")
            return order

    def order(self, out_trade_no: str) -> Order:
        """Return an order, or raise WeChat's 404."""
        with self.lock:
            order = self.orders.get(out_trade_no)
        if order is None:
            raise WeChatError(404, "ORDER_NOT_EXIST", "the order does not exist")
        return order

    def by_prepay(self, prepay: str) -> Order | None:
        """Return the order of a code or H5 link."""
        with self.lock:
            return next((o for o in self.orders.values() if o.prepay == prepay), None)

    def buyer_decides(self, order: Order, choice: str) -> bool:
        """Record pay / decline / cancel; True when this call paid the order."""
        with self.lock:
            if order.trade_state not in ("NOTPAY", "PAYERROR"):
                return False
            order.buyer_choice = choice
            if choice == "decline":
                order.trade_state = "PAYERROR"
            if choice != "pay":
                return False
            order.trade_state = "SUCCESS"
            order.transaction_id = (
                "4200"
                + datetime.now(UTC).strftime("%Y%m%d")
                + str(secrets.randbelow(10**16)).zfill(16)
            )
            order.success_time = beijing_now()
            return True

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order."""
        order = self.order(out_trade_no)
        with self.lock:
            if order.trade_state in ("SUCCESS", "REFUND"):
                raise WeChatError(400, "ORDERPAID", "the order is paid")
            order.trade_state = "CLOSED"

    def refund_notice(self, order: Order, record: dict, mchid: str) -> dict:
        """Return a refund as WeChat's REFUND.SUCCESS notification shows it."""
        with self.lock:
            return {
                "mchid": mchid,
                "out_trade_no": order.out_trade_no,
                "transaction_id": order.transaction_id,
                "out_refund_no": record["out_refund_no"],
                "refund_id": record["refund_id"],
                "refund_status": record["status"],
                "success_time": record["create_time"],
                "user_received_account": "支付用户零钱",
                "amount": {
                    key: record["amount"][key]
                    for key in ("total", "refund", "payer_total", "payer_refund")
                },
            }

    def refund(self, body: dict) -> tuple[Order, dict, bool]:
        """Refund all or part; the same out_refund_no is the same refund. True if new."""
        order = self.order(str(body.get("out_trade_no") or ""))
        amount = body.get("amount") if isinstance(body.get("amount"), dict) else {}
        out_refund_no = str(body.get("out_refund_no") or "")
        refund = amount.get("refund")
        with self.lock:
            if out_refund_no in order.refunds:
                return order, order.refunds[out_refund_no], False
            if order.trade_state not in ("SUCCESS", "REFUND"):
                raise WeChatError(400, "INVALID_REQUEST", "the order is not paid")
            if amount.get("total") != order.total or not isinstance(refund, int) or refund < 1:
                raise WeChatError(400, "PARAM_ERROR", "refund amounts do not fit the order")
            if order.refunded + refund > order.total:
                raise WeChatError(400, "NOT_ENOUGH", "refund exceeds the total")
            record = {
                "refund_id": "5030" + uuid.uuid4().hex[:24],
                "out_refund_no": out_refund_no,
                "transaction_id": order.transaction_id,
                "out_trade_no": order.out_trade_no,
                "status": "SUCCESS",
                "create_time": beijing_now(),
                "amount": {
                    "total": order.total,
                    "refund": refund,
                    "payer_total": order.total,
                    "payer_refund": refund,
                    "currency": "CNY",
                },
            }
            order.refunds[out_refund_no] = record
            order.trade_state = "REFUND"
        return order, record, True
