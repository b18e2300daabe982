"""SMS settings read from the app's configuration, checked before the shop starts.

``simulator`` mode points Twilio's own client at the local SMS simulator with fixed demo
credentials; ``sandbox`` uses Twilio with its test credentials (nothing is delivered, magic
numbers answer as documented) and ``live`` sends real messages. Both refuse to start without an
account, a token and a sender.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MODES = ("simulator", "sandbox", "live")
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
    mode = str(config.get("SMS_MODE") or "simulator").strip().lower()
    if mode not in MODES:
        raise SmsConfigError(f"SMS_MODE must be one of {', '.join(MODES)}, got {mode!r}")
    try:
        timeout = float(config.get("SMS_TIMEOUT_SECONDS", 10.0))
    except (TypeError, ValueError):
        timeout = math.nan
    if not math.isfinite(timeout) or timeout <= 0:
        raise SmsConfigError("SMS_TIMEOUT_SECONDS must be a number of seconds above zero")
    sid = config.get("TWILIO_ACCOUNT_SID") or ""
    token = config.get("TWILIO_AUTH_TOKEN") or ""
    sender = config.get("SMS_SENDER") or ""
    if mode == "simulator":
        endpoint = str(config.get("SMS_SIMULATOR_URL") or "").rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmsConfigError(
                f"SMS_SIMULATOR_URL must be an http(s) URL such as http://127.0.0.1:5005, "
                f"got {endpoint!r}"
            )
        return SmsSettings(
            mode=mode,
            account_sid=sid or SIMULATOR_ACCOUNT_SID,
            auth_token=token or SIMULATOR_AUTH_TOKEN,
            sender=sender or SIMULATOR_SENDER,
            endpoint=endpoint,
            timeout=timeout,
        )
    missing = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", sid),
            ("TWILIO_AUTH_TOKEN", token),
            ("SMS_SENDER", sender),
        )
        if not value
    ]
    if missing:
        raise SmsConfigError(
            f"SMS_MODE={mode} needs {', '.join(missing)} (from the Twilio console); "
            f"use SMS_MODE=simulator to run without Twilio"
        )
    return SmsSettings(
        mode=mode,
        account_sid=sid,
        auth_token=token,
        sender=sender,
        endpoint=TWILIO_API,
        timeout=timeout,
    )
