"""BoardModel: folding KV changes, sort order, counts, matrix, clocks, trend, re-sync."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.board.support import NOW, incident
from watchboard.board.model import BoardModel, Filter, newly_urgent, next_clock
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import ClocksView, ClockView, GradeView, SweepView, encode_view


def model_with(*groups: list[KVChange]) -> BoardModel:
    model = BoardModel()
    for group in groups:
        model.ingest_all(group)
    return model


def test_ingest_returns_changed_id_and_builds_row() -> None:
    """One incident's four keys make one open row with grade, owner and next clock."""
    model = BoardModel()
    changed = model.ingest_all(incident(1, "II", owner="transport"))
    assert changed == {"01JTEST0000000000000000001"}
    (row,) = model.open_rows()
    assert (row.grade, row.owner, row.title) == ("II", "县交通运输局", "事件1")  # the name grading sent
    assert row.due is not None and row.due.name == "first_response"  # 2 h left, report_up 3 h


def test_sort_grade_first_then_oldest_first() -> None:
    """Open incidents sort by grade (I first) then age (oldest first)."""
    model = model_with(incident(1, "IV", minutes_ago=500), incident(2, "I", minutes_ago=10),
                       incident(3, "II", minutes_ago=30), incident(4, "I", minutes_ago=40),
                       incident(5, None, minutes_ago=999))
    assert [r.id[-1] for r in model.open_rows()] == ["4", "2", "3", "1", "5"]


@pytest.mark.parametrize(("sort", "expected"), [
    ("due", ["2", "1", "3"]), ("age", ["3", "1", "2"]), ("owner", ["2", "3", "1"]),
])
def test_other_sorts(sort: str, expected: list[str]) -> None:
    """Sorting by due clock, age or owner."""
    model = model_with(incident(1, "IV", minutes_ago=100, owner="c"),
                       incident(2, "I", minutes_ago=50, owner="a"),
                       incident(3, "III", minutes_ago=200, owner="b"))
    model.set_sort(sort)
    assert [r.id[-1] for r in model.open_rows()] == expected


def test_closed_incident_leaves_the_open_list_but_counts_in_trend() -> None:
    """stage == closed removes the row; the incident stays known."""
    model = model_with(incident(1, "II"), incident(2, "III", stage="closed"))
    assert [r.id[-1] for r in model.open_rows()] == ["1"]
    assert model.grade_counts() == {"I": 0, "II": 1, "III": 0, "IV": 0}
    per_grade, _ = model.trend(NOW)
    assert sum(per_grade["III"]) == 1


def test_deleting_every_part_forgets_the_incident() -> None:
    """A purged incident disappears."""
    model = model_with(incident(1, "II"))
    for part in ("core", "grade", "clocks", "notices"):
        model.ingest(KVChange(f"01JTEST0000000000000000001.{part}", None))
    assert model.open_rows() == [] and model.incidents == {}


def test_unreadable_value_keeps_previous() -> None:
    """A value the board cannot decode is ignored, not a crash."""
    model = model_with(incident(1, "II"))
    assert model.ingest(KVChange("01JTEST0000000000000000001.grade", b"{not json")) == set()
    assert model.open_rows()[0].grade == "II"


def test_grade_counts_and_matrix() -> None:
    """Counts per grade, and per (grade, owner) with unassigned last."""
    model = model_with(incident(1, "I", owner="edu"), incident(2, "I", owner="edu"),
                       incident(3, "IV", owner="env"), incident(4, "II", owner=None))
    assert model.grade_counts() == {"I": 2, "II": 1, "III": 0, "IV": 1}
    owners, cells = model.matrix()
    assert owners == ["edu", "env", ""]
    assert cells == {("I", "edu"): 2, ("IV", "env"): 1, ("II", ""): 1}


