"""Kill -9 the grading process mid-stream and restart it: every incident graded, none twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from nats.aio.client import Client
from nats.js import api

from tests.support import eventually, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.intake.service import build as build_intake

N = 300


def start_grading(url: str, data: Path, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "watchboard.cli", "serve", "grading", "--nats", url,
                             "--data", str(data)], stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def graded_events(nc: Client) -> list[dict]:
    js = nc.jetstream()
    sub = await js.pull_subscribe("wb.ev.grading.*.incident.graded", stream="WATCHBOARD",
                                  config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
    out: list[dict] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except Exception:
                break
            out.extend(json.loads(m.data) for m in msgs)
    finally:
        await sub.unsubscribe()
    return out


async def test_kill_grading_mid_stream(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """300 reports; grading is SIGKILLed while it works through them and restarted."""
    data = tmp_path / "grading"
    log = tmp_path / "grading.log"
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        proc = start_grading(nats_server.url, data, log)
        try:
            ids = []
            for i in range(N):
                title = f"report {uuid.uuid4().hex} {i}"
                msg = await nc.request("wb.intake.submit", json.dumps(
                    {"title": title, "platform": "forum", "url": f"https://bbs.example/t/{uuid.uuid4().hex}",
                     "metrics": {"reposts": 150 if i % 3 == 0 else 5}}).encode(), timeout=10)
                reply = json.loads(msg.data)
                assert reply["ok"], reply
                ids.append(reply["incident_id"])
                if i == N // 2:
                    # Wait until grading has made some progress, then kill it hard.
                    async def some() -> bool:
                        return len(await graded_events(nc)) > 10
                    await eventually(some, timeout=30, what="grading progress")
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
            assert len(set(ids)) == N
            proc = start_grading(nats_server.url, data, log)

            async def all_graded() -> list[dict] | None:
                events = await graded_events(nc)
                return events if len({e["incident_id"] for e in events}) >= N else None

            events = await eventually(all_graded, timeout=60, interval=0.5, what="every incident graded")
            await asyncio.sleep(1.0)  # anything still in flight would show up as a duplicate now
            events = await graded_events(nc)
            per_incident = Counter(e["incident_id"] for e in events)
            assert set(per_incident) == set(ids)
            twice = {k: v for k, v in per_incident.items() if v != 1}
            assert not twice, f"graded more than once: {twice}"
            assert len({e["id"] for e in events}) == len(events)
        finally:
            proc.kill()
            proc.wait(10)
