"""The bus library against a real nats-server: stream, dedup, consumer acks, endpoints, feed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import nats.errors
import pytest
from nats.aio.client import Client

from tests.support import eventually, request
from watchboard.bus.connection import ConnectionWatch, connect
from watchboard.bus.consumer import Delivered, run_consumer
from watchboard.bus.endpoints import Endpoints, ok
from watchboard.bus.feed import make_sender, ping_services, watch_board
from watchboard.bus.feed_types import KVBatch, KVChange, ServiceHealth, SnapshotDone
from watchboard.bus.jetstream import EventPublisher, ensure_board_bucket, ensure_stream
from watchboard.bus.reader import watch_kv
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.config import WatchboardConfig
from watchboard.domain.errors import Conflict
from watchboard.domain.events import NoteAdded, effect_id

WB = WatchboardConfig()


def note(i: int, incident: str = "INC1") -> NoteAdded:
    return NoteAdded(id=effect_id("test", str(i)), incident_id=incident, at=datetime.now(UTC), actor="t", text=f"n{i}")


async def test_stream_and_bucket_are_created_idempotently(nc: Client) -> None:
    """ensure_stream/ensure_board_bucket create once and accept a second call."""
    js = nc.jetstream()
    await ensure_stream(js, WB)
    await ensure_stream(js, WB)
    info = await js.stream_info(STREAM)
    assert info.config.subjects == ["wb.ev.>"]
    assert info.config.duplicate_window == 600
    kv = await ensure_board_bucket(js, WB)
    await kv.put("a.core", b"{}")
    assert (await ensure_board_bucket(js, WB)).__class__.__name__ == "KeyValue"


async def test_republished_event_is_dropped_by_msg_id(nc: Client) -> None:
    """The same event published twice is stored once (Nats-Msg-Id = event id)."""
    await ensure_stream(nc.jetstream(), WB)
    pub = EventPublisher(nc, Subjects())
    first = await pub.publish(note(1))
    again = await pub.publish(note(1))
    assert again.duplicate and again.seq == first.seq
    acks = await pub.publish_all([note(2), note(3), note(2)])
    assert [bool(a.duplicate) for a in acks] == [False, False, True]
    info = await nc.jetstream().stream_info(STREAM)
    assert info.state.messages == 3


async def test_consumer_acks_only_after_handler_and_redelivers_on_failure(nc: Client) -> None:
    """A failing handler gets the batch again; after success nothing is redelivered."""
    await ensure_stream(nc.jetstream(), WB)
    pub = EventPublisher(nc, Subjects())
    await pub.publish_all([note(i) for i in range(5)])
    seen: list[str] = []
    fail = {"left": 1}
    stop = asyncio.Event()

    async def handle(batch: Sequence[Delivered]) -> None:
        if fail["left"]:
            fail["left"] -= 1
            raise RuntimeError("disk full")
        seen.extend(d.event.id for d in batch)
        if len(seen) >= 5:
            stop.set()

    await asyncio.wait_for(run_consumer(nc, "t1", ["wb.ev.intake.>"], handle, stop, fetch_timeout=0.2), 20)
    assert sorted(seen) == sorted(note(i).id for i in range(5))

    async def settled() -> bool:
        info = await nc.jetstream().consumer_info(STREAM, "t1")
        return info.num_ack_pending == 0 and info.num_pending == 0

    await eventually(settled, timeout=5, what="all acked")


async def test_endpoint_replies_ok_and_typed_errors(nc: Client) -> None:
    """Handlers' results and DomainErrors become the §4.2 reply shape; bad JSON names `body`."""
    eps = Endpoints(nc, "intake", "test")
    await eps.start()

    async def handler(payload: dict, raw: bytes) -> dict:
        if payload.get("x") == "dup":
            raise Conflict("x", "already there", zh="已经有了")
        return ok(echo=payload["x"])

    await eps.add("echo", "wb.cmd.echo", handler)
    # Loading: PING says so, and the endpoint is not registered yet (nobody answers it).
    loading = await ping_services(nc)
    assert loading.services["intake"] is False and loading.loading == {"intake": "state"}
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request("wb.cmd.echo", b'{"x": 1}', timeout=2)
    await eps.open()
    assert await request(nc, "wb.cmd.echo", {"x": 1}) == {"ok": True, "echo": 1}
    assert await request(nc, "wb.cmd.echo", {"x": "dup"}) == {
        "ok": False, "error": {"code": "conflict", "field": "x", "message": "already there", "message_zh": "已经有了"}}
    bad = await request(nc, "wb.cmd.echo", b"{nope")
    assert bad["error"]["code"] == "invalid" and bad["error"]["field"] == "body"
    arr = await request(nc, "wb.cmd.echo", b"[1]")
    assert arr["error"]["message"] == "body must be a JSON object, got a list"  # never a Python type name
    crash = await request(nc, "wb.cmd.echo", {"y": 1})
    # An unexpected error points to the log (where its traceback is), never names the exception.
    assert crash["error"] == {"code": "unavailable", "message": "internal error; see the intake log",
                              "message_zh": "服务内部出错，请查看 `intake` 服务日志"}
    health = await ping_services(nc)
    assert health.services["intake"] is True and health.services["grading"] is False
    assert health.loading == {}
    await eps.stop()


async def test_sender_reports_missing_service(nc: Client) -> None:
    """A command nobody answers comes back as an `unavailable` error, not an exception."""
    send = make_sender(nc, Subjects(), timeout=1)
    reply = await send("ack", {"incident_id": "X"})
    assert reply["ok"] is False and reply["error"]["code"] == "unavailable"


