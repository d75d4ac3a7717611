"""deadlines: wiring only. Consumes intake's and grading's events, runs the response plans'
clocks on the working calendar, publishes clock, reminder, flag and sweep events, answers
`wb.cmd.done|extend|sweep`, and keeps `<id>.clocks`, `sys.sweep` and `sys.calendar`.
See README.md beside this file; the rules are in logic.py.

Every change (consumer batch, command, timer firing, calendar reload) is one SQLite
transaction holding the new states, the processed event ids and the effect events (the
outbox); only after it commits are the effects published and the outbox rows deleted. A
crash anywhere leaves either nothing done, or a committed change whose effects the outbox
publishes on the next start, after dropping those the stream already holds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import msgspec

from watchboard.bus.consumer import Delivered, catch_up
from watchboard.bus.endpoints import ok, text_field
from watchboard.bus.runtime import Runtime
from watchboard.bus.subjects import STREAM
from watchboard.config import ConfigError, ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.deadlines import DeadlinesConfig, load_deadlines
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar, coverage_warning, covered_until
from watchboard.domain.views import CALENDAR_KEY, SWEEP_KEY, CalendarView, encode_view, kv_key
from watchboard.services.deadlines.logic import (
    IncidentState,
    Rules,
    SweepState,
    Timer,
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
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import get_meta, open_db, set_meta
from watchboard.store.states import StateTable, Transaction

log = logging.getLogger("watchboard.deadlines")

# Failpoints for the crash tests (tests/e2e): the process dies at once, as under kill -9,
#   "after-commit"   a breach is committed with its outbox rows but not yet published;
#   "after-publish"  a breach is published but its outbox row not yet deleted.
FAULT_ENV = "WATCHBOARD_DEADLINES_FAULT"


def _die_if(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        log.error("deadlines: failpoint %s: exiting now", point)
        os._exit(137)

DURABLE = "deadlines"
TICK = 0.2  # seconds between timer checks (scaled by ServiceContext.tick in tests)
FIRE_CHUNK = 2000  # timer entries handled per SQLite transaction
KV_CHUNK = 1000
# Incidents whose `<id>.clocks` still has to be put: written with the change, deleted after
# the put, so a crash in between is repaired on start.
DIRTY_SCHEMA = "CREATE TABLE IF NOT EXISTS dirty_views (id TEXT PRIMARY KEY) WITHOUT ROWID;"
_sweep_enc = msgspec.json.Encoder()
_sweep_dec = msgspec.json.Decoder(SweepState)




class DeadlinesService:
    name = "deadlines"
    description = "runs the response plans' clocks on the working calendar; reminders, flags, sweeps"

    def __init__(self, cfg: DeadlinesConfig, cal: WorkCalendar, source: ConfigSource | None = None) -> None:
        self.rules = Rules(cfg, cal)
        self.source = source or ConfigSource()
        self.db: aiosqlite.Connection | None = None
        self.states: StateTable[IncidentState] | None = None
        self.outbox: Outbox | None = None
        self.rt: Runtime | None = None
        self.timer = Timer()
        self.sweep = SweepState()
        self.dirty_views: set[str] = set()  # KV puts that failed, retried by the tick
        # Seconds between each breach's due time and its emission (for the bench and logs).
        self.lateness: list[float] = []
        self.timings: dict[str, float] = {}  # start-up phases, seconds

    # --- life cycle ----------------------------------------------------------------------

    async def start(self, rt: Runtime) -> None:
        self.rt = rt
        assert rt.nc is not None and rt.endpoints is not None
        self.db = await open_db(rt.ctx.data_dir / "deadlines.sqlite",
                                StateTable.schema("incidents") + Outbox.schema() + DIRTY_SCHEMA)
        self.states = StateTable(self.db, "incidents", IncidentState)
        self.outbox = Outbox(self.db, rt.nc, STREAM)
        if os.environ.get(FAULT_ENV) == "after-publish":
            self.outbox.before_delete = lambda rows: (
                _die_if("after-publish") if any(r.subject.endswith(".clock.breached") for r in rows) else None)
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            self.timings[name] = round(now - mark, 3)
            mark = now

        loaded = await self.states.load()
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
        caught = await catch_up(rt.nc, DURABLE, filters, self.handle)
        if caught:
            log.info("deadlines: caught up %d events", caught)
        lap("consumer_catch_up_s")
        await self.tick()  # breaches that fell due while we were down go out at once, late
        lap("fire_overdue_s")
        log.info("deadlines: started in %.2fs %s", sum(self.timings.values()), self.timings)
        await rt.kv_put(SWEEP_KEY, encode_view(sweep_view(self.sweep)))
        rt.consume(DURABLE, filters, self.handle)
        rt.every(TICK, self.tick, "clock timer")
        rt.every(1.0, self._housekeeping, "outbox flush")
        await rt.endpoints.add("done", rt.subjects.command("done"), self.on_done)
        await rt.endpoints.add("extend", rt.subjects.command("extend"), self.on_extend)
        await rt.endpoints.add("sweep", rt.subjects.command("sweep"), self.on_sweep)

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()

    # --- the commit path -------------------------------------------------------------------

    def _rows(self, effects: Iterable[ev.Event]) -> list[tuple[str, str, bytes]]:
        assert self.rt is not None and self.rt.publisher is not None
        pub = self.rt.publisher
        return [(e.id, pub.subject_of(e), ev.encode_event(e)) for e in effects]

    async def _commit(self, tx: Transaction[IncidentState], effects: list[ev.Event],
                      sweep: SweepState | None = None) -> dict[str, IncidentState]:
        """States, processed ids, sweep state and effect rows in ONE SQLite transaction."""
        assert self.outbox is not None and self.db is not None
        before = {k: self.states.items.get(k) for k in tx.overlay} if self.states else {}
        if effects:
            await self.outbox.add(self._rows(effects))
        if sweep is not None:
            await set_meta(self.db, "sweep", msgspec.to_builtins(sweep))
        dirty = []
        for key, st in tx.overlay.items():
            old = before.get(key)
            if (old is None or old.grade is None or old.clocks != st.clocks or old.reminders != st.reminders
                    or old.flagged != st.flagged) and (st.clocks or st.grade is not None):
                dirty.append(key)
        if dirty:
            await self.db.executemany("INSERT OR IGNORE INTO dirty_views(id) VALUES (?)", [(k,) for k in dirty])
        changed = await tx.commit()
        if sweep is not None:
            self.sweep = sweep
        self.dirty_views.update(dirty)
        for key, st in changed.items():
            old = before.get(key)
            if old is None or old.clocks != st.clocks:
                self.timer.push_all(entries_for(st, self.rules))
        return changed

    async def _flush(self) -> None:
        """Publish what the outbox holds; a failure is retried by housekeeping, not raised."""
        assert self.outbox is not None
        try:
            await self.outbox.flush()
        except Exception as exc:
            log.warning("deadlines: publishing effects failed (%s); they stay queued", exc)

    async def _put_views(self) -> None:
        assert self.rt is not None and self.states is not None
        keys = list(self.dirty_views)
        for start in range(0, len(keys), KV_CHUNK):
            chunk = keys[start:start + KV_CHUNK]
            items = {}
            for key in chunk:
                st = self.states.get(key)
                if st is not None:
                    items[kv_key(key, "clocks")] = encode_view(view_of(st))
            try:
                await self.rt.kv_put_many(items)
            except Exception as exc:
                log.warning("deadlines: KV put failed (%s); retrying", exc)
                return
            self.dirty_views.difference_update(chunk)
            assert self.db is not None
            await self.db.executemany("DELETE FROM dirty_views WHERE id = ?", [(k,) for k in chunk])
            await self.db.commit()

    async def _after(self) -> None:
        await self._flush()
        await self._put_views()

    async def _housekeeping(self) -> None:
        assert self.outbox is not None
        if await self.outbox.pending():
            await self._flush()
        if self.dirty_views:
            await self._put_views()

    # --- consumer --------------------------------------------------------------------------

    async def handle(self, batch: Sequence[Delivered]) -> None:
        assert self.states is not None and self.rt is not None
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            # Events of no incident (sweeps) change no clock.
            effects = await tx.fold(batch, lambda st, e: (None, []) if e.incident_id == ev.NO_INCIDENT
                                    else step(st, e, self.rules, now))
            await self._commit(tx, effects)
            self._note_breaches(effects)
        # Committed: the consumer may ack now; publishing is the outbox's job.
        await self._after()

    # --- timer -----------------------------------------------------------------------------

    async def tick(self) -> None:
        assert self.states is not None and self.rt is not None
        while True:
            async with self.states.lock:
                now = self.rt.now()
                due = self.timer.pop_due(now, FIRE_CHUNK)
                if not due:
                    break
                tx = self.states.begin()
                effects: list[ev.Event] = []
                for entry in due:
                    new, out = fire(tx.get(entry.incident_id), entry, self.rules, now)
                    if new is not None:
                        tx.put(entry.incident_id, new)
                        effects.extend(out)
                if effects:
                    await self._commit(tx, effects)
                    self._note_breaches(effects)
                    if any(isinstance(e, ev.ClockBreached) for e in effects):
                        _die_if("after-commit")
            await self._after()
        await self._check_sweeps()

    def _note_breaches(self, effects: list[ev.Event]) -> None:
        for e in effects:
            if isinstance(e, ev.ClockBreached):
                # Lateness in the service's clock (the FakeClock in tests, wall time otherwise).
                self.lateness.append((e.at - e.due_at).total_seconds())

    # --- sweeps ------------------------------------------------------------------------------

    async def _check_sweeps(self) -> None:
        assert self.states is not None and self.rt is not None
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

    async def on_sweep(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        assert self.states is not None and self.rt is not None
        actor = text_field(payload, "actor")
        note = text_field(payload, "note", required=False)
        now = self.rt.now()
        async with self.states.lock:
            new, event = record_sweep(self.sweep, note, actor, ev.new_ulid(now), now)
            await self._commit(self.states.begin(), [event], sweep=new)
        await self._flush_or_raise()
        await self.rt.kv_put(SWEEP_KEY, encode_view(sweep_view(new)))
        return ok(event_id=event.id, at=now.isoformat())

    # --- commands ----------------------------------------------------------------------------

    async def _flush_or_raise(self) -> None:
        """For a request: reply ok only once the effect is in the stream."""
        assert self.outbox is not None
        await self.outbox.flush()

    async def _command(self, payload: dict[str, Any], run) -> dict[str, Any]:
        assert self.states is not None and self.rt is not None
        incident_id = text_field(payload, "incident_id")
        actor = text_field(payload, "actor")
        clock = text_field(payload, "clock")
        now = self.rt.now()
        async with self.states.lock:
            tx = self.states.begin()
            new, effects = run(tx.get(incident_id), incident_id, clock, actor, ev.new_ulid(now), now)
            tx.put(incident_id, new)
            await self._commit(tx, effects)
        await self._flush_or_raise()
        await self._put_views()
        reply = ok(incident_id=incident_id, clock=clock, event_id=effects[-1].id)
        met = effects[-1]
        if isinstance(met, ev.ClockMet) and met.late and met.due_at is not None:
            reply["late"] = True
            reply["due_at"] = met.due_at.astimezone(self.rules.cal.zone).isoformat()
        return reply

    async def on_done(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        note = text_field(payload, "note", required=False)
        return await self._command(payload, lambda st, i, clock, actor, rid, now: command_done(
            st, i, clock, note, actor, rid, now, self.rules))

    async def on_extend(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        reason = text_field(payload, "reason", required=False)
        due_at = payload.get("due_at")
        reply = await self._command(payload, lambda st, i, clock, actor, rid, now: command_extend(
            st, i, clock, due_at, reason, actor, rid, now, self.rules))
        st = self.states.get(reply["incident_id"]) if self.states else None
        c = st.clock(reply["clock"]) if st else None
        if c is not None:
            reply["due_at"] = c.due_at.astimezone(self.rules.cal.zone).isoformat()
        return reply

    # --- the calendar --------------------------------------------------------------------------

    async def _publish_calendar(self) -> None:
        assert self.rt is not None
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
        assert self.states is not None and self.rt is not None
        async with self.states.lock:
            tx = self.states.begin()
            effects: list[ev.Event] = []
            now = self.rt.now()
            for key, st in self.states.items.items():
                new, out = settle(st, self.rules, now)
                if new is not None:
                    tx.put(key, new)
                    effects.extend(out)
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


def build(source: ConfigSource) -> DeadlinesService:
    """Load and check deadlines.toml and calendar.toml (errors name file and key)."""
    return DeadlinesService(load_deadlines(source), WorkCalendar(load_calendar(source)), source)

