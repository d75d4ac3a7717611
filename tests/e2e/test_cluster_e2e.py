"""Three nats-server nodes on loopback (`sync_interval: always`, stream and buckets R3), the four
services connected to all three. The node leading the event stream is killed with SIGKILL: the
services reconnect to the others, and a report sent after the kill is accepted, graded,
clocked, breached and notified, as one sent before it was; no effect is decided twice and no
notice reaches the webhook twice. (JetStream's duplicate window stays at its 10 minutes here: a
publish whose ack died with the node is sent again, and the window is what drops that copy.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from tests.integration.test_notify_service import notify_toml
from tests.support import eventually, kv_get, running, webhook
from watchboard.bus.cluster import check_live
from watchboard.bus.reader import scan
from watchboard.bus.server import NatsServer, local_cluster
from watchboard.client import request
from watchboard.config import ConfigSource, load_watchboard
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

WATCHBOARD_TOML = """
subject_prefix = "wb"
timezone = "Asia/Shanghai"
profile = "default"

[stream]
replicas = 3
sync_interval = "always"
"""

DEADLINES_TOML = """
[grades.II]
report_up = "3s"
statement = "1h"
final = "2h"
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    nodes = local_cluster(3, tmp_path / "nats")
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready(timeout=30)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def submit_retrying(nc: Client, tag: str) -> str:
    """As a monitor's tool would: a report refused "unavailable" while the cluster elects a new
    leader is sent again (bounded)."""
    body = json.dumps({"title": f"视频 {tag} {uuid.uuid4().hex}", "platform": "douyin",
                       "metrics": {"reposts": 300}, "url": f"https://v.example/{uuid.uuid4().hex}",
                       "region": "城关镇"}).encode()
    last: dict[str, Any] = {}
    for _ in range(20):
        last = await request(nc, "wb.intake.submit", body, timeout=5)
        if last.get("ok"):
            return str(last["incident_id"])
        await asyncio.sleep(1)
    raise AssertionError(f"the report was never accepted: {last}")


async def test_a_node_dies_and_the_services_carry_on(cluster: list[NatsServer], tmp_path: Path) -> None:
    url = ",".join(n.url for n in cluster)
    config = tmp_path / "config"
    config.mkdir()
    (config / "watchboard.toml").write_text(WATCHBOARD_TOML, encoding="utf-8")
    (config / "deadlines.toml").write_text(DEADLINES_TOML, encoding="utf-8")
    nc = await nats.connect(servers=url.split(","), connect_timeout=2, reconnect_time_wait=0.5,
                            max_reconnect_attempts=-1)
    async with webhook() as (hook_url, received):
        (config / "notify.toml").write_text(notify_toml(hook_url), encoding="utf-8")
        source = ConfigSource(config)

        async def carried_through(incident: str) -> None:
            async def done() -> bool:
                try:
                    core, grade = await kv_get(nc, f"{incident}.core"), await kv_get(nc, f"{incident}.grade")
                    clocks = await kv_get(nc, f"{incident}.clocks")
                except nats.errors.TimeoutError:  # the bucket's leader re-elected after the kill: ask again
                    return False
                breached = clocks and any(c["name"] == "report_up" and c["status"] == "breached"
                                          for c in clocks["clocks"])
                hooked = any(incident in json.dumps(b, ensure_ascii=False) for _, b in received)
                return bool(core and grade and breached and hooked)

            await eventually(done, timeout=60, interval=0.3, what=f"{incident} carried through")

        try:
            async with running(build_intake(source), url, tmp_path / "intake", source=source, timeout=60), \
                    running(build_grading(source), url, tmp_path / "grading", source=source, timeout=60), \
                    running(build_deadlines(source), url, tmp_path / "deadlines", source=source, timeout=60), \
                    running(build_notify(source), url, tmp_path / "notify", source=source, tick=0.2, timeout=60):
                js = nc.jetstream(timeout=10)
                assert await check_live(js, load_watchboard(source)) == []  # every stream keeps 3 copies
                before = await submit_retrying(nc, "before")
                await carried_through(before)

                leader = (await js.stream_info("WATCHBOARD")).cluster.leader
                victim = next(n for n in cluster if n.name == leader)
                victim.kill()  # SIGKILL, the node leading the event stream
                after = await submit_retrying(nc, "after")
                await carried_through(after)
                async def new_leader() -> str | None:
                    try:
                        found = (await js.stream_info("WATCHBOARD")).cluster.leader
                    except nats.errors.TimeoutError:  # mid-election
                        return None
                    return found if found and found != leader else None

                await eventually(new_leader, timeout=30, what="a new leader of the stream")
                stored = [json.loads(m.data) for m in await scan(nc, "WATCHBOARD", "wb.ev.>", timeout=30)]
                twice = [k for k, n in Counter((e["type"], e["id"]) for e in stored).items() if n > 1]
                assert twice == [], twice
                assert {e["incident_id"] for e in stored if e["type"] == "incident.reported"} == {before, after}
                breaches = Counter((e["incident_id"], e["clock"]) for e in stored if e["type"] == "clock.breached")
                assert max(breaches.values()) == 1, breaches
                keys = Counter(k for k, _ in received)
                assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
        finally:
            await nc.close()
