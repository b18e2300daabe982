"""The payment gateway interface the storefront talks to.

The storefront knows only these types. Every provider (PayPal Orders v2, Alipay, WeChat Pay)
implements :class:`PaymentGateway`; ``shop.payments.providers.gateway_for()`` returns a
payment's own. Amounts are integer minor units; a refund may be for part of what was paid.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class PaymentError(Exception):
    """Base of gateway errors; ``str(error)`` is safe to show to a customer."""


class GatewayUnavailable(PaymentError):
    """The provider did not answer in time or could not be reached; nothing is known to be done."""


class PaymentDeclined(PaymentError):
    """The provider refused the payment (declined instrument, cancelled, expired approval)."""


class PaymentRejected(PaymentError):
    """The provider refused the request itself (bad data, bad credentials): a bug or misconfig."""


class WebhookRejected(PaymentError):
    """A webhook whose signature, certificate or body did not verify; nothing may change."""


class UnsupportedWebhookEvent(WebhookRejected):
    """A genuine, verified event of a type the shop does not act on: acknowledge and ignore it."""

    def __init__(self, message: str, event_id: str = "", event_type: str = ""):
        super().__init__(message)
        self.event_id = event_id
        self.event_type = event_type


class PaymentState(StrEnum):
    """Where a provider payment stands, as far as the shop cares."""

    CREATED = "created"  # waiting for the buyer to approve
    APPROVED = "approved"  # approved by the buyer, not executed yet
    COMPLETED = "completed"  # money captured: the order may be fulfilled
    PENDING = "pending"  # executed, capture pending at the provider (e-check, review)
    FAILED = "failed"  # declined or failed for good
    CANCELLED = "cancelled"  # cancelled or expired before approval
    REFUNDED = "refunded"  # captured and then refunded, in full or in part (see refund_id)


@dataclass(frozen=True)
class LineItem:
    """One line of the order as shown to the buyer at the provider."""

    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units


@dataclass(frozen=True)
class PaymentRequest:
    """What to charge. ``reference`` is the order's public reference and must be unique.

    ``total`` = sum(quantity * unit_price) - ``discount``; providers that itemise show the
    discount as its own negative line.
    """

    reference: str
    currency: str
    total: int
    items: tuple[LineItem, ...]
    discount: int
    description: str
    return_url: str
    cancel_url: str


@dataclass(frozen=True)
class CreatedPayment:
    """A payment the buyer must now approve at ``approval_url``."""

    provider_payment_id: str
    approval_url: str


@dataclass(frozen=True)
class PaymentStatus:
    """A payment as the provider reports it (after execute, on look-up, or from a webhook)."""

    provider_payment_id: str
    state: PaymentState
    amount: int | None = None  # minor units of the captured/requested amount
    currency: str | None = None
    sale_id: str | None = None  # the provider's capture/sale id, once there is one
    reason: str = ""  # the provider's reason for a failure, for the log and the customer
    reference: str | None = None  # the PaymentRequest.reference the provider echoes, if any
    #: For a refund report: the provider's refund id (``amount`` is then what it gave back).
    refund_id: str | None = None
    #: The buyer at the provider, once they approved (look-ups only; not compared).
    payer_id: str | None = field(default=None, compare=False)
    #: For a refund report that gives the total refunded on the payment so far instead of
    #: this refund's amount (Alipay): ``amount`` is then None.
    refunded_total: int | None = None


@dataclass(frozen=True)
class RefundRequest:
    """Give back ``amount`` (minor units, at most what is left) of a captured payment.

    ``key`` names this refund for the shop (unique per payment): the same key never refunds
    twice at the provider, however often the request is retried.
    """

    provider_payment_id: str
    sale_id: str
    amount: int
    currency: str
    reference: str
    key: str


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider made (or had made already under the same key)."""

    refund_id: str
    amount: int
    currency: str
    completed: bool  # False: the provider holds it as pending


@dataclass(frozen=True)
class WebhookNotice:
    """A verified webhook event."""

    event_id: str
    event_type: str
    status: PaymentStatus
    raw_resource: dict = field(default_factory=dict, compare=False, repr=False)


class PaymentGateway(Protocol):
    """A payment provider the storefront can use.

    Implementations raise only :class:`PaymentError` subclasses for provider trouble.
    """

    #: Short provider name stored on the Payment row, e.g. "paypal".
    name: str

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create a payment for ``request``, idempotent at the provider per reference.

        Raises GatewayUnavailable, PaymentRejected.
        """

    def execute_payment(
        self, provider_payment_id: str, payer_id: str, reference: str
    ) -> PaymentStatus:
        """Capture an approved payment.

        Repeating it is idempotent: an already executed payment returns its current status
        rather than an error. Raises GatewayUnavailable, PaymentDeclined.
        """

    def get_payment(self, provider_payment_id: str) -> PaymentStatus:
        """Look a payment up (for reconciliation). Raises GatewayUnavailable, PaymentRejected."""

    def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a captured payment, idempotent per ``request.key``.

        Raises GatewayUnavailable, PaymentRejected (the provider refused: nothing refunded).
        """

    def verify_webhook(self, headers: dict[str, str], raw_body: bytes) -> WebhookNotice:
        """Verify a webhook over its raw bytes before anything else.

        Raise WebhookRejected when the signature, the certificate (fetched only from an allowed
        provider host) or the body is wrong.
        """
