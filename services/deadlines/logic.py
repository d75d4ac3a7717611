"""deadlines' pure steps: (state, event or command or timer entry) → (new state, effects).

No I/O: `now`, request ids and the config (`Rules`) are parameters. The service feeds
intake's and grading's events through `step`, the operator commands through `command_*`,
and due timer entries through `fire`. Effect ids are deterministic:

- effects of an event derive from the event id (`effect_id(event.id, "met:report_up")`);
- timer effects derive from the clock and its due time
  (`effect_id(f"{incident}:{clock}:{due_at.isoformat()}", "breached")`), so a breach found
  by the timer, by catch-up after a restart, or by an event that arrives after the due time
  is the same event with the same id, and can only be stored once.

Stage → clocks met (a stage change means the work the clock measured has been done):

    handling   report_up, first_response, first_handling
    following  the above and statement, simple_answer, formal_reply
    subsided   every open clock (final included)
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar, parse_hhmm
from watchboard.domain.clocks import (
    CLOCK_ORDER,
    OPEN_STATUSES,
    ClockChange,
    DeadlinesConfig,
    check_extension,
    plan_clocks,
    settle_provisional,
    tighten,
    warning_times,
)
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.views import ClocksView, ClockView, SweepView

ACTOR = "deadlines"
LATE_AFTER = timedelta(seconds=5)  # a breach emitted later than this after its due time is "late"
NO_OWNER = "unassigned"  # the unit named on a reminder for an incident nobody owns yet

STAGE_MEETS: dict[str, frozenset[str]] = {
    "handling": frozenset({"report_up", "first_response", "first_handling"}),
    "following": frozenset({"report_up", "first_response", "first_handling",
                            "statement", "simple_answer", "formal_reply"}),
    "subsided": frozenset(CLOCK_ORDER),
}


@dataclass(frozen=True)
class Rules:
    cfg: DeadlinesConfig
    cal: WorkCalendar


# --- state --------------------------------------------------------------------------


class ClockState(msgspec.Struct, kw_only=True):
    name: str
    due_at: datetime
    basis: str
    started_at: datetime  # when the clock began counting (the incident's learned_at)
    status: str = "running"  # running | met | breached | extended | cancelled
    provisional: bool = False
    warned: list[str] = msgspec.field(default_factory=list)  # warning points already sent

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


class IncidentState(msgspec.Struct, kw_only=True):
    id: str
    learned_at: datetime | None = None  # the incident.reported time
    grade: str | None = None
    sentiment: str = "negative"
    owner: str | None = None
    stage: str = "reported"
    closed: bool = False
    clocks: list[ClockState] = msgspec.field(default_factory=list)
    reminders: int = 0
    flagged: bool = False
    updated_at: datetime | None = None

    def clock(self, name: str) -> ClockState | None:
        return next((c for c in self.clocks if c.name == name), None)


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(IncidentState)


def encode_state(state: IncidentState) -> bytes:
    return _enc.encode(state)


def decode_state(data: bytes) -> IncidentState:
    return _dec.decode(data)


def _copy(state: IncidentState, now: datetime) -> IncidentState:
    """A deep enough copy to change clocks without touching the committed state."""
    clocks = [msgspec.structs.replace(c, warned=list(c.warned)) for c in state.clocks]
    return msgspec.structs.replace(state, clocks=clocks, updated_at=now)


def _order(name: str) -> int:
    return CLOCK_ORDER.index(name) if name in CLOCK_ORDER else len(CLOCK_ORDER)


def view_of(state: IncidentState) -> ClocksView:
    clocks = sorted(state.clocks, key=lambda c: _order(c.name))
    return ClocksView(clocks=[ClockView(name=c.name, due_at=c.due_at, basis=c.basis, status=c.status,
                                        provisional=c.provisional, warned=bool(c.warned) and c.open)
                              for c in clocks],
                      reminders=state.reminders, flagged=state.flagged, updated_at=state.updated_at)


# --- breaches (shared by the timer and by late events) ------------------------------


def timer_cause(incident_id: str, clock: ClockState) -> str:
    return f"{incident_id}:{clock.name}:{clock.due_at.astimezone(UTC).isoformat()}"


def _breach(st: IncidentState, clock: ClockState, now: datetime, rules: Rules) -> list[ev.Event]:
    """Mark `clock` breached in `st` (already a copy) and return breach, reminder, maybe flag."""
    cause = timer_cause(st.id, clock)
    clock.status = "breached"
    st.reminders += 1
    unit = st.owner or NO_OWNER
    out: list[ev.Event] = [
        ev.ClockBreached(id=ev.effect_id(cause, "breached"), incident_id=st.id, at=now, actor=ACTOR,
                         causation_id=cause, clock=clock.name, due_at=clock.due_at,
                         late=now - clock.due_at > LATE_AFTER),
        ev.UnitReminded(id=ev.effect_id(cause, "reminded"), incident_id=st.id, at=now, actor=ACTOR,
                        causation_id=cause, unit=unit, clock=clock.name, count=st.reminders),
    ]
    if not st.flagged and st.reminders >= rules.cfg.reminders_before_flag:
        st.flagged = True
        out.append(ev.UnitFlagged(id=ev.effect_id(cause, "flagged"), incident_id=st.id, at=now,
                                  actor=ACTOR, causation_id=cause, unit=unit, count=st.reminders))
    return out


def _breach_overdue(st: IncidentState, at: datetime, now: datetime, rules: Rules) -> list[ev.Event]:
    """Clocks that fell due before an event's time are breached first (the service was behind)."""
    out: list[ev.Event] = []
    for c in st.clocks:
        if c.open and c.due_at < at:
            out.extend(_breach(st, c, now, rules))
    return out


