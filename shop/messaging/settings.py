"""SMS settings read from the app's configuration, checked before the shop starts.

``simulator`` mode points Twilio's own client at the local SMS simulator with fixed demo
credentials; ``sandbox`` uses Twilio with its test credentials (nothing is delivered, magic
numbers answer as documented) and ``live`` sends real messages. Both refuse to start without an
account, a token and a sender.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from shop.provider_settings import provider_mode, require_settings, simulator_url, timeout_seconds

TWILIO_API = "https://api.twilio.com"
#: The simulator's fixed demo account (not secrets: it runs on loopback).
SIMULATOR_ACCOUNT_SID = "AC" + "5" * 32
SIMULATOR_AUTH_TOKEN = "wanderdata-sms-simulator"  # noqa: S105 - public demo value
SIMULATOR_SENDER = "+15005550006"


class SmsConfigError(RuntimeError):
    """The SMS settings cannot work; the shop refuses to start with them."""


@dataclass(frozen=True)
class SmsSettings:
    """Everything the SMS gateway needs, validated."""

    mode: str
    account_sid: str
    auth_token: str = field(repr=False)
    sender: str
    #: Where Twilio's API is: api.twilio.com, or the simulator's URL.
    endpoint: str
    timeout: float


def sms_settings(config: Mapping) -> SmsSettings:
    """Read and check the ``SMS_*`` and ``TWILIO_*`` settings; raise SmsConfigError."""
    mode = provider_mode(config, "SMS_MODE", SmsConfigError)
    timeout = timeout_seconds(config, "SMS_TIMEOUT_SECONDS", SmsConfigError)
    sid = config.get("TWILIO_ACCOUNT_SID") or ""
    token = config.get("TWILIO_AUTH_TOKEN") or ""
    sender = config.get("SMS_SENDER") or ""
    if mode == "simulator":
        endpoint = simulator_url(
            config, "SMS_SIMULATOR_URL", "http://127.0.0.1:5005", SmsConfigError
        )
        return SmsSettings(
            mode=mode,
            account_sid=sid or SIMULATOR_ACCOUNT_SID,
            auth_token=token or SIMULATOR_AUTH_TOKEN,
            sender=sender or SIMULATOR_SENDER,
            endpoint=endpoint,
            timeout=timeout,
        )
    require_settings(
        "SMS_MODE",
        mode,
        {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "SMS_SENDER": sender},
        SmsConfigError,
        "from the Twilio console",
    )
    return SmsSettings(
        mode=mode,
        account_sid=sid,
        auth_token=token,
        sender=sender,
        endpoint=TWILIO_API,
        timeout=timeout,
    )
