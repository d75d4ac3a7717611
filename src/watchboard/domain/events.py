"""Events: every fact that happened, as frozen msgspec structs in one tagged union.

The wire form is JSON with a `type` tag (explicit tag strings: renaming a class never
changes the wire). Rules that let services of different versions share one stream
(msgspec's schema-evolution page):

- new fields get defaults and go last; a field's type never changes;
- unknown fields are ignored (structs do not forbid them);
- unknown event types are skipped: `decode_event` returns None for them.

Every event carries `id` (unique, used as the `Nats-Msg-Id`), `incident_id`, `at` (UTC),
`actor` and `causation_id` (the id of the event or request that caused it). Effects derive
their id from their cause with `effect_id`, so a redelivered cause yields the same effect id
and JetStream, and each consumer's processed table, drop the copy.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from watchboard.domain.report import Grade, Metrics, Stage

NO_INCIDENT = "_"  # incident token for events that belong to no incident (sweeps)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(now: datetime | None = None) -> str:
    """A ULID: 48-bit milliseconds + 80 random bits, sortable by creation time."""
    ms = int((now.timestamp() if now else time.time()) * 1000)
    return _b32(ms, 10) + _b32(int.from_bytes(os.urandom(10), "big"), 16)


def effect_id(cause: str, effect: str) -> str:
    """A deterministic id for the effect `effect` of the event or request `cause`."""
    digest = hashlib.blake2b(f"{cause}\x00{effect}".encode(), digest_size=10).digest()
    return "E" + _b32(int.from_bytes(digest, "big"), 16)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    id: str
    incident_id: str
    at: datetime
    actor: str
    causation_id: str | None = None


class Mention(msgspec.Struct, frozen=True, kw_only=True):
    """One sighting of an incident on one platform (the report's facts, minus identity)."""

    platform: str
    title: str = ""
    summary: str = ""
    url: str | None = None
    region: str | None = None
    unit_hint: str | None = None
    topic: str | None = None
    observed_at: datetime | None = None
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    media_level: str = "none"
    sentiment: str = "negative"
    cross_region: bool = False
    emergency: bool = False
    stability_risk: bool = False
    reporter: str | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    # When the item appeared online (the plans count some clocks from the post, DOMAIN.md §4).
    posted_at: datetime | None = None


# --- intake -------------------------------------------------------------------------


class IncidentReported(Event, tag="incident.reported"):
    title: str
    mention: Mention


class MentionAdded(Event, tag="mention.added"):
    mention: Mention
    merged_by: str = "url"  # url | incident_id | title


class StageChanged(Event, tag="incident.staged"):
    stage: Stage
    previous: Stage
    note: str = ""


class NoteAdded(Event, tag="incident.noted"):
    text: str


class IncidentClosed(Event, tag="incident.closed"):
    summary: str = ""


# --- intake: follow-through (statements, evidence, tasks, meetings, supervision) ---------


class StatementDrafted(Event, tag="statement.drafted"):
    """A statement (通稿) drafted for approval. `version` counts the incident's drafts from 1;
    a changed text is a new version. `sha256` is the hex digest of `text` (UTF-8): what an
    approval names, so a text changed after its approval cannot pass as approved."""

    version: int
    text: str
    sha256: str


class StatementApproved(Event, tag="statement.approved"):
    """A person whose role allows it approved one version (seed 000 第五步, 002 三.6, 003 三(四))."""

    version: int
    sha256: str  # the digest approved
    note: str = ""
    person: str = ""  # the notify.toml person the actor was matched to
    role: str = ""  # the role that allowed it (approver | leader_group …)


class StatementRejected(Event, tag="statement.rejected"):
    version: int
    sha256: str
    reason: str
    person: str = ""
    role: str = ""


class StatementPublished(Event, tag="statement.published"):
    """An approved version went out: where (`url`) and on which channel (官方微博, 网站…)."""

    version: int
    sha256: str
    url: str
    channel: str


class EvidenceAdded(Event, tag="evidence.added"):
    """A file kept as evidence (保存、固定证据, seed 003 三(一)), recorded only after intake read
    the object back from the bucket and found this digest and size."""

    name: str  # the file's name as it was added
    sha256: str
    size: int
    media_type: str
    object: str  # the object's name in `bucket`
    bucket: str = "wb-evidence"


class TaskAdded(Event, tag="task.added"):
    """A leader's instruction (批示) or a meeting's decision handed to a unit with a due time
    (seed 001: 直接交办、直接督查、直接反馈). deadlines runs it as a clock `task:<task_id>`."""

    task_id: str
    unit: str
    text: str
    due: str  # as given: "2wd", "4h", or a time
    due_at: datetime
    basis: str  # working | calendar
    provisional: bool = False
    source: str = ""  # whose instruction, e.g. "县委书记批示"
    meeting_id: str = ""


class TaskFedBack(Event, tag="task.fed_back"):
    """The unit's feedback (反馈) on a task: it meets the task's clock."""

    task_id: str
    unit: str
    text: str


class MeetingHeld(Event, tag="meeting.held"):
    """A consultation (会商) or joint meeting (联席会议) about the incident; one event per
    incident it concerned, all with the same `meeting_id`."""

    meeting_id: str
    kind: str
    incidents: list[str]
    attendees: list[str] = msgspec.field(default_factory=list)
    minutes: str = ""
    held_at: datetime | None = None
    tasks: list[str] = msgspec.field(default_factory=list)  # ids of the tasks it handed out


class IncidentSupervised(Event, tag="incident.supervised"):
    """The office followed the incident up with the unit (督办, seed 001 每天…打电话进行督办)."""

    note: str


# --- grading ------------------------------------------------------------------------


class IncidentGraded(Event, tag="incident.graded"):
    grade: Grade
    previous: Grade | None
    reasons: list[str]
    source: str  # rules | person
    sentiment: str = "negative"
    pinned: bool = False  # a person's grade sticks until released
    # The same reasons wholly in English (`reasons` is wholly Chinese); readers pick by language.
    reasons_en: list[str] = msgspec.field(default_factory=list)


class IncidentAssigned(Event, tag="incident.assigned"):
    owner: str
    previous: str | None
    reason: str  # in Chinese (the duty room's); events before reason_en existed may be English
    source: str  # rules | person
    assisting: list[str] = msgspec.field(default_factory=list)
    reason_en: str = ""


class IncidentFlagged(Event, tag="incident.flagged"):
    """A person judged the incident a rumour (谣言) or illegal content: referred to the police
    where the plan says so (seeds 000, 003, 004)."""

    kind: str  # rumour | illegal
    reason: str


class IncidentUnflagged(Event, tag="incident.unflagged"):
    kind: str
    reason: str


# --- deadlines ----------------------------------------------------------------------


class ClockStarted(Event, tag="clock.started"):
    clock: str
    due_at: datetime
    basis: str  # working | calendar
    provisional: bool = False
    previous_due_at: datetime | None = None  # set when a rising grade tightened a running clock
    # The moment the period counts from, and which one it is after any fall-back
    # (posted | observed | reported | graded); whether the plan lets it be extended.
    start_at: datetime | None = None
    counted_from: str = ""
    extendable: bool = False
    # A task's clock (`task:<id>`) belongs to the unit it was handed to, not the incident's owner.
    unit: str = ""
    # What a rebuild from the stream needs to restore the clock exactly (issue 12): the period
    # as configured ("3wh"; "" for a fixed time) and when deadlines had the clock (the time of
    # the event that started it, not this event's `at`, which is when it was processed).
    period: str = ""
    arrived_at: datetime | None = None


class ClockWarning(Event, tag="clock.warning"):
    clock: str
    due_at: datetime
    point: str  # e.g. "80%" or "30m"
    unit: str = ""  # set for a task's clock: the unit to warn


class ClockBreached(Event, tag="clock.breached"):
    clock: str
    due_at: datetime
    late: bool = False  # emitted on catch-up after the service was down
    # Already past due when the clock started (the post was older than the period, or a
    # grade rose late): the delay happened before the unit had it, so no reminder slip.
    on_arrival: bool = False
    unit: str = ""  # set for a task's clock: the unit that missed it


class ClockMet(Event, tag="clock.met"):
    clock: str
    note: str = ""
    due_at: datetime | None = None
    late: bool = False  # met after its due time: the clock stays breached, "met late by …"
    # When the act happened (a statement published, a task fed back: that event's time);
    # None from older versions and for `done`, which is met at this event's `at`.
    met_at: datetime | None = None


class ClockExtended(Event, tag="clock.extended"):
    clock: str
    due_at: datetime
    previous_due_at: datetime
    reason: str


class ClockCancelled(Event, tag="clock.cancelled"):
    clock: str
    reason: str = ""


class UnitReminded(Event, tag="unit.reminded"):
    """A reminder slip (提醒单) to `unit` about one undone task (incident + clock); `count` is
    the slips that unit got about that task (seed 002 四.3)."""

    unit: str
    clock: str
    count: int


class UnitFlagged(Event, tag="unit.flagged"):
    """Three slips about the same unfixed task (经三次提醒仍未落实整改): the unit goes in the circular."""

    unit: str
    count: int
    clock: str = ""


class SweepRecorded(Event, tag="sweep.recorded"):
    note: str = ""


class SweepMissed(Event, tag="sweep.missed"):
    window: str  # e.g. "10:00"


# --- any service --------------------------------------------------------------------


class ServiceFault(Event, tag="service.fault"):
    """An effect the bus would not carry (larger than the server's max_payload, or refused by
    the stream) was moved aside to the service's dead-letter table, so the effects behind it
    still go out. Each service writes its own, on `wb.ev.<service>._.service.fault`."""

    service: str
    reason: str  # in words, bounded (FAULT_REASON_MAX)
    entry_id: str  # the Nats-Msg-Id (event id) of the entry moved aside
    subject: str = ""  # where it was to go (names the incident)
    size: int = 0  # its size in bytes


FAULT_REASON_MAX = 500


# --- notify -------------------------------------------------------------------------


class NoticeSent(Event, tag="notice.sent"):
    to: str
    channel: str
    cause: str  # the event type that caused it
    key: str = ""


class NoticeFailed(Event, tag="notice.failed"):
    to: str
    channel: str
    cause: str
    reason: str
    final: bool = True
    key: str = ""


class NoticeEscalated(Event, tag="notice.escalated"):
    tier: int
    to: list[str]


class IncidentAcknowledged(Event, tag="incident.acknowledged"):
    by: str
    via: str = "cli"  # cli | board | link


class ReportDispatched(Event, tag="report.dispatched"):
    """notify took on sending one scheduled report (the daily report, the weekly circular) of
    one period. `key` ("report:daily:2026-11-27") is also the event's id, hence its Nats-Msg-Id:
    a second notify claiming the same report within the stream's duplicate window is told it is
    a duplicate, and one that starts later finds it on the subject (services/notify/README.md).
    Of no incident (`incident_id` is `_`)."""

    kind: str  # daily | weekly
    period: str  # 2026-11-27 | 2026-W48
    key: str
    instance: str  # the notify instance that sends it (an id kept in its data folder)
    scheduled_at: datetime


AnyEvent = (
    IncidentReported | MentionAdded | StageChanged | NoteAdded | IncidentClosed
    | StatementDrafted | StatementApproved | StatementRejected | StatementPublished | EvidenceAdded
    | TaskAdded | TaskFedBack | MeetingHeld | IncidentSupervised
    | IncidentGraded | IncidentAssigned | IncidentFlagged | IncidentUnflagged
    | ClockStarted | ClockWarning | ClockBreached | ClockMet | ClockExtended | ClockCancelled
    | UnitReminded | UnitFlagged | SweepRecorded | SweepMissed
    | NoticeSent | NoticeFailed | NoticeEscalated | IncidentAcknowledged | ReportDispatched
    | ServiceFault
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in AnyEvent.__args__  # type: ignore[attr-defined]
}

# The service that owns (writes) each event type: one writer per fact.
OWNER: dict[str, str] = {
    **dict.fromkeys(["incident.reported", "mention.added", "incident.staged", "incident.noted",
                     "incident.closed", "statement.drafted", "statement.approved", "statement.rejected",
                     "statement.published", "evidence.added", "task.added", "task.fed_back",
                     "meeting.held", "incident.supervised"], "intake"),
    **dict.fromkeys(["incident.graded", "incident.assigned", "incident.flagged", "incident.unflagged"],
                    "grading"),
    **dict.fromkeys(["clock.started", "clock.warning", "clock.breached", "clock.met",
                     "clock.extended", "clock.cancelled", "unit.reminded", "unit.flagged",
                     "sweep.recorded", "sweep.missed"], "deadlines"),
    **dict.fromkeys(["notice.sent", "notice.failed", "notice.escalated",
                     "incident.acknowledged", "report.dispatched"], "notify"),
}

# Written by whichever service had the fault (`ServiceFault.service`), so not in OWNER.
ANY_SERVICE = frozenset({"service.fault"})


def owner_of(event: Event) -> str:
    """The service whose subject `event` goes on: OWNER's, or the faulting service's own."""
    if isinstance(event, ServiceFault):
        return event.service
    return OWNER[event_type(event)]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


class _Envelope(msgspec.Struct):
    type: str = ""


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def event_type(event: Event) -> str:
    return event.__struct_config__.tag  # type: ignore[return-value]


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> AnyEvent | None:
    """Decode one event; None for a type this version does not know (skipped, not fatal).

    A known type with a malformed body raises msgspec.ValidationError: that is a bug in
    the writer, and the consumer loop parks it rather than dropping it silently.
    """
    kind = _envelope_decoder.decode(data).type
    if kind not in EVENT_TYPES:
        return None
    return _decoder.decode(data)


def to_builtins(event: Event) -> dict[str, Any]:
    return msgspec.to_builtins(event)  # type: ignore[no-any-return]


__all__ = [name for name in dir() if not name.startswith("_")]