# --- events -------------------------------------------------------------------------


def _start_clocks(st: IncidentState, changes: list[ClockChange], cause: str, now: datetime,
                  tag: str = "started") -> list[ev.Event]:
    out: list[ev.Event] = []
    started_at = st.learned_at or now
    for ch in changes:
        current = st.clock(ch.name)
        if current is None:
            st.clocks.append(ClockState(name=ch.name, due_at=ch.due_at, basis=ch.basis, started_at=started_at,
                                        provisional=ch.provisional))
        else:
            current.due_at, current.provisional, current.warned = ch.due_at, ch.provisional, []
        out.append(ev.ClockStarted(id=ev.effect_id(cause, f"{tag}:{ch.name}"), incident_id=st.id, at=now,
                                   actor=ACTOR, causation_id=cause, clock=ch.name, due_at=ch.due_at,
                                   basis=ch.basis, provisional=ch.provisional, previous_due_at=ch.previous_due_at))
    st.clocks.sort(key=lambda c: _order(c.name))
    return out


def _meet(st: IncidentState, names: frozenset[str], cause: str, actor: str, note: str,
          now: datetime) -> list[ev.Event]:
    out: list[ev.Event] = []
    for c in st.clocks:
        if c.open and c.name in names:
            c.status = "met"
            out.append(ev.ClockMet(id=ev.effect_id(cause, f"met:{c.name}"), incident_id=st.id, at=now,
                                   actor=actor, causation_id=cause, clock=c.name, note=note))
    return out


