"""The simulator's in-memory PayPal: payments, request-id replays, scenarios, events.

One lock guards everything; no call waits on the network or sleeps while holding it.
Amounts are checked with Decimal, independently of the shop's own money code, so a
formatting bug in the shop is caught here as PayPal would catch it.
"""

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from simulators.paypal.errors import SimulatorError
from simulators.paypal.ids import new_id, now_text
from simulators.paypal.orders import OrdersBook, money_text
from simulators.paypal.validation import validate_payment_body
from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

#: Scenario outcomes: "decline" and "pending" apply to execute and capture; "error" and "delay"
#: to any call. Operations: v1 "create", "get", "execute"; v2 "create-order", "get-order",
#: "capture"; "refund" (both); "verify" (verify-webhook-signature); "token"; "any".
OUTCOMES = ("decline", "pending", *COMMON_OUTCOMES)
OPERATIONS = (
    "token",
    "create",
    "get",
    "execute",
    "create-order",
    "get-order",
    "capture",
    "refund",
    "verify",
    "any",
)
#: Where the simulator app keeps its state (``app.extensions[STATE_KEY]``).
STATE_KEY = "paypal_simulator"


@dataclass
class SimulatedPayment:
    """One payment as PayPal holds it."""

    id: str
    token: str
    body: dict
    create_time: str
    state: str = "created"
    payer_id: str | None = None
    #: What the buyer did on the approval page: "pay", "decline" (a card that will be
    #: declined), "cancel"; None while undecided.
    buyer_choice: str | None = None
    failure_reason: str = ""
    sale: dict | None = None
    refunds: list = field(default_factory=list)
    events: dict = field(default_factory=dict)  # event key -> event (stable ids on resend)
    deliveries: list = field(default_factory=list)

    @property
    def refund(self) -> dict | None:
        """Return the sale's latest refund, if any."""
        return self.refunds[-1] if self.refunds else None

    @property
    def transaction(self) -> dict:
        """Return the payment's single transaction as the merchant sent it."""
        return self.body["transactions"][0]

    def resource(self, base_url: str) -> dict:
        """Return the payment as PayPal's API shows it."""
        transaction = dict(self.transaction)
        related = []
        if self.sale:
            related.append({"sale": dict(self.sale)})
        related.extend({"refund": dict(refund)} for refund in self.refunds)
        transaction["related_resources"] = related
        payer = {"payment_method": "paypal"}
        if self.payer_id:
            payer.update(status="VERIFIED", payer_info={"payer_id": self.payer_id})
        resource = {
            "id": self.id,
            "intent": "sale",
            "state": self.state,
            "cart": self.token,
            "payer": payer,
            "transactions": [transaction],
            "redirect_urls": self.body["redirect_urls"],
            "create_time": self.create_time,
            "update_time": now_text(),
            "links": [
                {
                    "href": f"{base_url}/v1/payments/payment/{self.id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{base_url}/checkoutnow?token={self.token}",
                    "rel": "approval_url",
                    "method": "REDIRECT",
                },
                {
                    "href": f"{base_url}/v1/payments/payment/{self.id}/execute",
                    "rel": "execute",
                    "method": "POST",
                },
            ],
        }
        if self.failure_reason:
            resource["failure_reason"] = self.failure_reason
        return resource


