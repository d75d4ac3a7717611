"""What a test or a benchmark may watch inside deadlines, injected; production leaves it empty.

`Probe` is the no-op default; it is also the service's `Failpoints` (recovery/probe.py: the
named steps `committed`, `flushed` a test may stop it at). The bench records start-up phases and breach lateness with a
`RecordingProbe`; the crash tests (tests/e2e) die at a failpoint with a probe of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from watchboard.domain.events import Event
from watchboard.recovery.probe import Failpoints


class Probe(Failpoints):
    def phase(self, name: str, seconds: float) -> None:
        """A start-up phase took `seconds`."""

    def committed(self, effects: Sequence[Event]) -> None:
        """Effects were committed to the outbox (not yet published)."""

    def published(self, subjects: Sequence[str]) -> None:
        """Outbox rows were published (not yet deleted)."""


class RecordingProbe(Probe):
    """Start-up phases and each breach's lateness (seconds after its due time, service clock)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.lateness: list[float] = []

    def phase(self, name: str, seconds: float) -> None:
        self.timings[name] = round(seconds, 3)

    def committed(self, effects: Sequence[Event]) -> None:
        from watchboard.domain.events import ClockBreached

        self.lateness.extend((e.at - e.due_at).total_seconds() for e in effects if isinstance(e, ClockBreached))
