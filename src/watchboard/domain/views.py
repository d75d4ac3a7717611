"""The values each service keeps in the KV bucket `wb-board`, one writer per key.

Keys: `<incident>.core` (intake), `<incident>.grade` (grading), `<incident>.clocks`
(deadlines), `<incident>.notices` (notify), and `sys.<name>` for facts that belong to no
incident (`sys.sweep`, `sys.calendar` and `sys.supervision`, written by deadlines). A board
or `watchboard show` folds the four values of an incident into one `IncidentView`. New fields get defaults (schema evolution),
so a board of an older version reads a newer service's values.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from watchboard.domain.report import Metrics

KV_BUCKET = "wb-board"
PARTS = ("core", "grade", "clocks", "notices")
MAX_MENTIONS_IN_VIEW = 50  # the full list is in the stream; the KV keeps the latest
MAX_NOTES_IN_VIEW = 50


class MentionView(msgspec.Struct, kw_only=True):
    platform: str
    url: str | None = None
    observed_at: datetime | None = None
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    title: str = ""
    media_level: str = "none"
    posted_at: datetime | None = None


class NoteView(msgspec.Struct, kw_only=True):
    at: datetime
    actor: str
    text: str


class StatementStepView(msgspec.Struct, kw_only=True):
    """One step of a statement's history: drafted, approved, rejected or published."""

    at: datetime
    actor: str
    action: str  # drafted | approved | rejected | published
    sha256: str = ""
    detail: str = ""  # the reason of a rejection, the note of an approval, the channel of a publication
    url: str = ""  # where a publication went out


class StatementView(msgspec.Struct, kw_only=True):
    """One version of the incident's statement (通稿). A changed text is a new version; only
    the latest version and published ones keep their text here (the stream keeps all)."""

    version: int
    state: str  # drafted | approved | rejected | published
    sha256: str
    text: str = ""
    drafted_by: str = ""
    drafted_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    rejected_reason: str = ""
    url: str = ""
    channel: str = ""
    published_at: datetime | None = None
    history: list[StatementStepView] = msgspec.field(default_factory=list)


class EvidenceFileView(msgspec.Struct, kw_only=True):
    """A file kept as evidence: its digest is what `evidence get` checks the object against."""

    name: str
    sha256: str
    size: int
    media_type: str
    object: str
    bucket: str = "wb-evidence"
    added_by: str = ""
    added_at: datetime | None = None


class TaskView(msgspec.Struct, kw_only=True):
    """A task handed to a unit (a leader's instruction or a meeting's decision); its clock is
    deadlines' (`tasks` in `<id>.clocks`)."""

    id: str
    unit: str
    text: str
    due: str
    due_at: datetime
    basis: str = "working"
    source: str = ""
    meeting_id: str = ""
    added_by: str = ""
    added_at: datetime | None = None
    status: str = "open"  # open | fed_back
    feedback: str = ""
    fed_back_by: str | None = None
    fed_back_at: datetime | None = None


