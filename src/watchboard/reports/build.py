"""From events to a finished report in any format — no NATS here, so tests and the benchmark
build reports from events they made, exactly as `watchboard report` does from the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from watchboard.config import ConfigSource
from watchboard.domain.events import Event
from watchboard.reports import FORMATS, sections
from watchboard.reports import figures as f
from watchboard.reports.document import Document
from watchboard.reports.model import History, fold
from watchboard.reports.period import Period
from watchboard.reports.text import Lang


@dataclass(frozen=True)
class Setting:
    """What the reports read from the configuration: grades and their labels (active profile),
    the units (units.toml), the people (notify.toml), the zone, the working calendar
    (calendar.toml: which days owe supervision); built once per command."""

    zone: Any
    profile: str = "default"
    grades: tuple[str, ...] = ("I", "II", "III", "IV")
    grade_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # lang → grade → label
    unit_order: tuple[str, ...] = ()
    unit_names: dict[str, dict[str, str]] = field(default_factory=dict)  # lang → unit → name
    office: str = "office"
    people: dict[str, str] = field(default_factory=dict)  # person id → name (Chinese)
    notable_reposts: int = 100
    calendar: Any = None  # a WorkCalendar; None: the chinesecalendar package's days alone

    def ctx(self) -> f.Ctx:
        return f.Ctx(zone=self.zone, grades=self.grades, unit_order=self.unit_order,
                     notable_reposts=self.notable_reposts, calendar=self.calendar)

    def lang(self, code: str) -> Lang:
        return Lang(code=code, zone=self.zone, grade_labels=self.grade_labels.get(code, {}),
                    unit_names=self.unit_names.get(code, {}), people=self.people if code == "zh" else {})

    def issuer(self, code: str) -> str:
        return self.unit_names.get(code, {}).get(self.office, self.office)


def load_setting(source: ConfigSource) -> Setting:
    """The setting of the active profile (a bad file raises ConfigError naming file and key)."""
    from watchboard.config import load_watchboard
    from watchboard.config.calendar import load_calendar
    from watchboard.config.grading import load_grading, used_grades
    from watchboard.config.units import load_units
    from watchboard.domain.calendar import WorkCalendar
    from watchboard.domain.grading import grade_label
    from watchboard.services.notify.settings import load_notify

    wb, grading, units = load_watchboard(source), load_grading(source), load_units(source)
    grades = used_grades(grading)
    people = {p.id: p.name for p in load_notify(source).people}
    return Setting(
        zone=wb.zone(), profile=source.profile_name(), grades=grades,
        grade_labels={code: {g: grade_label(g, grading, code) for g in grades} for code in ("zh", "en")},
        unit_order=tuple(u.id for u in units.units),
        unit_names={"zh": {u.id: u.name for u in units.units}, "en": {u.id: u.name_en or u.name for u in units.units}},
        office=units.office, people=people, notable_reposts=grading.rules.reposts.min_reposts,
        calendar=WorkCalendar(load_calendar(source)))


@dataclass
class Report:
    kind: str
    period: Period
    lang: Lang
    history: History
    figures: dict[str, Any]
    document: Document
    meta: dict[str, Any]

    def render(self, fmt: str) -> bytes:
        if fmt == "md":
            from watchboard.reports import render_md

            return render_md.render(self.document, self.lang).encode()
        if fmt == "html":
            from watchboard.reports import render_html

            return render_html.render(self.document, self.lang).encode()
        if fmt == "docx":
            from watchboard.reports import render_docx

            return render_docx.render(self.document, self.lang)
        if fmt == "json":
            return self.json()
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")

    def json(self) -> bytes:
        """Every figure, machine-readable: ids as the stream has them, names beside them."""
        lang = self.lang
        body = {
            "report": self.kind,
            "period": {"label": self.period.label, "start": self.period.start, "end": self.period.end,
                       "as_of": self.period.as_of},
            **self.meta,
            "names": {"units": dict(lang.unit_names), "grades": dict(lang.grade_labels)},
            "figures": self.figures,
        }
        return msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n"


def footnote(lang: Lang, meta: dict[str, Any]) -> str:
    replay = meta.get("replay", {})
    n, at = replay.get("events", 0), meta.get("generated_at")
    when = lang.time(at) if isinstance(at, datetime) else ""
    return lang.pick(f"本报告依据舆情值班系统事件流生成：回放事件{n:,}条，生成于{when}。",
                     f"Rebuilt from the duty room's event stream: {n:,} events replayed, made on {when}.")


def build(kind: str, events: list[Event], period: Period, setting: Setting, lang_code: str, *,
          now: datetime, replay: dict[str, Any] | None = None, issuer: str | None = None,
          addressee: str | None = None) -> Report:
    """Fold `events` as of the period's `as_of`, compute every section, lay out the document."""
    history = fold(events, until=period.as_of)
    ctx = setting.ctx()
    figs = sections.compute(kind, sections.Scope(history, period, ctx))
    lang = setting.lang(lang_code)
    meta = {"lang": lang_code, "profile": setting.profile, "generated_at": now.astimezone(setting.zone),
            "replay": replay or {"events": len(events)}}
    doc = sections.document(kind, figs, period, lang, issuer=issuer or setting.issuer(lang_code),
                            issued=now, addressee=addressee, footnote=footnote(lang, meta))
    return Report(kind=kind, period=period, lang=lang, history=history, figures=figs, document=doc, meta=meta)
