"""deadlines as its own process, on seconds-long clocks in real time, killed at the worst
moments: a breach is emitted exactly once whatever dies when."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.support import eventually, kv_get
from watchboard.bus.jetstream import EventPublisher
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history
from watchboard.domain import events as ev

DEADLINES_TOML = """
[grades.II]
report_up = "3s"
statement = "1h"
final = "2h"

[warnings]
points = ["50%"]
"""

# JetStream forgets msg ids after 1 s here: a second publish after a restart would be stored.
WATCHBOARD_TOML = """
subject_prefix = "wb"
timezone = "Asia/Shanghai"
profile = "default"

[stream]
replicas = 1
duplicate_window = "1s"
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    d = tmp_path / "config"
    d.mkdir()
    (d / "deadlines.toml").write_text(DEADLINES_TOML, encoding="utf-8")
    (d / "watchboard.toml").write_text(WATCHBOARD_TOML, encoding="utf-8")
    return d


class Proc:
    """The service as a subprocess (tests/faulty_deadlines.py: the service with a failpoint probe)."""

    def __init__(self, url: str, data: Path, config: Path, log: Path, fault: str = "") -> None:
        self.log = open(log, "ab")
        root = Path(__file__).resolve().parents[2]
        self.p = subprocess.Popen([sys.executable, "-m", "tests.faulty_deadlines", "--nats", url,
                                   "--data", str(data), "--config", str(config), "--fault", fault],
                                  stdout=self.log, stderr=subprocess.STDOUT, cwd=root)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()  # SIGKILL: no cleanup of any kind
        self.p.wait(10)
        self.log.close()

    async def exited(self, timeout: float = 20) -> int:
        for _ in range(int(timeout / 0.05)):
            if self.p.poll() is not None:
                self.log.close()
                return self.p.returncode
            await asyncio.sleep(0.05)
        raise AssertionError("the service did not die at its failpoint")


async def ready(nc: Client) -> None:
    """The service has started (it writes sys.calendar after the stream exists)."""
    async def check() -> bool:
        try:
            info = await nc.request("$SRV.PING.deadlines", b"", timeout=0.5)
        except Exception:
            return False
        return bool(info.data)
    await eventually(check, timeout=20, what="deadlines to answer PING")


async def report_now(nc: Client, incident: str) -> datetime:
    at = datetime.now(UTC)
    await EventPublisher(nc, Subjects()).publish_all([
        ev.IncidentReported(id=f"{incident}-r", incident_id=incident, at=at, actor="m", title="t",
                            mention=ev.Mention(platform="weibo")),
        ev.IncidentGraded(id=f"{incident}-g", incident_id=incident, at=at, actor="grading", grade="II",
                          previous=None, reasons=["x"], source="rules"),
    ])
    return at


async def breaches(nc: Client, incident: str) -> list[ev.ClockBreached]:
    return [e for e in await load_history(nc, Subjects(), incident) if isinstance(e, ev.ClockBreached)]


async def report_up_breached(nc: Client, incident: str) -> dict:
    async def check() -> dict | None:
        view = await kv_get(nc, f"{incident}.clocks")
        ok = view and any(c["name"] == "report_up" and c["status"] == "breached" for c in view["clocks"])
        return view if ok else None
    return await eventually(check, timeout=20, what="report_up breached in the KV")


@pytest.mark.parametrize("fault", ["", "after-commit", "after-publish"])
async def test_kill_9_around_a_breach_yields_exactly_one(fault: str, nats_server: NatsServer, nc: Client,
                                                          tmp_path: Path, config_dir: Path) -> None:
    """Killed before the breach, after committing it, or after publishing it: one breach after restart."""
    data, log = tmp_path / "data", tmp_path / "deadlines.log"
    first = Proc(nats_server.url, data, config_dir, log, fault)
    try:
        await ready(nc)
        await report_now(nc, "E2E")
        await eventually(lambda: kv_get(nc, "E2E.clocks"), timeout=10, what="clocks")
        if fault:
            assert await first.exited() == 137  # died at its failpoint, around the 3 s breach
        else:
            first.kill()  # kill -9 before the due time; the breach falls due while it is down
    finally:
        first.kill()
    await asyncio.sleep(4.0)  # past the due time and past JetStream's 1 s duplicate window
    second = Proc(nats_server.url, data, config_dir, log)
    try:
        await ready(nc)
        view = await report_up_breached(nc, "E2E")
        assert view["reminders"] == 1
        await asyncio.sleep(1.0)  # give a duplicate every chance to appear
        found = [b for b in await breaches(nc, "E2E") if b.clock == "report_up"]
        assert len(found) == 1, log.read_text(errors="replace")[-2000:]
        # "late" marks a breach emitted more than 5 s after its due time (catch-up after a kill).
        assert found[0].late is (found[0].at - found[0].due_at > timedelta(seconds=5))
        reminded = [e for e in await load_history(nc, Subjects(), "E2E") if isinstance(e, ev.UnitReminded)]
        assert [r.count for r in reminded] == [1]
    finally:
        second.kill()
    with sqlite3.connect(data / "deadlines.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
