"""deadlines.toml: which clocks each grade starts, how long, from when, and the warning,
reminder and sweep settings, checked.

What the clocks do is `watchboard.domain.clocks`; this module says what the file may hold.
A clock's value is a period (`"3wh"`) or a table (`{ period, from, extendable, seed_ref,
quote }`), read into a `ClockRule` by `rule_from`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

from watchboard.config.loader import ConfigError, Source, decode, load, or_default
from watchboard.domain.durations import Duration, parse_duration, parse_hhmm
from watchboard.domain.report import GRADES

# The five clocks of DESIGN.md §4.4, with the extra clocks of profiles before `final`.
CLOCK_ORDER: tuple[str, ...] = (
    "report_up",       # report upward (003: I 2 h, II 4 h; 002: 2 h)
    "first_response",  # first response to the netizen's post (003: 3wh; 002: 3 h calendar)
    "statement",       # authoritative information / approved statement (003: 24 h; 000: 12 h)
    "formal_reply",    # formal answer (003: 5 working days)
    "simple_answer",   # extra, plan-002: a simple question answered within 18 h
    "first_handling",  # extra, plan-002: first handling and a reply within 1–2 working days
    "final",           # the cap: no extension may pass it (003: 10wd; 002: 5wd)
)
OFF = "off"  # a profile sets a clock to "off" to drop a default one (TOML merge cannot delete)

# Where a clock's period counts from (DOMAIN.md §4), each falling back to the next known
# moment: the post (网民发帖后), the monitor's observation (知晓发帖内容后), the report's arrival,
# or the moment the incident first reached a grade that has the clock (a rising grade starts
# its new clocks then). The fall-backs are the rules' (`domain.clocks.FALLBACKS`).
FROM_CHOICES: tuple[str, ...] = ("posted", "observed", "reported", "graded")
DEFAULT_FROM = "observed"  # a bare period counts from when the duty room could know
# The plans allow a longer time only for handling (seed 002 三.5 承诺办理时限, seed 003 四(三)
# 确需延长办理时间): these may be extended when a clock does not say.
EXTENDABLE_BY_DEFAULT = frozenset({"formal_reply", "first_handling"})
CLOCK_KEYS = ("period", "from", "extendable", "seed_ref", "quote")
# Reminder slips repeat every `remind_every` while a breached task stays undone.
REMIND_MIN_SECONDS = 15


class WarningsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # "80%": when 80 % of the clock's time is used (work time for a working clock);
    # "30m": that long before the due time (calendar durations only).
    points: list[str] = msgspec.field(default_factory=lambda: ["80%", "30m"])


class SweepConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # A monitoring sweep must be recorded by each of these local times, every day.
    windows: list[str] = msgspec.field(default_factory=lambda: ["10:00", "18:00"])
    include_holidays: bool = True


def _default_grades() -> dict[str, dict[str, Any]]:
    every: dict[str, Any] = {"first_response": "3wh", "formal_reply": "5wd", "final": "10wd"}
    graded = {"from": "graded"}
    return {
        "I": {"report_up": {"period": "2h", **graded}, "statement": {"period": "24h", **graded}, **every},
        "II": {"report_up": {"period": "4h", **graded}, "statement": {"period": "24h", **graded}, **every},
        "III": dict(every),
        "IV": dict(every),
    }


@dataclass(frozen=True)
class ClockRule:
    """One clock of one grade, as configured: its period, where it counts from, and whether
    the plan lets it be extended; `seed_ref`/`quote` say which plan words it implements."""

    name: str
    duration: Duration
    counted_from: str = DEFAULT_FROM
    extendable: bool = False
    seed_ref: str = ""
    quote: str = ""

    @property
    def period(self) -> str:
        return str(self.duration)


def rule_from(name: str, value: Any) -> ClockRule:
    """A `deadlines.toml` clock value — `"3wh"` or `{period, from, extendable, seed_ref, quote}` —
    as a ClockRule; ValueError says what is wrong (the caller names file and key)."""
    if isinstance(value, str):
        return ClockRule(name=name, duration=parse_duration(value), extendable=name in EXTENDABLE_BY_DEFAULT)
    if not isinstance(value, dict):
        raise ValueError(f"expected a period like '5wd', 'off', or a table "
                         f"{{ period = \"3h\", from = \"posted\" }}, got {value!r}")
    unknown = [k for k in value if k not in CLOCK_KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; a clock table takes {', '.join(CLOCK_KEYS)}")
    if "period" not in value:
        raise ValueError("a clock table needs `period`, e.g. { period = \"3h\", from = \"posted\" }")
    counted_from = value.get("from", DEFAULT_FROM)
    if counted_from not in FROM_CHOICES:
        raise ValueError(f"from = {counted_from!r} is not one of {', '.join(FROM_CHOICES)}")
    extendable = value.get("extendable", name in EXTENDABLE_BY_DEFAULT)
    if not isinstance(extendable, bool):
        raise ValueError(f"extendable = {extendable!r} must be true or false")
    for key in ("seed_ref", "quote"):
        if not isinstance(value.get(key, ""), str):
            raise ValueError(f"{key} = {value[key]!r} must be a string")
    return ClockRule(name=name, duration=parse_duration(value["period"]), counted_from=counted_from,
                     extendable=extendable, seed_ref=value.get("seed_ref", ""), quote=value.get("quote", ""))


class DeadlinesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # grade → clock name → period or table; values are typed loosely so a wrong type is
    # reported with its full key (msgspec writes dict keys as `[...]`).
    grades: dict[str, dict[str, Any]] = msgspec.field(default_factory=_default_grades)
    # Positive items (sentiment "positive") are answered and amplified: no clocks by default.
    positive_clocks: bool = False
    reminders_before_flag: int = 3
    remind_every: str = "1wd"
    warnings: WarningsConfig = msgspec.field(default_factory=WarningsConfig)
    sweep: SweepConfig = msgspec.field(default_factory=SweepConfig)

    def rules_for(self, grade: str) -> list[ClockRule]:
        """The clocks of `grade` in CLOCK_ORDER; [] for a grade with none."""
        table = self.grades.get(grade, {})
        return [rule_from(name, table[name]) for name in CLOCK_ORDER
                if name in table and table[name] != OFF]

    def rule(self, grade: str | None, name: str) -> ClockRule | None:
        return next((r for r in self.rules_for(grade) if r.name == name), None) if grade else None

    def clocks_for(self, grade: str) -> list[tuple[str, Duration]]:
        return [(r.name, r.duration) for r in self.rules_for(grade)]

    def remind_period(self) -> Duration:
        return parse_duration(self.remind_every)


_PERCENT = re.compile(r"^(\d{1,2})%$")


@lru_cache(maxsize=64)  # the timer asks for every clock's points: a handful of strings, parsed once
def parse_warning_point(text: str) -> float | Duration:
    """'80%' → 0.8 (fraction of the clock used); '30m' → Duration before due."""
    m = _PERCENT.match(text.strip())
    if m:
        value = int(m.group(1))
        if not 0 < value < 100:
            raise ValueError(f"{text!r} must be between 1% and 99%")
        return value / 100
    try:
        d = parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a warning point: write a share like '80%' or a "
                         "time before the due time like '30m'") from exc
    if d.basis != "calendar":
        raise ValueError(f"{text!r}: a time before the due time must be calendar time "
                         "('30m', '1h'), not working time")
    return d


def check_remind_every(text: str) -> Duration:
    """Any clock duration from '15s' to '1wd' (a working day at most: seed 002 reminds a unit
    about an unfixed task; a week between slips would let three of them take a month)."""
    d = parse_duration(text)
    if d.unit == "wd":
        if d.amount != 1:
            raise ValueError(f"{text!r} is more than '1wd'; reminders repeat at least every working day")
    elif d.unit == "wh":
        if d.amount > 8:
            raise ValueError(f"{text!r} is more than a working day; use '1wd' at most")
    elif d.seconds < REMIND_MIN_SECONDS:
        raise ValueError(f"{text!r} is less than '15s'")
    elif d.seconds > 86400:
        raise ValueError(f"{text!r} is more than a day; use '1wd' or '24h' at most")
    return d


def check_deadlines(cfg: DeadlinesConfig, file: str = "deadlines.toml") -> None:
    """The checks msgspec cannot do; ConfigError names file, key and the bad value."""
    for grade, table in cfg.grades.items():
        if grade not in GRADES:
            raise ConfigError(file, f"grades.{grade}", f"unknown grade key {grade!r}; "
                              f"use one of {', '.join(GRADES)}")
        for name, value in table.items():
            key = f"grades.{grade}.{name}"
            if name not in CLOCK_ORDER:
                raise ConfigError(file, key, f"unknown clock name {name!r}; known: "
                                  f"{', '.join(CLOCK_ORDER)}")
            if value == OFF:
                continue
            try:
                rule_from(name, value)
            except ValueError as exc:
                raise ConfigError(file, key, str(exc)) from exc
    for i, text in enumerate(cfg.warnings.points):
        try:
            parse_warning_point(text)
        except ValueError as exc:
            raise ConfigError(file, f"warnings.points[{i}]", str(exc)) from exc
    if cfg.reminders_before_flag < 1:
        raise ConfigError(file, "reminders_before_flag",
                          f"{cfg.reminders_before_flag} must be 1 or more")
    try:
        check_remind_every(cfg.remind_every)
    except ValueError as exc:
        raise ConfigError(file, "remind_every", str(exc)) from exc
    for i, text in enumerate(cfg.sweep.windows):
        if parse_hhmm(text) is None or text == "24:00":
            raise ConfigError(file, f"sweep.windows[{i}]", f"{text!r} is not a time like '10:00' "
                              "(HH:MM, 24-hour clock)")


def deadlines_from_data(data: dict[str, Any], file: str = "deadlines.toml") -> DeadlinesConfig:
    """Decode and check already-parsed TOML data."""
    return decode(data, DeadlinesConfig, file, check_deadlines)


def load_deadlines(source: Source | None = None) -> DeadlinesConfig:
    """deadlines.toml with the active profile's `[deadlines]` table merged in, checked."""
    return load("deadlines.toml", DeadlinesConfig, source, check=check_deadlines)


def plan_set_clocks(source: Source | None = None) -> dict[str, set[str]]:
    """grade → the clocks the active profile's own file sets (its plan's words); the rest of
    what it runs is deadlines.toml's defaults. The default profile sets none of its own."""
    data, _ = or_default(source).profile_data()
    grades = data.get("deadlines", {}).get("grades", {}) if isinstance(data.get("deadlines"), dict) else {}
    return {g: set(t) for g, t in grades.items() if isinstance(t, dict)}
