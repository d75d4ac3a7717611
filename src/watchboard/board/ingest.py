"""Feed ingestion: the KV changes the feed yields, gathered and folded into the `BoardModel`
in batches, what changed since the last redraw, and the garbage-collector policy.

Plain Python, no Textual and no asyncio: the App's feed worker hands each item here and turns
what comes back into messages and redraws; the tests drive it change by change.

Why batches: a 40,000-key snapshot taken one change at a time costs 40,000 model updates and
as many redraws. Gathered, it is ~20 calls of `BoardModel.ingest_all` (at most `FOLD_BUDGET`
changes each, ~10 ms, so keys and the screen are never held up longer) and one redraw; while
changes stream in, the App's 150 ms flush turns whatever changed into one redraw.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from watchboard.board.model import BoardModel, newly_urgent
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import GradeView, split_key

BOARD_DAY = timedelta(hours=24)  # closed incidents the board keeps: today's, and the trend's day
FOLD_BUDGET = 2048  # changes folded at once before the worker yields to the screen (~10 ms)
BIG_BATCH = 256  # a batch this large is folded with the collector off


class Collector(Protocol):
    """The parts of the `gc` module the policy uses (a test passes a recorder)."""

    def isenabled(self) -> bool: ...
    def enable(self) -> None: ...
    def disable(self) -> None: ...
    def freeze(self) -> None: ...
    def get_freeze_count(self) -> int: ...


class GcPolicy:
    """No cycle collection while the first snapshot loads; what it built is then frozen.

    A snapshot of 10,000 incidents leaves ~180,000 container objects that all live on: the
    collector would scan the growing heap several times over (0.2-0.4 s, more than the folding
    itself) and find nothing. Once it is in, `gc.freeze()` keeps those objects out of every
    later full collection, else one ~0.2 s pause comes soon after and again every few minutes
    while changes stream in.
    """

    def __init__(self, collector: Collector = gc) -> None:
        self.gc = collector
        self.paused = False  # we turned the collector off and owe turning it on

    def pause(self) -> None:
        if not self.paused and self.gc.isenabled():
            self.gc.disable()
            self.paused = True

    def resume(self, *, freeze: bool) -> None:
        """Turn the collector back on; with `freeze`, first keep what lives now out of it.

        Freezing happens once a process (one process runs one board; a second board in the
        same process, as in the tests, finds the heap frozen already)."""
        if not self.paused:
            return
        self.paused = False
        if freeze and self.gc.get_freeze_count() == 0:
            self.gc.freeze()
        self.gc.enable()

    @contextmanager
    def batch(self, size: int) -> Iterator[None]:
        """Fold a large batch with the collector off: its objects all live on, scanning them is waste."""
        off = size >= BIG_BATCH and self.gc.isenabled()
        if off:
            self.gc.disable()
        try:
            yield
        finally:
            if off:
                self.gc.enable()


class Drained(NamedTuple):
    """What the flush should do: redraw, and which incidents became grade I or II."""

    redraw: bool
    urgent: list[str]


class Ingest:
    """Folds feed items into one `BoardModel` and remembers what the next redraw must show."""

    def __init__(self, model: BoardModel, now: Callable[[], datetime], collector: Collector = gc) -> None:
        self.model = model
        self.now = now
        self.gc = GcPolicy(collector)
        self.pending: list[KVChange] = []  # read from the feed, not yet folded in
        self.loaded = False  # the first snapshot is in; no redraws before it
        self.starts = 0  # feeds started; every one after the first re-syncs
        self.last_data_at: datetime | None = None
        self._dirty = False  # something changed since the last `drain`
        self._urgent: list[str] = []

    # --- the feed's life ----------------------------------------------------------------

    def feed_started(self) -> None:
        """A feed starts: after the first, its snapshot is the truth (see `BoardModel.begin_resync`)."""
        if self.starts:
            self.model.begin_resync()
        self.starts += 1

    def gather(self, change: KVChange) -> bool:
        """Keep one change for the next `settle`; True when the budget is reached (settle now)."""
        if not self.loaded:
            self.gc.pause()
        self.pending.append(change)
        return len(self.pending) >= FOLD_BUDGET

    def gather_all(self, changes: Iterable[KVChange]) -> None:
        """Keep a batch the feed sent as one item (`KVBatch`: the snapshot comes so)."""
        if not self.loaded:
            self.gc.pause()
        self.pending.extend(changes)

    def settle(self) -> set[str]:
        """Fold what was gathered into the model in one call; returns the incident ids that changed.

        After the first snapshot, an incident whose grade becomes I or II is noted for the
        flash (`drain`)."""
        if not self.pending:
            return set()
        changes, self.pending = self.pending, []
        self.model.closed_since = self.now() - BOARD_DAY  # closed before: not shown, not kept
        before = self._grades_before(changes) if self.loaded else {}
        with self.gc.batch(len(changes)):
            changed = self.model.ingest_all(changes)
        self._dirty = True
        self.last_data_at = self.now()
        for incident_id, grade in before.items():
            after = self.model.get(incident_id)
            if after is not None and newly_urgent(grade, after.grade):
                self._urgent.append(incident_id)
        return changed

    def snapshot_done(self) -> set[str]:
        """Every key that existed when watching began is in: drop what a re-sync did not see,
        turn the collector back on (freezing the snapshot), allow redraws. Returns the ids dropped."""
        self.settle()
        self.loaded = True
        self.gc.resume(freeze=True)
        gone = self.model.end_resync()
        self._dirty = True
        self.last_data_at = self.now()
        return gone

    def evict(self) -> set[str]:
        """Forget the incidents that closed more than a day ago (the board's day moved on)."""
        gone = self.model.evict_closed(self.now() - BOARD_DAY)
        if gone:
            self._dirty = True
        return gone

    def feed_ended(self) -> None:
        """The feed ended or failed: what arrived before is still true; the collector goes back on."""
        self.settle()
        self.gc.resume(freeze=False)

    # --- the redraw -------------------------------------------------------------------

    def drain(self) -> Drained:
        """What changed since the last drain: redraw (never before the first snapshot, whose
        keys pour in faster than a screen could show them) and the incidents to flash."""
        redraw = self._dirty and self.loaded
        if redraw:
            self._dirty = False
        urgent, self._urgent = self._urgent, []
        return Drained(redraw, urgent)

    def _grades_before(self, changes: list[KVChange]) -> dict[str, GradeView | None]:
        """The current grade of every incident whose grade key is among `changes`."""
        before: dict[str, GradeView | None] = {}
        for change in changes:
            parts = split_key(change.key)
            if parts is not None and parts[1] == "grade" and parts[0] not in before:
                current = self.model.get(parts[0])
                before[parts[0]] = current.grade if current else None
        return before
