"""When the scheduled reports are due, and the notices that carry one (pure; reporter.py does
the I/O).

- The daily report (每日舆情汇报) of day D is due at `reports.daily` (17:00) of D and covers D
  up to that moment; the weekly circular (督查通报) is due at `reports.weekly` (Monday 09:00)
  and covers the last complete ISO week before it.
- Only the latest moment of each at or before now is due, and only for `catch_up` after it:
  a notify that was down at 17:00 and back at 18:00 sends the day's report (as of 17:00, the
  same document it would have sent); back the next morning, it leaves it (a person makes it with
  `watchboard report daily --date …`), so a fresh install does not send last week's circular.
- Each report and period has one key, `report:daily:2026-11-27`, `report:weekly:2026-W48`: the
  id of its `report.dispatched` event (the claim in the stream, shared by every notify) and the
  root of its notices' keys (the dedup of each notify's queue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from urllib.parse import quote

from watchboard.domain.events import NO_INCIDENT
from watchboard.services.notify.model import Context
from watchboard.services.notify.render import notice_key
from watchboard.services.notify.routing import Recipient
from watchboard.services.notify.settings import WEEKDAYS, Reports, seconds
from watchboard.services.notify.templates import Outgoing, clean

KINDS = ("daily", "weekly")
MAX_SUMMARY_CHARS = 600  # of the report's lead paragraph, in a robot's message


@dataclass(frozen=True)
class Job:
    """One report of one period, due at `scheduled_at` (aware, local)."""

    kind: str  # daily | weekly
    period: str  # 2026-11-27 | 2026-W48
    scheduled_at: datetime

    @property
    def key(self) -> str:
        return f"report:{self.kind}:{self.period}"

    @property
    def cause(self) -> str:
        """The routable event it is sent as (`[[routes]] event = "report.daily"`)."""
        return f"report.{self.kind}"

    def day(self) -> date:
        return date.fromisoformat(self.period)

    def week(self) -> tuple[int, int]:
        year, _, week = self.period.partition("-W")
        return int(year), int(week)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def latest_daily(now: datetime, at: str, zone: tzinfo) -> Job:
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), _hhmm(at), tzinfo=zone)
    if moment > local:
        moment -= timedelta(days=1)
    return Job("daily", moment.date().isoformat(), moment)


def latest_weekly(now: datetime, at: str, zone: tzinfo) -> Job:
    day, _, hhmm = at.partition(" ")
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(day)) % 7
    moment = datetime.combine(local.date() - timedelta(days=back), _hhmm(hhmm), tzinfo=zone)
    if moment > local:
        moment -= timedelta(days=7)
    # The last complete ISO week before the moment: the week before the one it falls in.
    monday = moment.date() - timedelta(days=moment.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return Job("weekly", f"{year}-W{week:02d}", moment)


def due_jobs(now: datetime, cfg: Reports, zone: tzinfo) -> list[Job]:
    """The reports due at `now`: the latest moment of each, if it passed less than `catch_up` ago."""
    grace = timedelta(seconds=seconds(cfg.catch_up))
    jobs = []
    if cfg.daily:
        jobs.append(latest_daily(now, cfg.daily, zone))
    if cfg.weekly:
        jobs.append(latest_weekly(now, cfg.weekly, zone))
    return [j for j in jobs if now - j.scheduled_at < grace]


# --- the notices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """One report as made for one language: its title, period in words, lead paragraph, file."""

    lang: str
    title: str
    period: str
    summary: str
    path: Path


def link_of(path: Path, base_url: str) -> str:
    """Where a robot's reader finds the file: under `base_url` when the folder is served, else its path."""
    if base_url:
        return f"{base_url.rstrip('/')}/{quote(path.name)}"
    return str(path)


def report_notices(ctx: Context, job: Job, recipients: Iterable[Recipient], made: dict[str, Made],
                   now: datetime) -> list[Outgoing]:
    """One notice per contact of each recipient, in the person's language: e-mail carries the
    Word file, every other channel the summary and the link (the board shows the subject)."""
    out: list[Outgoing] = []
    for r in recipients:
        person = ctx.people.get(r.person_id)
        if person is None:
            continue
        report = made.get(person.lang) or next(iter(made.values()))
        pair = ctx.cfg.templates[person.lang][job.cause]
        values = {"person": person.name, "title": clean(report.title, 200), "period": clean(report.period, 60),
                  "summary": clean(report.summary, MAX_SUMMARY_CHARS),
                  "link": link_of(report.path, ctx.cfg.reports.base_url), "at": ctx.local(now)}
        for contact in person.contacts:
            out.append(Outgoing(
                key=notice_key(job.key, person.id, contact.label), incident_id=NO_INCIDENT, event_id=job.key,
                cause=job.cause, person_id=person.id, person_name=person.name, contact=contact.label,
                lang=person.lang, subject=pair.subject, body=pair.body, values=values, roles=list(r.roles),
                attachments=[str(report.path)] if contact.channel == "email" else []))
    return out
