"""The scheduled reports, wired (schedule.py decides; this reads the stream, builds, claims,
queues). Every `reports.check_every` notify asks `schedule.due_jobs`; for a report it has not
dealt with yet:

1. **claim** it in the stream: its `report.dispatched` event (id = the report's key, so also its
   Nats-Msg-Id) is looked for on `wb.ev.notify._.report.dispatched`; if no notify claimed it,
   this one publishes the claim — a second notify doing the same within the stream's duplicate
   window gets a duplicate ack and leaves the report to the first (its instance id is in the
   claim, so a notify that crashed after claiming finds its own claim and goes on);
2. **build** it as `watchboard report` does (`watchboard.reports`: a replay of the stream with
   direct gets, as of the scheduled moment, so a late send is the same document), once per
   language its recipients read, as a Word file in `reports.folder`;
3. **queue** one notice per recipient × contact (`[[routes]]` of `report.daily` /
   `report.weekly`) and record the report in notify.sqlite, in one transaction: the delivery
   loop sends them like any notice (retries, `notice.sent`), and a restart neither repeats nor
   loses them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from watchboard.bus.reader import scan
from watchboard.bus.runtime import Runtime
from watchboard.bus.subjects import STREAM
from watchboard.config import ConfigSource
from watchboard.domain.events import NO_INCIDENT, ReportDispatched, decode_event
from watchboard.services.notify import routing
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.schedule import Job, Made, due_jobs, report_notices
from watchboard.services.notify.settings import NotifyConfig, seconds
from watchboard.services.notify.templates import Outgoing

log = logging.getLogger("watchboard.notify")

INSTANCE_FILE = "notify.instance"
FILE_NAMES = {("daily", "zh"): "每日舆情汇报-{period}.docx", ("weekly", "zh"): "督查通报-{period}.docx",
              ("daily", "en"): "daily-report-{period}.docx", ("weekly", "en"): "supervision-circular-{period}.docx"}


def instance_id(data_dir: Path) -> str:
    """This notify's id, made once and kept in its data folder (a claim names who sends)."""
    path = data_dir / INSTANCE_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if not value:
        value = f"notify-{secrets.token_hex(6)}"
        path.write_text(value + "\n", encoding="utf-8")
    return value


