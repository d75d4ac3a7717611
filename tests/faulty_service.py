"""Any service as its own process, dying at a failpoint as under kill -9 (for tests/e2e).

    python -m tests.faulty_service NAME --nats URL --data DIR [--config DIR] --fault POINT

POINT is one of the steps in watchboard/recovery/probe.py (`committed`, `delivered`,
`command-committed`, …): the process exits with code 137 the first time the service reaches
it. The failpoints live in this probe, not in the service: production runs an empty one.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
from pathlib import Path

from watchboard.bus.runtime import ServiceContext, install_signal_handlers, run_service
from watchboard.config import ConfigSource
from watchboard.services.deadlines.probe import Probe


class Dying(Probe):  # deadlines' Probe is a Failpoints: one probe for every service
    def __init__(self, point: str) -> None:
        self.point = point

    def reached(self, point: str) -> None:
        if point == self.point:
            os._exit(137)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("service")
    p.add_argument("--nats", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--fault", required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    source = ConfigSource(config_dir=args.config)
    module = importlib.import_module(f"watchboard.services.{args.service}.service")
    service = module.build(source, Dying(args.fault))

    async def run() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await run_service(service, ServiceContext(nats_url=args.nats, data_dir=args.data, source=source), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
