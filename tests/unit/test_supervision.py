"""Daily supervision (督办): which open grade I/II incidents had no supervision on a working day. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from watchboard.domain import incident
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, Supervise
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import IncidentClosed, IncidentReported, Mention
from watchboard.domain.supervision import Watched, decide_supervise, owed_on

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


WATCHED = [
    Watched("A", "I", True, at("2026-11-23 08:40")),   # supervised that Monday morning
    Watched("B", "II", True, at("2026-11-22 23:50")),  # last supervised the evening before (Sunday)
    Watched("C", "II", True, None),                    # never
    Watched("D", "III", True, None),                   # grade III: nothing owed
    Watched("E", "II", False, None),                   # closed
    Watched("F", None, True, None),                    # not graded yet
]


@pytest.mark.parametrize(("day", "working", "due", "unsupervised"), [
    (date(2026, 11, 23), True, ["A", "B", "C"], ["B", "C"]),   # an ordinary Monday
    (date(2026, 11, 24), True, ["A", "B", "C"], ["A", "B", "C"]),  # the next day everything is owed again
    (date(2026, 11, 22), False, [], []),                      # Sunday
    (date(2026, 10, 1), False, [], []),                       # National Day
    (date(2026, 10, 10), True, ["A", "B", "C"], ["A", "B", "C"]),  # Saturday, a make-up working day (调休)
])
def test_owed_on_the_working_calendar(day: date, working: bool, due: list[str], unsupervised: list[str]) -> None:
    view = owed_on(day, WATCHED, CAL)
    assert (view.working_day, view.due, view.unsupervised) == (working, due, unsupervised)


def test_the_day_is_the_local_day() -> None:
    """A supervision at 00:30 Beijing time (16:30 UTC the day before) counts for the Beijing day."""
    late = Watched("A", "I", True, datetime(2026, 11, 22, 16, 30, tzinfo=UTC))
    assert owed_on(date(2026, 11, 23), [late], CAL).unsupervised == []
    assert owed_on(date(2026, 11, 24), [late], CAL).unsupervised == ["A"]


def test_supervise_records_a_note_on_an_open_incident() -> None:
    core = incident.apply(None, IncidentReported(id="r", incident_id="A", at=at("2026-11-23 08:00"), actor="m",
                                                 title="t", mention=Mention(platform="weibo")))
    event = decide_supervise(core, Supervise(incident_id="A", actor="办公室 李", note="电话督办教育局王科长：正在核查"),
                             Ctx(at("2026-11-23 09:00"), "R"))
    assert (event.note, event.actor, event.at) == ("电话督办教育局王科长：正在核查", "办公室 李", at("2026-11-23 09:00"))
    core = incident.apply(core, event)
    assert core is not None and [(n.actor, n.text) for n in core.supervisions] == [("办公室 李", event.note)]
    with pytest.raises(Invalid):
        decide_supervise(core, Supervise(incident_id="A", actor="li", note=" "), Ctx(at("2026-11-23 09:00"), "R"))
    closed = incident.apply(core, IncidentClosed(id="c", incident_id="A", at=at("2026-11-23 10:00"), actor="l",
                                                 summary="结"))
    with pytest.raises(Conflict):
        decide_supervise(closed, Supervise(incident_id="A", actor="li", note="x"), Ctx(at("2026-11-23 11:00"), "R"))
    with pytest.raises(NotFound):
        decide_supervise(None, Supervise(incident_id="A", actor="li", note="x"), Ctx(at("2026-11-23 11:00"), "R"))
