"""The sections each report holds, in order: the reports' extension point.

A section is a key (its name in `--format json`), a pure `compute(scope)` giving its figures,
and a `render(figures, builder, period, all_figures)` putting them into the document in the
report's language. The follow-through (issue 14: statements, tasks, evidence, meetings,
supervision) is in sections of its own: figures in follow_figures.py, words in
follow_words.py, read from each record's `follow` (reports/followup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from watchboard.reports import daily, review, weekly
from watchboard.reports import figures as f
from watchboard.reports import follow_figures as ff
from watchboard.reports import follow_words as fw
from watchboard.reports.document import Builder, Document
from watchboard.reports.model import History, IncidentRecord
from watchboard.reports.period import Period
from watchboard.reports.text import Lang


@dataclass
class Scope:
    """What a section computes from: the folded history, the period and the figure context."""

    history: History
    period: Period
    ctx: f.Ctx

    @cached_property
    def record(self) -> IncidentRecord:
        return self.history.incidents[self.period.label]

    @cached_property
    def review(self) -> f.Review:
        return f.review(self.record, self.period.as_of, self.ctx)


Render = Callable[[Any, Builder, Period, dict[str, Any]], None]


@dataclass(frozen=True)
class Section:
    key: str
    compute: Callable[[Scope], Any]
    render: Render


def _simple(fn: Callable[[Any, Builder, Period], None]) -> Render:
    return lambda figs, b, period, _all: fn(figs, b, period)


def _on(fn: Callable[[History, Period, f.Ctx], Any]) -> Callable[[Scope], Any]:
    return lambda s: fn(s.history, s.period, s.ctx)


# 每日舆情汇报 (seed 002: 每日舆情汇报).
DAILY: list[Section] = [
    Section("new_incidents", _on(f.new_incidents), _simple(daily.new_incidents)),
    Section("open_incidents", _on(f.open_incidents), _simple(daily.open_incidents)),
    Section("clocks_due", _on(f.clocks_due), _simple(daily.clocks_due)),
    Section("breaches", _on(f.breaches), _simple(daily.breaches)),
    Section("reminder_slips", _on(f.reminder_slips), _simple(daily.reminder_slips)),
    Section("flags", _on(f.flags), _simple(daily.flags)),
    Section("tasks", _on(ff.daily_tasks), _simple(fw.daily_tasks)),
    Section("statements", _on(ff.daily_statements), _simple(fw.daily_statements)),
    Section("supervision_owed", _on(ff.daily_supervision), _simple(fw.daily_supervision)),
    Section("notable_mentions", _on(f.notable_mentions), _simple(daily.notable_mentions)),
    Section("evidence", _on(ff.daily_evidence), _simple(fw.daily_evidence)),
]

# 督查通报 (seeds 001 督办周报, 002 四.3 提醒单/通报批评).
WEEKLY: list[Section] = [
    Section("trend", _on(f.trend),
            lambda figs, b, period, every: weekly.overview(figs, b, period, supervision=every.get("supervision"))),
    Section("supervision", _on(f.supervision), _simple(weekly.units)),
    Section("supervision_by_clock", lambda s: None,
            lambda _figs, b, period, every: weekly.clocks(every["supervision"], b, period)),
    Section("slips_per_task", lambda s: None,
            lambda _figs, b, period, every: weekly.slips(every["supervision"], b, period)),
    Section("named_units", lambda s: None,
            lambda _figs, b, period, every: weekly.named(every["supervision"], b, period)),
    Section("tasks", _on(ff.weekly_tasks), _simple(fw.weekly_tasks)),
    Section("statements", _on(ff.weekly_statements), _simple(fw.weekly_statements)),
]

# 总结评估 (seeds 000 六, 003 三(五)).
REVIEW: list[Section] = [
    Section("facts", lambda s: review.FactsFigures(facts=s.review.facts, grades=s.review.grades,
                                                   owners=s.review.owners, stages=s.review.stages),
            _simple(review.facts)),
    Section("clocks", lambda s: s.review.clocks, _simple(review.clocks)),
    Section("statements", lambda s: ff.review_statements(s.record, s.ctx), _simple(fw.review_statements)),
    Section("tasks", lambda s: ff.review_tasks(s.record, s.ctx), _simple(fw.review_tasks)),
    Section("supervisions", lambda s: ff.review_supervisions(s.record, s.ctx), _simple(fw.review_supervisions)),
    Section("meetings", lambda s: ff.review_meetings(s.record, s.ctx), _simple(fw.review_meetings)),
    Section("evidence", lambda s: ff.review_evidence(s.record, s.ctx), _simple(fw.review_evidence)),
    Section("timeline", lambda s: s.review.timeline, _simple(review.timeline)),
    Section("actors", lambda s: s.review.actors, _simple(review.actors)),
    Section("notices", lambda s: s.review.notices, _simple(review.notices)),
    Section("slips", lambda s: review.SlipFigures(slips=s.review.slips, unit_flags=s.review.unit_flags),
            _simple(review.slips)),
]

SECTIONS: dict[str, list[Section]] = {"daily": DAILY, "weekly": WEEKLY, "review": REVIEW}


def compute(kind: str, scope: Scope) -> dict[str, Any]:
    """Every section's figures, by key (sections that only lay out others' figures give none)."""
    out: dict[str, Any] = {}
    for section in SECTIONS[kind]:
        value = section.compute(scope)
        if value is not None:
            out[section.key] = value
    return out


def document(kind: str, figs: dict[str, Any], period: Period, lang: Lang, *, issuer: str, issued: datetime,
             addressee: str | None = None, footnote: str = "") -> Document:
    """The report as a document in `lang`: title, addressee, lead, the sections, the close."""
    b = Builder(lang)
    if kind == "daily":
        title, to, lead, closing = daily.title(period, lang), daily.addressee(lang), daily.lead(figs, period, lang), ""
    elif kind == "weekly":
        title, to = weekly.title(period, lang), weekly.addressee(lang)
        lead, closing = weekly.lead(figs, period, lang), weekly.closing(figs, period, lang)
    else:
        title, to = review.title(figs["facts"].facts, lang), review.addressee(lang)
        lead, closing = review.lead(figs, period, lang), ""
    b.para(lead)
    for section in SECTIONS[kind]:
        section.render(figs.get(section.key), b, period, figs)
    b.para(closing)
    return Document(kind=kind, lang=lang.code, title=title, addressee=addressee or to, issuer=issuer,
                    issued=issued, blocks=b.blocks, footnote=footnote)
