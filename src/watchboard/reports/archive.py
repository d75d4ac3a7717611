"""Incidents that have left the board, as the board showed them: views folded from the stream.

A closed incident leaves the bucket `wb-board` after `history.board_retention`; its facts stay
in the stream. `watchboard show ID` then reads the incident's events (`wb.ev.*.<id>.>`, as
`watchboard review` does) and `ls --all` the reports, closes, grades and owners of every
incident; this module turns those events into the `IncidentView` the readers already print.
Pure: the record is intake's own fold (`domain.incident.apply`), the rest what the reports' fold
(`reports.model`) says grading, deadlines and notify recorded, never re-decided.
"""

from __future__ import annotations

from collections.abc import Iterable

from watchboard.domain import events as ev
from watchboard.domain import incident
from watchboard.domain.views import (
    ClocksView,
    ClockView,
    CoreView,
    GradeView,
    IncidentView,
    NoticesView,
    NoticeView,
)
from watchboard.reports.model import ClockRecord, IncidentRecord, fold

# What `ls --all` reads of each incident (a year of history: a few subjects, not every event).
SUMMARY_TYPES = ("incident.reported", "incident.closed", "incident.graded", "incident.assigned")


def view_of(events: Iterable[ev.Event]) -> IncidentView | None:
    """One incident's view from its events in stream order; None if they hold no report of it."""
    events = list(events)
    views = views_of(events)
    return next(iter(views.values()), None) if len(views) == 1 else None


def views_of(events: Iterable[ev.Event]) -> dict[str, IncidentView]:
    """The view of every incident the events report (stream order), by incident id."""
    events = list(events)
    cores: dict[str, CoreView] = {}
    for e in events:
        if e.incident_id == ev.NO_INCIDENT:
            continue
        core = incident.apply(cores.get(e.incident_id), e)
        if core is not None:
            cores[e.incident_id] = core
    history = fold(events)
    return {incident_id: IncidentView(id=incident_id, core=core, **_parts(history.incidents.get(incident_id)))
            for incident_id, core in cores.items()}


def _parts(record: IncidentRecord | None) -> dict[str, object]:
    if record is None:
        return {}
    parts: dict[str, object] = {}
    if record.grade is not None or record.owner is not None:
        last = record.grades[-1] if record.grades else None
        parts["grade"] = GradeView(grade=record.grade or "", reasons=list(record.grade_reasons),
                                   reasons_en=list(record.grade_reasons_en), source=last.source if last else "rules",
                                   sentiment=record.sentiment or "negative", owner=record.owner,
                                   assisting=list(record.assisting), flags=list(record.flags),
                                   updated_at=last.at if last else None)
    if record.clocks or record.task_clocks or record.slips:
        parts["clocks"] = ClocksView(clocks=[_clock(c) for c in record.clocks.values()],
                                     tasks=[_clock(c) for c in record.task_clocks.values()],
                                     reminders=len(record.slips), flagged=bool(record.unit_flags))
    if record.notices or record.acks:
        first = record.acks[0] if record.acks else None
        parts["notices"] = NoticesView(
            notices=[NoticeView(to=n.to, channel=n.channel, status=n.status, cause=n.cause, reason=n.reason, at=n.at)
                     for n in record.notices],
            acknowledged_by=first.by if first else None, acknowledged_at=first.at if first else None,
            escalation_tier=max((tier for _, tier, _ in record.escalations), default=0))
    return parts


def _clock(c: ClockRecord) -> ClockView:
    return ClockView(name=c.name, due_at=c.due_at, basis=c.basis, status=c.status, start_at=c.start_at,
                     counted_from=c.counted_from, on_arrival=c.on_arrival, met_at=c.met_at, met_by=c.met_by,
                     unit=c.unit)
