"""Ingest: feed items folded into the model in batches, what the next redraw shows, the collector policy."""

from __future__ import annotations

import pytest

from tests.board.support import NOW, incident
from watchboard.board.ingest import BIG_BATCH, FOLD_BUDGET, GcPolicy, Ingest
from watchboard.board.model import BoardModel
from watchboard.bus.feed_types import KVChange

ONE, TWO = "01JTEST0000000000000000001", "01JTEST0000000000000000002"


class Recorder:
    """Stands in for the `gc` module: records what the policy asked of the collector."""

    def __init__(self, *, enabled: bool = True, frozen: int = 0) -> None:
        self.enabled = enabled
        self.frozen = frozen
        self.calls: list[str] = []

    def isenabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.calls.append("enable")
        self.enabled = True

    def disable(self) -> None:
        self.calls.append("disable")
        self.enabled = False

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += 1

    def get_freeze_count(self) -> int:
        return self.frozen


def ingest_with(collector: Recorder | None = None) -> Ingest:
    return Ingest(BoardModel(), lambda: NOW, collector or Recorder())


def take(ingest: Ingest, changes: list[KVChange]) -> set[str]:
    for change in changes:
        ingest.gather(change)
    return ingest.settle()


def test_gathered_changes_fold_in_one_settle() -> None:
    """Nothing reaches the model until `settle`; then every gathered incident is there, once."""
    ingest = ingest_with()
    for change in incident(1, "II") + incident(2, "IV"):
        assert ingest.gather(change) is False
    assert ingest.model.incidents == {}
    assert ingest.settle() == {ONE, TWO}
    assert ingest.model.open_count() == 2 and ingest.pending == []
    assert ingest.settle() == set() and ingest.last_data_at == NOW


def test_gather_says_when_the_budget_is_reached() -> None:
    """The `FOLD_BUDGET`th change gathered asks for a settle now."""
    ingest = ingest_with()
    change = incident(1, "IV")[0]
    answers = [ingest.gather(change) for _ in range(FOLD_BUDGET)]
    assert answers[:-1] == [False] * (FOLD_BUDGET - 1) and answers[-1] is True


def test_no_redraw_before_the_first_snapshot_then_one_per_drain() -> None:
    """Changes before `SnapshotDone` wait; after it each drain redraws once for all that changed."""
    ingest = ingest_with()
    take(ingest, incident(1, "II"))
    assert ingest.drain() == (False, [])
    ingest.snapshot_done()
    assert ingest.drain() == (True, [])
    assert ingest.drain() == (False, [])
    take(ingest, incident(2, "III"))
    take(ingest, incident(1, "III"))
    assert ingest.drain() == (True, [])


@pytest.mark.parametrize(("before", "after", "flash"), [
    ("IV", "I", True), ("III", "II", True), ("II", "I", True), (None, "II", True),
    ("I", "II", False), ("II", "III", False), ("IV", "III", False),
])
def test_an_incident_that_becomes_urgent_after_the_snapshot_flashes(before: str | None, after: str,
                                                                    flash: bool) -> None:
    """A grade that becomes I or II (new, or raised) is drained as urgent; lowering or III/IV is not."""
    ingest = ingest_with()
    if before is not None:
        take(ingest, incident(1, before))
    ingest.snapshot_done()
    ingest.drain()
    take(ingest, incident(1, after))
    assert ingest.drain().urgent == ([ONE] if flash else [])


def test_the_first_snapshot_never_flashes() -> None:
    """Grade I incidents that were there before the board started are not news."""
    ingest = ingest_with()
    take(ingest, incident(1, "I") + incident(2, "II"))
    ingest.snapshot_done()
    assert ingest.drain() == (True, [])


def test_a_restarted_feed_resyncs() -> None:
    """The second feed's snapshot is the truth: an incident it does not mention is dropped."""
    ingest = ingest_with()
    ingest.feed_started()
    take(ingest, incident(1, "II") + incident(2, "III"))
    assert ingest.snapshot_done() == set()
    ingest.feed_ended()
    ingest.feed_started()
    take(ingest, incident(1, "II"))
    assert ingest.snapshot_done() == {TWO}
    assert list(ingest.model.rows) == [ONE]


def test_collector_off_while_the_first_snapshot_loads_then_frozen_once() -> None:
    """The first change pauses the collector; `SnapshotDone` freezes and turns it on; later changes leave it be."""
    gc = Recorder()
    ingest = ingest_with(gc)
    take(ingest, incident(1, "II") + incident(2, "III"))
    assert gc.calls == ["disable"]
    ingest.snapshot_done()
    assert gc.calls == ["disable", "freeze", "enable"] and gc.enabled
    take(ingest, incident(3, "IV"))
    ingest.feed_ended()
    assert gc.calls == ["disable", "freeze", "enable"]


def test_collector_back_on_without_freezing_when_the_feed_fails_mid_snapshot() -> None:
    """A feed that ends before `SnapshotDone` turns the collector on again and freezes nothing."""
    gc = Recorder()
    ingest = ingest_with(gc)
    ingest.gather(incident(1, "II")[0])
    ingest.feed_ended()
    assert gc.calls == ["disable", "enable"] and gc.enabled
    assert ingest.model.incidents  # what came before the failure was folded in


@pytest.mark.parametrize(("enabled", "frozen", "expected"), [
    (True, 0, ["disable", "freeze", "enable"]),
    (True, 5, ["disable", "enable"]),  # a board earlier in this process froze the heap already
    (False, 0, []),  # someone else turned it off: not ours to turn on
])
def test_pause_and_resume(enabled: bool, frozen: int, expected: list[str]) -> None:
    """The policy turns on only what it turned off, and freezes once a process."""
    gc = Recorder(enabled=enabled, frozen=frozen)
    policy = GcPolicy(gc)
    policy.pause()
    policy.pause()
    policy.resume(freeze=True)
    policy.resume(freeze=True)
    assert gc.calls == expected and gc.enabled is enabled


@pytest.mark.parametrize(("size", "expected"), [(BIG_BATCH, ["disable", "enable"]), (BIG_BATCH - 1, [])])
def test_a_big_batch_is_folded_with_the_collector_off(size: int, expected: list[str]) -> None:
    """A batch of `BIG_BATCH` changes or more turns the collector off for the fold, and on again after."""
    gc = Recorder()
    policy = GcPolicy(gc)
    with policy.batch(size):
        assert gc.enabled is not bool(expected)
    assert gc.calls == expected and gc.enabled


def test_a_big_batch_turns_the_collector_on_again_when_the_fold_fails() -> None:
    """An exception inside the batch still leaves the collector as it found it."""
    gc = Recorder()
    with pytest.raises(RuntimeError, match="boom"), GcPolicy(gc).batch(BIG_BATCH):
        raise RuntimeError("boom")
    assert gc.calls == ["disable", "enable"] and gc.enabled
