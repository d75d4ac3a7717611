"""The cyclic garbage collector of a service process once its state is loaded (the board's
`GcPolicy` idea, board/ingest.py).

A service's state (incidents, clocks, memos, indexes) is built at start and lives until the
process ends; with the default thresholds (700, 10, 10) the collector scans it again and again
and finds nothing, and a young collection runs every 700 allocations: ~17 % of intake's and
grading's CPU at load (issue 13). So, once, just before the service says it is ready:

- one full collection (garbage left by loading is not frozen with the rest), then
  `gc.freeze()`: what lives now is out of every later collection;
- thresholds raised for the steady state (`STEADY`) — already while loading (`loading`): a
  restart of deadlines with 100,000 clocks decoded its 20,000 states in 0.62 s at the default
  thresholds and in 0.13 s without collections, and fired 10,000 overdue breaches with the
  young generation collected every 700 allocations; a consumer batch of 256 events allocates
  some tens of thousands of containers, nearly all freed by reference counting; the young
  generation is collected a few times per batch instead of dozens, each bounded by
  `STEADY[0]` objects (about a millisecond), and cycles are still found.

The collector stays on: a service leaks nothing that only a cycle holds.
"""

from __future__ import annotations

import gc
from typing import Protocol

STEADY = (20_000, 20, 20)


class Collector(Protocol):
    def collect(self, generation: int = 2) -> int: ...
    def freeze(self) -> None: ...
    def get_freeze_count(self) -> int: ...
    def get_threshold(self) -> tuple[int, int, int]: ...
    def set_threshold(self, threshold0: int, threshold1: int = ..., threshold2: int = ...) -> None: ...


def loading(collector: Collector = gc, thresholds: tuple[int, int, int] = STEADY) -> None:
    """While a service loads its state (and catches up): the steady thresholds already, since
    nearly everything allocated then lives on and a collection would find nothing."""
    current = collector.get_threshold()
    collector.set_threshold(*(max(a, b) for a, b in zip(current, thresholds, strict=True)))


def settle(collector: Collector = gc, thresholds: tuple[int, int, int] = STEADY) -> bool:
    """Freeze what lives now and raise the thresholds, once a process (a second service in the
    same process, as in the tests, finds it done). Returns whether it did anything."""
    if collector.get_freeze_count() > 0:
        return False
    collector.collect()
    collector.freeze()
    current = collector.get_threshold()
    # Never lower what someone raised further (PYTHONGC-like tuning of a deployment).
    collector.set_threshold(*(max(a, b) for a, b in zip(current, thresholds, strict=True)))
    return True