class MeetingView(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    incidents: list[str] = msgspec.field(default_factory=list)
    attendees: list[str] = msgspec.field(default_factory=list)
    minutes: str = ""
    held_at: datetime | None = None
    recorded_by: str = ""
    tasks: list[str] = msgspec.field(default_factory=list)


class CoreView(msgspec.Struct, kw_only=True):
    id: str
    title: str
    summary: str = ""
    stage: str = "reported"
    reported_at: datetime
    region: str | None = None
    topic: str | None = None
    unit_hint: str | None = None
    platforms: list[str] = msgspec.field(default_factory=list)
    mention_count: int = 0
    mentions: list[MentionView] = msgspec.field(default_factory=list)
    notes: list[NoteView] = msgspec.field(default_factory=list)
    evidence: list[str] = msgspec.field(default_factory=list)
    closed_at: datetime | None = None
    close_summary: str = ""
    updated_at: datetime | None = None
    # The earliest post time and observation any report of the incident gave (clocks count
    # from them, DOMAIN.md §4); None when no report said.
    posted_at: datetime | None = None
    observed_at: datetime | None = None
    # Follow-through (issue 14): statement versions, evidence files, tasks, meetings and the
    # office's supervision (督办) records, each bounded (the stream keeps everything).
    statements: list[StatementView] = msgspec.field(default_factory=list)
    evidence_files: list[EvidenceFileView] = msgspec.field(default_factory=list)
    tasks: list[TaskView] = msgspec.field(default_factory=list)
    meetings: list[MeetingView] = msgspec.field(default_factory=list)
    supervisions: list[NoteView] = msgspec.field(default_factory=list)
    # Too large for one message: long texts cut and only the latest items kept (domain.bounds);
    # the stream has it all (`watchboard show`, the reports).
    summarised: bool = False


class GradeView(msgspec.Struct, kw_only=True):
    grade: str
    reasons: list[str] = msgspec.field(default_factory=list)
    source: str = "rules"
    pinned: bool = False
    sentiment: str = "negative"
    owner: str | None = None
    owner_reason: str = ""
    assisting: list[str] = msgspec.field(default_factory=list)
    updated_at: datetime | None = None
    owner_name: str = ""  # the unit's name from units.toml (zh), for readers without the config
    owner_name_en: str = ""
    flags: list[str] = msgspec.field(default_factory=list)  # rumour | illegal (incident.flagged)
    # English twins of `reasons` and `owner_reason` (the Chinese ones) for the English board;
    # empty from a grading that does not write them: the board then shows the Chinese text.
    reasons_en: list[str] = msgspec.field(default_factory=list)
    owner_reason_en: str = ""
    # The active profile's grades (those it does not collapse), worst first, each with its label
    # in both languages: {"I": {"zh": "一级 (重大)", "en": "Level 1 (major)"}, "III": {…}, …}, so a
    # reader shows the profile's names and offers only its grades. Empty from a grading that does
    # not write it: the reader then uses its own config.
    grade_labels: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    summarised: bool = False  # too large for one message: reasons cut (domain.bounds)


class ClockView(msgspec.Struct, kw_only=True):
    name: str
    due_at: datetime
    basis: str
    status: str  # running | met | breached | extended | cancelled
    provisional: bool = False
    warned: bool = False
    start_at: datetime | None = None  # the moment the period counts from
    counted_from: str = ""  # posted | observed | reported | graded (after any fall-back)
    extendable: bool = False
    on_arrival: bool = False  # breached at once: already past due when it started
    met_at: datetime | None = None  # when `done` met it; after due_at the status stays breached
    met_by: str | None = None
    unit: str = ""  # a task's clock: the unit it was handed to


class SlipView(msgspec.Struct, kw_only=True):
    """Reminder slips (提醒单) one unit got about one task (clock) of this incident."""

    unit: str
    clock: str
    count: int
    flagged: bool = False
    last_at: datetime | None = None


class ClocksView(msgspec.Struct, kw_only=True):
    clocks: list[ClockView] = msgspec.field(default_factory=list)
    reminders: int = 0  # every slip about this incident, all units
    flagged: bool = False  # some unit was flagged about a task of this incident
    updated_at: datetime | None = None
    slips: list[SlipView] = msgspec.field(default_factory=list)
    # Task clocks (`task:<id>`), kept apart from the plans' clocks above.
    tasks: list[ClockView] = msgspec.field(default_factory=list)
    supervised_at: datetime | None = None  # the last supervision (督办) of the incident
    summarised: bool = False  # too large for one message: only the latest slips and tasks


class NoticeView(msgspec.Struct, kw_only=True):
    to: str
    channel: str
    status: str  # sent | failed | pending
    cause: str = ""
    reason: str = ""
    at: datetime | None = None


class NoticesView(msgspec.Struct, kw_only=True):
    notices: list[NoticeView] = msgspec.field(default_factory=list)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    escalation_tier: int = 0
    updated_at: datetime | None = None
    summarised: bool = False  # too large for one message: only the latest notices (domain.bounds)


class SweepView(msgspec.Struct, kw_only=True):
    last_at: datetime | None = None
    last_by: str | None = None
    missed: list[str] = msgspec.field(default_factory=list)


class CalendarView(msgspec.Struct, kw_only=True):
    """`sys.calendar` (deadlines): how far the working calendar is known, and the notice to show
    from `warn_days_before_end` days before that ("add 2027 … to calendar.toml"); None if all is well."""

    covered_until: date | None = None
    warning_en: str | None = None
    warning_zh: str | None = None
    updated_at: datetime | None = None


class SupervisionDayView(msgspec.Struct, kw_only=True):
    """`sys.supervision` (deadlines): the open grade I/II incidents of one local day and those
    with no supervision record (督办) that day. On a day that is not a working day nothing is
    owed: `working_day` false and `unsupervised` empty."""

    day: date
    working_day: bool
    due: list[str] = msgspec.field(default_factory=list)  # open I/II incidents that day
    unsupervised: list[str] = msgspec.field(default_factory=list)
    updated_at: datetime | None = None
    # Summarised to fit one message (domain/bounds.py): how many ids each list leaves out.
    more_due: int = 0
    more_unsupervised: int = 0
    summarised: bool = False

    @property
    def due_count(self) -> int:
        return len(self.due) + self.more_due

    @property
    def unsupervised_count(self) -> int:
        return len(self.unsupervised) + self.more_unsupervised


CALENDAR_KEY = "sys.calendar"
SWEEP_KEY = "sys.sweep"
SUPERVISION_KEY = "sys.supervision"

# The board's index (intake): `live.<id>` for every open incident (empty value, no expiry) and
# for every incident closed in the last day (its `closed_at`, expiring `LIVE_CLOSED_TTL` after
# the close), so a board reads only what it shows — open incidents and those closed in the last
# 24 hours — without paging through the rest of the bucket. `sys.live` exists once intake keeps
# the index (`{"since": …}`): a board that does not find it reads the whole bucket.
LIVE_PREFIX = "live."
LIVE_INDEX_KEY = "sys.live"
LIVE_CLOSED_TTL = 25 * 3600.0  # seconds: the board's day, and an hour to spare


def live_key(incident_id: str) -> str:
    return f"{LIVE_PREFIX}{incident_id}"

PART_TYPES: dict[str, type[msgspec.Struct]] = {
    "core": CoreView, "grade": GradeView, "clocks": ClocksView, "notices": NoticesView,
}

_encoder = msgspec.json.Encoder()
_decoders = {part: msgspec.json.Decoder(t) for part, t in PART_TYPES.items()}
_sweep_decoder = msgspec.json.Decoder(SweepView)
_calendar_decoder = msgspec.json.Decoder(CalendarView)


def kv_key(incident_id: str, part: str) -> str:
    return f"{incident_id}.{part}"


def split_key(key: str) -> tuple[str, str] | None:
    """`01J….grade` → ("01J…", "grade"); None for keys that are not an incident part."""
    incident, _, part = key.rpartition(".")
    if not incident or part not in PART_TYPES or incident.startswith("sys"):
        return None
    return incident, part


def encode_view(view: msgspec.Struct) -> bytes:
    return _encoder.encode(view)


def decode_view(part: str, data: bytes) -> msgspec.Struct | None:
    """Decode one KV value; None if it is unreadable (a newer, incompatible writer)."""
    try:
        return _decoders[part].decode(data)
    except (msgspec.DecodeError, KeyError):
        return None


def decode_sweep(data: bytes) -> SweepView | None:
    try:
        return _sweep_decoder.decode(data)
    except msgspec.DecodeError:
        return None


def decode_supervision(data: bytes) -> SupervisionDayView | None:
    try:
        return msgspec.json.decode(data, type=SupervisionDayView)
    except msgspec.DecodeError:
        return None


def decode_calendar(data: bytes) -> CalendarView | None:
    try:
        return _calendar_decoder.decode(data)
    except msgspec.DecodeError:
        return None


class IncidentView(msgspec.Struct, kw_only=True):
    """One incident as a reader sees it: the four parts, any of which may be missing yet."""

    id: str
    core: CoreView | None = None
    grade: GradeView | None = None
    clocks: ClocksView | None = None
    notices: NoticesView | None = None

    def with_part(self, part: str, value: msgspec.Struct | None) -> IncidentView:
        return msgspec.structs.replace(self, **{part: value})
