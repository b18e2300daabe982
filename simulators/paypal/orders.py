"""The simulator's Orders v2: orders, their approval, captures, refunds and capture events.

:class:`OrdersBook` is mixed into the simulator's state and shares its lock; no call waits on
the network or sleeps while holding it. Amounts are Decimal strings, as PayPal keeps them.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from simulators.paypal.errors import SimulatorError
from simulators.paypal.ids import new_id, now_text
from simulators.paypal.orders_validation import Issues, read_money, validate_order_body
from simulators.paypal.validation import WHOLE_UNIT_CURRENCIES

NOT_FOUND = SimulatorError(
    404,
    "RESOURCE_NOT_FOUND",
    "The specified resource does not exist.",
    [{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}],
)


def unprocessable(issue: str, description: str) -> SimulatorError:
    """Return PayPal's 422 with one issue."""
    return SimulatorError(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
        [{"issue": issue, "description": description}],
    )


def money_text(value: Decimal, currency: str) -> str:
    """Write a Decimal amount as PayPal does for ``currency``."""
    return str(int(value)) if currency in WHOLE_UNIT_CURRENCIES else f"{value:.2f}"


@dataclass
class SimulatedOrder:
    """One Orders v2 order as PayPal holds it."""

    id: str
    body: dict
    create_time: str
    status: str = "PAYER_ACTION_REQUIRED"
    payer_id: str | None = None
    #: What the buyer did on the approval page: "pay", "decline", "cancel"; None while undecided.
    buyer_choice: str | None = None
    captures: list = field(default_factory=list)
    refunds: list = field(default_factory=list)
    events: dict = field(default_factory=dict)  # (event type, resource id) -> event
    deliveries: list = field(default_factory=list)

    @property
    def unit(self) -> dict:
        """Return the order's single purchase unit as the merchant sent it."""
        return self.body["purchase_units"][0]

    @property
    def token(self) -> str:
        """Return the approval token (for Orders v2, the order id itself)."""
        return self.id

    @property
    def capture(self) -> dict | None:
        """Return the order's capture, if it has one."""
        return self.captures[-1] if self.captures else None

    @property
    def experience(self) -> dict:
        """Return the return and cancel URLs the merchant gave."""
        source = ((self.body.get("payment_source") or {}).get("paypal") or {}).get(
            "experience_context"
        )
        return source or self.body.get("application_context") or {}

    def resource(self, base_url: str) -> dict:
        """Return the order as PayPal's API shows it."""
        unit = dict(self.unit)
        if self.captures:
            unit["payments"] = {"captures": [dict(c) for c in self.captures]}
        links = [
            {"href": f"{base_url}/v2/checkout/orders/{self.id}", "rel": "self", "method": "GET"}
        ]
        if self.status in ("CREATED", "PAYER_ACTION_REQUIRED"):
            links.append(
                {
                    "href": f"{base_url}/checkoutnow?token={self.id}",
                    "rel": "payer-action",
                    "method": "GET",
                }
            )
        if self.status == "APPROVED":
            links.append(
                {
                    "href": f"{base_url}/v2/checkout/orders/{self.id}/capture",
                    "rel": "capture",
                    "method": "POST",
                }
            )
        resource = {
            "id": self.id,
            "intent": "CAPTURE",
            "status": self.status,
            "purchase_units": [unit],
            "create_time": self.create_time,
            "update_time": now_text(),
            "links": links,
        }
        if self.payer_id:
            resource["payer"] = {
                "payer_id": self.payer_id,
                "email_address": "buyer@simulator.invalid",
            }
            resource["payment_source"] = {"paypal": {"account_id": self.payer_id}}
        return resource


