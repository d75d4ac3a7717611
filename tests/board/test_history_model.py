"""The board keeps only what it shows (open incidents and those closed in the last day) and
keeps its trend and alerts as incidents change, not by walking every incident per redraw
(issue 13); the feed holds back keys of incidents it does not show."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from tests.board.support import NOW, incident
from watchboard.board.ingest import Ingest
from watchboard.board.model import GRADES, BoardModel, Trend
from watchboard.bus.feed_types import KVChange
from watchboard.bus.reader import HELD_MAX, _Shown
from watchboard.domain.views import (
    ClocksView,
    ClockView,
    CoreView,
    GradeView,
    NoticesView,
    NoticeView,
    decode_view,
    encode_view,
    kv_key,
)

H = timedelta(hours=1)


def iid(n: int) -> str:
    return f"01JTEST{n:019d}"


def closed_at(n: int, at: datetime) -> KVChange:
    """Incident n's record, closed at `at`."""
    core = decode_view("core", incident(n, "II")[0].value or b"")
    assert isinstance(core, CoreView)
    return KVChange(kv_key(iid(n), "core"),
                    encode_view(msgspec.structs.replace(core, stage="closed", closed_at=at)))


def naive_trend(model: BoardModel, now: datetime, hours: int = 24) -> Trend:
    """The trend as the board computed it before: walking every incident it holds."""
    per_grade = {g: [0] * hours for g in GRADES}
    breached = [0] * hours
    this_hour = int(now.timestamp()) // 3600
    for view in model.incidents.values():
        if view.core is not None:
            ago = this_hour - int(view.core.reported_at.timestamp()) // 3600
            grade = view.grade.grade if view.grade else ""
            if 0 <= ago < hours and grade in per_grade:
                per_grade[grade][hours - 1 - ago] += 1
        for clock in (view.clocks.clocks if view.clocks else []):
            ago = this_hour - int(clock.due_at.timestamp()) // 3600
            if clock.status == "breached" and 0 <= ago < hours:
                breached[hours - 1 - ago] += 1
    return Trend(per_grade, breached)


def regrade(n: int, grade: str) -> KVChange:
    return KVChange(kv_key(iid(n), "grade"), encode_view(GradeView(grade=grade)))


def breach(n: int, *hours_ago: int) -> KVChange:
    clocks = [ClockView(name=f"c{i}", due_at=NOW - h * H, basis="calendar", status="breached")
              for i, h in enumerate(hours_ago)]
    return KVChange(kv_key(iid(n), "clocks"), encode_view(ClocksView(clocks=clocks)))


STEPS: dict[str, list[KVChange]] = {
    "reported": incident(1, "II", minutes_ago=30) + incident(2, "I", minutes_ago=300) + incident(3, None),
    "regraded": [regrade(1, "I"), regrade(3, "IV")],
    "breached": [breach(2, 1, 5, 30), breach(1, 0)],
    "unbreached": [breach(2)],
    "closed": [closed_at(1, NOW - H)],
    "deleted": [KVChange(kv_key(iid(2), p), None) for p in ("core", "grade", "clocks", "notices")],
    "old": incident(4, "III", minutes_ago=60 * 30),  # reported 30 hours ago: outside the day
}


@pytest.mark.parametrize("upto", list(STEPS))
@pytest.mark.parametrize("one_by_one", [False, True])
def test_trend_kept_as_incidents_change_equals_the_walk(upto: str, one_by_one: bool) -> None:
    """After every step — reported, regraded, breached, a breach gone, closed, deleted — the
    trend kept per hour is what walking every incident gives."""
    model = BoardModel()
    for name, changes in STEPS.items():
        if one_by_one:
            for change in changes:
                model.ingest(change)
        else:
            model.ingest_all(changes)
        if name == upto:
            break
    assert model.trend(NOW) == naive_trend(model, NOW)
    assert model.trend(NOW + 3 * H) == naive_trend(model, NOW + 3 * H)  # the hours move on


def test_trend_counts_the_right_hours() -> None:
    """Not only equal to the walk: two new in the hour before NOW's (01:55 and 01:50 UTC; NOW is
    02:00), one I and one II, and one breach five hours before NOW."""
    model = BoardModel()
    model.ingest_all(incident(1, "I", minutes_ago=5, clocks=[]) + incident(2, "II", minutes_ago=10, clocks=[])
                     + [breach(1, 5)])
    per_grade, breached = model.trend(NOW)
    assert per_grade["I"][-2] == 1 and per_grade["II"][-2] == 1 and sum(per_grade["I"]) == 1
    assert sum(per_grade["III"]) == 0
    assert breached[-6] == 1 and sum(breached) == 1


