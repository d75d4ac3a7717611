"""deadlines: wiring only. Consumes intake's and grading's events, runs the response plans'
clocks on the working calendar, publishes clock, reminder, flag and sweep events, answers
`wb.cmd.done|extend|sweep`, and keeps `<id>.clocks`, `sys.sweep`, `sys.calendar` and
`sys.supervision` (the open grade I/II incidents with no supervision today).
See README.md beside this file; the rules are in logic.py.

Every change (consumer batch, command, timer firing, calendar reload) is one SQLite
transaction holding the new states, the processed event ids and the effect events (the
outbox); only after it commits are the effects published and the outbox rows deleted. A
crash anywhere leaves either nothing done, or a committed change whose effects the outbox
publishes on the next start, after dropping those the stream already holds.

`DeadlinesService` is what `build` returns (config loaded and checked); `start(rt)` opens the
store and returns a `Deadlines`, built only once everything it needs exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import aiosqlite
import msgspec

from watchboard.bus.command_path import CommandPath
from watchboard.bus.consumer import Delivered, catch_up
from watchboard.bus.endpoints import ok
from watchboard.bus.history import HistoryKeeper
from watchboard.bus.runtime import Runtime
from watchboard.bus.subjects import STREAM
from watchboard.config import ConfigError, ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.deadlines import DeadlinesConfig, load_deadlines
from watchboard.domain import events as ev
from watchboard.domain.bounds import bounded, check_effects, fit_view
from watchboard.domain.calendar import WorkCalendar, coverage_warning, covered_until
from watchboard.domain.commands import Command, Ctx, Done, Extend, Sweep
from watchboard.domain.supervision import MAJOR_GRADES, Watched, owed_on
from watchboard.domain.views import (
    CALENDAR_KEY,
    SUPERVISION_KEY,
    SWEEP_KEY,
    CalendarView,
    ClocksView,
    SupervisionDayView,
    encode_view,
    kv_key,
)
from watchboard.recovery.keeper import ViewKeeper
from watchboard.recovery.views import encode_fitted, view_limit, waiting
from watchboard.services.deadlines.logic import (
    Entry,
    IncidentState,
    Rules,
    SweepState,
    Timer,
    changed_clocks,
    check_sweeps,
    command_done,
    command_extend,
    entries_for,
    fire,
    record_sweep,
    settle,
    step,
    sweep_view,
    view_of,
)
from watchboard.services.deadlines.probe import Probe
from watchboard.services.deadlines.rebuild import rebuild
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import get_meta, rebuild_pending, set_meta, start_on_db
from watchboard.store.states import StateTable, Transaction

log = logging.getLogger("watchboard.deadlines")

DURABLE = "deadlines"
TICK = 0.2  # seconds between timer checks (scaled by ServiceContext.tick in tests)
FIRE_CHUNK = 2000  # timer entries handled per SQLite transaction
KV_CHUNK = 1000
# Incidents whose `<id>.clocks` still has to be put: written with the change, deleted after
# the put, so a crash in between is repaired on start.
DIRTY_SCHEMA = "CREATE TABLE IF NOT EXISTS dirty_views (id TEXT PRIMARY KEY) WITHOUT ROWID;"
_sweep_dec = msgspec.json.Decoder(SweepState)


def _incident_of(entry: Entry) -> str:
    return entry.incident_id


def _major(state: IncidentState) -> bool:
    return state.grade in MAJOR_GRADES and not state.closed


def _watched(state: IncidentState | None) -> tuple[object, ...] | None:
    """What `sys.supervision` reads of a state: a change elsewhere leaves it as it was."""
    return None if state is None else (state.grade, state.closed, state.supervised_at)


def _shown(state: IncidentState | None) -> tuple[object, ...] | None:
    """What `<id>.clocks` is made of (None: nothing to show), compared instead of two views per
    changed incident: when it is equal the view is; when not, the view may still be (a field
    the view leaves out changed) and is put again, harmlessly."""
    if state is None or (not state.clocks and state.grade is None):
        return None
    return (state.clocks, state.supervised_at)


def _view_now(state: IncidentState | None) -> ClocksView | None:
    return view_of(state) if state is not None and _shown(state) is not None else None


class DeadlinesService:
    name = "deadlines"
    description = "runs the response plans' clocks on the working calendar; reminders, flags, sweeps"

    def __init__(self, cfg: DeadlinesConfig, cal: WorkCalendar, source: ConfigSource | None = None,
                 probe: Probe | None = None) -> None:
        self.rules = Rules(cfg, cal)
        self.source = source or ConfigSource()
        self.probe = probe or Probe()
        self.running: Deadlines | None = None  # while started

    async def start(self, rt: Runtime) -> Deadlines:
        async def begin(db: aiosqlite.Connection) -> Deadlines:
            self.running = Deadlines(rt, db, self.rules, self.source, self.probe)
            await self.running.start()
            return self.running

        schema = StateTable.schema("incidents") + Outbox.schema() + DIRTY_SCHEMA
        return await start_on_db(rt.ctx.data_dir / "deadlines.sqlite", schema, begin)

    async def reload(self) -> None:
        """SIGHUP (see Deadlines.reload)."""
        if self.running is not None:
            await self.running.reload()


def _closed_at(state: IncidentState) -> datetime | bool:
    """When a state closed, for the history: its last change once closed (the close itself as a
    rule; after a rebuild, the closing event's time rather than the rebuild's)."""
    return (state.updated_at or True) if state.closed else False


class Deadlines:
    """The running service: its store, state, timer and outbox all exist from construction."""

    def __init__(self, rt: Runtime, db: aiosqlite.Connection, rules: Rules, source: ConfigSource,
                 probe: Probe) -> None:
        if rt.nc is None or rt.endpoints is None or rt.publisher is None:
            raise RuntimeError("deadlines starts on a connected runtime")
        self.rt, self.db, self.rules, self.source, self.probe = rt, db, rules, source, probe
        self.nc, self.endpoints, self.publisher = rt.nc, rt.endpoints, rt.publisher
        self.states: StateTable[IncidentState] = StateTable(db, "incidents", IncidentState,
                                                            closed=_closed_at, clock=rt.now)
        self.history = HistoryKeeper(rt, self.states, "clocks")  # closed incidents out of the hot path
        # The state table's lock is the connection's one writer: the outbox's deletes commit.
        self.outbox = Outbox(db, rt.nc, STREAM, lock=self.states.lock, service="deadlines",
                             fault_subject=rt.subjects.event("deadlines", ev.NO_INCIDENT, "service.fault"))
        self.outbox.before_delete = lambda rows: probe.published([r.subject for r in rows])
        self.timer = Timer()
        self.sweep = SweepState()
        self.dirty_views: set[str] = set()  # KV puts still owed (also in the dirty_views table)
        # Each commit that changes a view bumps its incident's count: a put that began before
        # the change must not clear the view it did not show.
        self.changes: dict[str, int] = {}
        # Open grade I/II incidents (kept with every commit): what `sys.supervision` is about.
        self.major: set[str] = set()
        self.supervision: SupervisionDayView | None = None  # as last put
        # Whether a commit changed what `sys.supervision` is computed from (a grade, a close, a
        # supervision): computing it walks every open I/II incident, so a breach or a batch that
        # changed none of that does not (the minute's check and each reconcile round always do).
        self.supervision_stale = True
        # Reconciles `<id>.clocks` (puts go through `dirty_views`, which survives a crash).
        self.views = ViewKeeper(rt, "clocks", current=lambda k: _view_now(self.states.get(k)),
                                snapshot=self._all_views, history=self.history)

    async def gauges(self) -> dict[str, int]:
        """For health and metrics (bus/health.py): the clocks counting now."""
        running = sum(1 for st in list(self.states.items.values()) for c in st.clocks
                      if c.status in ("running", "extended"))
        return {"clocks_running": running}

    async def _all_views(self) -> dict[str, ClocksView]:
        return {k: view_of(st) for k, st in list(self.states.items.items()) if _shown(st) is not None}

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        rt = self.rt
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            self.probe.phase(name, now - mark)
            mark = now

        if await rebuild_pending(self.db):  # a new store: what the stream says, before serving
            await self.states.prepare()  # its closed_at column first: rebuilt rows are stamped as they commit
            await rebuild(self.rt, self.states, self.outbox, self.rules)
            lap("rebuild_s")
        loaded = await self.states.load(closed_since=self.history.memory_since())
        self.major = {k for k, st in self.states.items.items() if _major(st)}
        lap("load_s")
        async with self.db.execute("SELECT id FROM dirty_views") as cur:
            self.dirty_views.update([row[0] async for row in cur])
        stored = await get_meta(self.db, "sweep")
        if stored is not None:
            self.sweep = _sweep_dec.decode(msgspec.json.encode(stored))
        # Effects committed before a crash: drop those the stream holds, publish the rest.
        await self.outbox.recover()
        await self._flush()
        lap("outbox_recover_s")
        self.timer.rebuild([e for st in self.states.items.values() for e in entries_for(st, self.rules)])
        lap("heap_rebuild_s")
        log.info("deadlines: %d incidents, %d timer entries restored", loaded, len(self.timer))
        await self._settle_all()  # calendar.toml may have gained a year while we were down
        await self._publish_calendar()
        lap("settle_calendar_s")
        filters = [rt.subjects.from_service("intake"), rt.subjects.from_service("grading")]
        # Events that arrived while we were down come first: a clock met or cancelled then
        # must not breach now (and one that fell due before them breaches, late).
        caught = await catch_up(self.nc, DURABLE, filters, self.handle)
        if caught:
            log.info("deadlines: caught up %d events", caught)
        lap("consumer_catch_up_s")
        await self.tick()  # breaches that fell due while we were down go out at once, late
        lap("fire_overdue_s")
        log.info("deadlines: started")
        await rt.kv_put(SWEEP_KEY, encode_view(sweep_view(self.sweep)))
        await self._put_supervision()
        rt.consume(DURABLE, filters, self.handle)
        self.history.schedule()
        self.views.schedule(before=self._reput_sys)
        rt.every(TICK, self.tick, "clock timer")
        rt.every(1.0, self._housekeeping, "outbox flush")
        rt.every(60.0, partial(self._put_supervision, always=True), "supervision of the day")  # the day turns over
        path = CommandPath(lock=self.states.lock, begin=self.states.begin, finish=self._commit,
                           after=self._after_command, now=rt.now)
        limit = lambda: self.nc.max_payload  # noqa: E731 - a command that cannot travel is refused first
        await path.serve(self.endpoints, rt.subjects.command("done"), Done, bounded(self._done, limit), self._reply)
        await path.serve(self.endpoints, rt.subjects.command("extend"), Extend, bounded(self._extend, limit),
                         self._reply)
        await self.endpoints.command(Sweep, rt.subjects.command("sweep"), self.on_sweep)

    async def close(self) -> None:
        await self.db.close()

    # --- the commit path -------------------------------------------------------------------

    def _rows(self, effects: Iterable[ev.Event]) -> list[tuple[str, str, bytes]]:
        return [(e.id, self.publisher.subject_of(e), ev.encode_event(e)) for e in effects]

    async def _commit(self, tx: Transaction[IncidentState], effects: list[ev.Event],
                      sweep: SweepState | None = None) -> dict[str, IncidentState]:
        """States, processed ids, sweep state, effect rows and owed views in ONE SQLite transaction."""
        before = {k: self.states.items.get(k) for k in tx.overlay}
        if effects:
            await self.outbox.add(self._rows(effects))
        if sweep is not None:
            await set_meta(self.db, "sweep", msgspec.to_builtins(sweep))
        dirty = [k for k, st in tx.overlay.items() if _shown(st) is not None and _shown(st) != _shown(before[k])]
        if dirty:
            await self.db.executemany("INSERT OR IGNORE INTO dirty_views(id) VALUES (?)", [(k,) for k in dirty])
        changed = await tx.commit()
        self.probe.committed(effects)
        if sweep is not None:
            self.sweep = sweep
        self.dirty_views.update(dirty)
        for key in dirty:
            self.changes[key] = self.changes.get(key, 0) + 1
        for key, st in changed.items():
            (self.major.add if _major(st) else self.major.discard)(key)
            old = before.get(key)
            if _watched(old) != _watched(st):
                self.supervision_stale = True
            if old is None or old.clocks != st.clocks:
                self.timer.push_all(entries_for(st, self.rules, changed_clocks(old, st)))
        return changed

    async def _flush(self) -> None:
        """Publish what the outbox holds; a failure is retried by housekeeping, not raised."""
        try:
            await self.outbox.flush()
        except Exception as exc:
            log.warning("deadlines: publishing effects failed (%s); they stay queued", exc)

    async def _put_views(self) -> None:
        """The owed `<id>.clocks`, each once its facts are in the stream: an incident with effects
        still in the outbox keeps its view owed until they are published."""
        # Counted before the outbox is read: a change committed after this (a batch or a timer
        # chunk running meanwhile) may not be in the stream yet, so its view waits for the next
        # round; one committed before it is either published or held.
        seen = {key: self.changes.get(key, 0) for key in self.dirty_views}
        held = await waiting(self.outbox, self.rt.subjects)
        keys = [k for k in seen if k not in held]
        limit = view_limit(self.nc)
        for start in range(0, len(keys), KV_CHUNK):
            chunk = [k for k in keys[start:start + KV_CHUNK] if self.changes.get(k, 0) == seen[k]]
            # None for an incident off the board (a late event long after the close).
            views = {kv_key(key, "clocks"): view_of(st) for key in chunk
                     if (st := self.states.get(key)) is not None and self.history.on_board(key)}
            try:
                await self.rt.kv_put_many(encode_fitted(views, limit, "deadlines"))
            except Exception as exc:
                log.warning("deadlines: KV put failed (%s); retrying", exc)
                return
            async with self.states.lock:  # the connection's one writer (a commit takes all pending writes)
                put = [k for k in chunk if self.changes.get(k, 0) == seen[k]]  # not changed during the put
                self.dirty_views.difference_update(put)
                await self.db.executemany("DELETE FROM dirty_views WHERE id = ?", [(k,) for k in put])
                await self.db.commit()

    async def _after(self) -> None:
        await self._flush()
        await self._put_views()
        await self._put_supervision()

    async def _reput_sys(self) -> None:
        """With each reconcile round: `sys.sweep` again, `sys.supervision` recomputed and put."""
        await self.rt.kv_put(SWEEP_KEY, encode_view(sweep_view(self.sweep)))
        self.supervision = None  # computed and put again
        await self._put_supervision()

    async def _put_supervision(self, always: bool = False) -> None:
        """`sys.supervision` for today, put when it differs from what was last put; computed only
        when a commit changed what it reads, or `always` (the day may have turned)."""
        if not (always or self.supervision_stale or self.supervision is None):
            return
        self.supervision_stale = False
        now = self.rt.now()
        cal = self.rules.cal
        watched = [Watched(id=k, grade=st.grade, open=not st.closed, supervised_at=st.supervised_at)
                   for k in self.major if (st := self.states.get(k)) is not None]
        view = owed_on(cal.local(now).date(), watched, cal)
        if self.supervision is not None and view == self.supervision:
            return
        try:
            data, _ = fit_view(msgspec.structs.replace(view, updated_at=now), view_limit(self.nc))
            await self.rt.kv_put(SUPERVISION_KEY, data)  # thousands of open I/II incidents: ids summarised
        except Exception as exc:  # retried by the next change or the minute's check
            log.warning("deadlines: putting %s failed (%s); retrying", SUPERVISION_KEY, exc)
            self.supervision_stale = True
            return
        self.supervision = view

    async def _housekeeping(self) -> None:
        if await self.outbox.pending():
            await self._flush()
        if self.dirty_views:
            await self._put_views()

    # --- consumer --------------------------------------------------------------------------

    async def handle(self, batch: Sequence[Delivered]) -> None:
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            # Events of no incident (sweeps) change no clock.
            effects = await tx.fold(batch, lambda st, e: (None, []) if e.incident_id == ev.NO_INCIDENT
                                    else step(st, e, self.rules, now))
            await self._commit(tx, effects)
        self.probe.reached("committed")
        # Committed: the consumer may ack now; publishing is the outbox's job, then the views.
        await self._flush()
        self.probe.reached("flushed")
        await self._put_views()
        await self._put_supervision()

    # --- timer -----------------------------------------------------------------------------

    async def tick(self) -> None:
        while True:
            async with self.states.lock:
                now = self.rt.now()
                due = self.timer.pop_due(now, FIRE_CHUNK)
                if not due:
                    break
                tx = self.states.begin()
                effects = tx.fold_each(due, _incident_of, partial(fire, rules=self.rules, now=now))
                if effects:
                    await self._commit(tx, effects)
            await self._flush()
            await self._put_views()
        await self._put_supervision()
        await self._check_sweeps()

    # --- sweeps ------------------------------------------------------------------------------

    async def _check_sweeps(self) -> None:
        async with self.states.lock:
            first = self.sweep.checked_until is None
            new, missed = check_sweeps(self.sweep, self.rt.now(), self.rules)
            if not missed and not first:
                # Nothing to record: after a crash the windows since the stored mark are judged
                # again, with the same result (sweeps are committed when recorded).
                self.sweep = new
                return
            await self._commit(self.states.begin(), list(missed), sweep=new)
        if missed:
            await self._flush()
            await self.rt.kv_put(SWEEP_KEY, encode_view(sweep_view(new)))

    async def on_sweep(self, cmd: Sweep) -> dict[str, Any]:
        now = self.rt.now()
        async with self.states.lock:
            new, event = record_sweep(self.sweep, cmd.note, cmd.actor, ev.new_ulid(now), now)
            check_effects([event], self.nc.max_payload, cmd)
            await self._commit(self.states.begin(), [event], sweep=new)
        await self.outbox.flush()  # a request: reply ok only once the effect is in the stream
        await self.rt.kv_put(SWEEP_KEY, encode_view(sweep_view(new)))
        return ok(event_id=event.id, at=now.astimezone(self.rules.cal.zone).isoformat())

    # --- commands ----------------------------------------------------------------------------

    async def _after_command(self, _: object) -> None:
        """For a request: reply ok only once the effect is in the stream, then the view."""
        await self.outbox.flush()
        await self._put_views()

    def _done(self, state: IncidentState | None, cmd: Done, ctx: Ctx) -> tuple[IncidentState, list[ev.Event]]:
        return command_done(state, cmd, ctx, self.rules)  # the rules of now: a reload swaps them

    def _extend(self, state: IncidentState | None, cmd: Extend, ctx: Ctx) -> tuple[IncidentState, list[ev.Event]]:
        return command_extend(state, cmd, ctx, self.rules)

    def _reply(self, cmd: Command, effects: list[ev.Event]) -> dict[str, Any]:
        """{incident_id, clock, event_id}; an extension adds the new due time, a late meeting says so."""
        assert isinstance(cmd, Done | Extend)
        reply = ok(incident_id=cmd.incident_id, clock=cmd.clock, event_id=effects[-1].id)
        last = effects[-1]
        zone = self.rules.cal.zone
        if isinstance(last, ev.ClockExtended):
            reply["due_at"] = last.due_at.astimezone(zone).isoformat()
        elif isinstance(last, ev.ClockMet) and last.late and last.due_at is not None:
            reply["late"] = True
            reply["due_at"] = last.due_at.astimezone(zone).isoformat()
        return reply

    # --- the calendar --------------------------------------------------------------------------

    async def _publish_calendar(self) -> None:
        cal = self.rules.cal
        today = cal.local(self.rt.now()).date()
        until = covered_until(cal)
        en, zh = coverage_warning(cal, today, "en"), coverage_warning(cal, today, "zh")
        if en:
            log.warning("deadlines: %s", en)
        view = CalendarView(covered_until=None if until == until.min else until, warning_en=en, warning_zh=zh,
                            updated_at=self.rt.now())
        await self.rt.kv_put(CALENDAR_KEY, encode_view(view))

    async def _settle_all(self) -> int:
        """Replan provisional open clocks on the current calendar; returns how many incidents changed."""
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            effects = tx.fold_each(list(self.states.items), lambda key: key,
                                   lambda st, _: settle(st, self.rules, now) if st is not None else (None, []))
            changed = await self._commit(tx, effects) if tx.overlay else {}
        await self._after()
        return len(changed)

    async def reload(self) -> None:
        """SIGHUP: re-read calendar.toml; firm up provisional clocks the new data covers."""
        try:
            cal = WorkCalendar(load_calendar(self.source))
        except ConfigError as exc:
            log.error("deadlines: reload refused, keeping the old calendar: %s", exc)
            return
        self.rules = Rules(self.rules.cfg, cal)
        changed = await self._settle_all()
        await self._publish_calendar()
        log.info("deadlines: calendar reloaded; %d incidents' clocks recomputed", changed)


def build(source: ConfigSource, probe: Probe | None = None) -> DeadlinesService:
    """Load and check deadlines.toml and calendar.toml (errors name file and key)."""
    return DeadlinesService(load_deadlines(source), WorkCalendar(load_calendar(source)), source, probe)
