"""Report periods: whole days, inclusive, in the operator's time zone (``REPORT_TIMEZONE``).

A period from day A to day B covers every sale from midnight at the start of A to midnight at
the end of B, local time; stored times are aware UTC, so the period is turned into a half-open
UTC interval ``[start, end)``. A day is 23 or 25 hours long when the clocks change.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shop.timeutil import utcnow

#: The longest period one report covers.
MAX_DAYS = 366
#: Named periods offered on the report pages.
PRESETS = ("today", "yesterday", "this_week", "this_month", "last_month", "custom")
#: The period of a report page opened without one.
DEFAULT_PRESET = "this_month"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


class InvalidPeriod(ValueError):
    """A period that cannot be reported on; ``problems`` maps a field to what is wrong.

    Problems are ``required``, ``not_a_date``, ``after_to``, ``too_long`` and ``unknown_preset``.
    """

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{field}: {problem}" for field, problem in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last``, both included, in time zone ``zone``."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def days(self) -> int:
        """Return how many days the period covers."""
        return (self.last - self.first).days + 1

    def day_start(self, day: date) -> datetime:
        """Return local midnight at the start of ``day`` as aware UTC."""
        return datetime.combine(day, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def start(self) -> datetime:
        """Return the first instant of the period (UTC)."""
        return self.day_start(self.first)

    @property
    def end(self) -> datetime:
        """Return the first instant after the period (UTC)."""
        return self.day_start(self.last + timedelta(days=1))

    def dates(self) -> list[date]:
        """Return every day of the period in order."""
        return [self.first + timedelta(days=offset) for offset in range(self.days)]

    def boundaries(self) -> list[datetime]:
        """Return the UTC start of every day and the period's end (``days + 1`` instants)."""
        return [self.day_start(day) for day in self.dates()] + [self.end]

    def local_date(self, moment: datetime) -> date:
        """Return the local day of an aware instant."""
        return moment.astimezone(self.zone).date()


def report_zone(name: str) -> ZoneInfo:
    """Return the time zone of an IANA name, or refuse it with a clear message."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"REPORT_TIMEZONE must be an IANA time zone name, got {name!r}") from None


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Return today's date in ``zone``."""
    return (now or utcnow()).astimezone(zone).date()


def preset_period(preset: str, zone: ZoneInfo, now: datetime | None = None) -> Period:
    """Return the period a preset names, relative to today in ``zone``."""
    today = local_today(zone, now)
    if preset == "today":
        return Period(today, today, zone)
    if preset == "yesterday":
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday, zone)
    if preset == "this_week":  # weeks start on Monday (ISO 8601)
        return Period(today - timedelta(days=today.weekday()), today, zone)
    if preset == "this_month":
        return Period(today.replace(day=1), today, zone)
    if preset == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last, zone)
    raise InvalidPeriod({"preset": "unknown_preset"})


def last_days(count: int, zone: ZoneInfo, now: datetime | None = None) -> Period:
    """Return the ``count`` days up to and including today."""
    today = local_today(zone, now)
    return Period(today - timedelta(days=count - 1), today, zone)


def _parse_day(text: str | None, field: str, problems: dict) -> date | None:
    if not text:
        problems[field] = "required"
        return None
    if not _ISO_DAY.match(text):
        problems[field] = "not_a_date"
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems[field] = "not_a_date"
        return None
    if not 1900 <= day.year <= 9998:  # keeps every boundary representable on every backend
        problems[field] = "not_a_date"
        return None
    return day


def parse_period(
    first_text: str | None, last_text: str | None, zone: ZoneInfo, max_days: int = MAX_DAYS
) -> Period:
    """Return the period of two ``YYYY-MM-DD`` days, or raise :class:`InvalidPeriod`."""
    problems: dict[str, str] = {}
    first = _parse_day(first_text, "from", problems)
    last = _parse_day(last_text, "to", problems)
    if not problems:
        if first > last:
            problems["to"] = "after_to"
        elif (last - first).days + 1 > max_days:
            problems["to"] = "too_long"
    if problems:
        raise InvalidPeriod(problems)
    return Period(first, last, zone)


def requested_period(
    preset: str | None,
    first_text: str | None,
    last_text: str | None,
    zone: ZoneInfo,
    now: datetime | None = None,
) -> Period:
    """Return the period a report form asks for: a preset, or custom days, or this month."""
    if preset and preset != "custom":
        return preset_period(preset, zone, now)
    if preset == "custom" or first_text or last_text:
        return parse_period(first_text, last_text, zone)
    return preset_period(DEFAULT_PRESET, zone, now)
