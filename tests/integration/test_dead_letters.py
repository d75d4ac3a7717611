"""An outbox entry the bus will not carry is moved aside — a dead letter and a `service.fault` —
and never blocks the entries behind it (issue 12, the poison pill). Real nats-servers: one
with a small max_payload, one whose stream refuses large messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import nats
import pytest
from nats.aio.client import Client
from nats.js import api

from watchboard.bus.jetstream import ensure_stream
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import STREAM
from watchboard.config import WatchboardConfig
from watchboard.domain.events import effect_id
from watchboard.store import deadletter
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import open_db

FAULTS = "wb.ev.deadlines._.service.fault"


@pytest.fixture
def small_server(tmp_path: Path) -> NatsServer:
    server = NatsServer(tmp_path / "nats-small", port=0, extra_config="max_payload: 16KB\n")
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield server  # type: ignore[misc]
    finally:
        server.stop()


async def _connect(url: str) -> Client:
    return await asyncio.wait_for(nats.connect(url, connect_timeout=2), 5)


async def _stored(nc: Client, subject: str) -> list[tuple[str, bytes]]:
    """(Nats-Msg-Id, body) of every message stored on `subject`."""
    sub = await nc.jetstream().pull_subscribe(subject, stream=STREAM,
                                              config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
    out: list[tuple[str, bytes]] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except Exception:
                break
            out += [((m.headers or {}).get("Nats-Msg-Id", ""), m.data) for m in msgs]
    finally:
        await sub.unsubscribe()
    return out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    db = await open_db(tmp_path / "s.sqlite", Outbox.schema())
    try:
        yield db
    finally:
        await db.close()


def _outbox(db: aiosqlite.Connection, nc: Client) -> Outbox:
    return Outbox(db, nc, STREAM, service="deadlines", fault_subject=FAULTS)


async def test_a_row_over_max_payload_is_moved_aside_and_the_rest_go_out(small_server: NatsServer,
                                                                        store: aiosqlite.Connection) -> None:
    nc = await _connect(small_server.url)
    try:
        await ensure_stream(nc.jetstream(timeout=5), WatchboardConfig())
        outbox = _outbox(store, nc)
        # Written as an older version or a bigger server would have: straight into the table.
        await store.executemany("INSERT INTO outbox(msg_id, subject, data, created_at) VALUES (?, ?, ?, 0)", [
            ("A", "wb.ev.deadlines.I1.clock.started", b'{"n":1}'),
            ("BIG", "wb.ev.deadlines.I2.clock.started", b'{"x":"' + b"x" * 20_000 + b'"}'),
            ("C", "wb.ev.deadlines.I3.clock.started", b'{"n":3}'),
        ])
        await store.commit()
        await outbox.flush()
        assert await outbox.pending() == 0
        assert nc.is_connected  # nothing over max_payload ever reached the server
        ids = [i for i, _ in await _stored(nc, "wb.ev.deadlines.*.clock.started")]
        assert ids == ["A", "C"]
        letters = await deadletter.entries(store)
        assert [(d.msg_id, d.subject) for d in letters] == [("BIG", "wb.ev.deadlines.I2.clock.started")]
        assert "16,384" not in letters[0].reason and "15,360 bytes" in letters[0].reason
        faults = await _stored(nc, FAULTS)
        assert [i for i, _ in faults] == [effect_id("BIG", "fault")]
        fault = json.loads(faults[0][1])
        assert (fault["type"], fault["service"], fault["entry_id"], fault["incident_id"]) == \
            ("service.fault", "deadlines", "BIG", "_")
        assert fault["size"] == len(letters[0].data) and fault["subject"] == "wb.ev.deadlines.I2.clock.started"
    finally:
        await nc.close()


async def test_a_row_too_large_is_set_aside_when_added(small_server: NatsServer, store: aiosqlite.Connection) -> None:
    """`add` already knows the server's limit: the row never enters the outbox."""
    nc = await _connect(small_server.url)
    try:
        await ensure_stream(nc.jetstream(timeout=5), WatchboardConfig())
        outbox = _outbox(store, nc)
        await outbox.add([("OK", "wb.ev.deadlines.I1.clock.met", b"{}"),
                          ("HUGE", "wb.ev.deadlines.I1.clock.met", b"y" * 1_000_000)])
        await store.commit()
        assert [r.msg_id for r in await outbox.rows()] == ["OK", effect_id("HUGE", "fault")]
        assert await deadletter.count(store) == 1
        assert await outbox.flush() == 2
        assert [i for i, _ in await _stored(nc, "wb.ev.deadlines.>")] == ["OK", effect_id("HUGE", "fault")]
    finally:
        await nc.close()


async def test_a_row_the_stream_refuses_is_moved_aside(nats_server: NatsServer, nc: Client,
                                                      store: aiosqlite.Connection) -> None:
    """Within max_payload, but over the stream's own limit: the server answers 400 for that row
    only; it goes aside, the rows behind it are stored, in order."""
    js = nc.jetstream(timeout=5)
    await ensure_stream(js, WatchboardConfig())
    info = await js.stream_info(STREAM)
    info.config.max_msg_size = 2_000
    await js.update_stream(info.config)
    outbox = _outbox(store, nc)
    await outbox.add([("R1", "wb.ev.deadlines.I1.clock.started", b"{}"),
                      ("R2", "wb.ev.deadlines.I2.clock.started", b"z" * 3_000),
                      ("R3", "wb.ev.deadlines.I3.clock.started", b"{}")])
    await store.commit()
    await outbox.flush()
    await outbox.flush()  # the fault added by the first round
    assert await outbox.pending() == 0
    assert [i for i, _ in await _stored(nc, "wb.ev.deadlines.*.clock.started")] == ["R1", "R3"]
    letters = await deadletter.entries(store)
    assert [d.msg_id for d in letters] == ["R2"] and "the stream refused it" in letters[0].reason
    assert [i for i, _ in await _stored(nc, FAULTS)] == [effect_id("R2", "fault")]


async def test_a_failure_that_may_pass_keeps_its_place(tmp_path: Path, store: aiosqlite.Connection) -> None:
    """No server at all: nothing is moved aside, every row waits in order."""
    server = NatsServer(tmp_path / "nats-gone", port=0)
    server.start()
    server.wait_ready(timeout=15)
    nc = await _connect(server.url)
    try:
        await ensure_stream(nc.jetstream(timeout=5), WatchboardConfig())
        server.stop()
        outbox = Outbox(store, nc, STREAM, service="deadlines", fault_subject=FAULTS, timeout=0.5)
        await outbox.add([("W1", "wb.ev.deadlines.I1.clock.started", b"{}"),
                          ("W2", "wb.ev.deadlines.I1.clock.started", b"{}")])
        await store.commit()
        with pytest.raises(Exception):  # noqa: B017 - any bus error: the point is what stays
            await outbox.flush()
        assert [r.msg_id for r in await outbox.rows()] == ["W1", "W2"]
        assert await deadletter.count(store) == 0
    finally:
        with contextlib.suppress(Exception):  # the server is gone: closing may say so
            await nc.close()
