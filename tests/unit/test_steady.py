"""bus/steady.py: the collector frozen and its thresholds raised once a process, never lowered."""

from __future__ import annotations

import pytest

from watchboard.bus.steady import STEADY, loading, settle


class FakeCollector:
    def __init__(self, frozen: int = 0, threshold: tuple[int, int, int] = (700, 10, 10)) -> None:
        self.frozen = frozen
        self.threshold = threshold
        self.calls: list[str] = []

    def collect(self, generation: int = 2) -> int:
        self.calls.append("collect")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += 1

    def get_freeze_count(self) -> int:
        return self.frozen

    def get_threshold(self) -> tuple[int, int, int]:
        return self.threshold

    def set_threshold(self, threshold0: int, threshold1: int = 10, threshold2: int = 10) -> None:
        self.calls.append("set_threshold")
        self.threshold = (threshold0, threshold1, threshold2)


@pytest.mark.parametrize(("frozen", "before", "did", "after", "calls"), [
    (0, (700, 10, 10), True, STEADY, ["collect", "freeze", "set_threshold"]),  # load garbage not frozen
    (0, (100_000, 5, 50), True, (100_000, STEADY[1], 50), ["collect", "freeze", "set_threshold"]),  # kept where higher
    (3, (700, 10, 10), False, (700, 10, 10), []),  # another service in this process did it already
])
def test_settle(frozen: int, before: tuple[int, int, int], did: bool, after: tuple[int, int, int],
                calls: list[str]) -> None:
    collector = FakeCollector(frozen, before)
    assert settle(collector, STEADY) is did
    assert collector.threshold == after
    assert collector.calls == calls



@pytest.mark.parametrize(("before", "after"), [
    ((700, 10, 10), STEADY),  # the defaults: raised while loading
    ((100_000, 5, 50), (100_000, STEADY[1], 50)),  # a deployment's higher figures kept
])
def test_loading_raises_thresholds_without_freezing(before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
    collector = FakeCollector(0, before)
    loading(collector, STEADY)
    assert collector.threshold == after
    assert collector.calls == ["set_threshold"]  # nothing collected or frozen before the state is loaded
    assert settle(collector, STEADY) is True  # and the settle at ready still freezes
