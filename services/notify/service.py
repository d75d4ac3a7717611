"""notify: wiring only. Consumes grading's, deadlines' and intake's events, delivers notices
through the delivery queue, escalates unacknowledged grade I/II incidents, answers
`wb.cmd.ack`, serves the acknowledgement links. See README.md beside this file.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from watchboard.bus.consumer import Delivered
from watchboard.bus.endpoints import ok
from watchboard.bus.history import HistoryKeeper
from watchboard.bus.runtime import Runtime
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.config import DEFAULT_PROFILE, ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.loader import ConfigError
from watchboard.config.units import load_units
from watchboard.domain import events as ev
from watchboard.domain.bounds import check_effects
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ack
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.views import NoticesView, kv_key
from watchboard.recovery.keeper import ViewKeeper
from watchboard.recovery.probe import Failpoints
from watchboard.recovery.views import encode_fitted, view_limit, waiting
from watchboard.services.notify import logic
from watchboard.services.notify.acklink import AckServer, tls_context
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.rebuild import rebuild
from watchboard.services.notify.reporter import Reporter
from watchboard.services.notify.settings import NotifyConfig, load_notify, seconds
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import rebuild_pending

log = logging.getLogger("watchboard.notify")

# The delivery loop wakes when a batch queues notices, the publishing loop after each commit;
# this tick (scaled by the context's `tick`) is only the fallback, for retries and digests
# falling due, escalation tiers, and publishing again what failed.
TICK = 0.5
# Delivery batches in one wake-up before the loop lets the others run (a full batch means more).
ROUNDS = 50



def input_filters(subjects: Subjects) -> list[str]:
    """What the `notify` durable consumer is given: intake's and grading's events whole, and of
    deadlines' only the types notify acts on (`logic.HANDLED`). The clocks' starts, moves, meets
    and cancellations — most of the stream at a burst (several per report) — are then never
    delivered to notify at all, rather than fetched, decoded and skipped."""
    tags = [t.__struct_config__.tag for t in logic.HANDLED]  # type: ignore[attr-defined]
    ours = sorted(tag for tag in tags if ev.OWNER[tag] == "deadlines")
    return [subjects.from_service("intake"), subjects.from_service("grading"),
            *(subjects.event("deadlines", "*", kind) for kind in ours)]

class NotifyService:
    """What `build` returns (config loaded and checked); `start(rt)` opens the store and returns
    a `Notify`, built only once everything it needs exists."""

    name = "notify"
    description = "tells the right people on their channels and escalates until someone acknowledges"

    def __init__(self, cfg: NotifyConfig, unit_names: dict[str, dict[str, str]] | None = None, *,
                 profile: str = DEFAULT_PROFILE, calendar: WorkCalendar | None = None,
                 source: ConfigSource | None = None, probe: Failpoints | None = None) -> None:
        self.cfg = cfg
        self.probe = probe or Failpoints()
        self.unit_names = unit_names or {}
        self.profile = profile
        self.calendar = calendar
        try:  # a certificate that cannot be used stops the start, naming the key
            self.tls = tls_context(cfg.ack)
        except ValueError as exc:
            raise ConfigError("notify.toml", "ack.tls_cert", str(exc)) from None
        self.source = source or ConfigSource()  # the scheduled reports read the rest of the config

    async def start(self, rt: Runtime) -> Notify:
        keep = rt.wb.history.keep_closed_seconds()
        notifier = await Notifier.open(
            self.cfg, rt.ctx.data_dir, channels=Channels(self.cfg), profile=self.profile, calendar=self.calendar,
            unit_names=self.unit_names, closed_since=rt.now() - timedelta(seconds=keep), clock=rt.now)
        try:
            running = Notify(rt, self.cfg, notifier, self.profile, self.probe, self.tls, self.source)
            await running.start()
        except BaseException:
            await notifier.close()
            raise
        return running


class Notify:
    """The running service: its notifier, outbox and loops exist from construction."""

    def __init__(self, rt: Runtime, cfg: NotifyConfig, notifier: Notifier, profile: str, probe: Failpoints,
                 tls: ssl.SSLContext | None = None, source: ConfigSource | None = None) -> None:
        if rt.nc is None or rt.endpoints is None or rt.publisher is None:
            raise RuntimeError("notify starts on a connected runtime")
        self.rt, self.cfg, self.notifier, self.profile, self.tls = rt, cfg, notifier, profile, tls
        self.endpoints, self.publisher = rt.endpoints, rt.publisher
        self.outbox = Outbox(notifier.db, rt.nc, STREAM, lock=notifier.lock, service="notify",
                             fault_subject=rt.subjects.event("notify", ev.NO_INCIDENT, "service.fault"))
        self.probe = probe
        # Reconciles `<id>.notices` with the queue (puts go through `dirty` after each commit).
        self.history = HistoryKeeper(rt, notifier.states, "notices")  # closed incidents out of the hot path
        self.views = ViewKeeper(rt, "notices", current=lambda _: None, snapshot=self._all_views,
                                history=self.history)
        self.ack_server: AckServer | None = None  # None when its port is taken (links off)
        self.wake = asyncio.Event()  # set when notices are queued: the delivery loop runs
        self.after = asyncio.Event()  # set after a commit: the outbox and views are published
        self.dirty: set[str] = set()  # incidents whose `<id>.notices` view is not put yet
        self.reporter = Reporter(rt, cfg, notifier, source or ConfigSource(), profile=profile,
                                 on_queued=self.wake.set)

    async def start(self) -> None:
        rt, notifier, outbox, publisher = self.rt, self.notifier, self.outbox, self.publisher

        async def effects(events: list[ev.Event]) -> None:
            await outbox.add((e.id, publisher.subject_of(e), ev.encode_event(e)) for e in events)

        notifier.effects = effects  # called inside the transaction that records the facts
        if await rebuild_pending(notifier.db):  # a new store: what the stream says, before serving
            await rebuild(rt, notifier, outbox)
        # Events committed before a crash: drop those the stream holds, publish the rest.
        await outbox.recover()
        await self._flush()
        active = sum(1 for r in self.cfg.routes if not r.profiles or self.profile in r.profiles)
        log.info("notify: profile %s: %d of %d routes apply", self.profile, active, len(self.cfg.routes))
        rt.consume("notify", input_filters(rt.subjects), self.handle)
        self.history.schedule()
        rt.task(self._stopper)
        rt.task(lambda: self._loop(self.wake, self.tick, "delivery round"))
        rt.task(lambda: self._loop(self.after, self.publish, "publishing events and views"))
        rt.every(seconds(self.cfg.reports.check_every), self.reporter.tick, "scheduled reports")
        await self.endpoints.command(Ack, rt.subjects.command("ack"), self.on_ack)
        self.views.schedule(before=self._system_notices)
        host, port = self.cfg.ack.host_port()
        server = AckServer(notifier.signer, notifier.ledger, self._link_ack, host=host, port=port,
                           clock=rt.now, describe=self._describe,
                           person_name=lambda pid: (self.cfg.person(pid).name if self.cfg.person(pid) else pid),
                           ssl_context=self.tls)
        try:
            bound = await server.start()
            self.ack_server = server
            log.info("notify: acknowledgement links served on %s://%s:%s (links name %s)",
                     "https" if self.tls else "http", host, bound, self.cfg.ack.public_base())
        except OSError as exc:  # another notify on this host, say: links off, notices still go out
            log.error("notify: cannot listen on %s for acknowledgement links (%s); set [ack] listen in "
                      "notify.toml. Notices are still sent; links in them will not answer.", self.cfg.ack.listen,
                      exc.strerror or exc)

    async def gauges(self) -> dict[str, dict[str, int]]:
        """For health and metrics (bus/health.py): the notices in the queue, by status."""
        async with self.notifier.db.execute("SELECT status, COUNT(*) FROM notices GROUP BY status") as cur:
            return {"notices": {str(status): int(n) async for status, n in cur}}

    async def close(self) -> None:
        if self.ack_server is not None:
            await self.ack_server.stop()
        await self.notifier.close()

    async def _describe(self, incident_id: str) -> str:
        await self._recall([incident_id])
        return self.notifier.memo(incident_id).title or incident_id

    async def _recall(self, incident_ids: Iterable[str]) -> None:
        """Read incidents closed long ago back from the store (under the writer lock: no
        half-written batch is read)."""
        async with self.notifier.lock:
            await self.notifier.states.ensure(i for i in incident_ids if i != ev.NO_INCIDENT)

    # --- after each commit: publish the outbox, put the views ------------------------------

    async def _flush(self) -> None:
        """Publish what the outbox holds; a failure stays queued for the next round."""
        try:
            await self.outbox.flush()
        except Exception as exc:
            log.warning("notify: publishing events failed (%s); they stay queued", exc)

    async def _show(self) -> None:
        """Put the `<id>.notices` view of every incident changed since the last put whose facts
        are in the stream (an incident with events still in the outbox waits for them)."""
        held = await waiting(self.outbox, self.rt.subjects)
        keys = {k for k in self.dirty if k not in held}
        self.dirty -= keys
        if not keys:
            return
        try:
            # A delivery for one closed long ago: read it back to know when it closed; none for
            # one off the board.
            await self._recall(keys)
            keys = {k for k in keys if k == ev.NO_INCIDENT or self.history.on_board(k)}
            views = await self.notifier.notices_views(keys, self.rt.now())
            views_fitted = encode_fitted({SYSTEM_NOTICES if i == ev.NO_INCIDENT else kv_key(i, "notices"):
                                          _latest(v) if i == ev.NO_INCIDENT else v for i, v in views.items()},
                                         view_limit(self.rt.nc), "notify")
            await self.rt.kv_put_many(views_fitted)
        except BaseException:
            self.dirty |= keys  # put again on the next round
            raise

    async def _system_notices(self) -> None:
        """With each reconcile round (the first at start): `sys.notices` put again from the store.

        Reconcile leaves `sys.*` keys alone, and a notify killed between publishing a report's
        `notice.sent` and putting the view would otherwise leave the board without it for good."""
        if await self.notifier.queue.rows(ev.NO_INCIDENT):
            self._changed([ev.NO_INCIDENT])

    async def _all_views(self) -> dict[str, NoticesView]:
        """Every incident notify knows, with its notices: what `<id>.notices` should say."""
        return await self.notifier.notices_views(list(self.notifier.states.items), self.rt.now())

    def _changed(self, incidents: Iterable[str]) -> None:
        # Notices of no incident (the scheduled reports, missed sweeps, digests) go to
        # `sys.notices`, which the board shows beside the incidents' own.
        self.dirty.update(incidents)
        self.after.set()

    async def publish(self) -> None:
        """The effects of what was committed, then the views (a view says only what the stream
        has): neither the consumer nor the delivery rounds wait for the stream's acks, and views
        changed several times since the last put are put once."""
        await self._flush()
        self.probe.reached("flushed")
        await self._show()

    # --- consumer ---------------------------------------------------------------------------

    async def handle(self, batch: Sequence[Delivered]) -> None:
        handled = await self.notifier.handle_batch(batch, self.rt.now())
        self.probe.reached("committed")
        for m in handled.missing:
            log.warning("notify: %s on %s reached nobody for roles %s; check notify.toml",
                        m.event_type, m.incident_id, ", ".join(m.roles))
        if handled.queued:
            self.wake.set()  # deliver now, not a tick later
        self._changed(handled.incidents)  # committed: the batch may be acked now

    # --- the loops ----------------------------------------------------------------------------

    async def _stopper(self) -> None:
        await self.rt.stop.wait()
        self.wake.set()
        self.after.set()

    async def _loop(self, wake: asyncio.Event, body: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `body` each time `wake` is set, and at least once a fallback tick, until stopped."""
        interval = TICK * self.rt.ctx.tick
        while not self.rt.stop.is_set():
            wake.clear()
            try:
                await body()
            except Exception as exc:
                log.warning("notify: %s failed: %s", what, exc)
            try:
                await asyncio.wait_for(wake.wait(), interval)
            except TimeoutError:
                pass

    async def tick(self) -> None:
        """Escalate what is due, deliver what is due (batch after batch while they are full)."""
        escalated = await self.notifier.escalate_due(self.rt.now())
        self._changed(e.incident_id for e in escalated)
        for _ in range(ROUNDS):
            attempts = await self.notifier.deliver_due(self.rt.now())
            if attempts:
                self.probe.reached("delivered")
            for a in attempts:
                if a.status != "sent":
                    log.warning("notify: %s", a.result.reason)
            self._changed(m.incident_id for a in attempts for m in a.notices)
            if len(attempts) < self.cfg.delivery.batch:
                break

    # --- acknowledgement ------------------------------------------------------------------------

    async def _acknowledge(self, incident_id: str, person: str, via: str) -> ev.IncidentAcknowledged | None:
        await self._recall([incident_id])  # one closed long ago is read back
        if not self.notifier.memo(incident_id).known:
            raise NotFound("incident_id", f"no incident {incident_id!r} known to notify",
                           zh=f"通知服务中没有舆情 {incident_id!r}")
        ack = await self.notifier.acknowledge(incident_id, person, self.rt.now(), via=via)
        if ack is not None:
            self.dirty.add(incident_id)  # owed from now on: a failed flush leaves it to the next round
            self.probe.reached("ack-committed")
            await self.outbox.flush()  # the reply says ok once the event is in the stream
            self.probe.reached("ack-flushed")
            await self._show()
        return ack

    async def on_ack(self, cmd: Ack) -> dict[str, Any]:
        if cmd.via not in ("cli", "board", "link"):
            raise Invalid("via", f"{cmd.via!r} is not one of cli, board, link",
                          zh=f"{cmd.via!r} 不是有效的签收途径；可选：`cli`、`board`、`link`")
        # The event it makes carries the actor and the incident id, both bounded by the command;
        # checked anyway on a bus that takes little, before anything is recorded.
        probe_event = ev.IncidentAcknowledged(id="E" * 17, incident_id=cmd.incident_id, at=self.rt.now(),
                                              actor=cmd.actor, by=cmd.actor, via=cmd.via)
        check_effects([probe_event], self.rt.nc.max_payload if self.rt.nc else 1 << 20, cmd)
        ack = await self._acknowledge(cmd.incident_id, cmd.actor, cmd.via)
        if ack is None:
            memo = self.notifier.memo(cmd.incident_id)
            raise Conflict("incident_id", f"already acknowledged by {memo.acked_by}",
                           zh=f"该舆情已由 {memo.acked_by} 签收")
        return ok(incident_id=cmd.incident_id, acknowledged_by=cmd.actor, event_id=ack.id,
                  at=ack.at.isoformat())

    async def _link_ack(self, incident_id: str, person_id: str) -> bool:
        try:
            return await self._acknowledge(incident_id, person_id, "link") is not None
        except NotFound:
            return False


SYSTEM_NOTICES = "sys.notices"  # a `*.notices` key, so notify's to write with roles on
SYSTEM_NOTICES_KEPT = 20


def _latest(view: NoticesView) -> NoticesView:
    """`sys.notices`: the latest notices of no incident (the queue keeps them all)."""
    kept = sorted(view.notices, key=lambda n: n.at or view.updated_at or datetime.min.replace(tzinfo=UTC))
    return msgspec.structs.replace(view, notices=kept[-SYSTEM_NOTICES_KEPT:])


def build(source: ConfigSource, probe: Failpoints | None = None) -> NotifyService:
    units = load_units(source)
    names = {u.id: {"zh": u.name, "en": u.name_en or u.name} for u in units.units}
    return NotifyService(load_notify(source), names, profile=source.profile_name(),
                         calendar=WorkCalendar(load_calendar(source)), source=source, probe=probe)
