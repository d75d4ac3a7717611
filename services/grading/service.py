"""grading: wiring only. Consumes intake's events, publishes grades and owners, answers
`wb.cmd.regrade`, `wb.cmd.release`, `wb.cmd.assign`, `wb.cmd.flag` and `wb.cmd.unflag`.
See README.md beside this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiosqlite

from watchboard.bus.consumer import Delivered
from watchboard.bus.endpoints import ok, text_field
from watchboard.bus.runtime import Runtime
from watchboard.config import ConfigSource
from watchboard.config.grading import GradingConfig, load_grading
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain import events as ev
from watchboard.domain.errors import Invalid
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
from watchboard.store.sqlite import open_db
from watchboard.store.states import StateTable, Transaction


class GradingService:
    name = "grading"
    description = "grades incidents I–IV and puts the owning unit in charge"

    def __init__(self, grading: GradingConfig, units: UnitsConfig) -> None:
        self.grading = grading
        self.units = units
        self.db: aiosqlite.Connection | None = None
        self.states: StateTable[IncidentState] | None = None
        self.rt: Runtime | None = None

    async def start(self, rt: Runtime) -> None:
        self.rt = rt
        self.db = await open_db(rt.ctx.data_dir / "grading.sqlite", StateTable.schema("incidents"))
        self.states = StateTable(self.db, "incidents", IncidentState)
        await self.states.load()
        rt.consume("grading", [rt.subjects.from_service("intake")], self.handle)
        assert rt.endpoints is not None
        await rt.endpoints.add("regrade", rt.subjects.command("regrade"), self.on_regrade)
        await rt.endpoints.add("release", rt.subjects.command("release"), self.on_release)
        await rt.endpoints.add("assign", rt.subjects.command("assign"), self.on_assign)
        await rt.endpoints.add("flag", rt.subjects.command("flag"), self.on_flag)
        await rt.endpoints.add("unflag", rt.subjects.command("unflag"), self.on_unflag)

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()

    async def _finish(self, tx: Transaction[IncidentState], effects: list[ev.Event]) -> None:
        """Publish the effects and put the KV views together, then commit (see store/states.py).

        The views go out with the effects, not after the commit, to save one round of disk
        syncs per batch: if the commit then fails, the batch is redelivered and computes the
        same views and effects again, so the bucket never shows what the stream will not."""
        assert self.rt is not None and self.rt.publisher is not None
        views = {}
        for key, state in tx.overlay.items():
            view = view_of(state, self.units)
            if view is not None:
                views[kv_key(key, "grade")] = encode_view(view)
        await asyncio.gather(self.rt.publisher.publish_all(effects), self.rt.kv_put_many(views))
        await tx.commit()

    async def handle(self, batch: Sequence[Delivered]) -> None:
        assert self.states is not None and self.rt is not None
        async with self.states.lock:
            tx = self.states.begin()
            now = self.rt.now()
            effects = await tx.fold(batch, lambda st, e: step(st, e, self.grading, self.units, now))
            await self._finish(tx, effects)

    async def _command(self, payload: dict[str, Any], run) -> dict[str, Any]:
        assert self.states is not None and self.rt is not None
        incident_id = text_field(payload, "incident_id")
        actor = text_field(payload, "actor")
        async with self.states.lock:
            tx = self.states.begin()
            new, effects = run(tx.get(incident_id), incident_id, actor, ev.new_ulid(self.rt.now()))
            tx.put(incident_id, new)
            await self._finish(tx, effects)
        effect = effects[0]
        match effect:
            case ev.IncidentGraded():
                fields: dict[str, Any] = {"grade": effect.grade}
            case ev.IncidentAssigned():
                fields = {"owner": effect.owner}
            case _:  # flagged / unflagged: the flags the incident has now
                fields = {"kind": effect.kind, "flags": list(new.flags)}
        return ok(incident_id=incident_id, event_id=effect.id, **fields)

    async def on_regrade(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        grade, reason = text_field(payload, "grade"), text_field(payload, "reason", required=False)
        return await self._command(payload, lambda st, i, actor, rid: command_regrade(
            st, i, grade, reason, actor, rid, self.grading, self.rt.now()))  # type: ignore[union-attr]

    async def on_release(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        return await self._command(payload, lambda st, i, actor, rid: command_release(
            st, i, actor, rid, self.grading, self.rt.now()))  # type: ignore[union-attr]

    async def on_assign(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        owner, reason = text_field(payload, "owner"), text_field(payload, "reason", required=False)
        assisting = payload.get("assisting") or []
        if not isinstance(assisting, list) or not all(isinstance(a, str) for a in assisting):
            raise Invalid("assisting", "`assisting` must be a list of unit ids")
        return await self._command(payload, lambda st, i, actor, rid: command_assign(
            st, i, owner, reason, actor, rid, self.units, self.rt.now(), assisting))  # type: ignore[union-attr]

    async def on_flag(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        kind, reason = text_field(payload, "kind"), text_field(payload, "reason", required=False)
        return await self._command(payload, lambda st, i, actor, rid: command_flag(
            st, i, kind, reason, actor, rid, self.rt.now()))  # type: ignore[union-attr]

    async def on_unflag(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        kind, reason = text_field(payload, "kind"), text_field(payload, "reason", required=False)
        return await self._command(payload, lambda st, i, actor, rid: command_unflag(
            st, i, kind, reason, actor, rid, self.rt.now()))  # type: ignore[union-attr]


def build(source: ConfigSource) -> GradingService:
    """Load and check the config (errors name file and key) and build the service."""
    return GradingService(load_grading(source), load_units(source))
