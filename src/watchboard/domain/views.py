"""The values each service keeps in the KV bucket `wb-board`, one writer per key.

Keys: `<incident>.core` (intake), `<incident>.grade` (grading), `<incident>.clocks`
(deadlines), `<incident>.notices` (notify), and `sys.<name>` for facts that belong to no
incident (`sys.sweep` and `sys.calendar`, written by deadlines). A board or `watchboard show` folds the four
values of an incident into one `IncidentView`. New fields get defaults (schema evolution),
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


CALENDAR_KEY = "sys.calendar"
SWEEP_KEY = "sys.sweep"

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
