"""Text messages through Twilio's Programmable Messaging API, with Twilio's official client.

In simulator mode the same client talks to the local SMS simulator: a small HTTP client
subclass sends Twilio's requests to the simulator's address instead of api.twilio.com. Every
other part (the request the client builds, its Basic authentication, reading the answer and
turning error answers into ``TwilioRestException``) is Twilio's own code.
"""

import logging

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from shop.messaging.gateway import SmsRejected, SmsUnavailable
from shop.messaging.settings import TWILIO_API, SmsSettings

log = logging.getLogger(__name__)

#: Twilio answers that mean "not now" rather than "never": rate limited, or its own failure.
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


class EndpointHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending to ``endpoint`` instead of api.twilio.com."""

    def __init__(self, endpoint: str, timeout: float):
        super().__init__(timeout=timeout)
        self.endpoint = endpoint

    def request(self, method, url, *args, **kwargs):
        """Send Twilio's request to the configured endpoint."""
        if url.startswith(TWILIO_API):
            url = self.endpoint + url.removeprefix(TWILIO_API)
        return super().request(method, url, *args, **kwargs)


class TwilioSmsGateway:
    """Sends text messages with Twilio's client; errors mapped to the gateway's two kinds."""

    name = "twilio"

    def __init__(self, settings: SmsSettings):
        self.settings = settings
        http_client = EndpointHttpClient(settings.endpoint, settings.timeout)
        self.client = Client(settings.account_sid, settings.auth_token, http_client=http_client)

    def send(self, to: str, body: str) -> str:
        """Send one message; return Twilio's message sid."""
        try:
            message = self.client.messages.create(to=to, from_=self.settings.sender, body=body)
        except TwilioRestException as exc:
            if exc.status in RETRYABLE_STATUSES:
                raise SmsUnavailable(f"Twilio answered {exc.status} (code {exc.code})") from None
            raise SmsRejected(f"Twilio refused the message: code {exc.code}") from None
        except requests.RequestException as exc:
            raise SmsUnavailable(f"Twilio could not be reached: {exc.__class__.__name__}") from None
        log.info("sms %s handed to Twilio (%s)", message.sid, message.status)
        return message.sid
