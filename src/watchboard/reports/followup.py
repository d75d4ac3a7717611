"""The follow-through of an incident as the reports count it (issue 14): statements and their
approval, tasks handed to units, evidence kept, meetings and supervision — folded from intake's
events (`statement.*`, `task.*`, `evidence.added`, `meeting.held`, `incident.supervised`).
Pure; `model.apply` hands each such event here.

A task's clock (`task:<id>`) is deadlines', folded beside the plans' clocks in
`IncidentRecord.task_clocks` (model.py): a task's outcome is what deadlines said of it, as a
plan clock's is, and the plans' figures (clocks due, breaches, the circular's on-time rates)
stay the plans' clocks only, as the services' KV views keep them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from watchboard.domain import events as ev

if TYPE_CHECKING:
    from watchboard.reports.model import ClockRecord, IncidentRecord


@dataclass(frozen=True)
class StatementStep:
    at: datetime
    actor: str
    action: str  # drafted | approved | rejected | published
    detail: str = ""  # an approval's note, a rejection's reason, a publication's channel
    url: str = ""


@dataclass
class StatementRecord:
    version: int
    sha256: str
    drafted_at: datetime
    drafted_by: str
    state: str = "drafted"  # drafted | approved | rejected | published
    approved_at: datetime | None = None
    approved_by: str = ""
    steps: list[StatementStep] = field(default_factory=list)

    def published(self) -> list[StatementStep]:
        return [s for s in self.steps if s.action == "published"]


@dataclass
class TaskRecord:
    id: str
    unit: str
    text: str
    added_at: datetime
    added_by: str
    due_at: datetime
    source: str = ""
    meeting_id: str = ""
    fed_back_at: datetime | None = None
    fed_back_by: str = ""
    feedback: str = ""


@dataclass(frozen=True)
class EvidenceRecord:
    at: datetime
    actor: str
    name: str
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True)
class MeetingRecord:
    at: datetime
    actor: str
    meeting_id: str
    kind: str
    held_at: datetime
    attendees: list[str]
    tasks: list[str]
    minutes: str


@dataclass(frozen=True)
class SupervisionRecord:
    at: datetime
    actor: str
    note: str


@dataclass
class FollowThrough:
    statements: list[StatementRecord] = field(default_factory=list)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    evidence: list[EvidenceRecord] = field(default_factory=list)
    meetings: list[MeetingRecord] = field(default_factory=list)
    supervisions: list[SupervisionRecord] = field(default_factory=list)

    def latest_statement(self) -> StatementRecord | None:
        return max(self.statements, key=lambda s: s.version) if self.statements else None


FOLLOW_EVENTS = (ev.StatementDrafted, ev.StatementApproved, ev.StatementRejected, ev.StatementPublished,
                 ev.TaskAdded, ev.TaskFedBack, ev.EvidenceAdded, ev.MeetingHeld, ev.IncidentSupervised)


def _version(f: FollowThrough, version: int) -> StatementRecord | None:
    return next((s for s in f.statements if s.version == version), None)


def apply(f: FollowThrough, e: ev.Event) -> None:
    """Fold one follow-through event into `f` (in place); a redelivered one changes nothing."""
    match e:
        case ev.StatementDrafted():
            if _version(f, e.version) is None:
                f.statements.append(StatementRecord(version=e.version, sha256=e.sha256, drafted_at=e.at,
                                                    drafted_by=e.actor,
                                                    steps=[StatementStep(e.at, e.actor, "drafted")]))
        case ev.StatementApproved():
            if (s := _version(f, e.version)) is not None:
                s.state, s.approved_at, s.approved_by = "approved", e.at, e.actor
                s.steps.append(StatementStep(e.at, e.actor, "approved", e.note))
        case ev.StatementRejected():
            if (s := _version(f, e.version)) is not None:
                s.state = "rejected"
                s.steps.append(StatementStep(e.at, e.actor, "rejected", e.reason))
        case ev.StatementPublished():
            if (s := _version(f, e.version)) is not None:
                s.state = "published"
                s.steps.append(StatementStep(e.at, e.actor, "published", e.channel, e.url))
        case ev.TaskAdded():
            f.tasks.setdefault(e.task_id, TaskRecord(id=e.task_id, unit=e.unit, text=e.text, added_at=e.at,
                                                     added_by=e.actor, due_at=e.due_at, source=e.source,
                                                     meeting_id=e.meeting_id))
        case ev.TaskFedBack():
            task = f.tasks.get(e.task_id)
            if task is not None and task.fed_back_at is None:
                task.fed_back_at, task.fed_back_by, task.feedback = e.at, e.actor, e.text
        case ev.EvidenceAdded():
            if all(x.sha256 != e.sha256 for x in f.evidence):
                f.evidence.append(EvidenceRecord(e.at, e.actor, e.name, e.sha256, e.size, e.media_type))
        case ev.MeetingHeld():
            if all(m.meeting_id != e.meeting_id for m in f.meetings):
                f.meetings.append(MeetingRecord(e.at, e.actor, e.meeting_id, e.kind, e.held_at or e.at,
                                                list(e.attendees), list(e.tasks), e.minutes))
        case ev.IncidentSupervised():
            f.supervisions.append(SupervisionRecord(e.at, e.actor, e.note))


def task_outcome(task: TaskRecord, clock: ClockRecord | None) -> str:
    """on_time | late | open | overdue | cancelled, as of the fold's moment.

    deadlines' verdict where it has one (its `clock.met` says late, its `clock.breached`
    overdue, its `clock.cancelled` — the incident closed — cancelled); without a clock
    (deadlines not reached yet) the feedback is judged against the due time it was given."""
    if task.fed_back_at is not None:
        if clock is not None and clock.met_at is not None:
            return "late" if clock.status == "breached" else "on_time"
        return "late" if task.fed_back_at > task.due_at else "on_time"
    if clock is not None and clock.status == "breached":
        return "overdue"
    if clock is not None and clock.status == "cancelled":
        return "cancelled"
    return "open"


def last_supervision(r: IncidentRecord, until: datetime) -> datetime | None:
    times = [s.at for s in r.follow.supervisions if s.at <= until]
    return max(times) if times else None
