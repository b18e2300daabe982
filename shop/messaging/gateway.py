"""The interface the shop sends text messages through, whatever the provider."""

from typing import Protocol


class SmsError(Exception):
    """A text message could not be handed to the provider."""


class SmsUnavailable(SmsError):
    """The provider did not answer, or answered that it cannot now: try again later."""


class SmsRejected(SmsError):
    """The provider refused this message for good (bad number, unroutable): do not retry."""


class SmsGateway(Protocol):
    """Hands one text message to the provider."""

    name: str

    def send(self, to: str, body: str) -> str:
        """Send ``body`` to the E.164 number ``to``; return the provider's message id.

        Raises SmsUnavailable (retry later) or SmsRejected (never retry).
        """
