"""The simulator's in-memory PayPal: payments, request-id replays, scenarios, events.

One lock guards everything; no call waits on the network or sleeps while holding it.
Amounts are checked with Decimal, independently of the shop's own money code, so a
formatting bug in the shop is caught here as PayPal would catch it.
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulators.paypal.errors import SimulatorError
from simulators.paypal.validation import validate_payment_body
from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

#: Scenario outcomes: "decline" and "pending" apply to execute; "error" and "delay" to any call.
OUTCOMES = ("decline", "pending", *COMMON_OUTCOMES)
OPERATIONS = ("token", "create", "get", "execute", "any")
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
    refund: dict | None = None
    events: dict = field(default_factory=dict)  # event type -> event (stable ids on resend)
    deliveries: list = field(default_factory=list)

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
        if self.refund:
            related.append({"refund": dict(self.refund)})
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


def now_text() -> str:
    """Return the time as PayPal writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str, length: int = 24) -> str:
    """Return a PayPal-looking random id."""
    return prefix + secrets.token_hex(length // 2).upper()


class SimulatorState(ScenarioSwitches):
    """Every payment, token and stored answer of one simulator, behind one lock."""

    OPERATIONS = OPERATIONS
    OUTCOMES = OUTCOMES

    def __init__(self):
        super().__init__()
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

    def refund(self, payment: SimulatedPayment) -> bool:
        """Refund a completed sale in full; False when there is nothing to refund."""
        with self.lock:
            if payment.sale is None or payment.sale["state"] != "completed":
                return False
            payment.sale["state"] = "refunded"
            payment.refund = {
                "id": new_id("", 18)[:17],
                "state": "completed",
                "amount": {
                    "total": payment.sale["amount"]["total"],
                    "currency": payment.sale["amount"]["currency"],
                },
                "sale_id": payment.sale["id"],
                "parent_payment": payment.id,
                "invoice_number": payment.sale["invoice_number"],
                "create_time": now_text(),
            }
            return True

    def complete_pending(self, payment: SimulatedPayment) -> bool:
        """Clear a pending sale (review passed); False when it is not pending."""
        with self.lock:
            if payment.sale is None or payment.sale["state"] != "pending":
                return False
            payment.sale["state"] = "completed"
            payment.sale.pop("reason_code", None)
            return True

    def event(self, payment: SimulatedPayment, event_type: str) -> dict:
        """Return the webhook event of ``event_type`` for a payment (same id every time)."""
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
            event = payment.events.get(event_type)
            if event is None:
                event = payment.events[event_type] = {
                    "id": new_id("WH-", 24),
                    "event_version": "1.0",
                    "create_time": now_text(),
                    "resource_type": resource_type,
                    "event_type": event_type,
                    "summary": f"{event_type} for {payment.id}",
                    "resource": dict(resource),
                }
            return event
