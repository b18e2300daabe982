"""The network adapter over HTTP, shaped like the public APIs of eSIM providers.

``POST /v1/topups`` applies a pack by ICCID with the shop's transaction id (also sent as
``Idempotency-Key``); ``GET /v1/cards/<iccid>`` answers total / used / remaining data, expiry
and status; ``GET /v1/cards/<iccid>/usage?days=N`` the daily usage records. Every request
carries the API key as a bearer token and an HMAC signature of its timestamp and body, and
has a timeout: a delivery never hangs on a silent network.
"""

import json
from datetime import date, datetime
from urllib.parse import quote

import requests

from shop.network.gateway import (
    AppliedPack,
    CardFigures,
    NetworkGateway,
    NetworkMisconfigured,
    NetworkRefused,
    NetworkUnavailable,
    PackOrder,
    UsageRecord,
)
from shop.network.signing import SIGNATURE_HEADER, sign
from shop.timeutil import utcnow

#: What simulator mode uses when nothing is set: the simulator's fixed demo key and address.
SIMULATOR_URL = "http://127.0.0.1:5004"
SIMULATOR_API_KEY = "simulator-network-key"  # noqa: S105 - the local stand-in's public demo key


def parse_timestamp(value) -> datetime | None:
    """Return an ISO 8601 timestamp with its offset as a datetime (None for empty)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without an offset: {value!r}")
    return parsed


def figures_from_json(data: dict) -> CardFigures:
    """Read a card's figures from the network's JSON (also used by its callbacks)."""
    return CardFigures(
        card_number=str(data["iccid"]),
        suspended=data.get("status") == "suspended",
        total_mb=int(data.get("total_mb", 0)),
        used_mb=int(data.get("used_mb", 0)),
        remaining_mb=max(int(data.get("remaining_mb", 0)), 0),
        expires_at=parse_timestamp(data.get("expires_at")),
        as_of=parse_timestamp(data.get("as_of")) or utcnow(),
    )


class HttpNetwork(NetworkGateway):
    """A network that speaks the eSIM-provider-shaped HTTP API above."""

    def __init__(self, base_url: str, api_key: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.session = requests.Session()

    @classmethod
    def from_config(cls, config) -> "HttpNetwork":
        """Build the adapter from ``NETWORK_*`` settings (simulator mode has defaults)."""
        simulator = config["NETWORK_MODE"] == "simulator"
        url = config["NETWORK_API_URL"] or (SIMULATOR_URL if simulator else "")
        key = config["NETWORK_API_KEY"] or (SIMULATOR_API_KEY if simulator else "")
        if not url or not key:
            raise NetworkMisconfigured("NETWORK_API_URL and NETWORK_API_KEY must be set")
        return cls(url, key, config["NETWORK_TIMEOUT_SECONDS"])

    def _call(self, method: str, path: str, body: dict | None = None, *, timeout=None, **extra):
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            SIGNATURE_HEADER: sign(self.api_key, raw),
            "Accept": "application/json",
            **extra,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                data=raw or None,
                headers=headers,
                timeout=timeout or self.timeout,
            )
        except requests.Timeout as exc:
            raise NetworkUnavailable(f"timed out: {exc.__class__.__name__}") from None
        except requests.RequestException as exc:
            raise NetworkUnavailable(f"unreachable: {exc.__class__.__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise NetworkUnavailable(f"answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise NetworkUnavailable(f"answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            error = error if isinstance(error, dict) else {}
            raise NetworkRefused(
                str(error.get("code") or f"http_{response.status_code}")[:60],
                str(error.get("message", ""))[:120],
            )
        return data

    def apply_pack(self, order: PackOrder) -> AppliedPack:
        """Apply a pack with ``POST /v1/topups``."""
        data = self._call(
            "POST",
            "/v1/topups",
            {
                "transaction_id": order.request_id,
                "iccid": order.card_number,
                "package": {
                    "sku": order.sku,
                    "data_mb": order.data_mb,
                    "validity_days": order.validity_days,
                },
            },
            **{"Idempotency-Key": order.request_id},
        )
        try:
            return AppliedPack(
                request_id=str(data["transaction_id"]),
                reference=str(data.get("reference", ""))[:64],
                card=figures_from_json(data["card"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkUnavailable(f"unreadable answer: {exc!r}"[:120]) from None

    def card_figures(self, card_number: str, *, timeout: float | None = None) -> CardFigures:
        """Read a card with ``GET /v1/cards/<iccid>``."""
        data = self._call("GET", f"/v1/cards/{quote(card_number, safe='')}", timeout=timeout)
        try:
            return figures_from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkUnavailable(f"unreadable answer: {exc!r}"[:120]) from None

    def usage(self, card_number: str, days: int) -> list[UsageRecord]:
        """Read daily usage with ``GET /v1/cards/<iccid>/usage?days=N``."""
        data = self._call("GET", f"/v1/cards/{quote(card_number, safe='')}/usage?days={days}")
        try:
            return [
                UsageRecord(date.fromisoformat(row["date"]), max(int(row["used_mb"]), 0))
                for row in data["records"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkUnavailable(f"unreadable answer: {exc!r}"[:120]) from None
