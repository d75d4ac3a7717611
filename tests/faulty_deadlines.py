"""deadlines as its own process, dying at a failpoint as under kill -9 (for tests/e2e).

    python -m tests.faulty_deadlines --nats URL --data DIR --config DIR [--fault POINT]

POINT: `after-commit` — a breach is committed with its outbox rows but not yet published;
`after-publish` — a breach is published but its outbox row not yet deleted. The failpoints
live in this probe, not in the service: production runs an empty probe.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from watchboard.bus.runtime import ServiceContext, install_signal_handlers, run_service
from watchboard.config import ConfigSource
from watchboard.domain.events import ClockBreached, Event
from watchboard.services.deadlines.probe import Probe
from watchboard.services.deadlines.service import build


class FaultProbe(Probe):
    def __init__(self, point: str) -> None:
        self.point = point

    def committed(self, effects: Sequence[Event]) -> None:
        if self.point == "after-commit" and any(isinstance(e, ClockBreached) for e in effects):
            os._exit(137)

    def published(self, subjects: Sequence[str]) -> None:
        if self.point == "after-publish" and any(s.endswith(".clock.breached") for s in subjects):
            os._exit(137)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nats", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--fault", default="")
    args = p.parse_args()
    source = ConfigSource(config_dir=args.config)
    service = build(source, FaultProbe(args.fault))

    async def run() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await run_service(service, ServiceContext(nats_url=args.nats, data_dir=args.data, source=source), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
