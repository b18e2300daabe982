"""What the SMS simulator remembers: the messages it accepted, and its failure switches."""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

STATE_KEY = "sms_simulator"


@dataclass
class TextMessage:
    """One accepted message, as Twilio describes it."""

    sid: str
    account_sid: str
    to: str
    sender: str
    body: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "delivered"

    @property
    def segments(self) -> int:
        """Return how many SMS parts the body takes (GSM 7-bit: 160, else 70 characters)."""
        per_part = 160 if self.body.isascii() else 70
        return max(1, -(-len(self.body) // per_part))


class SmsState(ScenarioSwitches):
    """Accepted messages, newest last, behind the lock."""

    OPERATIONS = ("any", "send")
    #: ``reject``: Twilio's 21610 (the recipient unsubscribed), a permanent refusal.
    OUTCOMES = (*COMMON_OUTCOMES, "reject")

    def __init__(self):
        super().__init__()
        self.messages: list[TextMessage] = []

    def accept(self, account_sid: str, to: str, sender: str, body: str) -> TextMessage:
        """Keep a new message and return it."""
        message = TextMessage("SM" + secrets.token_hex(16), account_sid, to, sender, body)
        with self.lock:
            self.messages.append(message)
        return message

    def find(self, sid: str) -> TextMessage | None:
        """Return the message with this sid."""
        with self.lock:
            return next((m for m in self.messages if m.sid == sid), None)

    def to(self, phone: str) -> list[TextMessage]:
        """Return the messages sent to one number, oldest first."""
        with self.lock:
            return [m for m in self.messages if m.to == phone]
