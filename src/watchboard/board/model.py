"""The board's state: every incident folded from the KV bucket, and what the screens derive.

Pure: `ingest()` takes one `KVChange`, `ingest_all()` many at once; `now` is passed in. The
widgets draw from the cached `Row` tuples, so the untrusted text in them has been cleaned
once, on the way in. (The names are the board's own: the domain's `incident.apply` folds an
event into a record and returns a new one; these mutate the board's mirror of the KV bucket
in place and return the incident ids whose view changed.)
Sorting is cached and redone only when something changed (10,000 rows re-sort in ~10 ms).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec

from watchboard.board.i18n import named
from watchboard.bus.feed_types import KVChange
from watchboard.domain.sanitize import clean_line
from watchboard.domain.views import (
    CALENDAR_KEY,
    SUPERVISION_KEY,
    CalendarView,
    ClocksView,
    ClockView,
    GradeView,
    IncidentView,
    NoticesView,
    NoticeView,
    SupervisionDayView,
    SweepView,
    decode_calendar,
    decode_supervision,
    decode_sweep,
    decode_view,
    split_key,
)

from .follow import statement_mark, task_counts
from .format import DEFAULT_GRADE_LABELS, GRADES, LABEL_MAX, GradeLabels, Units, grade_rank, owner_label

TITLE_MAX = 200  # a row never needs more; the detail screen cleans the full text itself
SORTS = ("grade", "due", "age", "owner")
EPOCH = datetime.min.replace(tzinfo=UTC)


class Row(NamedTuple):
    """One open incident as a table row: sanitized strings, ready to draw."""

    id: str
    grade: str  # "" when not yet graded
    title: str
    owner: str  # "" when not yet assigned
    stage: str
    reported_at: datetime | None
    due: ClockView | None
    acked: bool
    mentions: int
    flagged: bool
    owner_short: str = ""  # the unit's short name (units.toml `short`), for narrow columns
    # Follow-through at a glance (wide layouts): the latest statement version's state ("" for
    # none), tasks awaiting feedback and how many of them deadlines has breached.
    statement: str = ""
    tasks_open: int = 0
    tasks_overdue: int = 0


def next_clock(clocks: ClocksView | None) -> ClockView | None:
    """The running clock that falls due first (None when nothing is running)."""
    if clocks is None:
        return None
    running = [c for c in clocks.clocks if c.status in ("running", "extended")]
    return min(running, key=lambda c: c.due_at) if running else None


def is_open(view: IncidentView) -> bool:
    return view.core is None or view.core.stage != "closed"


def make_row(view: IncidentView, lang: str = "zh", units: Units | None = None) -> Row:
    core, grade, notices = view.core, view.grade, view.notices
    tasks_open, tasks_overdue = task_counts(core, view.clocks)
    return Row(
        id=view.id,
        grade=grade.grade if grade else "",
        title=clean_line(core.title, TITLE_MAX) if core else clean_line(view.id, LABEL_MAX),
        owner=owner_label(grade, lang, units),
        stage=core.stage if core else "reported",
        reported_at=core.reported_at if core else None,
        due=next_clock(view.clocks),
        acked=bool(notices and notices.acknowledged_by),
        mentions=core.mention_count if core else 0,
        flagged=bool(view.clocks and view.clocks.flagged),
        owner_short=owner_label(grade, lang, units, short=True),
        statement=statement_mark(core),
        tasks_open=tasks_open,
        tasks_overdue=tasks_overdue,
    )


def _sort_key(kind: str):  # type: ignore[no-untyped-def]
    def by_time(row: Row) -> float:
        return row.reported_at.timestamp() if row.reported_at else float("inf")

    def by_due(row: Row) -> float:
        return row.due.due_at.timestamp() if row.due else float("inf")

    if kind == "due":
        return lambda r: (by_due(r), grade_rank(r.grade), by_time(r), r.id)
    if kind == "age":
        return lambda r: (by_time(r), grade_rank(r.grade), r.id)
    if kind == "owner":
        return lambda r: (r.owner == "", r.owner, grade_rank(r.grade), by_time(r), r.id)
    return lambda r: (grade_rank(r.grade), by_time(r), r.id)


@dataclass(frozen=True)
class Filter:
    """What the operator narrowed the list to; empty fields match everything."""

    grades: frozenset[str] = frozenset()
    owner: str = ""
    stage: str = ""
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.grades or self.owner or self.stage or self.text)

    def matches(self, row: Row) -> bool:
        if self.grades and row.grade not in self.grades:
            return False
        if self.owner and self.owner.casefold() not in row.owner.casefold() \
                and self.owner.casefold() not in row.owner_short.casefold():
            return False
        if self.stage and row.stage != self.stage:
            return False
        if self.text:
            needle = self.text.casefold()
            return needle in row.title.casefold() or needle in row.id.casefold() \
                or needle in row.owner.casefold()
        return True


class Trend(NamedTuple):
    """New incidents per hour by grade and clocks breached per hour; index 0 is the oldest hour."""

    per_grade: dict[str, list[int]]
    breached: list[int]


@dataclass(frozen=True)
class Alert:
    at: datetime | None
    incident_id: str
    title: str
    to: str
    channel: str
    failed: bool
    reason: str = ""


@dataclass
class BoardModel:
    """Incidents keyed by id, plus `sys.sweep`; derived lists are cached until a change."""

    incidents: dict[str, IncidentView] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    sweep: SweepView | None = None
    calendar: CalendarView | None = None  # `sys.calendar`: the coverage notice from deadlines
    supervision: SupervisionDayView | None = None  # `sys.supervision`: today's owed supervision
    system_notices: NoticesView | None = None  # `sys.notices`: notify's notices of no incident (reports)
    sort: str = "grade"
    lang: str = "zh"  # for the names of units
    units: Units = field(default_factory=dict)  # units.toml's names, when the board has the config
    filter: Filter = field(default_factory=Filter)
    labels: GradeLabels = DEFAULT_GRADE_LABELS  # the board's own config's; grading's win once it sends them
    _sorted: list[Row] | None = None
    _urgent: list[Row] | None = None
    _seen: set[str] | None = None  # ids seen since a re-sync began (see begin_resync)
    _sent_labels: dict[str, dict[str, str]] | None = None  # the newest grade's `grade_labels`
    _sent_labels_at: datetime | None = None
    _grade_labels: GradeLabels | None = None  # built from the above when asked
    # Only what the board shows: open incidents and those closed since `closed_since` (set by
    # the ingest to the last 24 hours); one closed before is dropped, and its later keys ignored.
    closed_since: datetime | None = None
    _dropped: set[str] = field(default_factory=set)
    # Kept as incidents change, so no redraw walks every incident: each incident's part of the
    # trend (the hour it was reported, its grade, the hours its clocks breached) and the counts
    # per hour, and its alerts while open (see `alerts`).
    _trend_of: dict[str, tuple[int | None, str, tuple[int, ...]]] = field(default_factory=dict)
    _new_per_hour: Counter[tuple[int, str]] = field(default_factory=Counter)
    _breached_per_hour: Counter[int] = field(default_factory=Counter)
    _alerts_of: dict[str, list[Alert]] = field(default_factory=dict)

    # --- input ------------------------------------------------------------------------

    def ingest(self, change: KVChange) -> set[str]:
        """Take one KV change in; returns the incident ids whose view changed."""
        if change.key == "sys.sweep":
            self.sweep = decode_sweep(change.value) if change.value is not None else None
            return set()
        if change.key == CALENDAR_KEY:
            self.calendar = decode_calendar(change.value) if change.value is not None else None
            return set()
        if change.key == SUPERVISION_KEY:
            self.supervision = decode_supervision(change.value) if change.value is not None else None
            return set()
        if change.key == SYSTEM_NOTICES_KEY:
            self.system_notices = _notices(change.value)
            return set()
        parts = split_key(change.key)
        if parts is None:
            return set()
        incident_id, part = parts
        if self._seen is not None:
            self._seen.add(incident_id)
        if incident_id in self._dropped:
            return set()
        current = self.incidents.get(incident_id)
        if change.value is None:
            if current is None:
                return set()
            view = current.with_part(part, None)
        else:
            value = decode_view(part, change.value)
            if value is None:  # unreadable (a newer writer): keep what we had
                return set()
            if isinstance(value, GradeView):
                self._note_labels(value)
            view = (current or IncidentView(id=incident_id)).with_part(part, value)
        self._put(incident_id, view)
        self._sorted = self._urgent = None
        return {incident_id}

    def ingest_all(self, changes: Iterable[KVChange]) -> set[str]:
        """Take many changes at once; the same end state as `ingest` one by one, but cheaper.

        A 40,000-key snapshot is the case this is for: the parts of each incident are gathered
        first, so each incident's view and row are built once instead of once per part (a
        quarter of the objects, which also spares the garbage collector most of its passes).
        """
        staged: dict[str, dict[str, msgspec.Struct | None]] = {}
        seen = self._seen
        for change in changes:
            key, data = change.key, change.value
            if key == "sys.sweep":
                self.sweep = decode_sweep(data) if data is not None else None
                continue
            if key == CALENDAR_KEY:
                self.calendar = decode_calendar(data) if data is not None else None
                continue
            if key == SUPERVISION_KEY:
                self.supervision = decode_supervision(data) if data is not None else None
                continue
            if key == SYSTEM_NOTICES_KEY:
                self.system_notices = _notices(data)
                continue
            parts = split_key(key)
            if parts is None:
                continue
            incident_id, part = parts
            if seen is not None:
                seen.add(incident_id)
            if incident_id in self._dropped:
                continue
            value = None
            if data is not None:
                value = decode_view(part, data)
                if value is None:  # unreadable (a newer writer): keep what we had
                    continue
            bucket = staged.get(incident_id)
            if bucket is None:
                staged[incident_id] = {part: value}
            else:
                bucket[part] = value
        return self._settle(staged)

    def _settle(self, staged: dict[str, dict[str, msgspec.Struct | None]]) -> set[str]:
        """Write the gathered parts into the views and rows; returns the ids that changed."""
        incidents = self.incidents
        changed: set[str] = set()
        for incident_id, parts in staged.items():
            grade = parts.get("grade")
            if grade is not None:
                self._note_labels(grade)  # type: ignore[arg-type]
            current = incidents.get(incident_id)
            if current is None:
                if not any(v is not None for v in parts.values()):
                    continue  # deleting what we never had
                view = IncidentView(id=incident_id, **parts)  # type: ignore[arg-type]
            else:
                view = msgspec.structs.replace(current, **parts)
            changed.add(incident_id)
            self._put(incident_id, view)
        if changed:
            self._sorted = self._urgent = None
        return changed

    def _put(self, incident_id: str, view: IncidentView) -> None:
        """Keep `view` (or forget the incident: no part left, or closed before `closed_since`),
        and what is derived from it: its row, its part of the trend, its alerts."""
        core = view.core
        if (core is None and view.grade is None and view.clocks is None and view.notices is None) or (
                core is not None and core.stage == "closed" and self.closed_since is not None
                and core.closed_at is not None and core.closed_at < self.closed_since):
            if core is not None:
                self._dropped.add(incident_id)
            self._forget(incident_id)
            return
        self.incidents[incident_id] = view
        if is_open(view):
            self.rows[incident_id] = make_row(view, self.lang, self.units)
        else:
            self.rows.pop(incident_id, None)
        self._count(incident_id, view)
        alerts = _alerts_of(incident_id, view) if view.notices is not None and is_open(view) else []
        if alerts:
            self._alerts_of[incident_id] = alerts
        else:
            self._alerts_of.pop(incident_id, None)

    def _forget(self, incident_id: str) -> None:
        self.incidents.pop(incident_id, None)
        self.rows.pop(incident_id, None)
        self._alerts_of.pop(incident_id, None)
        self._count(incident_id, None)

    def _count(self, incident_id: str, view: IncidentView | None) -> None:
        """Move the incident's part of the trend from what it was to what `view` says."""
        new = _trend_part(view) if view is not None else None
        old = self._trend_of.get(incident_id)
        if new == old:
            return
        if old is not None:
            reported, grade, breaches = old
            if reported is not None:
                _less(self._new_per_hour, (reported, grade))
            for hour in breaches:
                _less(self._breached_per_hour, hour)
        if new is None:
            self._trend_of.pop(incident_id, None)
            return
        self._trend_of[incident_id] = new
        reported, grade, breaches = new
        if reported is not None:
            self._new_per_hour[(reported, grade)] += 1
        for hour in breaches:
            self._breached_per_hour[hour] += 1

    def evict_closed(self, before: datetime) -> set[str]:
        """Forget the incidents closed before `before` (the board's day moved on)."""
        self.closed_since = before
        gone = {i for i, v in self.incidents.items()
                if v.core is not None and v.core.stage == "closed" and v.core.closed_at is not None
                and v.core.closed_at < before}
        for incident_id in gone:
            self._dropped.add(incident_id)
            self._forget(incident_id)
        if gone:
            self._sorted = self._urgent = None
        return gone

    def _note_labels(self, grade: GradeView) -> None:
        """Keep the grade labels of the most recently graded incident (a profile may have changed
        since older grades were written)."""
        if not grade.grade_labels:
            return
        at = grade.updated_at or EPOCH
        if self._sent_labels_at is not None and at < self._sent_labels_at:
            return
        self._sent_labels_at = at
        if grade.grade_labels != self._sent_labels:
            self._sent_labels = grade.grade_labels
            self._grade_labels = None

    def grade_labels(self) -> GradeLabels:
        """The grades to offer and what to call them: grading's (the newest grade's), else the config's."""
        if self._grade_labels is None:
            self._grade_labels = GradeLabels.of(self._sent_labels, self.labels) if self._sent_labels else self.labels
        return self._grade_labels

    def begin_resync(self) -> None:
        """A new feed starts: its snapshot is the truth; ids not in it were deleted meanwhile."""
        self._seen = set()

    def end_resync(self) -> set[str]:
        """At `SnapshotDone`: drop incidents the new snapshot did not mention."""
        if self._seen is None:
            return set()
        gone = set(self.incidents) - self._seen
        for incident_id in gone:
            self._forget(incident_id)
        self._seen = None
        if gone:
            self._sorted = self._urgent = None
        return gone

    def set_sort(self, kind: str) -> None:
        self.sort = kind if kind in SORTS else "grade"
        self._sorted = self._urgent = None

    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self._sorted = self._urgent = None

    # --- derived ----------------------------------------------------------------------

    def open_rows(self) -> list[Row]:
        """Open incidents that pass the filter, in the chosen order (default: grade, then age)."""
        if self._sorted is None:
            rows = self.rows.values()
            if self.filter.active:
                rows = [r for r in rows if self.filter.matches(r)]
            self._sorted = sorted(rows, key=_sort_key(self.sort))
        return self._sorted

    def urgent_rows(self) -> list[Row]:
        """All open incidents, grade first then the clock due soonest (the wall's list)."""
        if self._urgent is None:
            self._urgent = sorted(self.rows.values(), key=lambda r: (
                grade_rank(r.grade), r.due.due_at.timestamp() if r.due else float("inf"),
                r.reported_at.timestamp() if r.reported_at else float("inf"), r.id))
        return self._urgent

    def grade_counts(self) -> dict[str, int]:
        counts = Counter(r.grade for r in self.rows.values())
        return {g: counts.get(g, 0) for g in GRADES}

    def open_count(self) -> int:
        return len(self.rows)

    def alerts(self, limit: int = 6) -> list[Alert]:
        """notify's notices a person must see on the board, newest first: those sent on the
        `board` channel, and every failed one (an unreachable webhook, a refused login), of open
        incidents (kept per incident as it changes) and of no incident (`sys.notices`)."""
        found: list[Alert] = [a for alerts in self._alerts_of.values() for a in alerts]
        for n in (self.system_notices.notices if self.system_notices else []):
            # Of no incident (a scheduled report, a missed sweep): what it was about names it.
            if _alerting(n):
                found.append(Alert(at=n.at, incident_id="", title=named("cause", clean_line(n.cause, 60), self.lang,
                                                                        other="other"),
                                   to=clean_line(n.to, LABEL_MAX), channel=clean_line(n.channel, LABEL_MAX),
                                   failed=n.status == "failed", reason=clean_line(n.reason, 200)))
        return heapq.nlargest(limit, found, key=lambda a: a.at or EPOCH)

    def matrix(self) -> tuple[list[str], dict[tuple[str, str], int]]:
        """Owners (busiest first; "" = unassigned last) and open counts per (grade, owner)."""
        cells: Counter[tuple[str, str]] = Counter((r.grade, r.owner_short or r.owner) for r in self.rows.values())
        per_owner: Counter[str] = Counter()
        for (_, owner), n in cells.items():
            per_owner[owner] += n
        owners = sorted(per_owner, key=lambda o: (o == "", -per_owner[o], o))
        return owners, dict(cells)

    def trend(self, now: datetime, hours: int = 24) -> Trend:
        """New incidents per hour by grade and clocks breached per hour; index 0 is the oldest hour.

        Counts every incident the board holds (closed ones too: they were new then; it holds
        those closed in the last 24 hours, the trend's day). A breach is counted in the hour of
        its `due_at`, which is when it fell due. Read from counts kept per hour as incidents
        change (`_count`): a redraw costs the hours, not the incidents.
        """
        # Whole hours by epoch arithmetic; hour boundaries are UTC's, which are the local ones in
        # every whole-hour zone (China).
        this_hour = int(now.timestamp()) // 3600
        first = this_hour - hours + 1
        per_grade = {g: [self._new_per_hour.get((first + i, g), 0) for i in range(hours)] for g in GRADES}
        breached = [self._breached_per_hour.get(first + i, 0) for i in range(hours)]
        return Trend(per_grade, breached)

    def get(self, incident_id: str) -> IncidentView | None:
        return self.incidents.get(incident_id)

    def supervision_owed(self, incident_id: str) -> bool | None:
        """Whether `sys.supervision` says the incident still owes today's supervision (True),
        had it (False), or owes none / the board does not know (None)."""
        day = self.supervision
        if day is None or incident_id not in day.due:
            return None
        return incident_id in day.unsupervised

    def unsupervised(self) -> list[Row]:
        """Open incidents `sys.supervision` lists as not supervised today, in the desk's order."""
        day = self.supervision
        if day is None or not day.unsupervised:
            return []
        owed = set(day.unsupervised)
        return [r for r in self.urgent_rows() if r.id in owed]