class OrdersBook:
    """Orders v2 state, mixed into the simulator's state (which owns ``lock`` and ``replies``)."""

    def __init__(self):
        self.orders: dict[str, SimulatedOrder] = {}

    def create_order(self, body: dict, request_id: str | None) -> SimulatedOrder:
        """Validate and store an order; the same request id returns the same order."""
        validate_order_body(body)
        with self.lock:
            if request_id and ("create-order", request_id) in self.replies:
                return self.orders[self.replies[("create-order", request_id)][1]["id"]]
            invoice = body["purchase_units"][0].get("invoice_id")
            if invoice and any(o.unit.get("invoice_id") == invoice for o in self.orders.values()):
                raise unprocessable("DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected.")
            order = SimulatedOrder(id=new_id("", 18)[:17], body=body, create_time=now_text())
            self.orders[order.id] = order
            if request_id:
                self.replies[("create-order", request_id)] = (201, {"id": order.id})
            return order

    def order(self, order_id: str) -> SimulatedOrder:
        """Return an order or raise PayPal's 404."""
        with self.lock:
            found = self.orders.get(order_id)
        if found is None:
            raise NOT_FOUND
        return found

    def order_decides(self, order: SimulatedOrder, choice: str) -> None:
        """Record the buyer's choice on the approval page."""
        with self.lock:
            if order.status not in ("CREATED", "PAYER_ACTION_REQUIRED"):
                return
            order.buyer_choice = choice
            if choice in ("pay", "decline"):
                order.payer_id = order.payer_id or new_id("SIMBUYER", 8)
                order.status = "APPROVED"

    def capture_order(
        self, order_id: str, request_id: str | None, outcome: str | None, base_url: str
    ) -> tuple[int, dict, bool]:
        """Capture an order: (status, body, whether a capture was just made).

        A repeated request id gets the first successful answer again; a captured order asked
        again under another id is ORDER_ALREADY_CAPTURED.
        """
        with self.lock:
            key = ("capture", f"{order_id}:{request_id}")
            if request_id and key in self.replies:
                status, body = self.replies[key]
                return status, body, False
            order = self.order(order_id)
            error = self._capture_refusal(order, outcome)
            if error is not None:
                return error.status, error.body(), False
            amount = order.unit["amount"]
            capture_id = new_id("", 18)[:17]
            capture = {
                "id": capture_id,
                "status": "PENDING" if outcome == "pending" else "COMPLETED",
                "amount": {"currency_code": amount["currency_code"], "value": amount["value"]},
                "final_capture": True,
                "seller_protection": {"status": "ELIGIBLE"},
                "invoice_id": order.unit.get("invoice_id", ""),
                "custom_id": order.unit.get("custom_id", ""),
                "supplementary_data": {"related_ids": {"order_id": order.id}},
                "links": [
                    {"href": f"{base_url}/v2/payments/captures/{capture_id}", "rel": "self"},
                    {
                        "href": f"{base_url}/v2/payments/captures/{capture_id}/refund",
                        "rel": "refund",
                    },
                    {"href": f"{base_url}/v2/checkout/orders/{order.id}", "rel": "up"},
                ],
                "create_time": now_text(),
                "update_time": now_text(),
            }
            if outcome == "pending":
                capture["status_details"] = {"reason": "PENDING_REVIEW"}
            order.captures.append(capture)
            order.status = "COMPLETED"
            body = order.resource(base_url)
            if request_id:
                self.replies[key] = (201, body)
            return 201, body, True

    @staticmethod
    def _capture_refusal(order: SimulatedOrder, outcome: str | None) -> SimulatorError | None:
        if order.capture is not None:
            return unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured. If 'intent=CAPTURE' only one "
                "capture per order is allowed.",
            )
        if order.status != "APPROVED" or order.buyer_choice not in ("pay", "decline"):
            return unprocessable(
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment.",
            )
        if outcome == "decline" or order.buyer_choice == "decline":
            return unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or "
                "it can't be used for this payment.",
            )
        return None

    def capture_by_id(self, capture_id: str) -> tuple[SimulatedOrder, dict]:
        """Return (order, capture) for a capture id, or raise PayPal's 404."""
        with self.lock:
            for order in self.orders.values():
                for capture in order.captures:
                    if capture["id"] == capture_id:
                        return order, capture
        raise NOT_FOUND

    def refund_capture(
        self, capture_id: str, body: dict | None, request_id: str | None, base_url: str
    ) -> tuple[SimulatedOrder, dict, bool]:
        """Refund all (no amount) or part of a capture: (order, refund, whether it is new)."""
        with self.lock:
            key = ("refund", f"{capture_id}:{request_id}")
            order, capture = self.capture_by_id(capture_id)
            if request_id and key in self.replies:
                return order, self.replies[key][1], False
            if capture["status"] == "REFUNDED":
                raise unprocessable(
                    "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
                )
            if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
                raise unprocessable(
                    "REFUND_NOT_ALLOWED", "Only completed captures can be refunded."
                )
            currency = capture["amount"]["currency_code"]
            captured = Decimal(capture["amount"]["value"])
            refunded = sum(
                (Decimal(r["amount"]["value"]) for r in order.refunds if _refund_of(r, capture_id)),
                Decimal(0),
            )
            amount = captured - refunded
            if body and body.get("amount") is not None:
                issues = Issues()
                amount = read_money(body["amount"], "/amount", currency, issues)
                issues.raise_if_any()
                if amount <= 0:
                    raise SimulatorError(
                        400,
                        "INVALID_REQUEST",
                        "Request is not well-formed.",
                        [{"issue": "INVALID_PARAMETER_VALUE", "field": "/amount/value"}],
                    )
            if amount > captured - refunded:
                raise unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that "
                    "has not yet been refunded.",
                )
            refund_id = new_id("", 18)[:17]
            refund = {
                "id": refund_id,
                "status": "COMPLETED",
                "amount": {"currency_code": currency, "value": money_text(amount, currency)},
                "invoice_id": (body or {}).get("invoice_id") or capture.get("invoice_id", ""),
                "links": [
                    {"href": f"{base_url}/v2/payments/refunds/{refund_id}", "rel": "self"},
                    {"href": f"{base_url}/v2/payments/captures/{capture_id}", "rel": "up"},
                ],
                "create_time": now_text(),
                "update_time": now_text(),
            }
            order.refunds.append(refund)
            fully = refunded + amount == captured
            capture["status"] = "REFUNDED" if fully else "PARTIALLY_REFUNDED"
            if request_id:
                self.replies[key] = (201, refund)
            return order, refund, True

    def complete_pending_capture(self, order: SimulatedOrder, approve: bool = True) -> bool:
        """Clear (or deny) a pending capture; False when it is not pending."""
        with self.lock:
            capture = order.capture
            if capture is None or capture["status"] != "PENDING":
                return False
            capture["status"] = "COMPLETED" if approve else "DECLINED"
            capture.pop("status_details", None)
            return True

    def order_event(self, order: SimulatedOrder, event_type: str, resource: dict) -> dict:
        """Return the event of ``event_type`` about ``resource`` (same id every time)."""
        with self.lock:
            key = (event_type, resource["id"])
            event = order.events.get(key)
            if event is None:
                event = order.events[key] = {
                    "id": new_id("WH-", 24),
                    "event_version": "1.0",
                    "create_time": now_text(),
                    "resource_type": "refund" if "REFUND" in event_type else "capture",
                    "resource_version": "2.0",
                    "event_type": event_type,
                    "summary": f"{event_type} for order {order.id}",
                    "resource": dict(resource),
                }
            return event


def _refund_of(refund: dict, capture_id: str) -> bool:
    return any(
        link.get("rel") == "up" and link.get("href", "").endswith(f"/captures/{capture_id}")
        for link in refund.get("links", [])
    )
