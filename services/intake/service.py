"""intake: wiring only. Answers `wb.intake.submit` and `wb.cmd.stage|note|close`, publishes
`incident.reported`, `mention.added`, `incident.staged|noted|closed`, and keeps `<id>.core`.
It also keeps the follow-through of the record (issue 14): statements and their approval,
evidence files (the Object Store bucket `wb-evidence`, files received in chunks on
`wb.evidence.begin|chunk|end`: `uploads.py`), tasks, meetings and supervision
(`wb.cmd.statement_*|evidence_add|task_*|meeting_add|supervise`). See README.md beside this file.

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
import json
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import aiosqlite

from watchboard.bus.command_path import CommandPath, event_reply
from watchboard.bus.consumer import Delivered, catch_up
from watchboard.bus.endpoints import ok
from watchboard.bus.history import HistoryKeeper
from watchboard.bus.pipeline import Sent
from watchboard.bus.runtime import Runtime
from watchboard.config import ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.intake import IntakeConfig, load_intake
from watchboard.config.people import PeopleConfig, load_people
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain import events as ev
from watchboard.domain import hints, incident
from watchboard.domain.bounds import bounded, check_effects
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import (
    Close,
    Command,
    Ctx,
    EvidenceAdd,
    MeetingAdd,
    Note,
    Stage,
    StatementApprove,
    StatementDraft,
    StatementPublish,
    StatementReject,
    Supervise,
    TaskAdd,
    TaskFeedback,
)
from watchboard.domain.errors import ReportNotFound
from watchboard.domain.evidence import Observed
from watchboard.domain.merge import MergeIndex
from watchboard.domain.statements import ApprovalPolicy
from watchboard.domain.validate import parse_report
from watchboard.domain.views import CoreView
from watchboard.evidence_store import ensure_store, observe, store_exists
from watchboard.recovery.keeper import ViewKeeper
from watchboard.recovery.probe import Failpoints
from watchboard.services.intake.live import LiveIndex
from watchboard.services.intake.logic import (
    command_close,
    command_evidence_add,
    command_meeting_add,
    command_note,
    command_stage,
    command_statement_approve,
    command_statement_draft,
    command_statement_publish,
    command_statement_reject,
    command_supervise,
    command_task_add,
    command_task_feedback,
)
from watchboard.services.intake.rebuild import rebuild
from watchboard.services.intake.uploads import Uploads
from watchboard.store.sqlite import rebuild_pending, start_on_db
from watchboard.store.states import StateTable

log = logging.getLogger("watchboard.intake")




class IntakeService:
    """What `build` returns (config loaded and checked); `start(rt)` opens the store and returns
    an `Intake`, built only once everything it needs exists."""

    name = "intake"
    description = "turns monitors' reports into incidents and keeps the incident record"

    def __init__(self, cfg: IntakeConfig, units: UnitsConfig | None = None, people: PeopleConfig | None = None,
                 cal: WorkCalendar | None = None, probe: Failpoints | None = None) -> None:
        self.cfg = cfg
        self.probe = probe or Failpoints()
        self.units = units  # units.toml: to warn of a unit_hint or region no unit matches
        # notify.toml's people and the roles that may approve a statement; the working
        # calendar a task's due time is counted on.
        self.policy = ApprovalPolicy(people or PeopleConfig(), tuple(cfg.statements.approver_roles))
        self.cal = cal or WorkCalendar()

    async def start(self, rt: Runtime) -> Intake:
        async def begin(db: aiosqlite.Connection) -> Intake:
            running = Intake(rt, db, self.cfg, self.units, self.policy, self.cal, self.probe)
            await running.start()
            return running

        return await start_on_db(rt.ctx.data_dir / "intake.sqlite", StateTable.schema("incidents"), begin)


class Intake:
    """The running service: its store, record and merge index exist from construction."""

    def __init__(self, rt: Runtime, db: aiosqlite.Connection, cfg: IntakeConfig, units: UnitsConfig | None,
                 policy: ApprovalPolicy, cal: WorkCalendar, probe: Failpoints) -> None:
        if rt.nc is None or rt.endpoints is None or rt.publisher is None:
            raise RuntimeError("intake starts on a connected runtime")
        self.rt, self.db, self.cfg, self.units, self.policy, self.cal = rt, db, cfg, units, policy, cal
        self.unit_ids = frozenset(u.id for u in units.units) if units is not None else None
        self.nc, self.endpoints, self.publisher = rt.nc, rt.endpoints, rt.publisher
        self.cores: StateTable[CoreView] = StateTable(db, "incidents", CoreView, clock=rt.now,
                                                      closed=lambda c: (c.closed_at or True) if c.stage == "closed"
                                                      else None)
        # Closed incidents out of the hot path: memory keeps (and the merge index knows) the open
        # ones and those closed within history.keep_closed; the board's bucket those within
        # history.board_retention; a long-closed one named again is read back from the store.
        self.history = HistoryKeeper(rt, self.cores, "core", on_evict=self._forget)
        self.live = LiveIndex(rt, db)  # the board's index of what it shows
        self.index = MergeIndex(cfg.merge)
        self.decide_lock = asyncio.Lock()
        # Records the request path changed but the projector has not yet folded:
        # incident id → (record as decided, id of the last event emitted for it).
        self.ahead: dict[str, tuple[CoreView, str]] = {}
        self.probe = probe
        self.views = ViewKeeper(rt, "core", current=self.cores.get, snapshot=self._all_views,
                                history=self.history)

    async def _all_views(self) -> dict[str, CoreView]:
        return dict(self.cores.items)

    def _checked(self, decide: Any) -> Any:
        """A decider whose events are refused (`invalid`) when they could not travel on this bus."""
        return bounded(decide, lambda: self.nc.max_payload)

    async def start(self) -> None:
        rt = self.rt
        if await rebuild_pending(self.db):  # a new store: the record from the stream, before serving
            await self.cores.prepare()  # its closed_at column first: rebuilt rows are stamped as they commit
            await rebuild(rt, self.cores)
        await self.cores.load(closed_since=self.history.memory_since())
        self._rebuild_index()
        filters = [rt.subjects.from_service("intake")]
        caught = await catch_up(self.nc, "intake-record", filters, self.project)
        if caught:
            log.info("intake: caught up %d events before serving", caught)
        await self.live.fill(self.cores.items.values(), self.cores.lock)
        self.history.schedule()
        rt.consume("intake-record", filters, self.project)
        rt.every(600, self._prune, "prune merge index")
        rt.every(1.0, self.views.put_owed, "owed views")
        self.views.schedule()
        await self.endpoints.add_raw("submit", rt.subjects.submit, self.on_submit)
        path = CommandPath(lock=self.decide_lock, begin=self._begin, finish=self._emit_all,
                           after=self._confirm_all, now=rt.now)
        checked = self._checked
        await path.serve(self.endpoints, rt.subjects.command("stage"), Stage, checked(command_stage))
        await path.serve(self.endpoints, rt.subjects.command("note"), Note, checked(command_note), self._note_reply)
        await path.serve(self.endpoints, rt.subjects.command("close"), Close, checked(command_close))
        await self._serve_follow_through(rt, path)

    async def _serve_follow_through(self, rt: Runtime, path: CommandPath[CoreView, list[Any]]) -> None:
        await self._evidence_bucket(rt)
        uploads = Uploads(self.nc, rt.ctx.data_dir / "uploads", self.cfg.evidence.max_bytes,
                          lambda incident: self._current(incident) is not None)
        await self.endpoints.add_call("evidence_begin", rt.subjects.evidence("begin"), uploads.begin)
        await self.endpoints.add_call("evidence_chunk", rt.subjects.evidence("chunk"), uploads.chunk)
        await self.endpoints.add_call("evidence_end", rt.subjects.evidence("end"), uploads.end)
        rt.every(3600, uploads.prune, "prune abandoned evidence uploads")
        cmd, reply, checked = rt.subjects.command, self._follow_reply, self._checked
        tasks = {"cal": self.cal, "unit_ids": self.unit_ids}
        await path.serve(self.endpoints, cmd("statement_draft"), StatementDraft, checked(command_statement_draft),
                         reply)
        await path.serve(self.endpoints, cmd("statement_approve"), StatementApprove,
                         checked(partial(command_statement_approve, policy=self.policy)), reply)
        await path.serve(self.endpoints, cmd("statement_reject"), StatementReject,
                         checked(partial(command_statement_reject, policy=self.policy)), reply)
        await path.serve(self.endpoints, cmd("statement_publish"), StatementPublish,
                         checked(command_statement_publish), reply)
        await path.serve(self.endpoints, cmd("task_add"), TaskAdd, checked(partial(command_task_add, **tasks)), reply)
        await path.serve(self.endpoints, cmd("supervise"), Supervise, checked(command_supervise), reply)

        async def evidence_add(command: EvidenceAdd) -> dict[str, Any]:
            # Read the object back before deciding: only what is really stored is recorded.
            observed = await self._observe(command)
            decide = partial(command_evidence_add, observed=observed, max_bytes=self.cfg.evidence.max_bytes)
            return reply(command, await path.run(command, checked(decide)))

        async def task_feedback(command: TaskFeedback) -> dict[str, Any]:
            return reply(command, await path.run(command, checked(command_task_feedback),
                                                 key=self._incident_of_task(command.task_id.strip())))

        async def meeting_add(command: MeetingAdd) -> dict[str, Any]:
            async with self.decide_lock:  # incidents closed long ago are read back first
                for named in command.incidents:
                    if self._current(named.strip()) is None:
                        await self._recall(named.strip())

            def decide(_: CoreView | None, c: MeetingAdd, ctx: Ctx) -> tuple[None, list[ev.Event]]:
                return command_meeting_add({i: self._current(i.strip()) for i in c.incidents}, c, ctx, **tasks)

            return reply(command, await path.run(command, checked(decide), key=""))

        await self.endpoints.command(EvidenceAdd, cmd("evidence_add"), evidence_add)
        await self.endpoints.command(TaskFeedback, cmd("task_feedback"), task_feedback)
        await self.endpoints.command(MeetingAdd, cmd("meeting_add"), meeting_add)

    async def _evidence_bucket(self, rt: Runtime) -> None:
        """Roles off, intake makes the bucket; roles on only the admin may, so wait for it."""
        js = self.nc.jetstream(timeout=5)
        if not rt.ctx.roles:
            await ensure_store(js, rt.wb)
            return
        said = False
        while not await store_exists(js):
            if not said:
                log.warning("intake: the evidence bucket wb-evidence does not exist yet: the admin makes it "
                            "with `watchboard setup --creds admin.nk` (`watchboard up` does it itself); waiting")
                said = True
            await asyncio.sleep(2)

    async def _observe(self, command: EvidenceAdd) -> Observed | None:
        if command.size > self.cfg.evidence.max_bytes or self._current(command.incident_id) is None:
            return None  # refused without reading anything (the decider says why)
        name = command.object.strip() or command.sha256.strip().lower()
        return await observe(self.nc, name, self.cfg.evidence.max_bytes)

    def _incident_of_task(self, task_id: str) -> str:
        """The incident a task belongs to ("" if none): tasks live in their incident's record."""
        cores = [c for c, _ in self.ahead.values()] + list(self.cores.items.values())
        return next((c.id for c in cores if any(t.id == task_id for t in c.tasks)), "")

    def _follow_reply(self, cmd: Command, effects: list[ev.Event]) -> dict[str, Any]:
        """The default reply, with what a person needs next: the version and digest of a
        statement, the ids and due times of tasks, the meeting's id."""
        reply = event_reply(cmd, effects)
        zone = self.cal.zone
        for e in effects:
            match e:
                case ev.StatementDrafted() | ev.StatementApproved() | ev.StatementRejected() | ev.StatementPublished():
                    reply |= {"version": e.version, "sha256": e.sha256}
                case ev.TaskAdded():
                    reply.setdefault("tasks", []).append(
                        {"task_id": e.task_id, "incident_id": e.incident_id, "unit": e.unit,
                         "due_at": e.due_at.astimezone(zone).isoformat(), "provisional": e.provisional})
                case ev.TaskFedBack():
                    reply |= {"incident_id": e.incident_id, "task_id": e.task_id}
                case ev.MeetingHeld():
                    reply["meeting_id"] = e.meeting_id
                case ev.EvidenceAdded():
                    reply |= {"name": e.name, "sha256": e.sha256, "size": e.size}
        if len(reply.get("tasks", [])) == 1 and isinstance(cmd, TaskAdd):
            reply |= reply.pop("tasks")[0]
        return reply

    async def close(self) -> None:
        await self.db.close()

    def _forget(self, incident_ids: list[str]) -> None:
        for incident_id in incident_ids:
            self.index.forget(incident_id)

    async def _recall(self, incident_id: str) -> bool:
        """Read a long-closed incident back from the store (it was named); True if there is one.
        Called holding decide_lock; takes the store's writer lock so no half-written batch is read."""
        async with self.cores.lock:
            found = await self.cores.ensure([incident_id])
        for key in found:
            core = self.cores.get(key)
            if core is not None and core.stage == "closed":
                self.index.close(key)
        return bool(found)

    def _rebuild_index(self) -> None:
        """The merge index from the records in memory (after start, or after a failed publish):
        the open incidents and those closed within history.keep_closed."""
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
        self.index.prune(self.rt.now())  # titles not seen within the merge window cannot merge

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
            # The views go out while SQLite commits: their facts are the stream's own events, so
            # they are in it already, and a failed commit only means the batch is folded again
            # into the same views. A put that fails once the commit went through is owed (the
            # batch counts as processed and will not come again): housekeeping puts it, and the
            # reconcile round after a crash. None for an incident that has left the board (a note
            # long after the close: the keeper asks the history). The board's index goes out too;
            # if it fails the batch comes again (its puts are idempotent, the fold skips it).
            committed, _, live = await asyncio.gather(tx.commit(), self.views.put(dict(tx.overlay)),
                                                      self.live.after_batch(batch), return_exceptions=True)
            if isinstance(committed, BaseException):
                raise committed
            self.probe.reached("committed")
            if isinstance(live, BaseException):
                raise live
            # Only now is the record as new as what the request path decided on.
            for d in batch:
                pending = self.ahead.get(d.event.incident_id)
                if pending is not None and pending[1] == d.event.id:
                    del self.ahead[d.event.incident_id]

    # --- the request path ----------------------------------------------------------------

    async def _emit(self, event: ev.Event) -> Sent:
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

    async def _confirm(self, future: Sent) -> None:
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
        try:
            report = parse_report(raw, now=now, known_incident=self.index.knows, limits=self.cfg.limits)
        except ReportNotFound as exc:
            # An incident closed long ago is no longer in memory: read it back, then judge again.
            named = _named_incident(raw) if exc.field == "incident_id" else None
            if named is None:
                raise
            async with self.decide_lock:
                if not await self._recall(named):
                    raise
            report = parse_report(raw, now=now, known_incident=self.index.knows, limits=self.cfg.limits)
        async with self.decide_lock:
            decision = self.index.decide(report, now=now)
            new_id = ev.new_ulid(now)
            event = incident.decide_report(report, decision, now=now, event_id=ev.new_ulid(now),
                                           new_incident_id=new_id)
            check_effects([event], self.nc.max_payload, report)  # refused whole, before the index hears of it
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


def _named_incident(raw: bytes) -> str | None:
    """The `incident_id` a report names (upper case, as validation reads it), if it names one."""
    try:
        value = json.loads(raw).get("incident_id")
    except (ValueError, AttributeError):
        return None
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


class _Pending:
    """A command's view of intake's record: what the request path decided, else what is stored.
    The record itself is written by the projector, so `put` has nothing to do."""

    def __init__(self, service: Intake) -> None:
        self.service = service

    async def ensure(self, key: str) -> None:
        if self.service._current(key) is None:
            await self.service._recall(key)

    def get(self, key: str) -> CoreView | None:
        return self.service._current(key)

    def put(self, key: str, state: CoreView) -> None:
        pass


def build(source: ConfigSource, probe: Failpoints | None = None) -> IntakeService:
    """intake.toml, units.toml, notify.toml's people (who may approve) and calendar.toml."""
    return IntakeService(load_intake(source), load_units(source), load_people(source),
                         WorkCalendar(load_calendar(source)), probe)
