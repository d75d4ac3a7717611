"""How long a clock runs and what time of day a window closes, as config and people write them.

A leaf of the domain (it imports nothing of watchboard): the config package parses clock
periods and sweep windows with it, and the calendar and the clock rules compute with it.

    '45s', '30m', '2h', '1d'   calendar time: plain elapsed time
    '3wh'                      working hours: counted only inside work hours
    '5wd'                      working days: the close of the 5th working day after the start day
    '08:30', '24:00'           a time of day on the 24-hour clock ('24:00' ends a day)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from typing import Literal

DurationUnit = Literal["s", "m", "h", "d", "wh", "wd"]
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)(wh|wd|s|m|h|d)$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Duration:
    """A clock's length: calendar (`s`, `m`, `h`, `d`), working hours (`wh`), working days (`wd`)."""

    amount: int
    unit: DurationUnit

    @property
    def basis(self) -> Literal["calendar", "working"]:
        return "working" if self.unit in ("wh", "wd") else "calendar"

    @property
    def seconds(self) -> int:
        """Length in seconds: elapsed time for calendar units, work time for `wh`; not for `wd`."""
        if self.unit == "wd":
            raise ValueError("a duration in working days has no fixed length in seconds")
        return self.amount * (3600 if self.unit == "wh" else _UNIT_SECONDS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(text: str) -> Duration:
    """'45s', '30m', '2h', '1d' (calendar), '3wh' (working hours), '5wd' (working days)."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration string like '2h', '3wh' or '5wd'")
    return _parse_duration(text)


@lru_cache(maxsize=256)  # the clocks' config asks for the same few strings at every firing
def _parse_duration(text: str) -> Duration:
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration: write a whole number and a unit, "
                         "'45s', '30m', '2h', '1d' (calendar), '3wh' (working hours) "
                         "or '5wd' (working days)")
    amount = int(m.group(1))
    if amount == 0:
        raise ValueError(f"{text!r} is zero; a clock needs a positive duration")
    return Duration(amount, m.group(2))  # type: ignore[arg-type]


def parse_hhmm(text: str) -> time | None:
    """'08:30' → time(8, 30); '24:00' → time.max (a period may end at midnight); None if bad."""
    if text == "24:00":
        return time.max
    m = _HHMM.match(text.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None
