"""grading: wiring only. Consumes intake's events, publishes grades and owners, answers
`wb.cmd.regrade`, `wb.cmd.release`, `wb.cmd.assign`, `wb.cmd.flag` and `wb.cmd.unflag`.
See README.md beside this file; the rules are in logic.py.

`GradingService` is what `build` returns (config loaded and checked); `start(rt)` opens the
store and returns a `Grading`, built only once everything it needs exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

import aiosqlite

from watchboard.bus.command_path import CommandPath
from watchboard.bus.consumer import Delivered
from watchboard.bus.endpoints import ok
from watchboard.bus.history import HistoryKeeper
from watchboard.bus.runtime import Runtime
from watchboard.config import ConfigSource
from watchboard.config.grading import GradingConfig, load_grading
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain import events as ev
from watchboard.domain.commands import Assign, Command, Flag, Regrade, Release, Unflag
from watchboard.domain.grading.grades import grade_labels
from watchboard.domain.views import encode_view, kv_key
from watchboard.services.grading.logic import (
    IncidentState,
    command_assign,
    command_flag,
    command_regrade,
    command_release,
    command_unflag,
    step,
    view_of,
)
from watchboard.store.sqlite import start_on_db
from watchboard.store.states import StateTable, Transaction


class GradingService:
    name = "grading"
    description = "grades incidents I–IV and puts the owning unit in charge"

    def __init__(self, grading: GradingConfig, units: UnitsConfig) -> None:
        self.grading = grading
        self.units = units

    async def start(self, rt: Runtime) -> Grading:
        async def begin(db: aiosqlite.Connection) -> Grading:
            running = Grading(rt, db, self.grading, self.units)
            await running.start()
            return running

        return await start_on_db(rt.ctx.data_dir / "grading.sqlite", StateTable.schema("incidents"), begin)


class Grading:
    """The running service: its store and state exist from construction."""

    def __init__(self, rt: Runtime, db: aiosqlite.Connection, grading: GradingConfig, units: UnitsConfig) -> None:
        if rt.publisher is None or rt.endpoints is None:
            raise RuntimeError("grading starts on a connected runtime")
        self.rt, self.db, self.grading, self.units = rt, db, grading, units
        self.publisher, self.endpoints = rt.publisher, rt.endpoints
        self.states: StateTable[IncidentState] = StateTable(db, "incidents", IncidentState,
                                                            closed=lambda s: s.closed, clock=rt.now)
        self.history = HistoryKeeper(rt, self.states, "grade")  # closed incidents out of the hot path
        self.labels = grade_labels(grading)  # the profile's grade names, in every view

    async def start(self) -> None:
        rt = self.rt
        await self.states.load(closed_since=self.history.memory_since())
        self.history.schedule()
        rt.consume("grading", [rt.subjects.from_service("intake")], self.handle)
        path = CommandPath(lock=self.states.lock, begin=self.states.begin, finish=self._finish, after=None,
                           now=rt.now)
        command = rt.subjects.command
        await path.serve(self.endpoints, command("regrade"), Regrade,
                         partial(command_regrade, grading=self.grading), self._reply)
        await path.serve(self.endpoints, command("release"), Release,
                         partial(command_release, grading=self.grading), self._reply)
        await path.serve(self.endpoints, command("assign"), Assign, partial(command_assign, units=self.units),
                         self._reply)
        await path.serve(self.endpoints, command("flag"), Flag, command_flag, self._reply)
        await path.serve(self.endpoints, command("unflag"), Unflag, command_unflag, self._reply)

    async def close(self) -> None:
        await self.db.close()

    async def _finish(self, tx: Transaction[IncidentState], effects: list[ev.Event]) -> None:
        """Publish the effects and put the KV views together, then commit (see store/states.py).

        The views go out with the effects, not after the commit, to save one round of disk
        syncs per batch: if the commit then fails, the batch is redelivered and computes the
        same views and effects again, so the bucket never shows what the stream will not."""
        views = {}
        for key, state in tx.overlay.items():
            if not self.history.on_board(key):  # closed long ago: its key has left the board
                continue
            view = view_of(state, self.units, self.labels)
            if view is not None:
                views[kv_key(key, "grade")] = encode_view(view)
        await asyncio.gather(self.publisher.publish_all(effects), self.rt.kv_put_many(views))
        await tx.commit()

    async def handle(self, batch: Sequence[Delivered]) -> None:
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            effects = await tx.fold(batch, lambda st, e: step(st, e, self.grading, self.units, now))
            await self._finish(tx, effects)

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


def build(source: ConfigSource) -> GradingService:
    """Load and check the config (errors name file and key) and build the service."""
    return GradingService(load_grading(source), load_units(source))
