"""The gateway to the operator's network: what the shop asks of it, whatever the provider.

The shop applies packs, reads a card's figures and its usage records through
:class:`NetworkGateway`; :func:`gateway` returns the adapter ``NETWORK_MODE`` selects. A new
provider is one new adapter class registered in :data:`ADAPTERS`. Adapters raise
:class:`NetworkUnavailable` when it is worth trying again (down, timed out, a 5xx answer) and
:class:`NetworkRefused` when it is not (the network does not know the card, refuses the pack).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app


class NetworkError(Exception):
    """Base of the network's failures."""


class NetworkUnavailable(NetworkError):
    """The network could not be reached or did not answer in time: try again later."""


class NetworkRefused(NetworkError):
    """The network answered no; trying again would change nothing. ``code`` says why."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


class NetworkMisconfigured(NetworkError):
    """``NETWORK_MODE`` or the settings it needs are wrong."""


@dataclass(frozen=True)
class PackOrder:
    """A pack to apply to a card, under the request id that makes a retry harmless."""

    request_id: str
    card_number: str
    sku: str
    data_mb: int
    validity_days: int


@dataclass(frozen=True)
class CardFigures:
    """A card as the network sees it, at ``as_of``."""

    card_number: str
    suspended: bool
    total_mb: int
    used_mb: int
    remaining_mb: int
    expires_at: datetime | None
    as_of: datetime


@dataclass(frozen=True)
class AppliedPack:
    """The network's answer to a pack: its reference, and the card after it."""

    request_id: str
    reference: str
    card: CardFigures


@dataclass(frozen=True)
class UsageRecord:
    """Data a card used on one day (UTC)."""

    day: date
    used_mb: int


class NetworkGateway(ABC):
    """What the shop needs from the operator's network."""

    @abstractmethod
    def apply_pack(self, order: PackOrder) -> AppliedPack:
        """Apply a pack; a repeated ``request_id`` returns the first result, never a second pack."""

    @abstractmethod
    def card_figures(self, card_number: str, *, timeout: float | None = None) -> CardFigures:
        """Return a card's remaining and used data, expiry and suspension."""

    @abstractmethod
    def usage(self, card_number: str, days: int) -> list[UsageRecord]:
        """Return the card's daily usage of the last ``days`` days (days without use omitted)."""


def _http_adapter(config) -> NetworkGateway:
    from shop.network.http import HttpNetwork

    return HttpNetwork.from_config(config)


#: ``NETWORK_MODE`` -> a function of the app's config returning the adapter. The simulator,
#: a provider's sandbox and its live API speak the same HTTP API (``shop.network.http``).
ADAPTERS = {"simulator": _http_adapter, "sandbox": _http_adapter, "live": _http_adapter}


def gateway() -> NetworkGateway:
    """Return the current app's network adapter (made once per app)."""
    cached = current_app.extensions.get("network.gateway")
    if cached is None:
        mode = current_app.config["NETWORK_MODE"]
        if mode not in ADAPTERS:
            raise NetworkMisconfigured(f"NETWORK_MODE must be one of {sorted(ADAPTERS)}: {mode!r}")
        cached = ADAPTERS[mode](current_app.config)
        current_app.extensions["network.gateway"] = cached
    return cached
