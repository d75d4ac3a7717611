"""A pure fold of the event stream into what the reports count: one record per incident, as
of a moment.

The fold follows the services' own rules without re-deciding anything: a clock is what
deadlines said it is (`clock.started` / `extended` / `breached` / `met` / `cancelled`), the
owner is the last `incident.assigned`, the grade the last `incident.graded`. Events after
`until` are skipped, so the same events give the state at any moment of the period. Each
record keeps its events; the follow-through (statements, tasks, evidence, meetings,
supervision) is folded by `followup.py`, and a task's clock (`task:<id>`) goes to
`task_clocks`, apart from the plans' clocks. Types the fold does not know are kept and
otherwise ignored.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from watchboard.domain import events as ev
from watchboard.reports import followup
from watchboard.reports.followup import FOLLOW_EVENTS, FollowThrough

SERVICE_ACTORS = frozenset({"intake", "grading", "deadlines", "notify"})


@dataclass
class ClockRecord:
    name: str
    started_at: datetime  # when watchboard started it (the clock.started event)
    due_at: datetime
    basis: str = ""
    start_at: datetime | None = None  # the moment the period counts from
    counted_from: str = ""
    status: str = "running"  # running | extended | met | breached | cancelled
    breached_at: datetime | None = None
    on_arrival: bool = False
    met_at: datetime | None = None
    met_by: str | None = None
    met_note: str = ""
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    extensions: int = 0
    warnings: int = 0
    unit: str = ""  # a task's clock: the unit it was handed to

    @property
    def open(self) -> bool:
        return self.status in ("running", "extended")

    @property
    def met_late(self) -> bool:
        return self.status == "breached" and self.met_at is not None


@dataclass(frozen=True)
class MentionRecord:
    at: datetime
    platform: str
    title: str
    url: str | None
    reposts: int
    comments: int
    media_level: str
    sentiment: str
    actor: str


@dataclass(frozen=True)
class Change:
    """One change of a value (grade, owner, stage) with who made it and why."""

    at: datetime
    value: str
    previous: str | None
    actor: str
    source: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SlipRecord:
    at: datetime
    unit: str
    clock: str
    count: int


@dataclass(frozen=True)
class NoticeRecord:
    at: datetime
    to: str
    channel: str
    cause: str
    status: str  # sent | failed
    reason: str = ""


@dataclass(frozen=True)
class AckRecord:
    at: datetime
    by: str
    via: str


@dataclass(frozen=True)
class FlagRecord:
    at: datetime
    kind: str
    reason: str
    actor: str
    removed: bool = False


@dataclass
class IncidentRecord:
    id: str
    title: str = ""
    reported_at: datetime | None = None  # None: the stream no longer holds its report
    reported_by: str = ""
    region: str | None = None
    topic: str | None = None
    grade: str | None = None
    grade_reasons: list[str] = field(default_factory=list)
    grade_reasons_en: list[str] = field(default_factory=list)
    sentiment: str | None = None
    owner: str | None = None
    assisting: list[str] = field(default_factory=list)
    stage: str = "reported"
    closed_at: datetime | None = None
    closed_by: str = ""
    close_summary: str = ""
    flags: list[str] = field(default_factory=list)  # rumour | illegal, as they stand
    grades: list[Change] = field(default_factory=list)
    owners: list[Change] = field(default_factory=list)
    stages: list[Change] = field(default_factory=list)
    flag_events: list[FlagRecord] = field(default_factory=list)
    mentions: list[MentionRecord] = field(default_factory=list)
    clocks: dict[str, ClockRecord] = field(default_factory=dict)
    slips: list[SlipRecord] = field(default_factory=list)
    unit_flags: list[SlipRecord] = field(default_factory=list)
    notices: list[NoticeRecord] = field(default_factory=list)
    escalations: list[tuple[datetime, int, list[str]]] = field(default_factory=list)
    acks: list[AckRecord] = field(default_factory=list)
    notes: list[Change] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    # Follow-through (followup.py): statements, tasks, evidence, meetings, supervision; and the
    # tasks' clocks (`task:<id>`), kept apart from the plans' clocks above.
    follow: FollowThrough = field(default_factory=FollowThrough)
    task_clocks: dict[str, ClockRecord] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def owner_at(self, at: datetime) -> str | None:
        """The unit in charge at `at` (the first owner before any assignment was made)."""
        if not self.owners:
            return None
        index = bisect_right([c.at for c in self.owners], at)
        return self.owners[max(index - 1, 0)].value

    def grade_at(self, at: datetime) -> str | None:
        index = bisect_right([c.at for c in self.grades], at)
        return self.grades[index - 1].value if index else None


@dataclass
class History:
    incidents: dict[str, IncidentRecord] = field(default_factory=dict)
    sweeps: list[tuple[datetime, str, str]] = field(default_factory=list)
    sweeps_missed: list[tuple[datetime, str]] = field(default_factory=list)
    count: int = 0  # events folded
    skipped: int = 0  # events after `until`
    first_at: datetime | None = None
    last_at: datetime | None = None


def _record(history: History, incident_id: str) -> IncidentRecord:
    record = history.incidents.get(incident_id)
    if record is None:
        record = history.incidents[incident_id] = IncidentRecord(id=incident_id)
    return record


def _mention(e: ev.IncidentReported | ev.MentionAdded) -> MentionRecord:
    m = e.mention
    return MentionRecord(at=e.at, platform=m.platform, title=m.title, url=m.url, reposts=m.metrics.reposts,
                         comments=m.metrics.comments, media_level=m.media_level, sentiment=m.sentiment,
                         actor=e.actor)


def _clock_event(r: IncidentRecord, e: ev.Event) -> None:
    name = getattr(e, "clock", None)
    clocks = r.task_clocks if isinstance(name, str) and name.startswith("task:") else r.clocks
    match e:
        case ev.ClockStarted():
            current = clocks.get(e.clock)
            if current is None or current.status == "cancelled":
                clocks[e.clock] = ClockRecord(name=e.clock, started_at=e.at, due_at=e.due_at, basis=e.basis,
                                              start_at=e.start_at, counted_from=e.counted_from, unit=e.unit)
            else:  # tightened by a rising grade, or settled on a newer calendar
                current.due_at = e.due_at
                if e.start_at is not None:
                    current.start_at, current.counted_from = e.start_at, e.counted_from
        case ev.ClockExtended():
            if (c := clocks.get(e.clock)) is not None:
                c.due_at, c.status, c.extensions = e.due_at, "extended", c.extensions + 1
        case ev.ClockWarning():
            if (c := clocks.get(e.clock)) is not None:
                c.warnings += 1
        case ev.ClockBreached():
            if (c := clocks.get(e.clock)) is not None:
                c.status, c.breached_at, c.on_arrival = "breached", e.at, e.on_arrival
                c.due_at = e.due_at
        case ev.ClockMet():
            if (c := clocks.get(e.clock)) is not None:
                c.met_at, c.met_by, c.met_note = e.at, e.actor, e.note
                if not e.late and c.status != "breached":
                    c.status = "met"
                elif c.breached_at is None:  # met late before the breach was recorded
                    c.status, c.breached_at = "breached", c.due_at
        case ev.ClockCancelled():
            if (c := clocks.get(e.clock)) is not None and c.open:
                c.status, c.cancelled_at, c.cancel_reason = "cancelled", e.at, e.reason


def apply(history: History, e: ev.Event) -> None:
    """Fold one event into `history` (changed in place: the fold is the only writer)."""
    history.count += 1
    history.first_at = e.at if history.first_at is None else min(history.first_at, e.at)
    history.last_at = e.at if history.last_at is None else max(history.last_at, e.at)
    match e:
        case ev.SweepRecorded():
            history.sweeps.append((e.at, e.actor, e.note))
            return
        case ev.SweepMissed():
            history.sweeps_missed.append((e.at, e.window))
            return
    if e.incident_id == ev.NO_INCIDENT:
        return
    r = _record(history, e.incident_id)
    r.events.append(e)
    match e:
        case ev.IncidentReported():
            if r.reported_at is None:
                r.title, r.reported_at, r.reported_by = e.title, e.at, e.actor
                r.region, r.topic = e.mention.region, e.mention.topic
                r.mentions.insert(0, _mention(e))
        case ev.MentionAdded():
            r.mentions.append(_mention(e))
            r.region = r.region or e.mention.region
        case ev.StageChanged():
            r.stages.append(Change(e.at, e.stage, e.previous, e.actor, reason=e.note))
            r.stage = e.stage
            if e.note:
                r.notes.append(Change(e.at, e.note, None, e.actor))
        case ev.NoteAdded():
            r.notes.append(Change(e.at, e.text, None, e.actor))
        case ev.IncidentClosed():
            r.stages.append(Change(e.at, "closed", r.stage, e.actor, reason=e.summary))
            r.stage, r.closed_at, r.closed_by, r.close_summary = "closed", e.at, e.actor, e.summary
        case ev.IncidentGraded():
            r.grades.append(Change(e.at, e.grade, e.previous, e.actor, e.source, "; ".join(e.reasons)))
            r.grade, r.sentiment = e.grade, e.sentiment
            r.grade_reasons, r.grade_reasons_en = list(e.reasons), list(e.reasons_en)
        case ev.IncidentAssigned():
            r.owners.append(Change(e.at, e.owner, e.previous, e.actor, e.source, e.reason))
            r.owner, r.assisting = e.owner, list(e.assisting)
        case ev.IncidentFlagged():
            r.flag_events.append(FlagRecord(e.at, e.kind, e.reason, e.actor))
            if e.kind not in r.flags:
                r.flags.append(e.kind)
        case ev.IncidentUnflagged():
            r.flag_events.append(FlagRecord(e.at, e.kind, e.reason, e.actor, removed=True))
            if e.kind in r.flags:
                r.flags.remove(e.kind)
        case ev.UnitReminded():
            r.slips.append(SlipRecord(e.at, e.unit, e.clock, e.count))
        case ev.UnitFlagged():
            r.unit_flags.append(SlipRecord(e.at, e.unit, e.clock, e.count))
        case ev.NoticeSent():
            r.notices.append(NoticeRecord(e.at, e.to, e.channel, e.cause, "sent"))
        case ev.NoticeFailed():
            r.notices.append(NoticeRecord(e.at, e.to, e.channel, e.cause, "failed", e.reason))
        case ev.NoticeEscalated():
            r.escalations.append((e.at, e.tier, list(e.to)))
        case ev.IncidentAcknowledged():
            r.acks.append(AckRecord(e.at, e.by, e.via))
        case _ if isinstance(e, FOLLOW_EVENTS):
            followup.apply(r.follow, e)
        case _:
            _clock_event(r, e)


def fold(events: Iterable[ev.Event], until: datetime | None = None) -> History:
    """The history of `events` (stream order) as of `until` (None: everything)."""
    history = History()
    for e in events:
        if until is not None and e.at > until:
            history.skipped += 1
            continue
        apply(history, e)
    return history