@pytest.mark.parametrize(("closed_hours_ago", "kept"), [(1, True), (23, True), (25, False), (24 * 30, False)])
def test_closed_incidents_are_kept_for_a_day(closed_hours_ago: int, kept: bool) -> None:
    """Through the ingest (now − 24 h): a closed incident stays for the day, then is dropped,
    and later keys of a dropped incident do not bring back a row without a title."""
    model = BoardModel()
    ingest = Ingest(model, lambda: NOW)
    ingest.gather_all([*incident(1, "II"), closed_at(1, NOW - closed_hours_ago * H), *incident(2, "IV")])
    ingest.settle()
    assert (model.get(iid(1)) is not None) is kept
    ingest.gather_all([regrade(1, "I")])
    ingest.settle()
    assert (model.get(iid(1)) is not None) is kept and [r.id for r in model.open_rows()] == [iid(2)]


def test_the_day_moves_on() -> None:
    """`evict` drops what closed over a day before the ingest's now; open incidents stay."""
    clock = [NOW]
    model = BoardModel()
    ingest = Ingest(model, lambda: clock[0])
    ingest.gather_all([*incident(1, "II"), closed_at(1, NOW - H), *incident(2, "IV")])
    ingest.settle()
    assert ingest.evict() == set()
    clock[0] = NOW + 24 * H
    assert ingest.evict() == {iid(1)} and set(model.incidents) == {iid(2)}
    assert model.trend(clock[0]) == naive_trend(model, clock[0])


FAILED = NoticeView(to="g-leaders", channel="webhook:wecom", status="failed", cause="incident.graded",
                    reason="refused", at=NOW - 2 * H)
BOARD = NoticeView(to="p-li", channel="board", status="sent", cause="clock.breached", at=NOW - H)
MAIL = NoticeView(to="p-office", channel="email", status="sent", cause="incident.graded", at=NOW)


def notices(n: int, *items: NoticeView) -> KVChange:
    return KVChange(kv_key(iid(n), "notices"), encode_view(NoticesView(notices=list(items))))


def test_alerts_follow_their_incidents() -> None:
    """Alerts kept per incident: new ones appear, a changed list replaces the old, a closed
    incident's leave, newest first across incidents."""
    model = BoardModel()
    model.ingest_all(incident(1, "II") + incident(2, "I") + [notices(1, FAILED, MAIL), notices(2, BOARD)])
    assert [(a.incident_id, a.to) for a in model.alerts()] == [(iid(2), "p-li"), (iid(1), "g-leaders")]
    model.ingest(notices(2, MAIL))  # board notice gone from 2's list
    assert [a.incident_id for a in model.alerts()] == [iid(1)]
    model.ingest(closed_at(1, NOW))
    assert model.alerts() == []
    assert [a.to for a in model.alerts(limit=1)] == []


# --- the feed's filter after a board's snapshot -----------------------------------------------


def grade_key(n: int) -> KVChange:
    return KVChange(kv_key(iid(n), "grade"), b'{"grade": "II"}')


@pytest.mark.parametrize(("changes", "passed"), [
    ([grade_key(1)], [grade_key(1)]),  # shown (in the snapshot): passes
    ([grade_key(2)], []),  # not shown: held
    ([grade_key(2), KVChange("live.01JTEST0000000000000000002", b"")], [grade_key(2)]),  # index key: released
    ([grade_key(2), KVChange(kv_key(iid(2), "core"), b"{}")], [grade_key(2), KVChange(kv_key(iid(2), "core"), b"{}")]),
    ([KVChange(kv_key(iid(2), "clocks"), None)], []),  # a purge of one not shown: nothing
    ([KVChange("sys.sweep", b"{}")], [KVChange("sys.sweep", b"{}")]),
])
def test_shown_holds_keys_of_incidents_not_shown(changes: list[KVChange], passed: list[KVChange]) -> None:
    shown = _Shown({iid(1)})
    out = [c for change in changes for c in shown.take(change)]
    assert out == passed


def test_shown_holds_at_most_so_many_keys() -> None:
    shown = _Shown(set())
    for n in range(HELD_MAX + 10):
        shown.take(grade_key(1000 + n))
    assert shown.count == HELD_MAX and iid(1000) not in shown.held and iid(1000 + HELD_MAX + 9) in shown.held
