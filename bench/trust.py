"""Benchmark: what roles cost a request — intake's submit and a command, with roles off and on.

    python -m bench.trust [--requests 300]

For each mode it starts its own nats-server (roles on: an auth folder's accounts included, the
admin makes the stream) and runs intake in-process (with its credentials when roles are on),
then sends requests one after another and prints JSON with p50/p95 in milliseconds for
`submit` (monitor → intake) and `note` (operator → intake, the command path with the proven
actor stamped in). Roles on adds a service import hop, the server's `Nats-Request-Info`
header and the service's check of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from tests.support import running
from watchboard.auth.folder import AuthFolder
from watchboard.bus.connection import connect
from watchboard.bus.credentials import resolve
from watchboard.bus.jetstream import setup
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource, load_watchboard
from watchboard.services.intake.service import build


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(roles: bool, n: int, folder: Path) -> dict[str, dict[str, float]]:
    auth = AuthFolder(folder / "auth")
    if roles:
        auth.init(operator="bench")
    server = NatsServer(folder / "nats", port=0, include=auth.conf if roles else None)
    server.start()
    try:
        await server.wait_ready_async()

        def creds(stem: str):
            return resolve(auth.creds(stem)) if roles else None

        if roles:
            admin = await connect(server.url, "bench-admin", retry_for=5, creds=creds("admin"))
            await setup(admin.jetstream(timeout=5), load_watchboard(ConfigSource()))
            await admin.close()
        async with running(build(ConfigSource()), server.url, folder / "intake", creds=creds("intake")):
            reporter = await connect(server.url, "bench-monitor", retry_for=5, creds=creds("monitor"))
            operator = await connect(server.url, "bench-operator", retry_for=5, creds=creds("operator"))
            out: dict[str, dict[str, float]] = {}
            incident = ""
            for what, nc in (("submit", reporter), ("note", operator)):
                times = []
                for i in range(n):
                    if what == "submit":
                        body = {"title": f"报告 {i}", "platform": "weibo"}
                        subject = "wb.intake.submit"
                    else:
                        body = {"actor": "bench", "incident_id": incident, "text": f"备注 {i}"}
                        subject = "wb.cmd.note"
                    started = time.perf_counter()
                    msg = await nc.request(subject, json.dumps(body, ensure_ascii=False).encode(), timeout=10)
                    times.append((time.perf_counter() - started) * 1000)
                    reply = json.loads(msg.data)
                    assert reply.get("ok"), reply
                    incident = incident or reply["incident_id"]
                out[what] = {"p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2)}
            await reporter.close()
            await operator.close()
            return out
    finally:
        server.stop()


async def main(n: int) -> None:
    result = {}
    for roles in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            result["roles_on" if roles else "roles_off"] = await measure(roles, n, Path(tmp))
    print(json.dumps({"requests": n, **result}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args().requests))