class Reporter:
    def __init__(self, rt: Runtime, cfg: NotifyConfig, notifier: Notifier, source: ConfigSource, *,
                 profile: str, on_queued: Any) -> None:
        self.rt, self.cfg, self.notifier, self.source, self.profile = rt, cfg, notifier, source, profile
        self.on_queued = on_queued  # wakes the delivery loop
        self.instance = instance_id(rt.ctx.data_dir)
        folder = Path(cfg.reports.folder)
        self.folder = folder if folder.is_absolute() else rt.ctx.data_dir / folder
        self.setting: Any = None  # watchboard.reports.build.Setting, loaded with the first report
        self.zone: Any = None

    def _zone(self) -> Any:
        if self.zone is None:
            from watchboard.config import load_watchboard

            self.zone = load_watchboard(self.source).zone()
        return self.zone

    async def tick(self) -> None:
        now = self.rt.now()
        for job in due_jobs(now, self.cfg.reports, self._zone()):
            if await self.notifier.report_status(job.key) is not None:
                continue
            if not routing.routed_roles(self.cfg.routes, job.cause, None, profile=self.profile):
                continue  # nobody is routed this report: nothing is made
            owner = await self.claim(job, now)
            if owner != self.instance:
                await self.notifier.record_report(job.key, "elsewhere", now, detail=owner)
                log.info("notify: %s is sent by %s, not by this notify (%s)", job.key, owner, self.instance)
                continue
            notices = await self.make(job, now)
            new = await self.notifier.record_report(job.key, "queued", now, notices=notices,
                                                    detail=", ".join(sorted({n.person_id for n in notices})))
            log.info("notify: %s: %d notices queued", job.key, len(new))
            self.on_queued()

    # --- 1. the claim ------------------------------------------------------------------------

    def _claims(self) -> str:
        return self.rt.subjects.event("notify", NO_INCIDENT, "report.dispatched")

    async def claimed_by(self, key: str) -> str | None:
        """The instance whose claim of `key` the stream holds, if any."""
        assert self.rt.nc is not None
        for msg in await scan(self.rt.nc, STREAM, self._claims(), timeout=10.0):
            event = decode_event(msg.data)
            if isinstance(event, ReportDispatched) and event.key == key:
                return event.instance
        return None

    async def claim(self, job: Job, now: datetime) -> str:
        """Who sends `job`: the claim found in the stream, else ours once the stream took it as
        new (a duplicate ack: another notify claimed it just before us)."""
        found = await self.claimed_by(job.key)
        if found is not None:
            return found
        assert self.rt.publisher is not None
        event = ReportDispatched(id=job.key, incident_id=NO_INCIDENT, at=now, actor="notify", kind=job.kind,
                                 period=job.period, key=job.key, instance=self.instance,
                                 scheduled_at=job.scheduled_at)
        ack = await self.rt.publisher.publish(event)
        if not ack.duplicate:
            return self.instance
        return await self.claimed_by(job.key) or "another notify"

    # --- 2. the report -----------------------------------------------------------------------

    async def make(self, job: Job, now: datetime) -> list[Outgoing]:
        from watchboard.reports import period as periods
        from watchboard.reports.build import load_setting
        from watchboard.reports.replay import replay_window

        if self.setting is None:
            self.setting = await asyncio.to_thread(load_setting, self.source)
        zone = self._zone()
        if job.kind == "daily":
            period = periods.daily(job.day(), job.scheduled_at, zone)
        else:
            period = periods.weekly(*job.week(), job.scheduled_at, zone)
        assert self.rt.nc is not None
        replayed = await replay_window(self.rt.nc, self.rt.subjects,
                                       period.start - timedelta(days=self.cfg.reports.lookback_days), period.as_of,
                                       timeout=seconds(self.cfg.reports.timeout))
        resolution = routing.route(self.cfg, job.cause, None, unit=None, on_duty=self.notifier.on_duty(now),
                                   profile=self.profile)
        for missing in resolution.missing:
            log.warning("notify: %s reached nobody for %s; check notify.toml", job.key, missing)
        people = self.notifier.ctx.people
        langs = sorted({people[r.person_id].lang for r in resolution.recipients if r.person_id in people}) or ["zh"]
        self.folder.mkdir(parents=True, exist_ok=True)
        made = {}
        for lang in langs:
            # python-docx and matplotlib are CPU work of a second or two: off the event loop.
            made[lang] = await asyncio.to_thread(self._write, job, period, replayed, lang, now)
        return report_notices(self.notifier.ctx, job, resolution.recipients, made, now)

    def _write(self, job: Job, period: Any, replayed: Any, lang: str, now: datetime) -> Made:
        from watchboard.reports.build import build
        from watchboard.reports.document import Para
        from watchboard.reports.weekly import week_text

        replay = {"events": len(replayed.events), "window": replayed.window, "earlier": replayed.earlier,
                  "start_seq": replayed.start_seq, "last_seq": replayed.last_seq}
        report = build(job.kind, replayed.events, period, self.setting, lang, now=job.scheduled_at, replay=replay)
        path = self.folder / FILE_NAMES[(job.kind, lang)].format(period=job.period)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(report.render("docx"))
        os.replace(tmp, path)  # a reader never sees half a file
        lead = next((b.text for b in report.document.blocks if isinstance(b, Para)), report.document.title)
        words = report.lang.date(period.start) if job.kind == "daily" else week_text(period, report.lang)
        return Made(lang=lang, title=report.document.title, period=words, summary=lead, path=path)