def test_next_clock_is_first_running_by_due() -> None:
    """The next due clock ignores met/breached clocks."""
    clocks = ClocksView(clocks=[
        ClockView(name="a", due_at=NOW + timedelta(hours=1), basis="calendar", status="met"),
        ClockView(name="b", due_at=NOW + timedelta(hours=3), basis="calendar", status="running"),
        ClockView(name="c", due_at=NOW + timedelta(hours=2), basis="working", status="running"),
        ClockView(name="d", due_at=NOW - timedelta(hours=2), basis="working", status="breached"),
    ])
    assert next_clock(clocks).name == "c"  # type: ignore[union-attr]
    assert next_clock(ClocksView()) is None and next_clock(None) is None


def test_trend_bins_by_hour_and_grade() -> None:
    """New incidents per hour per grade; breaches in the hour they fell due."""
    model = model_with(incident(1, "I", minutes_ago=10), incident(2, "I", minutes_ago=70),
                       incident(3, "IV", minutes_ago=60 * 30))
    model.ingest(KVChange("01JTEST0000000000000000001.clocks", encode_view(ClocksView(clocks=[
        ClockView(name="x", due_at=NOW - timedelta(minutes=90), basis="calendar", status="breached")]))))
    per_grade, breached = model.trend(NOW)
    # NOW is 02:00 sharp: 01:50 is one hour back, 00:50 two
    assert per_grade["I"][-1] == 0 and per_grade["I"][-2] == 1 and per_grade["I"][-3] == 1
    assert sum(per_grade["IV"]) == 0  # 30 h ago is outside the window
    assert breached[-3] == 1  # the clock set above
    assert breached[-7] == 1 and sum(breached) == 2  # incident 3: 24 h report clock, due 6 h ago


def test_sweep_key() -> None:
    """sys.sweep is kept apart from incidents."""
    model = BoardModel()
    model.ingest(KVChange("sys.sweep", encode_view(SweepView(last_at=NOW, missed=["10:00"]))))
    assert model.sweep is not None and model.sweep.missed == ["10:00"] and model.incidents == {}


def test_resync_drops_incidents_missing_from_new_snapshot() -> None:
    """After a reconnect, an incident deleted meanwhile is dropped at SnapshotDone."""
    model = model_with(incident(1, "II"), incident(2, "III"))
    model.begin_resync()
    model.ingest_all(incident(1, "II"))
    assert model.end_resync() == {"01JTEST0000000000000000002"}
    assert [r.id[-1] for r in model.open_rows()] == ["1"]


def test_filter_by_grade_owner_stage_text() -> None:
    """Filters narrow the list and combine."""
    model = model_with(incident(1, "I", owner="edu", title="食堂"), incident(2, "II", owner="env"),
                       incident(3, "I", owner="env", title="化工厂", stage="handling"))
    model.set_filter(Filter(grades=frozenset({"I"})))
    assert {r.id[-1] for r in model.open_rows()} == {"1", "3"}
    model.set_filter(Filter(grades=frozenset({"I"}), owner="ENV"))
    assert [r.id[-1] for r in model.open_rows()] == ["3"]
    model.set_filter(Filter(text="食堂"))
    assert [r.id[-1] for r in model.open_rows()] == ["1"]
    model.set_filter(Filter(stage="handling"))
    assert [r.id[-1] for r in model.open_rows()] == ["3"]


def test_row_title_is_sanitized() -> None:
    """Control sequences never reach a row."""
    model = model_with(incident(1, "II", title="a\x1b[31mb\u202ec\x07"))
    title = model.open_rows()[0].title
    assert "\x1b" not in title and "\u202e" not in title and "\x07" not in title


@pytest.mark.parametrize(("before", "after", "expected"), [
    (None, "I", True), (None, "II", True), (None, "III", False), ("III", "II", True),
    ("II", "I", True), ("I", "II", False), ("II", "II", False), ("I", "IV", False),
])
def test_newly_urgent(before: str | None, after: str, expected: bool) -> None:
    """Flash when an incident becomes I/II or rises from II to I."""
    b = GradeView(grade=before) if before else None
    assert newly_urgent(b, GradeView(grade=after)) is expected
