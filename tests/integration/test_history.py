"""History out of the hot path on a real nats-server (issue 13): a closed incident leaves the
board's bucket after the retention, the board reads only what it shows, `show` and `ls --all`
read the incident from the stream, and a service restarted long after still acts on it when it
is named (read back from its store). And ready means ready: no endpoint before the consumer has
caught up, and PING says the service is loading."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import nats.errors
from nats.aio.client import Client

from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.endpoints import ok
from watchboard.bus.feed import ping_services
from watchboard.bus.jetstream import EventPublisher, ensure_stream
from watchboard.bus.reader import board_snapshot
from watchboard.bus.reader import kv_get as raw_kv_get
from watchboard.bus.runtime import Runtime, ServiceContext, run_service
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_archived, load_history
from watchboard.config import ConfigSource, WatchboardConfig
from watchboard.domain.events import IncidentReported, Mention, new_ulid
from watchboard.reports.archive import view_of
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

CANTEEN = {"title": "网传某镇中学食堂使用过期食材", "platform": "weibo", "url": "https://weibo.com/1234/abc",
           "region": "仲山镇", "topic": "food_drug", "observed_at": "2026-11-22T08:30:00+08:00",
           "metrics": {"reposts": 20, "comments": 40}}
BRIDGE = {"title": "临江镇大桥出现裂缝引发网友担忧", "platform": "douyin", "url": "https://douyin.com/v/77",
          "region": "临江镇", "topic": "transport", "observed_at": "2026-11-22T09:00:00+08:00"}
TICK = 0.002  # the history round every 600 s × TICK = 1.2 s


async def graded(nc: Client, incident_id: str) -> dict:
    return await eventually(lambda: kv_get(nc, f"{incident_id}.grade"), timeout=10, what=f"{incident_id}.grade")


async def test_closed_incident_leaves_the_board_and_comes_back_when_named(nats_server: NatsServer, nc: Client,
                                                                          tmp_path: Path) -> None:
    clock = FakeClock()
    url = nats_server.url
    intake_dir, grading_dir = tmp_path / "intake", tmp_path / "grading"
    async with running(build_intake(ConfigSource()), url, intake_dir, now=clock, tick=TICK), \
            running(build_grading(ConfigSource()), url, grading_dir, now=clock, tick=TICK):
        old = (await request(nc, "wb.intake.submit", CANTEEN))["incident_id"]
        await graded(nc, old)
        assert (await request(nc, "wb.cmd.close", {"incident_id": old, "summary": "已澄清", "actor": "wang"}))["ok"]

        async def closed() -> bool:
            core = await kv_get(nc, f"{old}.core")
            return bool(core and core["stage"] == "closed")

        await eventually(closed, what="the close on the board")
        live = (await request(nc, "wb.intake.submit", BRIDGE))["incident_id"]
        await graded(nc, live)
        # Today the board shows both: the open one, and the one closed today.
        _, ids = await board_snapshot(nc, clock() - timedelta(hours=24))  # type: ignore[misc]
        assert ids == {old, live}

        clock.advance(days=8)  # past the retention (7 days): each service purges its own key

        async def gone() -> bool:
            return await kv_get(nc, f"{old}.core") is None and await kv_get(nc, f"{old}.grade") is None

        await eventually(gone, timeout=10, what="the closed incident's keys purged")
        # The views' reconcile rounds (every 10 min × TICK) do not put them back: the incident is
        # still in both services' memory (closed within keep_closed) but off the board.
        await asyncio.sleep(600 * TICK * 2.5)
        assert await gone(), "a reconcile round put a purged key back"
        assert await kv_get(nc, f"{live}.core") is not None and await kv_get(nc, f"{live}.grade") is not None
        values, ids = await board_snapshot(nc, clock() - timedelta(hours=24))  # type: ignore[misc]
        assert ids == {live} and not any(k.startswith(old) for k in values)
        assert json.loads(await raw_kv_get(nc, "sys.live") or b"{}")["since"]

        # A note on it is kept (the stream has it) but puts no view back on the board.
        assert (await request(nc, "wb.cmd.note", {"incident_id": old, "text": "复盘补记", "actor": "wang"}))["ok"]
        history = await eventually(lambda: _noted(nc, old), what="the note in the stream")
        await asyncio.sleep(0.3)
        assert await kv_get(nc, f"{old}.core") is None

        # `show` and `ls --all` read it from the stream.
        view = view_of(history)
        assert view is not None and view.core is not None and view.core.stage == "closed"
        assert view.core.notes[-1].text == "复盘补记" and view.grade is not None and view.grade.owner
        archived = await load_archived(nc, Subjects(), {live})
        assert set(archived) == {old} and archived[old].grade is not None

    clock.advance(days=31)  # past keep_closed (30 days): not loaded at the next start
    async with running(build_intake(ConfigSource()), url, intake_dir, now=clock, tick=TICK), \
            running(build_grading(ConfigSource()), url, grading_dir, now=clock, tick=TICK):
        # Named again, it is read back from the store: closed, not unknown.
        again = await request(nc, "wb.intake.submit", {**CANTEEN, "incident_id": old})
        assert again["error"]["code"] == "conflict" and again["error"]["field"] == "incident_id", again
        regrade = await request(nc, "wb.cmd.regrade", {"incident_id": old, "grade": "II", "reason": "复盘", "actor": "li"})
        assert regrade["ok"] and regrade["grade"] == "II", regrade
        await asyncio.sleep(0.3)
        assert await kv_get(nc, f"{old}.grade") is None  # off the board: the stream has the regrade


async def _noted(nc: Client, incident_id: str) -> list | None:
    history = await load_history(nc, Subjects(), incident_id)
    return history if any(type(e).__name__ == "NoteAdded" for e in history) else None


class _Gated:
    """A service whose consumer waits at a gate: it is not ready until the gate opens."""

    name = "grading"
    description = "test: catching up"

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def start(self, rt: Runtime) -> _Gated:
        async def handle(batch: object) -> None:
            await self.gate.wait()

        async def echo(payload: dict, raw: bytes) -> dict:
            return ok(echo=payload.get("x"))

        rt.consume("gated-test", [rt.subjects.from_service("intake")], handle)
        assert rt.endpoints is not None
        await rt.endpoints.add("echo", "wb.cmd.echo_gated", echo)
        return self

    async def close(self) -> None:
        pass


async def test_ready_only_once_the_consumer_caught_up(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """With events waiting, the service answers PING as catching up and registers no endpoint;
    once its consumer has caught up it is ready and answers."""
    await ensure_stream(nc.jetstream(), WatchboardConfig())
    now = FakeClock()()
    event = IncidentReported(id=new_ulid(now), incident_id=new_ulid(now), at=now, actor="monitor",
                             title="网传某事", mention=Mention(platform="weibo"))
    await EventPublisher(nc, Subjects()).publish(event)
    gate, stop, ready = asyncio.Event(), asyncio.Event(), asyncio.Event()
    ctx = ServiceContext(nats_url=nats_server.url, data_dir=tmp_path, source=ConfigSource())
    task = asyncio.create_task(run_service(_Gated(gate), ctx, stop, ready))
    try:
        async def loading() -> dict | None:
            health = await ping_services(nc, wait=0.3)
            return health.loading or None

        assert await eventually(loading, what="PING saying loading") == {"grading": "catching up"}
        health = await ping_services(nc, wait=0.3)
        assert health.services["grading"] is False and not ready.is_set()
        try:
            await nc.request("wb.cmd.echo_gated", b'{"x": 1}', timeout=1)
            raise AssertionError("an endpoint answered before the service was ready")
        except nats.errors.NoRespondersError:
            pass
        gate.set()
        await asyncio.wait_for(ready.wait(), 10)
        assert (await request(nc, "wb.cmd.echo_gated", {"x": 1}))["echo"] == 1
        health = await ping_services(nc, wait=0.3)
        assert health.services["grading"] is True and health.loading == {}
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