def step(state: IncidentState | None, event: ev.Event, rules: Rules,
         now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """Apply one of intake's or grading's events. (None, []) when nothing changed."""
    st = _copy(state, now) if state is not None else IncidentState(id=event.incident_id, updated_at=now)
    match event:
        case ev.IncidentReported():
            if state is not None and state.learned_at is not None:
                return None, []
            st.learned_at = event.at
            return st, []
        case ev.IncidentAssigned():
            st.owner = event.owner
            return st, []
        case ev.IncidentGraded():
            st.grade, st.sentiment = event.grade, event.sentiment
            if st.closed:
                return st, []
            learned = st.learned_at or event.at
            st.learned_at = learned
            try:
                planned = plan_clocks(event.grade, learned, rules.cfg, rules.cal, event.sentiment)
            except ValueError:
                return st, []
            # A clock is only ever tightened here (never loosened silently): `tighten` skips
            # later due times and closed clocks; each change is recorded as clock.started.
            return st, _start_clocks(st, tighten(st.clocks, planned), event.id, now)
        case ev.StageChanged():
            st.stage = event.stage
            names = STAGE_MEETS.get(event.stage, frozenset())
            out = _breach_overdue(st, event.at, now, rules) if names else []
            out += _meet(st, names, event.id, event.actor, f"stage {event.stage}", now)
            return st, out
        case ev.IncidentClosed():
            st.closed, st.stage = True, "closed"
            out = _breach_overdue(st, event.at, now, rules)
            for c in st.clocks:
                if c.open:
                    c.status = "cancelled"
                    out.append(ev.ClockCancelled(id=ev.effect_id(event.id, f"cancelled:{c.name}"),
                                                 incident_id=st.id, at=now, actor=event.actor,
                                                 causation_id=event.id, clock=c.name, reason="incident closed"))
            return st, out
    return None, []


# --- commands -----------------------------------------------------------------------


def _open_clock(state: IncidentState | None, incident_id: str, clock: str) -> tuple[IncidentState, ClockState]:
    if state is None:
        raise NotFound("incident_id", f"no incident {incident_id!r} with clocks")
    c = state.clock(clock)
    if c is None:
        names = ", ".join(x.name for x in state.clocks) or "none"
        raise Invalid("clock", f"incident {incident_id} has no clock {clock!r}; its clocks: {names}")
    if not c.open:
        raise Conflict("clock", f"clock {clock} is {c.status}; only a running clock can change")
    return state, c


def command_done(state: IncidentState | None, incident_id: str, clock: str, note: str, actor: str,
                 request_id: str, now: datetime) -> tuple[IncidentState, list[ev.Event]]:
    """`wb.cmd.done`: meet one open clock."""
    _open_clock(state, incident_id, clock)
    assert state is not None
    st = _copy(state, now)
    return st, _meet(st, frozenset({clock}), request_id, actor, note, now)


def parse_due(value: object) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("due_at", "`due_at` is required: ISO 8601 with an offset, e.g. 2026-10-09T17:30:00+08:00")
    try:
        due = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("due_at", f"{value!r} is not a time: use ISO 8601 with an offset, "
                      "e.g. 2026-10-09T17:30:00+08:00") from None
    if due.tzinfo is None:
        raise Invalid("due_at", f"{value!r} has no UTC offset; add one, e.g. +08:00")
    return due.astimezone(UTC)


def command_extend(state: IncidentState | None, incident_id: str, clock: str, due_at: object, reason: str,
                   actor: str, request_id: str, now: datetime) -> tuple[IncidentState, list[ev.Event]]:
    """`wb.cmd.extend`: move an open clock later, never past `final`; errors name the field."""
    if state is None:
        raise NotFound("incident_id", f"no incident {incident_id!r} with clocks")
    current = state.clock(clock)
    if current is None:
        _open_clock(state, incident_id, clock)
    assert current is not None
    new_due = parse_due(due_at)
    if not reason.strip():
        raise Invalid("reason", "an extension needs a reason (say why, and the date promised)")
    final = state.clock("final")
    problem = check_extension(current, new_due, final.due_at if final is not None else None)
    if problem is not None:
        field_name = "due_at" if current.open and clock != "final" else "clock"
        raise (Invalid if field_name == "due_at" else Conflict)(field_name, problem)
    st = _copy(state, now)
    c = st.clock(clock)
    assert c is not None
    previous = c.due_at
    c.due_at, c.status, c.provisional, c.warned = new_due, "extended", False, []
    return st, [ev.ClockExtended(id=request_id, incident_id=st.id, at=now, actor=actor, causation_id=request_id,
                                 clock=clock, due_at=new_due, previous_due_at=previous, reason=reason)]


# --- the calendar gained a year -----------------------------------------------------


def settle(state: IncidentState, rules: Rules, now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """Replan the open provisional clocks on the current calendar (after calendar.toml changed)."""
    marked = [c.name for c in state.clocks if c.open and c.provisional]
    if not marked or state.grade is None or state.learned_at is None:
        return None, []
    try:
        planned = plan_clocks(state.grade, state.learned_at, rules.cfg, rules.cal, "negative")
    except ValueError:
        return None, []
    changes = settle_provisional(state.clocks, marked, planned)
    if not changes:
        return None, []
    st = _copy(state, now)
    cause = f"{state.id}:settle:" + ",".join(f"{c.name}@{c.due_at.isoformat()}" for c in changes)
    return st, _start_clocks(st, changes, cause, now, tag="settled")


# --- the timer ----------------------------------------------------------------------


class Entry(msgspec.Struct, frozen=True, order=True, array_like=True):
    """One timer entry in the heap, ordered by time: a warning point or a breach."""

    when: datetime
    incident_id: str
    clock: str
    kind: str  # "breach" | "warning"
    label: str
    due_at: datetime


def entries_for(state: IncidentState, rules: Rules) -> list[Entry]:
    """The timer entries of every open clock of `state` (warnings not yet sent, and the breach)."""
    out: list[Entry] = []
    for c in state.clocks:
        if not c.open:
            continue
        out.append(Entry(when=c.due_at, incident_id=state.id, clock=c.name, kind="breach", label="",
                         due_at=c.due_at))
        for label, at in warning_times(c.started_at, c.due_at, rules.cfg, basis=c.basis, cal=rules.cal):
            if label not in c.warned:
                out.append(Entry(when=at, incident_id=state.id, clock=c.name, kind="warning", label=label,
                                 due_at=c.due_at))
    return out


def fire(state: IncidentState | None, entry: Entry, rules: Rules,
         now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """A popped entry: (None, []) if it is stale (clock closed, moved, or warned already)."""
    if state is None:
        return None, []
    c = state.clock(entry.clock)
    if c is None or not c.open or c.due_at != entry.due_at:
        return None, []
    if entry.kind == "breach":
        if now < c.due_at:
            return None, []
        st = _copy(state, now)
        clock = st.clock(entry.clock)
        assert clock is not None
        return st, _breach(st, clock, now, rules)
    # A warning whose clock is already due is noise: the breach says more.
    if entry.label in c.warned or now >= c.due_at or now < entry.when:
        return None, []
    st = _copy(state, now)
    clock = st.clock(entry.clock)
    assert clock is not None
    clock.warned.append(entry.label)
    cause = timer_cause(st.id, clock)
    return st, [ev.ClockWarning(id=ev.effect_id(cause, f"warning:{entry.label}"), incident_id=st.id, at=now,
                                actor=ACTOR, causation_id=cause, clock=clock.name, due_at=clock.due_at,
                                point=entry.label)]


@dataclass
class Timer:
    """A min-heap of entries; stale entries are dropped when popped (`fire` checks them)."""

    heap: list[Entry] = field(default_factory=list)

    def push_all(self, entries: list[Entry]) -> None:
        for e in entries:
            heapq.heappush(self.heap, e)

    def rebuild(self, entries: list[Entry]) -> None:
        self.heap = list(entries)
        heapq.heapify(self.heap)

    def pop_due(self, now: datetime, limit: int) -> list[Entry]:
        out = []
        while self.heap and self.heap[0].when <= now and len(out) < limit:
            out.append(heapq.heappop(self.heap))
        return out

    def next_at(self) -> datetime | None:
        return self.heap[0].when if self.heap else None

    def __len__(self) -> int:
        return len(self.heap)


# --- monitoring sweeps --------------------------------------------------------------


class SweepState(msgspec.Struct, kw_only=True):
    last_at: datetime | None = None
    last_by: str | None = None
    recent: list[datetime] = msgspec.field(default_factory=list)  # sweeps of the last days
    checked_until: datetime | None = None  # windows up to here have been judged
    missed: list[str] = msgspec.field(default_factory=list)  # "2026-11-23 10:00", newest last


SWEEP_MEMORY = timedelta(days=8)
SWEEP_LOOKBACK = timedelta(days=7)  # after a long outage, judge at most this far back
MAX_MISSED_SHOWN = 20


def sweep_view(state: SweepState) -> SweepView:
    return SweepView(last_at=state.last_at, last_by=state.last_by, missed=list(state.missed))


def record_sweep(state: SweepState, note: str, actor: str, request_id: str,
                 now: datetime) -> tuple[SweepState, ev.SweepRecorded]:
    recent = [t for t in state.recent if t > now - SWEEP_MEMORY] + [now]
    new = msgspec.structs.replace(state, last_at=now, last_by=actor, recent=recent[-100:])
    return new, ev.SweepRecorded(id=request_id, incident_id=ev.NO_INCIDENT, at=now, actor=actor,
                                 causation_id=request_id, note=note)


def _window_times(rules: Rules) -> list[tuple[time, str]]:
    out = []
    for label in rules.cfg.sweep.windows:
        t = parse_hhmm(label)
        if t is not None:
            out.append((t, label))
    return sorted(out)


def windows_between(start: datetime, end: datetime, rules: Rules) -> list[tuple[datetime, str]]:
    """Window instants w (aware UTC) with start < w <= end, in order, with their labels."""
    times = _window_times(rules)
    if not times or end <= start:
        return []
    out = []
    day: date = rules.cal.local(start).date()
    last: date = rules.cal.local(end).date()
    while day <= last:
        if rules.cfg.sweep.include_holidays or rules.cal.is_working_day(day):
            for t, label in times:
                w = rules.cal.aware(datetime.combine(day, t))
                if start < w <= end:
                    out.append((w, label))
        day += timedelta(days=1)
    return out


def previous_window(w: datetime, rules: Rules) -> datetime:
    """The window instant just before `w` (a day back at most, or further if days are skipped)."""
    earlier = windows_between(w - timedelta(days=15), w - timedelta(microseconds=1), rules)
    return earlier[-1][0] if earlier else w - timedelta(days=1)


def check_sweeps(state: SweepState, now: datetime, rules: Rules) -> tuple[SweepState, list[ev.SweepMissed]]:
    """Judge every window that passed since the last check: missed if no sweep since the one before."""
    if state.checked_until is None:  # first run: nothing before now is judged
        return msgspec.structs.replace(state, checked_until=now), []
    if now <= state.checked_until:
        return state, []
    start = max(state.checked_until, now - SWEEP_LOOKBACK)
    out: list[ev.SweepMissed] = []
    missed = list(state.missed)
    for w, label in windows_between(start, now, rules):
        prev = previous_window(w, rules)
        if any(prev < t <= w for t in state.recent):
            continue
        day = rules.cal.local(w).date().isoformat()
        cause = f"sweep:{day}:{label}"
        out.append(ev.SweepMissed(id=ev.effect_id(cause, "missed"), incident_id=ev.NO_INCIDENT, at=now,
                                  actor=ACTOR, causation_id=cause, window=label))
        missed.append(f"{day} {label}")
    recent = [t for t in state.recent if t > now - SWEEP_MEMORY]
    return msgspec.structs.replace(state, checked_until=now, recent=recent,
                                   missed=missed[-MAX_MISSED_SHOWN:]), out
