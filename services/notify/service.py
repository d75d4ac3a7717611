"""notify: wiring only. Consumes grading's, deadlines' and intake's events, delivers notices
through the outbox, escalates unacknowledged grade I/II incidents, answers `wb.cmd.ack`,
serves the acknowledgement links. See README.md beside this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from watchboard.bus.consumer import Delivered
from watchboard.bus.endpoints import ok
from watchboard.bus.runtime import Runtime
from watchboard.config import DEFAULT_PROFILE, ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.units import load_units
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.views import encode_view, kv_key
from watchboard.services.notify.acklink import AckServer
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.notifier import Notifier, delivery_events
from watchboard.services.notify.settings import NotifyConfig, load_notify

log = logging.getLogger("watchboard.notify")


class NotifyService:
    name = "notify"
    description = "tells the right people on their channels and escalates until someone acknowledges"

    def __init__(self, cfg: NotifyConfig, unit_names: dict[str, dict[str, str]] | None = None, *,
                 profile: str = DEFAULT_PROFILE, calendar: WorkCalendar | None = None) -> None:
        self.cfg = cfg
        self.unit_names = unit_names or {}
        self.profile = profile
        self.calendar = calendar
        self.notifier: Notifier | None = None
        self.ack_server: AckServer | None = None
        self.rt: Runtime | None = None

    async def start(self, rt: Runtime) -> None:
        self.rt = rt
        self.notifier = await Notifier.open(self.cfg, rt.ctx.data_dir, channels=Channels(self.cfg),
                                            profile=self.profile, calendar=self.calendar)
        self.notifier.unit_names = self.unit_names
        active = sum(1 for r in self.cfg.routes if not r.profiles or self.profile in r.profiles)
        log.info("notify: profile %s: %d of %d routes apply", self.profile, active, len(self.cfg.routes))
        filters = [rt.subjects.from_service(s) for s in ("intake", "grading", "deadlines")]
        rt.consume("notify", filters, self.handle)
        rt.every(0.5, self.tick, "deliver and escalate")
        assert rt.endpoints is not None
        await rt.endpoints.add("ack", rt.subjects.command("ack"), self.on_ack)
        host, port = self.cfg.ack.host_port()
        server = AckServer(self.notifier.signer, self.notifier.ledger, self._link_ack, host=host, port=port,
                           clock=rt.now, describe=self._describe,
                           person_name=lambda pid: (self.cfg.person(pid).name if self.cfg.person(pid) else pid))
        try:
            bound = await server.start()
            self.ack_server = server
            log.info("notify: acknowledgement links served on http://%s:%s", host, bound)
        except OSError as exc:  # another notify on this host, say: links off, notices still go out
            log.error("notify: cannot listen on %s for acknowledgement links (%s); set [ack] listen in "
                      "notify.toml. Notices are still sent; links in them will not answer.", self.cfg.ack.listen,
                      exc.strerror or exc)

    async def close(self) -> None:
        if self.ack_server is not None:
            await self.ack_server.stop()
        if self.notifier is not None:
            await self.notifier.close()

    async def _describe(self, incident_id: str) -> str:
        assert self.notifier is not None
        return (await self.notifier.memo(incident_id)).title or incident_id

    async def _publish_and_show(self, events: Sequence[ev.Event], incidents: Iterable[str]) -> None:
        assert self.rt is not None and self.rt.publisher is not None and self.notifier is not None
        await self.rt.publisher.publish_all(list(events))
        now = self.rt.now()
        views = {}
        for incident_id in set(incidents) - {ev.NO_INCIDENT}:
            views[kv_key(incident_id, "notices")] = encode_view(await self.notifier.notices_view(incident_id, now))
        await self.rt.kv_put_many(views)

    async def handle(self, batch: Sequence[Delivered]) -> None:
        assert self.notifier is not None and self.rt is not None
        touched: set[str] = set()
        now = self.rt.now()
        for d in batch:
            handled = await self.notifier.handle(d.event, now, commit=False)
            touched.update(handled.incidents)
            if handled.missing:
                log.warning("notify: %s on %s reached nobody for roles %s; check notify.toml",
                            ev.event_type(d.event), d.event.incident_id, ", ".join(handled.missing))
        await self.notifier.commit()  # the outbox rows are durable before the batch is acked
        await self._publish_and_show([], touched)

    async def tick(self) -> None:
        assert self.notifier is not None and self.rt is not None
        now = self.rt.now()
        escalated = await self.notifier.escalate_due(now)
        if escalated:
            await self._publish_and_show(escalated, (e.incident_id for e in escalated))
        # A full batch means more is waiting: deliver again at once rather than a tick later.
        for _ in range(50):
            if not await self._deliver_once(now):
                break

    async def _deliver_once(self, now: datetime) -> bool:
        """One batch; True if it was full (more may be due)."""
        assert self.notifier is not None
        delivered = await self.notifier.deliver_due(now)
        if delivered:
            for d in delivered:
                if d.status != "sent":
                    log.warning("notify: %s", d.result.reason)
            events = delivery_events(delivered, now)
            await self._publish_and_show(events, (m.incident_id for d in delivered for m in d.notices))
        return len(delivered) >= self.cfg.delivery.batch

    async def _acknowledge(self, incident_id: str, person: str, via: str) -> ev.IncidentAcknowledged | None:
        assert self.notifier is not None and self.rt is not None
        memo = await self.notifier.memo(incident_id)
        if not memo.title and memo.grade is None:
            raise NotFound("incident_id", f"no incident {incident_id!r} known to notify")
        ack = await self.notifier.acknowledge(incident_id, person, self.rt.now(), via=via)
        if ack is not None:
            await self._publish_and_show([ack], [incident_id])
        return ack

    async def on_ack(self, payload: dict[str, Any], raw: bytes) -> dict[str, Any]:
        incident_id, actor = payload.get("incident_id"), payload.get("actor")
        if not isinstance(incident_id, str) or not incident_id.strip():
            raise Invalid("incident_id", "`incident_id` is required (a string)")
        if not isinstance(actor, str) or not actor.strip():
            raise Invalid("actor", "`actor` is required: who acknowledges")
        via = payload.get("via", "cli")
        if via not in ("cli", "board", "link"):
            raise Invalid("via", f"{via!r} is not one of cli, board, link")
        ack = await self._acknowledge(incident_id, actor, via)
        if ack is None:
            memo = await self.notifier.memo(incident_id)  # type: ignore[union-attr]
            raise Conflict("incident_id", f"already acknowledged by {memo.acked_by}")
        return ok(incident_id=incident_id, acknowledged_by=actor, event_id=ack.id)

    async def _link_ack(self, incident_id: str, person_id: str) -> bool:
        try:
            return await self._acknowledge(incident_id, person_id, "link") is not None
        except NotFound:
            return False


def build(source: ConfigSource) -> NotifyService:
    units = load_units(source)
    names = {u.id: {"zh": u.name, "en": u.name_en or u.name} for u in units.units}
    return NotifyService(load_notify(source), names, profile=source.profile_name(),
                         calendar=WorkCalendar(load_calendar(source)))