SYSTEM_NOTICES_KEY = "sys.notices"


def _alerting(n: NoticeView) -> bool:
    return n.status == "failed" or (n.channel.startswith("board") and n.status == "sent")


def _alerts_of(incident_id: str, view: IncidentView) -> list[Alert]:
    """The alerts of one open incident: its board-channel notices and failed deliveries."""
    if view.notices is None:
        return []
    title = clean_line(view.core.title, TITLE_MAX) if view.core else incident_id
    return [Alert(at=n.at, incident_id=incident_id, title=title, to=clean_line(n.to, LABEL_MAX),
                  channel=clean_line(n.channel, LABEL_MAX), failed=n.status == "failed",
                  reason=clean_line(n.reason, 200))
            for n in view.notices.notices if _alerting(n)]


def _less(counts: Counter, key: object) -> None:  # type: ignore[type-arg]
    """One fewer; an hour that counts nothing any more is forgotten (a board runs for months)."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def _trend_part(view: IncidentView) -> tuple[int | None, str, tuple[int, ...]] | None:
    """What one incident adds to the trend: the hour it was reported (epoch hours) with its grade,
    and the hours its clocks breached (their `due_at`)."""
    reported = int(view.core.reported_at.timestamp()) // 3600 if view.core is not None else None
    grade = view.grade.grade if view.grade else ""
    breaches = tuple(int(c.due_at.timestamp()) // 3600 for c in view.clocks.clocks if c.status == "breached") \
        if view.clocks is not None else ()
    if reported is None and not breaches:
        return None
    return reported, grade, breaches


def _notices(data: bytes | None) -> NoticesView | None:
    value = decode_view("notices", data) if data is not None else None
    return value if isinstance(value, NoticesView) else None


def is_urgent_grade(grade: str | None) -> bool:
    return grade in ("I", "II")


def newly_urgent(before: GradeView | None, after: GradeView | None) -> bool:
    """True when an incident becomes grade I or II (new, or raised from III/IV)."""
    return after is not None and is_urgent_grade(after.grade) and not (
        before is not None and is_urgent_grade(before.grade)
        and grade_rank(before.grade) <= grade_rank(after.grade))