async def test_feed_gives_snapshot_then_changes(nats_server: NatsServer, nc: Client) -> None:
    """watch_board yields existing keys, SnapshotDone, then live changes and deletes."""
    kv = await ensure_board_bucket(nc.jetstream(), WB)
    await kv.put("A.core", b"1")
    await kv.put("B.core", b"2")
    watch = ConnectionWatch(nats_server.url)
    reader = await connect(nats_server.url, "feed-test", watch=watch, retry_for=5)
    items: list = []

    async def consume() -> None:
        async for item in watch_board(reader, watch, health_every=0.2):
            items.append(item)
            if isinstance(item, SnapshotDone):
                await kv.put("C.core", b"3")
                await kv.delete("A.core")
            if any(isinstance(i, KVChange) and i.key == "A.core" and i.value is None for i in items) and \
                    any(isinstance(i, ServiceHealth) for i in items):
                return

    await asyncio.wait_for(consume(), 10)
    changes = [i for i in items if isinstance(i, KVChange)]
    done_at = next(n for n, i in enumerate(items) if isinstance(i, SnapshotDone))
    before = {c.key for c in _flat(items[:done_at])}
    assert before == {"A.core", "B.core"}
    assert KVChange("C.core", b"3") in changes and KVChange("A.core", None) in changes
    await reader.close()


def _flat(items: list) -> list[KVChange]:
    """The snapshot's changes (it comes in `KVBatch`es)."""
    return [c for i in items for c in (i.changes if isinstance(i, KVBatch) else [i] if isinstance(i, KVChange) else [])]


async def test_feed_reads_only_what_the_board_shows(nats_server: NatsServer, nc: Client) -> None:
    """With intake's index the snapshot holds the open incidents and those closed in the last
    day (not one closed before, nor one the index does not list); later, a key of an incident
    not shown waits until its record arrives."""
    kv = await ensure_board_bucket(nc.jetstream(), WB)
    now = datetime.now(UTC)
    for incident in ("OPEN", "TODAY", "OLD", "UNLISTED"):
        await kv.put(f"{incident}.core", incident.encode())
        await kv.put(f"{incident}.grade", b"g")
    await kv.put("live.OPEN", b"")
    await kv.put("live.TODAY", (now - timedelta(hours=2)).isoformat().encode())
    await kv.put("live.OLD", (now - timedelta(hours=30)).isoformat().encode())
    await kv.put("sys.sweep", b"{}")
    await kv.put("sys.live", b'{"since": "2026-11-01T00:00:00+00:00"}')
    reader = await connect(nats_server.url, "feed-test", retry_for=5)
    items: list = []

    async def consume() -> None:
        async for item in watch_kv(reader):
            items.append(item)
            if isinstance(item, SnapshotDone):
                await kv.put("NEW.grade", b"g2")  # before its record: held
                await kv.put("NEW.core", b"new")
            if isinstance(item, KVChange) and item.key == "NEW.core":
                return

    await asyncio.wait_for(consume(), 10)
    done_at = next(n for n, i in enumerate(items) if isinstance(i, SnapshotDone))
    assert {c.key for c in _flat(items[:done_at])} == {"OPEN.core", "OPEN.grade", "TODAY.core", "TODAY.grade",
                                                        "sys.sweep", "sys.live"}
    after = [c.key for c in _flat(items[done_at:])]
    assert after == ["NEW.grade", "NEW.core"]  # the held grade first, then the record that released it
    await reader.close()


async def test_connect_waits_for_a_late_server(tmp_path) -> None:
    """connect() retries until the server is up instead of failing at once."""
    server = NatsServer(tmp_path / "late", port=0)
    from watchboard.bus.server import free_port

    server.port = free_port()
    states: list[str] = []
    watch = ConnectionWatch(server.url)
    watch.listen(lambda c: states.append(c.state))
    task = asyncio.create_task(connect(server.url, "late", watch=watch, retry_for=15, retry_every=0.2))
    await asyncio.sleep(0.6)
    assert not task.done()
    server.start()
    try:
        await server.wait_ready_async()
        client = await asyncio.wait_for(task, 10)
        assert client.is_connected and "reconnecting" in states and states[-1] == "connected"
        await client.close()
    finally:
        server.stop()


async def test_connection_loss_is_shown_and_recovered(tmp_path) -> None:
    """Killing the server turns the state to disconnected; restarting it reconnects."""
    server = NatsServer(tmp_path / "n", port=0)
    server.start()
    server.wait_ready()
    watch = ConnectionWatch(server.url)
    client = await connect(server.url, "loss", watch=watch, retry_for=5)
    states: list[str] = []
    watch.listen(lambda c: states.append(c.state))
    server.kill()
    for _ in range(100):
        if watch.state.state != "connected":
            break
        await asyncio.sleep(0.05)
    assert watch.state.state in ("disconnected", "reconnecting")
    server.start()
    server.wait_ready()
    for _ in range(200):
        if watch.state.state == "connected":
            break
        await asyncio.sleep(0.05)
    assert watch.state.state == "connected"
    await client.close()
    server.stop()


@pytest.mark.parametrize(("args", "subject"), [
    (("intake", "X", "incident.reported"), "wb.ev.intake.X.incident.reported"),
    (("deadlines", None, "sweep.recorded"), "wb.ev.deadlines._.sweep.recorded"),
])
def test_subjects(args: tuple, subject: str) -> None:
    """Event subjects carry the owning service, the incident and the type."""
    assert Subjects().event(*args) == subject
    assert Subjects().parse_event(subject) == (args[0], args[1] or "_", args[2])
