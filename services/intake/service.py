"""intake: wiring only. Answers `wb.intake.submit` and `wb.cmd.stage|note|close`, publishes
`incident.reported`, `mention.added`, `incident.staged|noted|closed`, and keeps `<id>.core`.
See README.md beside this file.

Two paths share the merge index:

- the request path validates (pure), decides under a lock (merge index → event), puts the
  event on the wire while still holding the lock (stream order = decision order), and
  replies ok only after the stream acked it;
- the projector, a durable consumer of intake's own events, folds them into the incident
  record (`CoreView`), commits it to SQLite and puts `<id>.core`. On start it catches up
  before the endpoints open, so decisions never run on a stale index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiosqlite
from nats.js.api import PubAck

from watchboard.bus.command_path import CommandPath, event_reply
from watchboard.bus.consumer import Delivered, catch_up
from watchboard.bus.endpoints import ok
from watchboard.bus.runtime import Runtime
from watchboard.config import ConfigSource
from watchboard.config.intake import IntakeConfig, load_intake
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain import events as ev
from watchboard.domain import hints, incident
from watchboard.domain.commands import Close, Command, Note, Stage
from watchboard.domain.merge import MergeIndex
from watchboard.domain.validate import parse_report
from watchboard.domain.views import CoreView, encode_view, kv_key
from watchboard.services.intake.logic import command_close, command_note, command_stage
from watchboard.store.sqlite import start_on_db
from watchboard.store.states import StateTable

log = logging.getLogger("watchboard.intake")




class IntakeService:
    """What `build` returns (config loaded and checked); `start(rt)` opens the store and returns
    an `Intake`, built only once everything it needs exists."""

    name = "intake"
    description = "turns monitors' reports into incidents and keeps the incident record"

    def __init__(self, cfg: IntakeConfig, units: UnitsConfig | None = None) -> None:
        self.cfg = cfg
        self.units = units  # units.toml: to warn of a unit_hint or region no unit matches

    async def start(self, rt: Runtime) -> Intake:
        async def begin(db: aiosqlite.Connection) -> Intake:
            running = Intake(rt, db, self.cfg, self.units)
            await running.start()
            return running

        return await start_on_db(rt.ctx.data_dir / "intake.sqlite", StateTable.schema("incidents"), begin)


class Intake:
    """The running service: its store, record and merge index exist from construction."""

    def __init__(self, rt: Runtime, db: aiosqlite.Connection, cfg: IntakeConfig, units: UnitsConfig | None) -> None:
        if rt.nc is None or rt.endpoints is None or rt.publisher is None:
            raise RuntimeError("intake starts on a connected runtime")
        self.rt, self.db, self.cfg, self.units = rt, db, cfg, units
        self.nc, self.endpoints, self.publisher = rt.nc, rt.endpoints, rt.publisher
        self.cores: StateTable[CoreView] = StateTable(db, "incidents", CoreView)
        self.index = MergeIndex(cfg.merge)
        self.decide_lock = asyncio.Lock()
        # Records the request path changed but the projector has not yet folded:
        # incident id → (record as decided, id of the last event emitted for it).
        self.ahead: dict[str, tuple[CoreView, str]] = {}

    async def start(self) -> None:
        rt = self.rt
        await self.cores.load()
        self._rebuild_index()
        filters = [rt.subjects.from_service("intake")]
        caught = await catch_up(self.nc, "intake-record", filters, self.project)
        if caught:
            log.info("intake: caught up %d events before serving", caught)
        rt.consume("intake-record", filters, self.project)
        rt.every(600, self._prune, "prune merge index")
        await self.endpoints.add_raw("submit", rt.subjects.submit, self.on_submit)
        path = CommandPath(lock=self.decide_lock, begin=self._begin, finish=self._emit_all,
                           after=self._confirm_all, now=rt.now)
        await path.serve(self.endpoints, rt.subjects.command("stage"), Stage, command_stage)
        await path.serve(self.endpoints, rt.subjects.command("note"), Note, command_note, self._note_reply)
        await path.serve(self.endpoints, rt.subjects.command("close"), Close, command_close)

    async def close(self) -> None:
        await self.db.close()

    def _rebuild_index(self) -> None:
        """The merge index from the stored records (after start, or after a failed publish)."""
        self.index = MergeIndex(self.cfg.merge)
        for core in sorted(self.cores.items.values(), key=lambda c: c.reported_at):
            first = core.mentions[0] if core.mentions else None
            self.index.open(core.id, title=core.title, region=core.region, url=first.url if first else None,
                            seen_at=core.reported_at)
            for m in core.mentions:
                self.index.touch(core.id, title=m.title or None, url=m.url,
                                 seen_at=m.observed_at or core.updated_at or core.reported_at)
            if core.stage == "closed":
                self.index.close(core.id)

    async def _prune(self) -> None:
        async with self.decide_lock:
            self.index.prune(self.rt.now())

    # --- the projector -------------------------------------------------------------------

    async def project(self, batch: Sequence[Delivered]) -> None:
        async with self.cores.lock:
            tx = self.cores.begin()

            def fold(core: CoreView | None, event: ev.Event) -> tuple[CoreView | None, list[ev.Event]]:
                self.index.apply(event)  # idempotent: the request path may have applied it
                return incident.apply(core, event), []

            await tx.fold(batch, fold)
            # The views go out while SQLite commits (the record comes from the stream, so a
            # failed commit only means the batch is folded again into the same views).
            views = {kv_key(k, "core"): encode_view(v) for k, v in tx.overlay.items()}
            await asyncio.gather(tx.commit(), self.rt.kv_put_many(views))
            # Only now is the record as new as what the request path decided on.
            for d in batch:
                pending = self.ahead.get(d.event.incident_id)
                if pending is not None and pending[1] == d.event.id:
                    del self.ahead[d.event.incident_id]

    # --- the request path ----------------------------------------------------------------

    async def _emit(self, event: ev.Event) -> asyncio.Future[PubAck]:
        """Called with decide_lock held: index first, then the wire (order kept); the stream's
        ack is awaited by `_confirm`, outside the lock."""
        self.index.apply(event)
        core = incident.apply(self._current(event.incident_id), event)
        if core is not None:
            self.ahead[event.incident_id] = (core, event.id)
        return await self.publisher.send(event)

    def _current(self, incident_id: str) -> CoreView | None:
        pending = self.ahead.get(incident_id)
        if pending is not None:
            return pending[0]
        return self.cores.get(incident_id)

    async def _confirm(self, future: asyncio.Future[PubAck]) -> None:
        try:
            await self.publisher.confirm(future)
        except Exception:
            # The event may not be in the stream: forget what the index guessed from it.
            async with self.decide_lock:
                self.ahead.clear()
                self._rebuild_index()
            raise

    async def on_submit(self, raw: bytes) -> dict[str, Any]:
        now = self.rt.now()
        report = parse_report(raw, now=now, known_incident=self.index.knows, limits=self.cfg.limits)
        async with self.decide_lock:
            decision = self.index.decide(report, now=now)
            new_id = ev.new_ulid(now)
            event = incident.decide_report(report, decision, now=now, event_id=ev.new_ulid(now),
                                           new_incident_id=new_id)
            future = await self._emit(event)
        await self._confirm(future)
        reply = ok(incident_id=event.incident_id, merged=decision.incident_id is not None)
        if decision.merged_by:
            reply["merged_by"] = decision.merged_by
        warnings = hints.report_warnings(report, self.units) if self.units is not None else []
        if warnings:
            reply["warnings"] = warnings
        return reply

    # --- operator commands ---------------------------------------------------------------

    def _begin(self) -> _Pending:
        return _Pending(self)

    async def _emit_all(self, tx: _Pending, effects: list[ev.Event]) -> list[Any]:
        """Under the decision lock: each event to the index and the wire (stream order)."""
        return [await self._emit(e) for e in effects]

    async def _confirm_all(self, futures: list[Any]) -> None:
        for future in futures:
            await self._confirm(future)

    def _note_reply(self, cmd: Command, effects: list[ev.Event]) -> dict[str, Any]:
        """A note on a closed incident is kept (the review writes them), with a warning."""
        reply = event_reply(cmd, effects)
        warnings = hints.note_warnings(self._current(cmd.incident_id)) if isinstance(cmd, Note) else []
        if warnings:
            reply["warnings"] = warnings
        return reply


class _Pending:
    """A command's view of intake's record: what the request path decided, else what is stored.
    The record itself is written by the projector, so `put` has nothing to do."""

    def __init__(self, service: Intake) -> None:
        self.service = service

    def get(self, key: str) -> CoreView | None:
        return self.service._current(key)

    def put(self, key: str, state: CoreView) -> None:
        pass


def build(source: ConfigSource) -> IntakeService:
    return IntakeService(load_intake(source), load_units(source))
