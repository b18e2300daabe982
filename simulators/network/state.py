"""The simulated network's memory: cards with their data, applied packs, usage, events to send.

Everything sits behind one lock (the scenario switches' lock). Packs are kept by the shop's
transaction id, which is how a repeated request gets the first answer back and never a second
pack. Usage is counted per card and UTC day; crossing 80 % and 100 % of a card's data, and the
end of its validity, each produce one event.
"""

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from simulators.scenarios import COMMON_OUTCOMES, ScenarioSwitches

STATE_KEY = "network_simulator"
#: Shares of a card's data whose crossing is reported (100: the data is used up).
THRESHOLDS = (80, 100)


def now_utc() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


class UnknownCard(Exception):
    """The network does not know this card."""


class SuspendedCard(Exception):
    """The network has suspended this card."""


@dataclass
class SimCard:
    """One card on the network."""

    number: str
    suspended: bool = False
    #: Data of the packs applied since the card's validity last ran out.
    total_mb: int = 0
    used_mb: float = 0.0
    expires_at: datetime | None = None
    daily_mb: dict[date, float] = field(default_factory=dict)
    thresholds_reported: set[int] = field(default_factory=set)
    validity_reported: bool = False

    def remaining_mb(self) -> int:
        """Return the data left (nothing once validity has ended)."""
        if self.expires_at is None or self.expires_at <= now_utc():
            return 0
        return max(self.total_mb - int(self.used_mb), 0)

    def as_json(self) -> dict:
        """Return the card as the API answers it."""
        return {
            "iccid": self.number,
            "status": "suspended" if self.suspended else "active",
            "total_mb": self.total_mb,
            "used_mb": int(self.used_mb),
            "remaining_mb": self.remaining_mb(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "as_of": now_utc().isoformat(),
        }


@dataclass
class AppliedPack:
    """A pack the network applied, under the shop's transaction id."""

    transaction_id: str
    reference: str
    iccid: str
    sku: str
    data_mb: int
    validity_days: int
    applied_at: datetime


class NetworkState(ScenarioSwitches):
    """Cards, applied packs, failure switches and the events waiting to be sent."""

    OPERATIONS = ("any", "topup", "card", "usage")
    #: ``unknown_card``: refuse as if the card were not on the network; ``timeout_after_apply``:
    #: apply the pack, then answer only after ``seconds`` (longer than the shop waits).
    OUTCOMES = (*COMMON_OUTCOMES, "unknown_card", "timeout_after_apply")

    def __init__(self, card_numbers=()):
        super().__init__()
        self.cards: dict[str, SimCard] = {}
        self.packs: dict[str, AppliedPack] = {}
        #: While true every API call answers 503, as a network in an outage.
        self.down = False
        self.events: list[dict] = []
        self._event_numbers = itertools.count(1)
        for number in card_numbers:
            self.add_card(number)

    def add_card(self, number: str, *, suspended: bool = False) -> SimCard:
        """Put a card on the network (a no-op if it is there)."""
        with self.lock:
            card = self.cards.setdefault(number, SimCard(number))
            card.suspended = card.suspended or suspended
            return card

    def card(self, number: str) -> SimCard:
        """Return a card or raise :class:`UnknownCard`."""
        card = self.cards.get(number)
        if card is None:
            raise UnknownCard(number)
        return card

    def event(self, kind: str, card: SimCard, **data) -> dict:
        """Queue an event about a card; return it."""
        event = {
            "id": f"evt_{next(self._event_numbers)}_{secrets.token_hex(6)}",
            "type": kind,
            "created_at": now_utc().isoformat(),
            "data": {"iccid": card.number, "card": card.as_json(), **data},
        }
        self.events.append(event)
        return event

    def apply_pack(self, transaction_id: str, number: str, sku: str, data_mb: int, days: int):
        """Apply a pack once per transaction id; return it and whether it was applied just now."""
        with self.lock:
            known = self.packs.get(transaction_id)
            if known is not None:
                return known, False
            card = self.card(number)
            if card.suspended:
                raise SuspendedCard(number)
            now = now_utc()
            if card.expires_at is None or card.expires_at <= now:
                card.total_mb, card.used_mb = data_mb, 0.0
                card.expires_at = now + timedelta(days=days)
            else:
                card.total_mb += data_mb
                card.expires_at += timedelta(days=days)
            card.thresholds_reported = {
                t for t in card.thresholds_reported if card.used_mb >= card.total_mb * t / 100
            }
            card.validity_reported = False
            pack = AppliedPack(
                transaction_id,
                f"NW-{secrets.token_hex(5).upper()}",
                number,
                sku,
                data_mb,
                days,
                now,
            )
            self.packs[transaction_id] = pack
            self.event("pack.applied", card, request_id=transaction_id, reference=pack.reference)
            return pack, True

    def packs_of(self, number: str) -> list[AppliedPack]:
        """Return the packs applied to a card, oldest first."""
        with self.lock:
            return [pack for pack in self.packs.values() if pack.iccid == number]

    def use_data(self, number: str, megabytes: float, on: date | None = None) -> SimCard:
        """Count data used by a card (no more than it has left) and report crossed thresholds."""
        with self.lock:
            card = self.card(number)
            used = min(max(megabytes, 0.0), float(card.remaining_mb()))
            if card.suspended or used <= 0:
                return card
            day = on or now_utc().date()
            card.used_mb += used
            card.daily_mb[day] = card.daily_mb.get(day, 0.0) + used
            for threshold in THRESHOLDS:
                crossed = card.used_mb >= card.total_mb * threshold / 100
                if crossed and threshold not in card.thresholds_reported:
                    card.thresholds_reported.add(threshold)
                    if threshold == 100:
                        self.event("data.exhausted", card)
                    else:
                        self.event("usage.threshold", card, threshold_percent=threshold)
            return card

    def consume(self, mb_per_minute: float, seconds: float) -> None:
        """Let every active card with data use ``mb_per_minute`` for ``seconds``."""
        with self.lock:
            for card in self.cards.values():
                if not card.suspended and card.remaining_mb() > 0:
                    self.use_data(card.number, mb_per_minute * seconds / 60)
            self.report_ended_validity()

    def report_ended_validity(self) -> None:
        """Queue one ``validity.ended`` event per card whose validity has just run out."""
        with self.lock:
            now = now_utc()
            for card in self.cards.values():
                ended = card.expires_at is not None and card.expires_at <= now
                if ended and not card.validity_reported:
                    card.validity_reported = True
                    self.event("validity.ended", card)

    def suspend(self, number: str) -> SimCard:
        """Suspend a card on the network and report it."""
        with self.lock:
            card = self.card(number)
            if not card.suspended:
                card.suspended = True
                self.event("card.suspended", card)
            return card

    def usage(self, number: str, days: int) -> list[dict]:
        """Return the card's daily usage of the last ``days`` days (days without use omitted)."""
        with self.lock:
            card = self.card(number)
            first = now_utc().date() - timedelta(days=days - 1)
            return [
                {"date": day.isoformat(), "used_mb": int(round(used))}
                for day, used in sorted(card.daily_mb.items())
                if day >= first
            ]

    def take_events(self) -> list[dict]:
        """Return and forget the events waiting to be sent."""
        with self.lock:
            events, self.events = self.events, []
            return events
