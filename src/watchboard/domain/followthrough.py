"""The follow-through part of the incident record: intake's statement, evidence, task,
meeting and supervision events folded into `CoreView` (called by `incident.apply`). Pure.

What the view keeps is bounded (the stream keeps everything):
- `statements`: the latest `MAX_STATEMENT_VERSIONS` versions; only the latest version and
  published ones keep their text (an approver reads the latest; a review, what went out);
- `evidence_files`, `tasks`: every one (the deciders cap them per incident);
- `meetings`: the latest `MAX_MEETINGS_IN_VIEW`, minutes cut to `MINUTES_IN_VIEW` characters;
- `supervisions`: the latest `MAX_SUPERVISIONS_IN_VIEW`.
"""

from __future__ import annotations

import msgspec

from watchboard.domain import events as ev
from watchboard.domain.views import (
    CoreView,
    EvidenceFileView,
    MeetingView,
    NoteView,
    StatementStepView,
    StatementView,
    TaskView,
)

MAX_STATEMENT_VERSIONS = 20
MAX_MEETINGS_IN_VIEW = 50
MINUTES_IN_VIEW = 2_000
MAX_SUPERVISIONS_IN_VIEW = 30

FOLLOW_THROUGH = (ev.StatementDrafted, ev.StatementApproved, ev.StatementRejected, ev.StatementPublished,
                  ev.EvidenceAdded, ev.TaskAdded, ev.TaskFedBack, ev.MeetingHeld, ev.IncidentSupervised)

replace = msgspec.structs.replace


def _step(event: ev.Event, action: str, sha256: str, detail: str = "", url: str = "") -> StatementStepView:
    return StatementStepView(at=event.at, actor=event.actor, action=action, sha256=sha256, detail=detail, url=url)


def _with_version(statements: list[StatementView], version: int, change: dict[str, object],
                  step: StatementStepView) -> list[StatementView]:
    out = []
    for s in statements:
        if s.version == version:
            s = replace(s, **change, history=[*s.history, step])
        out.append(s)
    return out


def _statements(core: CoreView, event: ev.Event) -> list[StatementView]:
    current = core.statements
    match event:
        case ev.StatementDrafted():
            if any(s.version == event.version for s in current):
                return current  # a redelivered draft
            kept = [s if s.state == "published" else replace(s, text="") for s in current]
            new = StatementView(version=event.version, state="drafted", sha256=event.sha256, text=event.text,
                                drafted_by=event.actor, drafted_at=event.at,
                                history=[_step(event, "drafted", event.sha256)])
            return [*kept, new][-MAX_STATEMENT_VERSIONS:]
        case ev.StatementApproved():
            return _with_version(current, event.version,
                                 {"state": "approved", "approved_by": event.actor, "approved_at": event.at},
                                 _step(event, "approved", event.sha256, event.note))
        case ev.StatementRejected():
            return _with_version(current, event.version, {"state": "rejected", "rejected_reason": event.reason},
                                 _step(event, "rejected", event.sha256, event.reason))
        case ev.StatementPublished():
            # A published text is kept: it is what went out.
            return _with_version(current, event.version,
                                 {"state": "published", "url": event.url, "channel": event.channel,
                                  "published_at": event.at},
                                 _step(event, "published", event.sha256, event.channel, event.url))
    return current


def _task_fed_back(tasks: list[TaskView], event: ev.TaskFedBack) -> list[TaskView]:
    return [replace(t, status="fed_back", feedback=event.text, fed_back_by=event.actor, fed_back_at=event.at)
            if t.id == event.task_id and t.status == "open" else t for t in tasks]


def apply(core: CoreView, event: ev.Event) -> CoreView:
    """`core` after one follow-through event (a new value); other events leave it as it is."""
    match event:
        case ev.StatementDrafted() | ev.StatementApproved() | ev.StatementRejected() | ev.StatementPublished():
            return replace(core, statements=_statements(core, event), updated_at=event.at)
        case ev.EvidenceAdded():
            if any(f.sha256 == event.sha256 for f in core.evidence_files):
                return core
            kept = EvidenceFileView(name=event.name, sha256=event.sha256, size=event.size,
                                    media_type=event.media_type, object=event.object, bucket=event.bucket,
                                    added_by=event.actor, added_at=event.at)
            return replace(core, evidence_files=[*core.evidence_files, kept], updated_at=event.at)
        case ev.TaskAdded():
            if any(t.id == event.task_id for t in core.tasks):
                return core
            task = TaskView(id=event.task_id, unit=event.unit, text=event.text, due=event.due, due_at=event.due_at,
                            basis=event.basis, source=event.source, meeting_id=event.meeting_id,
                            added_by=event.actor, added_at=event.at)
            return replace(core, tasks=[*core.tasks, task], updated_at=event.at)
        case ev.TaskFedBack():
            return replace(core, tasks=_task_fed_back(core.tasks, event), updated_at=event.at)
        case ev.MeetingHeld():
            if any(m.id == event.meeting_id for m in core.meetings):
                return core
            meeting = MeetingView(id=event.meeting_id, kind=event.kind, incidents=list(event.incidents),
                                  attendees=list(event.attendees), minutes=event.minutes[:MINUTES_IN_VIEW],
                                  held_at=event.held_at, recorded_by=event.actor, tasks=list(event.tasks))
            return replace(core, meetings=[*core.meetings, meeting][-MAX_MEETINGS_IN_VIEW:], updated_at=event.at)
        case ev.IncidentSupervised():
            note = NoteView(at=event.at, actor=event.actor, text=event.note)
            return replace(core, supervisions=[*core.supervisions, note][-MAX_SUPERVISIONS_IN_VIEW:],
                           updated_at=event.at)
    return core
