"""The period a report covers: a local day (daily), an ISO week (weekly), or an incident's
whole life (review). Pure: `now` and the zone are parameters.

Boundaries are local midnights in the configured zone, kept as aware datetimes; `as_of` is the
moment the report's state is taken at — the end of the period, or now if the period is not over
(the 17:00 daily report shows the day so far).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo


class PeriodError(ValueError):
    """A period argument the report refuses; `field` names the option."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Period:
    kind: str  # daily | weekly | review
    start: datetime
    end: datetime  # exclusive
    as_of: datetime
    label: str  # 2026-11-23 | 2026-W47 | the incident id

    def contains(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end and at <= self.as_of

    def days(self) -> list[date]:
        """The local dates the period spans (for the trend by day)."""
        first = self.start.date()
        count = max(1, (self.end.date() - first).days)
        return [first + timedelta(days=i) for i in range(count)]


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def parse_date(text: str | None, now: datetime, zone: tzinfo) -> date:
    """`--date`: YYYY-MM-DD, 'today' or 'yesterday' (default today, in the zone)."""
    today = now.astimezone(zone).date()
    if text is None or text.strip() in ("", "today"):
        return today
    text = text.strip()
    if text == "yesterday":
        return today - timedelta(days=1)
    if len(text) > 20:
        raise PeriodError("--date", f"{len(text)} characters: not a date like 2026-11-23")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError("--date", f"{text!r} is not a date like 2026-11-23") from None


_WEEK = re.compile(r"^(\d{4})-?[Ww](\d{1,2})$")


def parse_week(text: str | None, now: datetime, zone: tzinfo) -> tuple[int, int]:
    """`--week`: 2026-W47; default the last complete week (the Monday circular covers it)."""
    if text is None or not text.strip():
        last = now.astimezone(zone).date() - timedelta(days=7)
        year, week, _ = last.isocalendar()
        return year, week
    text = text.strip()
    match = _WEEK.match(text) if len(text) <= 20 else None
    if not match:
        raise PeriodError("--week", f"{text[:20]!r} is not an ISO week like 2026-W47")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise PeriodError("--week", f"{year} has no week {week}") from None
    return year, week


def daily(day: date, now: datetime, zone: tzinfo) -> Period:
    start = local_midnight(day, zone)
    end = local_midnight(day + timedelta(days=1), zone)
    if now < start:
        raise PeriodError("--date", f"{day.isoformat()} has not begun yet")
    return Period("daily", start, end, min(now, end), day.isoformat())


def weekly(year: int, week: int, now: datetime, zone: tzinfo) -> Period:
    monday = date.fromisocalendar(year, week, 1)
    start = local_midnight(monday, zone)
    end = local_midnight(monday + timedelta(days=7), zone)
    if now < start:
        raise PeriodError("--week", f"{year}-W{week:02d} has not begun yet")
    return Period("weekly", start, end, min(now, end), f"{year}-W{week:02d}")


def review(incident_id: str, start: datetime, now: datetime) -> Period:
    """An incident's whole life, from its first event up to now."""
    return Period("review", start, now + timedelta(microseconds=1), now, incident_id)
