"""Daily supervision (督办): the office follows every open major incident up with its unit each
working day (seed 001: 每天…打电话进行督办). Pure.

`decide_supervise` records one supervision (`incident.supervised`, intake). `owed_on` says,
for one local day, which open grade I/II incidents had no supervision record that day: on a
day that is not a working day (the calendar of calendar.toml) nothing is owed. deadlines
keeps the answer for today in `sys.supervision`; a report computes it for any day from the
events with the same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, Supervise
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import IncidentSupervised
from watchboard.domain.views import CoreView, SupervisionDayView

MAJOR_GRADES: tuple[str, ...] = ("I", "II")


def decide_supervise(core: CoreView | None, cmd: Supervise, ctx: Ctx) -> IncidentSupervised:
    if core is None:
        raise NotFound("incident_id", "no such incident; check the id (`watchboard ls`)",
                       zh="未找到该舆情，请核对编号（可用 `watchboard ls` 查看）")
    if core.stage == "closed":
        raise Conflict("incident_id", f"incident {core.id} is closed; there is nothing left to supervise",
                       zh=f"舆情 {core.id} 已结案，无需再督办")
    note = cmd.note.strip()
    if not note:
        raise Invalid("note", "say whom you followed up with and what they said (--note \"电话督办 教育局 王科长：…\")",
                      zh="请写明督办对象及对方答复（`--note \"电话督办 教育局 王科长：…\"`）")
    return IncidentSupervised(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                              causation_id=ctx.request_id, note=note)


@dataclass(frozen=True)
class Watched:
    """What `owed_on` needs of one incident."""

    id: str
    grade: str | None
    open: bool
    supervised_at: datetime | None = None  # its latest supervision (or the latest on or before the day)


def owed_on(day: date, incidents: Iterable[Watched], cal: WorkCalendar,
            now: datetime | None = None) -> SupervisionDayView:
    """The open grade I/II incidents of `day` (local) and those not supervised that day."""
    incidents = list(incidents)
    working = cal.is_working_day(day)
    due = sorted(w.id for w in incidents if w.open and w.grade in MAJOR_GRADES) if working else []
    by_id = {w.id: w for w in incidents} if working else {}
    unsupervised = [i for i in due if not _on(by_id[i].supervised_at, day, cal)]
    return SupervisionDayView(day=day, working_day=working, due=due, unsupervised=unsupervised, updated_at=now)


def _on(at: datetime | None, day: date, cal: WorkCalendar) -> bool:
    return at is not None and cal.local(at).date() == day
