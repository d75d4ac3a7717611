"""grading: wiring only. Consumes intake's events, publishes grades and owners, answers
`wb.cmd.regrade`, `wb.cmd.release`, `wb.cmd.assign`, `wb.cmd.flag` and `wb.cmd.unflag`.
See README.md beside this file; the rules are in logic.py.

`GradingService` is what `build` returns (config loaded and checked); `start(rt)` opens the
store and returns a `Grading`, built only once everything it needs exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import aiosqlite
import msgspec

from watchboard.bus.command_path import CommandPath
from watchboard.bus.consumer import Delivered
from watchboard.bus.endpoints import ok
from watchboard.bus.history import HistoryKeeper
from watchboard.bus.runtime import Runtime
from watchboard.bus.subjects import STREAM
from watchboard.config import ConfigSource
from watchboard.config.grading import GradingConfig, load_grading
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain import events as ev
from watchboard.domain.bounds import bounded, too_large
from watchboard.domain.commands import Assign, Command, Flag, Regrade, Release, Unflag
from watchboard.domain.grading.grades import grade_labels
from watchboard.recovery.keeper import ViewKeeper
from watchboard.recovery.probe import Failpoints
from watchboard.recovery.rebuild import rebuild_states
from watchboard.services.grading.logic import (
    IncidentState,
    command_assign,
    command_flag,
    command_regrade,
    command_release,
    command_unflag,
    learn,
    restore,
    step,
    view_of,
)
from watchboard.store import deadletter
from watchboard.store.deadletter import DeadLetter
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import rebuild_pending, start_on_db
from watchboard.store.states import StateTable, Transaction

log = logging.getLogger("watchboard.grading")
DURABLE = "grading"


class GradingService:
    name = "grading"
    description = "grades incidents I–IV and puts the owning unit in charge"

    def __init__(self, grading: GradingConfig, units: UnitsConfig, probe: Failpoints | None = None) -> None:
        self.grading = grading
        self.units = units
        self.probe = probe or Failpoints()

    async def start(self, rt: Runtime) -> Grading:
        async def begin(db: aiosqlite.Connection) -> Grading:
            running = Grading(rt, db, self.grading, self.units, self.probe)
            await running.start()
            return running

        schema = StateTable.schema("incidents") + Outbox.schema()
        return await start_on_db(rt.ctx.data_dir / "grading.sqlite", schema, begin)


def _closed_at(state: IncidentState) -> datetime | bool:
    """When a state closed, for the history: its last change once closed (the close itself as a
    rule; after a rebuild, the closing event's time rather than the rebuild's)."""
    return (state.updated_at or True) if state.closed else False


class Grading:
    """The running service: its store and state exist from construction."""

    def __init__(self, rt: Runtime, db: aiosqlite.Connection, grading: GradingConfig, units: UnitsConfig,
                 probe: Failpoints) -> None:
        if rt.nc is None or rt.publisher is None or rt.endpoints is None:
            raise RuntimeError("grading starts on a connected runtime")
        self.rt, self.db, self.grading, self.units, self.probe = rt, db, grading, units, probe
        self.nc, self.publisher, self.endpoints = rt.nc, rt.publisher, rt.endpoints
        self.states: StateTable[IncidentState] = StateTable(db, "incidents", IncidentState,
                                                            closed=_closed_at, clock=rt.now)
        self.history = HistoryKeeper(rt, self.states, "grade")  # closed incidents out of the hot path
        self.labels = grade_labels(grading)  # the profile's grade names, in every view
        # Commands' effects (a command has no redelivery): committed with the state, then published.
        self.outbox = Outbox(db, rt.nc, STREAM, lock=self.states.lock, service="grading",
                             fault_subject=rt.subjects.event("grading", ev.NO_INCIDENT, "service.fault"))
        self.views = ViewKeeper(rt, "grade", current=self._view, snapshot=self._all_views,
                                history=self.history)

    def _view(self, incident: str) -> msgspec.Struct | None:
        state = self.states.get(incident)
        return view_of(state, self.units, self.labels) if state is not None else None

    async def _all_views(self) -> Mapping[str, msgspec.Struct]:
        return {k: v for k, st in list(self.states.items.items())
                if (v := view_of(st, self.units, self.labels)) is not None}

    async def start(self) -> None:
        rt = self.rt
        if await rebuild_pending(self.db):  # a new store: what the stream says, before serving
            await self.states.prepare()  # its closed_at column first: rebuilt rows are stamped as they commit
            await rebuild_states(rt, self.states, self.outbox, durable=DURABLE,
                                 inputs=[rt.subjects.from_service("intake")], learn=learn, restore=restore,
                                 step=lambda st, e, now: step(st, e, self.grading, self.units, now))
        await self.states.load(closed_since=self.history.memory_since())
        # Commands committed before a crash: drop those the stream holds, publish the rest.
        await self.outbox.recover()
        await self._flush()
        self.history.schedule()
        rt.consume(DURABLE, [rt.subjects.from_service("intake")], self.handle)
        path = CommandPath(lock=self.states.lock, begin=self.states.begin, finish=self._commit_command,
                           after=self._after_command, now=rt.now)
        command = rt.subjects.command

        def checked(decide: Any) -> Any:  # refused before anything is written if it cannot travel
            return bounded(decide, lambda: self.nc.max_payload)

        await path.serve(self.endpoints, command("regrade"), Regrade,
                         checked(partial(command_regrade, grading=self.grading)), self._reply)
        await path.serve(self.endpoints, command("release"), Release,
                         checked(partial(command_release, grading=self.grading)), self._reply)
        await path.serve(self.endpoints, command("assign"), Assign,
                         checked(partial(command_assign, units=self.units)), self._reply)
        await path.serve(self.endpoints, command("flag"), Flag, checked(command_flag), self._reply)
        await path.serve(self.endpoints, command("unflag"), Unflag, checked(command_unflag), self._reply)
        rt.every(1.0, self._housekeeping, "outbox flush and owed views")
        self.views.schedule()

    async def close(self) -> None:
        await self.db.close()

    # --- the consumer: publish, then commit and put the views -------------------------------

    async def handle(self, batch: Sequence[Delivered]) -> None:
        """Effects published (acked), then state, processed ids and any dead letters committed,
        then the views put (their facts are in the stream by then); then the batch is acked.
        A failure before the commit leaves everything as it was: the batch comes again and makes
        the same effects (same ids). A view whose put fails after the commit is owed: put again by
        housekeeping, and by the reconcile round after a crash (the batch counts as processed)."""
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            effects = await tx.fold(batch, lambda st, e: step(st, e, self.grading, self.units, now))
            effects, letters = self._fit(effects)
            await self.publisher.publish_all(effects)
            self.probe.reached("published")
            views = {k: v for k, st in tx.overlay.items() if (v := view_of(st, self.units, self.labels)) is not None}
            if letters:
                await deadletter.put(self.db, letters)
            await tx.commit()
            self.probe.reached("committed")
            await self.views.put(views)

    def _fit(self, effects: list[ev.Event]) -> tuple[list[ev.Event], list[DeadLetter]]:
        """Effects too large for the bus are set aside (dead letters) with a fault in their place."""
        fit: list[ev.Event] = []
        letters: list[DeadLetter] = []
        for e in effects:
            data = ev.encode_event(e)
            if too_large(data, self.nc.max_payload):
                letter = DeadLetter(e.id, self.publisher.subject_of(e), data, 0.0,
                                    deadletter.too_large_reason(len(data), self.outbox.limit))
                letters.append(letter)
                fit.append(deadletter.fault("grading", letter))
                log.error("grading: effect %s (%s) moved to dead_letters: %s", e.id, ev.event_type(e), letter.reason)
            else:
                fit.append(e)
        return fit, letters

    # --- commands: commit with the outbox, publish, then the view ----------------------------

    async def _commit_command(self, tx: Transaction[IncidentState], effects: list[ev.Event]) -> list[str]:
        await self.outbox.add((e.id, self.publisher.subject_of(e), ev.encode_event(e)) for e in effects)
        changed = await tx.commit()
        self.probe.reached("command-committed")
        return list(changed)

    async def _after_command(self, changed: list[str]) -> None:
        """Reply ok only once the effect is in the stream; the view after it."""
        await self.outbox.flush()
        self.probe.reached("command-flushed")
        await self.views.put_now(changed)

    async def _flush(self) -> None:
        try:
            await self.outbox.flush()
        except Exception as exc:
            log.warning("grading: publishing a command's effects failed (%s); they stay queued", exc)

    async def _housekeeping(self) -> None:
        if await self.outbox.pending():
            await self._flush()
            if await self.outbox.pending():
                return  # views wait for their facts
        await self.views.put_owed()

    def _reply(self, cmd: Command, effects: list[ev.Event]) -> dict[str, Any]:
        """The incident, the event id, and what changed: the grade, the owner, or the flags now."""
        assert isinstance(cmd, Regrade | Release | Assign | Flag | Unflag)
        effect = effects[0]
        match effect:
            case ev.IncidentGraded():
                fields: dict[str, Any] = {"grade": effect.grade}
            case ev.IncidentAssigned():
                fields = {"owner": effect.owner}
            case ev.IncidentFlagged() | ev.IncidentUnflagged():
                state = self.states.get(cmd.incident_id)
                fields = {"kind": effect.kind, "flags": list(state.flags) if state else []}
            case _:
                fields = {}
        return ok(incident_id=cmd.incident_id, event_id=effect.id, **fields)


def build(source: ConfigSource, probe: Failpoints | None = None) -> GradingService:
    """Load and check the config (errors name file and key) and build the service."""
    return GradingService(load_grading(source), load_units(source), probe)