class SimulatorState(ScenarioSwitches, OrdersBook):
    """Every payment, order, token and stored answer of one simulator, behind one lock."""

    OPERATIONS = OPERATIONS
    OUTCOMES = OUTCOMES

    def __init__(self):
        ScenarioSwitches.__init__(self)
        OrdersBook.__init__(self)
        self.payments: dict[str, SimulatedPayment] = {}
        self.tokens: set[str] = set()
        #: PayPal-Request-Id -> (status, body) of the first answer, per operation.
        self.replies: dict[tuple[str, str], tuple[int, dict]] = {}

    # --- tokens ---------------------------------------------------------------------------

    def issue_token(self) -> str:
        """Return a new bearer token."""
        token = "A21AA" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens.add(token)
        return token

    def token_valid(self, token: str) -> bool:
        """Tell whether ``token`` was issued here."""
        with self.lock:
            return token in self.tokens

    # --- payments -----------------------------------------------------------------------------

    def create_payment(self, body: dict, request_id: str | None) -> SimulatedPayment:
        """Validate and store a payment; the same request id returns the same payment."""
        validate_payment_body(body)
        with self.lock:
            if request_id and ("create", request_id) in self.replies:
                return self.payments[self.replies[("create", request_id)][1]["id"]]
            invoice = body["transactions"][0].get("invoice_number")
            if invoice and any(
                p.transaction.get("invoice_number") == invoice for p in self.payments.values()
            ):
                raise SimulatorError(400, "DUPLICATE_TRANSACTION", "Duplicate invoice Id detected.")
            payment = SimulatedPayment(
                id=new_id("PAYID-"), token=new_id("EC-", 16), body=body, create_time=now_text()
            )
            self.payments[payment.id] = payment
            if request_id:
                self.replies[("create", request_id)] = (201, {"id": payment.id})
            return payment

    def payment(self, payment_id: str) -> SimulatedPayment:
        """Return a payment or raise PayPal's 404."""
        with self.lock:
            found = self.payments.get(payment_id)
        if found is None:
            raise SimulatorError(404, "INVALID_RESOURCE_ID", "Requested resource ID was not found.")
        return found

    def payment_by_token(self, token: str) -> SimulatedPayment | None:
        """Return the payment an approval token belongs to."""
        with self.lock:
            return next((p for p in self.payments.values() if p.token == token), None)

    def buyer_decides(self, payment: SimulatedPayment, choice: str) -> None:
        """Record the buyer's choice on the approval page (pay, decline or cancel)."""
        with self.lock:
            if payment.state != "created" or payment.buyer_choice in ("pay", "decline"):
                return
            payment.buyer_choice = choice
            if choice in ("pay", "decline"):
                payment.payer_id = payment.payer_id or new_id("SIMBUYER", 8)

    def execute(
        self, payment_id: str, payer_id, request_id: str | None, outcome: str | None, base_url: str
    ) -> tuple[int, dict, bool]:
        """Execute a payment: (status, body, whether a sale was just made).

        A repeated request id gets the first successful answer again; an executed payment
        asked again under another id is PAYMENT_ALREADY_DONE.
        """
        with self.lock:
            key = ("execute", f"{payment_id}:{request_id}")
            if request_id and key in self.replies:
                status, body = self.replies[key]
                return status, body, False
            payment = self.payment(payment_id)
            status, body, made_sale = self._execute(payment, payer_id, outcome, base_url)
            if request_id and status < 300:
                # Only a success is replayed: a refused execute may be tried again later.
                self.replies[key] = (status, body)
            return status, body, made_sale

    def _execute(self, payment, payer_id, outcome, base_url):
        if payment.sale is not None:
            error = SimulatorError(400, "PAYMENT_ALREADY_DONE", "Payment has been done already.")
            return error.status, error.body(), False
        if payment.state == "failed" or payment.buyer_choice is None:
            error = SimulatorError(
                400,
                "PAYMENT_NOT_APPROVED_FOR_EXECUTION",
                "Payer has not approved payment.",
            )
            if payment.state == "failed":
                error = SimulatorError(400, "INSTRUMENT_DECLINED", "The instrument was declined.")
            return error.status, error.body(), False
        if payment.buyer_choice == "cancel":
            error = SimulatorError(
                400, "PAYMENT_NOT_APPROVED_FOR_EXECUTION", "Payer has not approved payment."
            )
            return error.status, error.body(), False
        if payer_id != payment.payer_id:
            error = SimulatorError(
                400,
                "VALIDATION_ERROR",
                "Invalid request - see details",
                [{"field": "payer_id", "issue": "Payer ID is invalid"}],
            )
            return error.status, error.body(), False
        if outcome == "decline" or payment.buyer_choice == "decline":
            payment.state = "failed"
            payment.failure_reason = "INSTRUMENT_DECLINED"
            error = SimulatorError(
                400,
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, "
                "or it can't be used for this payment.",
            )
            return error.status, error.body(), False
        amount = payment.transaction["amount"]
        payment.state = "approved"
        payment.sale = {
            "id": new_id("", 18)[:17],
            "state": "pending" if outcome == "pending" else "completed",
            "amount": {
                "total": amount["total"],
                "currency": amount["currency"],
                "details": dict(amount.get("details") or {}),
            },
            "payment_mode": "INSTANT_TRANSFER",
            "protection_eligibility": "ELIGIBLE",
            "parent_payment": payment.id,
            "invoice_number": payment.transaction.get("invoice_number", ""),
            "create_time": now_text(),
            "update_time": now_text(),
        }
        if outcome == "pending":
            payment.sale["reason_code"] = "PAYMENT_REVIEW"
        return 200, payment.resource(base_url), True

    def refund(self, payment: SimulatedPayment, amount: str | None = None) -> bool:
        """Refund a completed sale, in full or ``amount``; False when it cannot be refunded."""
        try:
            self.refund_sale(payment.sale["id"] if payment.sale else "", amount, None)
        except SimulatorError:
            return False
        return True

    def sale_payment(self, sale_id: str) -> SimulatedPayment:
        """Return the v1 payment a sale belongs to, or raise PayPal's 404."""
        with self.lock:
            for payment in self.payments.values():
                if payment.sale is not None and payment.sale["id"] == sale_id:
                    return payment
        raise SimulatorError(404, "INVALID_RESOURCE_ID", "Requested resource ID was not found.")

    def refund_sale(
        self, sale_id: str, amount: str | None, request_id: str | None, invoice: str = ""
    ) -> tuple[SimulatedPayment, dict, bool]:
        """Refund all or part of a v1 sale: (payment, refund, whether it is new)."""
        with self.lock:
            payment = self.sale_payment(sale_id)
            key = ("refund-sale", f"{sale_id}:{request_id}")
            if request_id and key in self.replies:
                return payment, self.replies[key][1], False
            sale = payment.sale
            if sale["state"] not in ("completed", "partially_refunded"):
                raise SimulatorError(
                    400, "TRANSACTION_REFUSED", "The request was refused (sale not completed)."
                )
            currency = sale["amount"]["currency"]
            left = Decimal(sale["amount"]["total"]) - sum(
                (Decimal(r["amount"]["total"]) for r in payment.refunds), Decimal(0)
            )
            wanted = left if amount is None else Decimal(amount)
            if wanted <= 0 or wanted > left:
                raise SimulatorError(
                    400,
                    "REFUND_EXCEEDED_TRANSACTION_AMOUNT",
                    "Refund amount exceeded transaction amount.",
                )
            refund = {
                "id": new_id("", 18)[:17],
                "state": "completed",
                "amount": {"total": money_text(wanted, currency), "currency": currency},
                "sale_id": sale_id,
                "parent_payment": payment.id,
                "invoice_number": invoice or sale["invoice_number"],
                "create_time": now_text(),
            }
            payment.refunds.append(refund)
            sale["state"] = "refunded" if wanted == left else "partially_refunded"
            if request_id:
                self.replies[key] = (201, refund)
            return payment, refund, True

    def complete_pending(self, payment: SimulatedPayment) -> bool:
        """Clear a pending sale (review passed); False when it is not pending."""
        with self.lock:
            if payment.sale is None or payment.sale["state"] != "pending":
                return False
            payment.sale["state"] = "completed"
            payment.sale.pop("reason_code", None)
            return True

    def event(self, payment: SimulatedPayment, event_type: str) -> dict:
        """Return the webhook event of ``event_type`` for a payment (same id every time).

        A refund event is about the sale's latest refund; each refund has its own event.
        """
        resources = {
            "PAYMENT.SALE.COMPLETED": ("sale", payment.sale),
            "PAYMENT.SALE.PENDING": ("sale", payment.sale),
            "PAYMENT.SALE.REFUNDED": ("refund", payment.refund),
        }
        if event_type not in resources:
            raise ValueError(f"unknown event type {event_type}")
        resource_type, resource = resources[event_type]
        if resource is None:
            raise ValueError(f"payment {payment.id} has no {resource_type} yet")
        with self.lock:
            key = (event_type, resource["id"])
            event = payment.events.get(key)
            if event is None:
                event = payment.events[key] = {
                    "id": new_id("WH-", 24),
                    "event_version": "1.0",
                    "create_time": now_text(),
                    "resource_type": resource_type,
                    "event_type": event_type,
                    "summary": f"{event_type} for {payment.id}",
                    "resource": dict(resource),
                }
            return event
