"""Folding many KV changes at once: the same board as one by one, `KVBatch` items, the collector."""

from __future__ import annotations

import gc

import pytest

from tests.board.support import NOW, ScriptedFeed, incident, make_app, settle, snapshot, table_lines
from watchboard.board.model import BoardModel
from watchboard.bus.feed_types import Connection, KVBatch, KVChange, SnapshotDone
from watchboard.domain.views import SweepView, encode_view

ONE = "01JTEST0000000000000000001"
SWEEP = KVChange("sys.sweep", encode_view(SweepView(last_at=NOW, missed=["10:00"])))

SEQUENCES: dict[str, list[KVChange]] = {
    "snapshot": incident(1, "II") + incident(2, "IV", owner=None) + incident(3, None),
    "deleted then back": [*incident(1, "II"), KVChange(f"{ONE}.grade", None), *incident(1, "I")],
    "every part deleted": incident(1, "II") + [KVChange(f"{ONE}.{p}", None)
                                               for p in ("core", "grade", "clocks", "notices")],
    "delete of the unknown": [KVChange(f"{ONE}.grade", None), *incident(2, "III")],
    "unreadable keeps the old": [*incident(1, "II"), KVChange(f"{ONE}.grade", b"{not json")],
    "closed": incident(1, "II", stage="closed") + incident(2, "I"),
    "sys keys and strays": [SWEEP, KVChange("sys.other", b"x"), KVChange("no-part", b"x"), *incident(1, "III")],
}


@pytest.mark.parametrize("changes", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_ingest_all_ends_where_one_by_one_ends(changes: list[KVChange]) -> None:
    """`ingest_all` leaves the same views, rows and sweep as `ingest` change by change."""
    one, many = BoardModel(), BoardModel()
    expected: set[str] = set()
    for change in changes:
        expected |= one.ingest(change)
    changed = many.ingest_all(changes)
    assert many.incidents == one.incidents
    assert many.rows == one.rows
    assert many.sweep == one.sweep
    assert set(many.incidents) <= changed <= expected
    assert many.open_rows() == one.open_rows()


def test_ingest_all_during_resync_marks_what_it_saw() -> None:
    """A batch during a re-sync counts as seen; the incident it did not mention is dropped."""
    model = BoardModel()
    model.ingest_all(incident(1, "II") + incident(2, "III"))
    model.begin_resync()
    model.ingest_all(incident(2, "III"))
    assert model.end_resync() == {ONE}
    assert list(model.rows) == ["01JTEST0000000000000000002"]


async def test_kvbatch_items_fill_the_board_and_a_raise_flashes() -> None:
    """A snapshot sent as `KVBatch` items fills the list; a batch raising IV to I rings."""
    groups = [incident(1, "IV", title="路灯不亮"), incident(2, "IV", title="井盖缺失")]
    feed = ScriptedFeed(Connection(state="connected", at=NOW), KVBatch(groups[0] + groups[1]),
                        SnapshotDone(count=8))
    app = make_app(feed)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot, app)
        lines = table_lines(app)
        assert any("路灯不亮" in line for line in lines) and any("井盖缺失" in line for line in lines)
        assert bells == []
        feed.push(KVBatch(incident(2, "I", title="井盖缺失")))
        await settle(pilot, app)
        assert bells == [1]
        assert app.model.rows["01JTEST0000000000000000002"].grade == "I"


async def test_collector_is_back_on_after_the_snapshot() -> None:
    """Cycle collection, paused while the first snapshot loads, is on again once it is in."""
    assert gc.isenabled()
    feed = ScriptedFeed(*snapshot(*(incident(n, "III") for n in range(1, 300))))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert app.snapshot_loaded and app.model.open_count() == 299
        assert gc.isenabled()


async def test_collector_is_back_on_when_the_feed_fails_mid_snapshot() -> None:
    """A feed that breaks before `SnapshotDone` does not leave cycle collection off."""
    feed = ScriptedFeed(Connection(state="connected", at=NOW), *incident(1, "II"),
                        RuntimeError("watcher lost"))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert gc.isenabled()
        assert app.model.open_count() == 1  # what came before the failure was folded in
