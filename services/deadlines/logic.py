"""deadlines' pure steps: (state, event or command or timer entry) → (new state, effects).

No I/O: `now`, request ids and the config (`Rules`) are parameters. The service feeds
intake's and grading's events through `step`, the operator commands through `command_*`,
and due timer entries through `fire`. Effect ids are deterministic:

- effects of an event derive from the event id (`effect_id(event.id, "started:report_up")`);
- timer effects derive from the clock and its due time
  (`effect_id(f"{incident}:{clock}:{due_at.isoformat()}", "breached")`), so a breach found
  by the timer, by catch-up after a restart, or by an event that arrives after the due time
  is the same event with the same id, and can only be stored once; a reminder's from the
  clock, its due time and the reminder's scheduled time.

The rules (issue "The plans' clocks, right"; docs/plans.md quotes each plan):

- a clock counts from the moment its config names (`from`: posted, observed, reported,
  graded, with fall-backs), so a report that arrives hours after the post has used them;
- a clock already past due when it starts breaches at once, `on_arrival`: no reminder slip
  at the breach (the delay happened before the unit had it);
- only the act meets a clock — `done` (a stage change meets nothing); met after its due time
  it stays breached, with `met_at` ("met late by …");
- a grade change cancels the running clocks the new grade does not have; clocks it shares
  keep their due time unless the new grade's is earlier (never loosened);
- a breached task (incident + clock) that stays undone gets a reminder slip to the owning
  unit at the breach and every `remind_every` after, until met or closed; the unit's third
  slip about the same task flags that unit (seed 002 四.3); slips belong to the unit they were
  sent to, so a newly assigned owner starts at zero;
- closing cancels the clocks still running and ends the reminders;
- follow-through (issue 14): the `statement` clock is met only by intake's
  `statement.published` (an approved statement went out; `done` is refused for it); a task
  (`task.added`) is a clock of its own, `task:<id>`, with the same warnings, breach, slips and
  flag, whose slips go to the task's unit, met by `task.fed_back`; a grade change never
  cancels a task; `incident.supervised` records the incident's latest supervision (督办).
  An event meets a clock at the event's time, so a service that was behind judges it fairly.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from watchboard.board.i18n import named
from watchboard.config.deadlines import CLOCK_ORDER, DeadlinesConfig
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.clocks import (
    OPEN_STATUSES,
    ClockChange,
    Moments,
    extension_refusal,
    plan_clocks,
    tighten,
    warning_times,
)
from watchboard.domain.commands import Ctx, Done, Extend
from watchboard.domain.durations import parse_duration, parse_hhmm
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.tasks import task_clock, task_of_clock
from watchboard.domain.views import ClocksView, ClockView, SlipView, SweepView

ACTOR = "deadlines"
LATE_AFTER = timedelta(seconds=5)  # a breach emitted later than this after its due time is "late"
NO_OWNER = "unassigned"  # the unit named on a reminder for an incident nobody owns yet
NOTE_MAX = 2_000
# The act a clock measures must be said when it is met: to whom and how it was reported, the
# reply or its link (what a review and accountability will read).
NOTE_REQUIRED: dict[str, str] = {
    "report_up": "say to whom and how it was reported (e.g. --note \"电话报告县委网信办值班室 王主任\")",
    "formal_reply": "give the reply or its link (e.g. --note \"https://…/reply/123\")",
}
NOTE_REQUIRED_ZH: dict[str, str] = {
    "report_up": "请写明向谁、以何种方式报告（如 `--note \"电话报告县委网信办值班室 王主任\"`）",
    "formal_reply": "请给出答复内容或其链接（如 `--note \"https://…/reply/123\"`）",
}
# Clocks no `done` meets: the act they measure is recorded by intake, whose event meets them.
STATEMENT_CLOCK = "statement"


@dataclass(frozen=True)
class Rules:
    cfg: DeadlinesConfig
    cal: WorkCalendar


# --- state --------------------------------------------------------------------------


# omit_defaults: a state is stored as JSON without its empty lists and unset fields — 2.1 KB
# → 0.8 KB for a grade II incident's five clocks, which a restart decodes and each firing
# writes back (stores written before read as they are).
class ClockState(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    due_at: datetime
    basis: str
    started_at: datetime  # the moment the period counts from (post, observation, report, grade)
    status: str = "running"  # running | met | breached | extended | cancelled
    provisional: bool = False
    warned: list[str] = msgspec.field(default_factory=list)  # warning points already sent
    counted_from: str = ""  # posted | observed | reported | graded (after fall-backs)
    extendable: bool = False
    period: str = ""  # e.g. "3wh": to replan a provisional clock
    arrived_at: datetime | None = None  # when watchboard started the clock
    on_arrival: bool = False  # already past due when it started
    met_at: datetime | None = None
    met_by: str | None = None
    slips: dict[str, int] = msgspec.field(default_factory=dict)  # unit → reminder slips about this task
    slip_at: dict[str, datetime] = msgspec.field(default_factory=dict)  # unit → its last slip
    flagged_units: list[str] = msgspec.field(default_factory=list)
    next_remind_at: datetime | None = None
    unit: str = ""  # a task's clock: the unit it was handed to; "" = the incident's owner

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def undone(self) -> bool:
        """Breached and not yet met late: the task reminders are about."""
        return self.status == "breached" and self.met_at is None


class IncidentState(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    learned_at: datetime | None = None  # the incident.reported time
    grade: str | None = None
    sentiment: str = "negative"
    owner: str | None = None
    stage: str = "reported"
    closed: bool = False
    clocks: list[ClockState] = msgspec.field(default_factory=list)
    updated_at: datetime | None = None
    posted_at: datetime | None = None  # the earliest post time any report gave
    observed_at: datetime | None = None  # the earliest observation
    supervised_at: datetime | None = None  # the latest supervision (督办) recorded

    def clock(self, name: str) -> ClockState | None:
        return next((c for c in self.clocks if c.name == name), None)

    @property
    def reminders(self) -> int:
        return sum(sum(c.slips.values()) for c in self.clocks)

    @property
    def flagged(self) -> bool:
        return any(c.flagged_units for c in self.clocks)


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(IncidentState)


def encode_state(state: IncidentState) -> bytes:
    return _enc.encode(state)


def decode_state(data: bytes) -> IncidentState:
    return _dec.decode(data)


def _clone(c: ClockState) -> ClockState:
    return msgspec.structs.replace(c, warned=list(c.warned), slips=dict(c.slips), slip_at=dict(c.slip_at),
                                   flagged_units=list(c.flagged_units))


def _copy(state: IncidentState, now: datetime) -> IncidentState:
    """A deep enough copy to change clocks without touching the committed state."""
    return msgspec.structs.replace(state, clocks=[_clone(c) for c in state.clocks], updated_at=now)


def _copy_one(state: IncidentState, name: str, now: datetime) -> tuple[IncidentState, ClockState]:
    """A copy of `state` in which clock `name` alone may be changed, and that clock: the timer's
    firings touch one clock, and the others stay shared with the committed state, which nothing
    changes in place (every step changes a copy)."""
    clocks = [_clone(c) if c.name == name else c for c in state.clocks]
    st = msgspec.structs.replace(state, clocks=clocks, updated_at=now)
    clock = st.clock(name)
    assert clock is not None
    return st, clock


def _order(name: str) -> int:
    return CLOCK_ORDER.index(name) if name in CLOCK_ORDER else len(CLOCK_ORDER)


def _clock_view(c: ClockState) -> ClockView:
    return ClockView(name=c.name, due_at=c.due_at, basis=c.basis, status=c.status, provisional=c.provisional,
                     warned=bool(c.warned) and c.open, start_at=c.started_at, counted_from=c.counted_from,
                     extendable=c.extendable, on_arrival=c.on_arrival, met_at=c.met_at, met_by=c.met_by,
                     unit=c.unit)


def view_of(state: IncidentState) -> ClocksView:
    clocks = sorted(state.clocks, key=lambda c: _order(c.name))
    slips = [SlipView(unit=unit, clock=c.name, count=count, flagged=unit in c.flagged_units,
                      last_at=c.slip_at.get(unit))
             for c in clocks for unit, count in c.slips.items()]
    # Task clocks go apart: readers of `clocks` count the plans' clocks.
    return ClocksView(clocks=[_clock_view(c) for c in clocks if task_of_clock(c.name) is None],
                      tasks=[_clock_view(c) for c in clocks if task_of_clock(c.name) is not None],
                      reminders=state.reminders, flagged=state.flagged, updated_at=state.updated_at,
                      slips=slips, supervised_at=state.supervised_at)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


# --- breaches and reminders (shared by the timer and by late events) ------------------


def timer_cause(incident_id: str, clock: ClockState) -> str:
    return f"{incident_id}:{clock.name}:{clock.due_at.astimezone(UTC).isoformat()}"


def _next_reminder(after: datetime, rules: Rules) -> datetime:
    due, _ = rules.cal.add(after, rules.cfg.remind_period())
    return due


def _slip(st: IncidentState, clock: ClockState, cause: str, now: datetime, rules: Rules) -> list[ev.Event]:
    """One reminder slip to the owning unit (a task's: its unit) about `clock`; the unit's Nth
    flags it (once)."""
    unit = clock.unit or st.owner or NO_OWNER
    count = clock.slips.get(unit, 0) + 1
    clock.slips[unit] = count
    clock.slip_at[unit] = now
    out: list[ev.Event] = [
        ev.UnitReminded(id=ev.effect_id(cause, "reminded"), incident_id=st.id, at=now, actor=ACTOR,
                        causation_id=cause, unit=unit, clock=clock.name, count=count)]
    if count >= rules.cfg.reminders_before_flag and unit not in clock.flagged_units:
        clock.flagged_units.append(unit)
        out.append(ev.UnitFlagged(id=ev.effect_id(cause, "flagged"), incident_id=st.id, at=now, actor=ACTOR,
                                  causation_id=cause, unit=unit, count=count, clock=clock.name))
    return out


def _breach(st: IncidentState, clock: ClockState, now: datetime, rules: Rules, *,
            on_arrival: bool = False) -> list[ev.Event]:
    """Mark `clock` breached in `st` (already a copy): the breach, and — unless it was late on
    arrival — the first reminder slip to the owning unit."""
    cause = timer_cause(st.id, clock)
    clock.status = "breached"
    clock.on_arrival = on_arrival
    out: list[ev.Event] = [
        ev.ClockBreached(id=ev.effect_id(cause, "breached"), incident_id=st.id, at=now, actor=ACTOR,
                         causation_id=cause, clock=clock.name, due_at=clock.due_at,
                         late=not on_arrival and now - clock.due_at > LATE_AFTER, on_arrival=on_arrival,
                         unit=clock.unit)]
    if st.closed:
        return out
    if on_arrival:
        # The unit gets the whole reminder period from when it had the task.
        clock.next_remind_at = _next_reminder(clock.arrived_at or now, rules)
        return out
    out += _slip(st, clock, cause, now, rules)
    clock.next_remind_at = _next_reminder(clock.due_at, rules)
    return out


def _breach_overdue(st: IncidentState, at: datetime, now: datetime, rules: Rules) -> list[ev.Event]:
    """Clocks that fell due before an event's time are breached first (the service was behind)."""
    out: list[ev.Event] = []
    for c in st.clocks:
        if c.open and c.due_at < at:
            out.extend(_breach(st, c, now, rules))
    return out


# --- events -------------------------------------------------------------------------


def _start_clocks(st: IncidentState, changes: list[ClockChange], cause: str, now: datetime, rules: Rules,
                  *, arrived: datetime, tag: str = "started") -> list[ev.Event]:
    """Start (or move) clocks; one already past due at `arrived` breaches at once, on arrival."""
    out: list[ev.Event] = []
    fresh: list[ClockState] = []
    for ch in changes:
        current = st.clock(ch.name)
        start_at = ch.start_at or st.learned_at or arrived
        if current is None or current.status == "cancelled":
            if current is not None:
                st.clocks.remove(current)
            current = ClockState(name=ch.name, due_at=ch.due_at, basis=ch.basis, started_at=start_at,
                                 provisional=ch.provisional, counted_from=ch.counted_from,
                                 extendable=ch.extendable, period=ch.duration, arrived_at=arrived, unit=ch.unit)
            st.clocks.append(current)
        else:
            current.due_at, current.provisional, current.warned = ch.due_at, ch.provisional, []
            current.arrived_at = arrived
            if ch.duration:
                current.started_at, current.period, current.counted_from = start_at, ch.duration, ch.counted_from
        fresh.append(current)
        out.append(ev.ClockStarted(id=ev.effect_id(cause, f"{tag}:{ch.name}"), incident_id=st.id, at=now,
                                   actor=ACTOR, causation_id=cause, clock=ch.name, due_at=ch.due_at,
                                   basis=ch.basis, provisional=ch.provisional, previous_due_at=ch.previous_due_at,
                                   start_at=start_at, counted_from=ch.counted_from, extendable=ch.extendable,
                                   unit=current.unit, period=current.period, arrived_at=arrived))
    st.clocks.sort(key=lambda c: _order(c.name))
    for c in fresh:
        if c.open and c.due_at <= arrived:
            out.extend(_breach(st, c, now, rules, on_arrival=True))
    return out


def _cancel(st: IncidentState, names: set[str], cause: str, actor: str, reason: str,
            now: datetime) -> list[ev.Event]:
    out: list[ev.Event] = []
    for c in st.clocks:
        if c.name in names and c.open:
            c.status = "cancelled"
            out.append(ev.ClockCancelled(id=ev.effect_id(cause, f"cancelled:{c.name}"), incident_id=st.id, at=now,
                                         actor=actor, causation_id=cause, clock=c.name, reason=reason))
    return out


def moments_of(st: IncidentState, graded_at: datetime) -> Moments:
    return Moments(reported=st.learned_at or graded_at, posted=st.posted_at, observed=st.observed_at,
                   graded=graded_at)


def step(state: IncidentState | None, event: ev.Event, rules: Rules,
         now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """Apply one of intake's or grading's events. (None, []) when nothing changed."""
    st = _copy(state, now) if state is not None else IncidentState(id=event.incident_id, updated_at=now)
    match event:
        case ev.IncidentReported(mention=m):
            if state is not None and state.learned_at is not None:
                return None, []
            st.learned_at = event.at
            st.posted_at = _earliest(st.posted_at, m.posted_at)
            st.observed_at = _earliest(st.observed_at, m.observed_at)
            return st, []
        case ev.MentionAdded(mention=m):
            # Later reports may say the post is older; running clocks keep their start (a
            # clock never moves behind the unit's back), new ones count from the earliest.
            posted, observed = _earliest(st.posted_at, m.posted_at), _earliest(st.observed_at, m.observed_at)
            if state is not None and (posted, observed) == (state.posted_at, state.observed_at):
                return None, []
            st.posted_at, st.observed_at = posted, observed
            return st, []
        case ev.IncidentAssigned():
            if st.owner is not None and st.owner != event.owner:
                # The new owner's slips start at zero, and it gets a whole reminder period
                # (a task stays with the unit it was handed to).
                for c in st.clocks:
                    if c.undone and not st.closed and not c.unit:
                        c.next_remind_at = _next_reminder(event.at, rules)
            st.owner = event.owner
            return st, []
        case ev.IncidentGraded():
            previous = st.grade
            st.grade, st.sentiment = event.grade, event.sentiment
            if st.closed:
                return st, []
            if st.learned_at is None:
                st.learned_at = event.at
            try:
                planned = plan_clocks(event.grade, moments_of(st, event.at), rules.cfg, rules.cal, event.sentiment)
            except ValueError:
                return st, []
            out: list[ev.Event] = []
            if previous is not None and previous != event.grade:
                kept = {r.name for r in rules.cfg.rules_for(event.grade)}
                gone = {c.name for c in st.clocks if c.open and c.name not in kept and task_of_clock(c.name) is None}
                out += _cancel(st, gone, event.id, event.actor,
                               f"grade {previous} → {event.grade}: grade {event.grade} has no such clock", now)
            # Clocks are only tightened here (never loosened silently): `tighten` skips later
            # due times and closed clocks; each change is recorded as clock.started.
            out += _start_clocks(st, tighten(st.clocks, planned), event.id, now, rules, arrived=event.at)
            return st, out
        case ev.StageChanged():
            # A stage is where the work is, not proof of it: it meets no clock.
            st.stage = event.stage
            return st, []
        case ev.IncidentClosed():
            out = _breach_overdue(st, event.at, now, rules)  # a breach before the close is a breach
            st.closed, st.stage = True, "closed"
            out += _cancel(st, {c.name for c in st.clocks}, event.id, event.actor, "incident closed", now)
            for c in st.clocks:
                c.next_remind_at = None
            return st, out
        case ev.StatementPublished():
            note = f"{event.channel} {event.url}"
            return _met_by_event(st, STATEMENT_CLOCK, event, note, now, rules)
        case ev.TaskAdded():
            if st.closed or st.clock(task_clock(event.task_id)) is not None:
                return None, []
            period = event.due if _is_duration(event.due) else ""
            change = ClockChange(name=task_clock(event.task_id), due_at=event.due_at, basis=event.basis,
                                 provisional=event.provisional, start_at=event.at, duration=period, unit=event.unit)
            return st, _start_clocks(st, [change], event.id, now, rules, arrived=event.at)
        case ev.TaskFedBack():
            return _met_by_event(st, task_clock(event.task_id), event, event.text[:NOTE_MAX], now, rules)
        case ev.IncidentSupervised():
            st.supervised_at = event.at if st.supervised_at is None else max(st.supervised_at, event.at)
            return st, []
    return None, []


# --- rebuilt from the stream (recovery/rebuild.py) ---------------------------------------------

# intake's and grading's events whose whole effect on the state `step` makes without deciding
# anything (no clock started, met, breached or cancelled): `learn` reuses `step` for them.
_KNOWLEDGE = (ev.IncidentReported, ev.MentionAdded, ev.IncidentAssigned, ev.StageChanged, ev.IncidentSupervised)


def learn(state: IncidentState | None, event: ev.Event, rules: Rules) -> IncidentState | None:
    """What one of intake's or grading's events told deadlines, without deciding: the moments,
    the owner, the grade, the stage, closing. The clocks come from deadlines' own events."""
    if event.incident_id == ev.NO_INCIDENT:
        return None
    if isinstance(event, _KNOWLEDGE):
        new, _ = step(state, event, rules, event.at)
        return new
    st = _copy(state, event.at) if state is not None else IncidentState(id=event.incident_id, updated_at=event.at)
    match event:
        case ev.IncidentGraded():
            st.grade, st.sentiment = event.grade, event.sentiment
            if st.learned_at is None:
                st.learned_at = event.at
            return st
        case ev.IncidentClosed():
            st.closed, st.stage = True, "closed"
            for c in st.clocks:
                c.next_remind_at = None
            return st
    return None


def _remind_base(cause: str | None, at: datetime) -> datetime:
    """When the next slip counts from after one at `at`: its scheduled time (in its cause,
    `…:remind@<time>`) unless it went out late (as `fire` does)."""
    if cause and "remind@" in cause:
        try:
            when = datetime.fromisoformat(cause.rsplit("remind@", 1)[1])
        except ValueError:
            return at
        return when if at - when <= LATE_AFTER else at
    return at


def restore(state: IncidentState | None, event: ev.Event, rules: Rules) -> IncidentState | None:
    """What deadlines decided, from one of its own events: each clock as recorded (started,
    moved, warned, breached, met, extended, cancelled), the slips and flags of each unit."""
    if event.incident_id == ev.NO_INCIDENT:
        return None
    st = _copy(state, event.at) if state is not None else IncidentState(id=event.incident_id, updated_at=event.at)
    if isinstance(event, ev.ClockStarted):
        _restore_start(st, event)
        return st
    c = st.clock(getattr(event, "clock", ""))
    if c is None:
        return None
    match event:
        case ev.ClockWarning():
            if event.point not in c.warned:
                c.warned.append(event.point)
        case ev.ClockBreached():
            c.status, c.on_arrival = "breached", event.on_arrival
            if not st.closed:
                c.next_remind_at = _next_reminder((c.arrived_at or event.at) if event.on_arrival else c.due_at, rules)
        case ev.UnitReminded():
            c.slips[event.unit] = event.count
            c.slip_at[event.unit] = event.at
            if not st.closed and event.causation_id and "remind@" in event.causation_id:
                c.next_remind_at = _next_reminder(_remind_base(event.causation_id, event.at), rules)
        case ev.UnitFlagged():
            if event.unit not in c.flagged_units:
                c.flagged_units.append(event.unit)
        case ev.ClockMet():
            c.met_at, c.met_by, c.next_remind_at = event.met_at or event.at, event.actor, None
            if not event.late:
                c.status = "met"
        case ev.ClockExtended():
            c.due_at, c.status, c.provisional, c.warned = event.due_at, "extended", False, []
        case ev.ClockCancelled():
            if c.open:
                c.status = "cancelled"
        case _:
            return None
    return st


def _restore_start(st: IncidentState, e: ev.ClockStarted) -> None:
    """A clock started or moved, as `_start_clocks` did it."""
    current = st.clock(e.clock)
    arrived = e.arrived_at or e.at
    start_at = e.start_at or st.learned_at or arrived
    if current is None or current.status == "cancelled":
        if current is not None:
            st.clocks.remove(current)
        st.clocks.append(ClockState(name=e.clock, due_at=e.due_at, basis=e.basis, started_at=start_at,
                                    provisional=e.provisional, counted_from=e.counted_from,
                                    extendable=e.extendable, period=e.period, arrived_at=arrived, unit=e.unit))
        st.clocks.sort(key=lambda c: _order(c.name))
        return
    current.due_at, current.provisional, current.warned, current.arrived_at = e.due_at, e.provisional, [], arrived
    if e.start_at is not None and e.counted_from:
        current.started_at, current.counted_from = start_at, e.counted_from
        current.period = e.period or current.period


def restore_sweep(state: SweepState, event: ev.Event) -> SweepState:
    """Sweeps as recorded: the last one, the recent ones, the windows missed (and judged up to
    the latest of deadlines' own events, so no window is judged twice)."""
    replace = msgspec.structs.replace
    checked = event.at if state.checked_until is None else max(state.checked_until, event.at)
    match event:
        case ev.SweepRecorded():
            recent = [t for t in state.recent if t > event.at - SWEEP_MEMORY] + [event.at]
            return replace(state, last_at=event.at, last_by=event.actor, recent=recent[-100:], checked_until=checked)
        case ev.SweepMissed():
            day = (event.causation_id or "").split(":")[1] if (event.causation_id or "").count(":") >= 2 else ""
            missed = [*state.missed, f"{day} {event.window}".strip()][-MAX_MISSED_SHOWN:]
            return replace(state, missed=missed, checked_until=checked)
    return replace(state, checked_until=checked)


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _meet(st: IncidentState, target: ClockState, at: datetime, actor: str, note: str, cause: str,
          now: datetime, rules: Rules) -> list[ev.Event]:
    """Meet `target` (in `st`, a copy) at `at`: met in time, or — past its due time — breached
    (first, if the timer had not fired) and recorded as met late."""
    out: list[ev.Event] = []
    if target.open and at > target.due_at:
        out += _breach(st, target, now, rules)  # the timer had not fired yet: the breach comes first
    late = target.status == "breached"
    target.met_at, target.met_by, target.next_remind_at = at, actor, None
    if not late:
        target.status = "met"
    span = _span(at - target.due_at)
    text = note if not late else (f"{note} (met late by {span})" if note else f"met late by {span}")
    out.append(ev.ClockMet(id=ev.effect_id(cause, f"met:{target.name}"), incident_id=st.id, at=now, actor=actor,
                           causation_id=cause, clock=target.name, note=text, due_at=target.due_at, late=late,
                           met_at=at))
    return out


def _met_by_event(st: IncidentState, clock: str, event: ev.Event, note: str, now: datetime,
                  rules: Rules) -> tuple[IncidentState | None, list[ev.Event]]:
    """intake's record of the act meets the clock, at the event's time; a clock that is not
    there, not open and not undone (met, cancelled) is left alone."""
    target = st.clock(clock)
    if target is None or not (target.open or target.undone):
        return None, []
    return st, _meet(st, target, event.at, event.actor, note, event.id, now, rules)


# --- commands -----------------------------------------------------------------------


def _require(state: IncidentState | None, incident_id: str, clock: str) -> tuple[IncidentState, ClockState]:
    if state is None:
        raise NotFound("incident_id", f"no incident {incident_id!r} with clocks",
                       zh=f"未找到设有时限的舆情 {incident_id!r}")
    c = state.clock(clock)
    if c is None:
        names = ", ".join(x.name for x in state.clocks) or "none"
        names_zh = "、".join(f"{named('clock', x.name, 'zh')}（`{x.name}`）" for x in state.clocks) or "无"
        raise Invalid("clock", f"incident {incident_id} has no clock {clock!r}; its clocks: {names}",
                      zh=f"舆情 {incident_id} 没有时限 {clock!r}；现有时限：{names_zh}")
    if state.closed:
        raise Conflict("incident_id", f"incident {incident_id} is closed; its clocks no longer change",
                       zh=f"舆情 {incident_id} 已结案，时限不再变更")
    return state, c


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins or not (days or hours) else ""]
    return "".join(parts)


def command_done(state: IncidentState | None, cmd: Done, ctx: Ctx,
                 rules: Rules) -> tuple[IncidentState, list[ev.Event]]:
    """`wb.cmd.done`: the act a clock measures is done. Met in time → status met; after its
    due time → it stays breached, recorded as met late."""
    clock, note, actor, now, request_id = cmd.clock, cmd.note, cmd.actor, ctx.now, ctx.request_id
    if state is not None and clock == STATEMENT_CLOCK:
        raise Conflict("clock", "the statement clock is met only by publishing the approved statement: "
                       f"watchboard statement publish {cmd.incident_id} --url URL --channel NAME",
                       zh="“权威发布”时限只能通过发布审核同意的通稿来完成："
                          f"`watchboard statement publish {cmd.incident_id} --url 网址 --channel 渠道`")
    if state is not None and (task := task_of_clock(clock)) is not None:
        raise Conflict("clock", f"a task is met by the unit's feedback: watchboard task feedback {task} --text \"…\"",
                       zh=f"交办任务以单位反馈为完成：`watchboard task feedback {task} --text \"…\"`")
    state, c = _require(state, cmd.incident_id, clock)
    clock_zh = named("clock", clock, "zh")
    if len(note) > NOTE_MAX:
        raise Invalid("note", f"the note is {len(note)} characters; at most {NOTE_MAX}",
                      zh=f"备注共 {len(note)} 个字符，超过上限 {NOTE_MAX} 个字符")
    if clock in NOTE_REQUIRED and not note.strip():
        raise Invalid("note", f"meeting {clock} needs a note: {NOTE_REQUIRED[clock]}",
                      zh=f"完成“{clock_zh}”须填写备注：{NOTE_REQUIRED_ZH[clock]}")
    if c.status == "breached" and c.met_at is not None:
        raise Conflict("clock", f"clock {clock} was already met late by {c.met_by}",
                       zh=f"时限“{clock_zh}”已由 {c.met_by} 逾期完成")
    if c.status not in ("running", "extended", "breached"):
        raise Conflict("clock", f"clock {clock} is {c.status}; only a running or breached clock can be met",
                       zh=f"时限“{clock_zh}”{named('clock.status', c.status, 'zh')}；"
                          "只有计时中或已超时的时限可以标记完成")
    st = _copy(state, now)
    target = st.clock(clock)
    assert target is not None
    return st, _meet(st, target, now, actor, note, request_id, now, rules)


def parse_due(value: object) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("due_at", "`due_at` is required: ISO 8601 with an offset, e.g. `2026-10-09T17:30:00+08:00`",
                      zh="请给出新的截止时间 `due_at`：带时区的 ISO 8601 格式，如 `2026-10-09T17:30:00+08:00`")
    try:
        due = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("due_at", f"{value[:60]!r} is not a time: use ISO 8601 with an offset, "
                      "e.g. `2026-10-09T17:30:00+08:00`",
                      zh=f"{value[:60]!r} 不是有效时间：请写成带时区的 ISO 8601 格式，如 `2026-10-09T17:30:00+08:00`"
                      ) from None
    if due.tzinfo is None:
        raise Invalid("due_at", f"{value[:60]!r} has no UTC offset; add one, e.g. +08:00",
                      zh=f"{value[:60]!r} 未注明时区，请加上，如 +08:00")
    return due.astimezone(UTC)


def command_extend(state: IncidentState | None, cmd: Extend, ctx: Ctx,
                   rules: Rules) -> tuple[IncidentState, list[ev.Event]]:
    """`wb.cmd.extend`: move an open clock later, where the plan allows it, never past `final`."""
    clock, reason, actor, now, request_id = cmd.clock, cmd.reason, cmd.actor, ctx.now, ctx.request_id
    state, current = _require(state, cmd.incident_id, clock)
    new_due = parse_due(cmd.due_at)
    if not reason.strip():
        raise Invalid("reason", "an extension needs a reason (say why, and the date promised)",
                      zh="延期须写明理由（说明原因及承诺办结的日期）")
    if len(reason) > NOTE_MAX:
        raise Invalid("reason", f"the reason is {len(reason)} characters; at most {NOTE_MAX}",
                      zh=f"理由共 {len(reason)} 个字符，超过上限 {NOTE_MAX} 个字符")
    final = state.clock("final")
    problem = extension_refusal(current, new_due, final.due_at if final is not None else None,
                                extendable=current.extendable, zone=rules.cal.zone)
    if problem is not None:
        field_name = "due_at" if current.open and current.extendable and clock != "final" else "clock"
        raise (Invalid if field_name == "due_at" else Conflict)(field_name, problem[0], zh=problem[1])
    st = _copy(state, now)
    c = st.clock(clock)
    assert c is not None
    previous = c.due_at
    c.due_at, c.status, c.provisional, c.warned = new_due, "extended", False, []
    return st, [ev.ClockExtended(id=request_id, incident_id=st.id, at=now, actor=actor, causation_id=request_id,
                                 clock=clock, due_at=new_due, previous_due_at=previous, reason=reason)]


# --- the calendar gained a year -----------------------------------------------------


def settle(state: IncidentState, rules: Rules, now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """Replan the open provisional clocks on the current calendar (after calendar.toml changed):
    each from its own start and period, so a firm time replaces the guess whichever way it moves."""
    marked = [c for c in state.clocks if c.open and c.provisional and c.period and c.status != "extended"]
    changes = []
    for c in marked:
        due, provisional = rules.cal.add(c.started_at, parse_duration(c.period))
        if due != c.due_at or not provisional:
            changes.append(ClockChange(name=c.name, due_at=due, basis=c.basis, provisional=provisional,
                                       previous_due_at=c.due_at, start_at=c.started_at,
                                       counted_from=c.counted_from, extendable=c.extendable, duration=c.period))
    if not changes:
        return None, []
    st = _copy(state, now)
    cause = f"{state.id}:settle:" + ",".join(f"{c.name}@{c.due_at.isoformat()}" for c in changes)
    return st, _start_clocks(st, changes, cause, now, rules, arrived=now, tag="settled")


# --- the timer ----------------------------------------------------------------------


class Entry(msgspec.Struct, frozen=True, order=True, array_like=True):
    """One timer entry in the heap, ordered by time: a warning point, a breach or a reminder."""

    when: datetime
    incident_id: str
    clock: str
    kind: str  # "breach" | "warning" | "remind"
    label: str
    due_at: datetime


def entries_for(state: IncidentState, rules: Rules, only: Collection[str] | None = None) -> list[Entry]:
    """The timer entries of `state`: each open clock's breach and unsent warnings, and the next
    reminder of each undone breached clock. Of the warning points that had already passed when
    the clock arrived (it counts from an older post), only the latest is kept. `only`: of
    those clocks alone."""
    out: list[Entry] = []
    for c in state.clocks:
        if only is not None and c.name not in only:
            continue
        if c.undone and c.next_remind_at is not None and not state.closed:
            out.append(Entry(when=c.next_remind_at, incident_id=state.id, clock=c.name, kind="remind",
                             label="", due_at=c.due_at))
        if not c.open:
            continue
        out.append(Entry(when=c.due_at, incident_id=state.id, clock=c.name, kind="breach", label="",
                         due_at=c.due_at))
        points = [(label, at) for label, at in
                  warning_times(c.started_at, c.due_at, rules.cfg, basis=c.basis, cal=rules.cal)
                  if label not in c.warned]
        if c.arrived_at is not None:
            past = [p for p in points if p[1] < c.arrived_at]
            points = past[-1:] + [p for p in points if p[1] >= c.arrived_at]
        for label, at in points:
            out.append(Entry(when=at, incident_id=state.id, clock=c.name, kind="warning", label=label,
                             due_at=c.due_at))
    return out


def changed_clocks(before: IncidentState | None, after: IncidentState) -> set[str] | None:
    """The clocks of `after` that differ from `before` (None: all, a new state). The timer holds
    the entries of a clock that did not change already: an entry is popped only when it fires,
    which changes its clock, or when it is stale, and a stale entry is not needed again."""
    if before is None:
        return None
    old = {c.name: c for c in before.clocks}
    return {c.name for c in after.clocks if old.get(c.name) != c}


def fire(state: IncidentState | None, entry: Entry, rules: Rules,
         now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """A popped entry: (None, []) if it is stale (clock closed, moved, met, or warned already)."""
    if state is None:
        return None, []
    c = state.clock(entry.clock)
    if c is None or c.due_at != entry.due_at:
        return None, []
    if entry.kind == "remind":
        if not c.undone or state.closed or c.next_remind_at != entry.when or now < entry.when:
            return None, []
        st, clock = _copy_one(state, entry.clock, now)
        cause = f"{timer_cause(st.id, clock)}:remind@{entry.when.astimezone(UTC).isoformat()}"
        out = _slip(st, clock, cause, now, rules)
        # After an outage the next slip still leaves the unit a whole period.
        base = entry.when if now - entry.when <= LATE_AFTER else now
        clock.next_remind_at = _next_reminder(base, rules)
        return st, out
    if not c.open:
        return None, []
    if entry.kind == "breach":
        if now < c.due_at:
            return None, []
        st, clock = _copy_one(state, entry.clock, now)
        return st, _breach(st, clock, now, rules)
    # A warning whose clock is already due is noise: the breach says more.
    if entry.label in c.warned or now >= c.due_at or now < entry.when:
        return None, []
    st, clock = _copy_one(state, entry.clock, now)
    clock.warned.append(entry.label)
    cause = timer_cause(st.id, clock)
    return st, [ev.ClockWarning(id=ev.effect_id(cause, f"warning:{entry.label}"), incident_id=st.id, at=now,
                                actor=ACTOR, causation_id=cause, clock=clock.name, due_at=clock.due_at,
                                point=entry.label, unit=clock.unit)]


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
