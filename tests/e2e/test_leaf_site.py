"""A town's leaf node and the hub, two nats-servers on loopback, the leaf connection through a
proxy the test can cut. The town runs intake on its own JetStream domain; the hub's WB_SITES
sources the town's intake events. With the link cut, the town still takes reports and its board
shows them; when the link returns, every report reaches the hub's stream, once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from tests.support import eventually, kv_get, request, running
from watchboard.bus.jetstream import ensure_stream
from watchboard.bus.reader import scan
from watchboard.bus.server import NatsServer, free_port
from watchboard.bus.site import LEAF_DENY, SITES_STREAM, ensure_sites_stream, site_subjects
from watchboard.config import ConfigSource
from watchboard.config.watchboard import SiteConfig, WatchboardConfig
from watchboard.services.intake.service import build as build_intake


class Link:
    """A TCP proxy standing for the line between the town and the hub: `cut()` drops every
    connection and refuses new ones, `restore()` lets them through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.up = True
        self.pipes: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    def cut(self) -> None:
        self.up = False
        for task in list(self.pipes):
            task.cancel()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[NatsServer]:
    # no_advertise: the town must reach the hub through the test's proxy only, not learn its port.
    server = NatsServer(tmp_path / "hub", port=0, name="hub", domain="hub", leafnode_port=free_port(),
                        leaf_advertise=False)
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield server
    finally:
        server.stop()


async def reported_at_hub(nc: Client) -> list[dict]:
    """The town's reports as the hub's stream holds them."""
    msgs = await scan(nc, SITES_STREAM, site_subjects("wb", "town"), timeout=10)
    return [json.loads(m.data) for m in msgs if m.subject.endswith((".incident.reported", ".mention.added"))]


async def test_reports_taken_while_the_hub_is_unreachable_reach_it_once(hub: NatsServer, tmp_path: Path) -> None:
    assert hub.leafnode_port is not None
    link = Link(hub.leafnode_port)
    await link.start()
    town = NatsServer(tmp_path / "town", port=0, name="town", domain="town",
                      leaf_remotes=[f"nats-leaf://127.0.0.1:{link.port}"], leaf_deny=LEAF_DENY)
    town.start()
    hub_nc: Client | None = None
    town_nc: Client | None = None
    try:
        town.wait_ready(timeout=15)
        town_nc = await nats.connect(town.url, connect_timeout=2)
        hub_nc = await nats.connect(hub.url, connect_timeout=2)
        async with running(build_intake(ConfigSource()), town.url, tmp_path / "town-intake"):
            hub_js = hub_nc.jetstream(timeout=10)
            await ensure_sites_stream(hub_js, WatchboardConfig(sites=[SiteConfig(name="town")]))
            await ensure_stream(hub_js, WatchboardConfig())  # the city's own stream, as its services make it

            async def submit(tag: str) -> str:
                reply = await request(town_nc, "wb.intake.submit", {
                    "title": f"{tag} {uuid.uuid4().hex}", "platform": "forum",
                    "url": f"https://bbs.example/t/{uuid.uuid4().hex}"})
                assert reply["ok"], reply
                return str(reply["incident_id"])

            async def at_hub(n: int) -> list[dict] | None:
                found = await reported_at_hub(hub_nc)
                return found if len(found) >= n else None

            linked = [await submit("linked") for _ in range(3)]
            await eventually(lambda: at_hub(3), timeout=30, interval=0.3, what="the first reports at the hub")

            link.cut()
            cut = [await submit("cut") for _ in range(5)]  # taken by the town alone
            for incident in cut:  # …and on the town's board
                await eventually(lambda i=incident: kv_get(town_nc, f"{i}.core"), timeout=10, what="town board")
            await asyncio.sleep(1.0)
            assert len(await reported_at_hub(hub_nc)) == 3  # nothing crossed meanwhile

            link.restore()
            found = await eventually(lambda: at_hub(8), timeout=60, interval=0.5, what="every report at the hub")
            await asyncio.sleep(2.0)  # give a second copy every chance to arrive
            found = await reported_at_hub(hub_nc)
            assert Counter(e["id"] for e in found).most_common(1)[0][1] == 1
            assert sorted(e["incident_id"] for e in found) == sorted(linked + cut)
            # The leaf connection carried no watchboard subject: the city's own stream, listening
            # on wb.ev.>, caught none of the town's events directly.
            assert (await hub_js.stream_info("WATCHBOARD")).state.messages == 0
    finally:
        for client in (town_nc, hub_nc):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.close()
        town.stop()
        await link.close()
