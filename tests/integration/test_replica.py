"""The store's replica on a real server: what the active commits, its standby holds — row for
row, across many transactions, changesets split into parts, a writer that lost its place, and a
copy that starts again from a snapshot."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest
from nats.aio.client import Client

from watchboard.bus.standby import ensure_standby_infra, get_snapshot, put_snapshot
from watchboard.config import WatchboardConfig
from watchboard.store.outbox import Outbox
from watchboard.store.replica import ReplicaConflict, ReplicaFollower, ReplicaWriter
from watchboard.store.sqlite import ON_OPEN, open_db
from watchboard.store.states import StateTable

SUBJECT = "wb.replica.test"


def rows(path: Path) -> dict[str, list[tuple]]:
    """Every copied table's rows, sorted (the replica's own tables left out)."""
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
                 if not r[0].startswith(("sqlite_", "_replica_"))]
        return {n: sorted(db.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names}
    finally:
        db.close()


async def writer_db(nc: Client, path: Path, last: int = 0, name: str = "w1") -> tuple[aiosqlite.Connection, ReplicaWriter]:
    writer = ReplicaWriter(nc, SUBJECT, path, name, last)
    token = ON_OPEN.set(writer.hook)
    try:
        db = await open_db(path, StateTable.schema("incidents") + Outbox.schema())
    finally:
        ON_OPEN.reset(token)
    return db, writer


async def test_copy_follows_every_commit(nc: Client, tmp_path: Path) -> None:
    await ensure_standby_infra(nc.jetstream(), WatchboardConfig(), create=True)
    db, writer = await writer_db(nc, tmp_path / "a" / "x.sqlite")
    table = StateTable(db, "incidents", dict)
    for i in range(40):
        async with table.lock:
            tx = table.begin()
            tx.put(f"inc{i % 7}", {"n": i, "text": "决" * i})
            tx.done(f"ev{i}", i + 1)
            await tx.commit()
    await db.execute("DELETE FROM incidents WHERE id = 'inc3'")
    await db.commit()
    assert writer.published >= 41

    follower = ReplicaFollower(nc, SUBJECT, tmp_path / "b" / "x.sqlite", lambda: asyncio.sleep(0, None))
    await follower.open()
    await follower.drain()
    await follower.close()
    expected = rows(tmp_path / "a" / "x.sqlite")
    assert expected["incidents"] and len(expected["processed"]) == 40
    assert "inc3" not in {r[0] for r in expected["incidents"]}
    assert rows(tmp_path / "b" / "x.sqlite") == expected
    await writer.close()
    await db.close()


async def test_a_large_commit_goes_in_parts_and_arrives_whole(nc: Client, tmp_path: Path) -> None:
    await ensure_standby_infra(nc.jetstream(), WatchboardConfig(), create=True)
    db, writer = await writer_db(nc, tmp_path / "a" / "x.sqlite")
    writer.part_size = 4096
    table = StateTable(db, "incidents", dict)
    tx = table.begin()
    for i in range(50):
        tx.put(f"big{i}", {"text": "x" * 3000})
    await tx.commit()
    assert (await nc.jetstream().stream_info("WB_REPLICA")).state.messages > 10  # many parts
    follower = ReplicaFollower(nc, SUBJECT, tmp_path / "b" / "x.sqlite", lambda: asyncio.sleep(0, None))
    await follower.open()
    await follower.drain()
    assert follower.changesets == writer.published
    await follower.close()
    assert rows(tmp_path / "b" / "x.sqlite") == rows(tmp_path / "a" / "x.sqlite")
    await writer.close()
    await db.close()


async def test_a_second_writer_is_refused_and_told(nc: Client, tmp_path: Path) -> None:
    """Two instances that both believe they are active: the stream takes one chain only, and the
    one that is refused is told (the standby runner stops it)."""
    await ensure_standby_infra(nc.jetstream(), WatchboardConfig(), create=True)
    db1, w1 = await writer_db(nc, tmp_path / "a" / "x.sqlite", name="first")
    await db1.execute("INSERT INTO meta(key, value) VALUES ('k', '1')")
    await db1.commit()
    told: list[str] = []
    w2 = ReplicaWriter(nc, SUBJECT, tmp_path / "b" / "x.sqlite", "second", 0, on_conflict=told.append)
    token = ON_OPEN.set(w2.hook)
    try:
        with pytest.raises(ReplicaConflict):
            await open_db(tmp_path / "b" / "x.sqlite", Outbox.schema())
    finally:
        ON_OPEN.reset(token)
    assert told and "first" in told[0]
    # The first writer carries on: its chain is the stream's.
    await db1.execute("INSERT INTO meta(key, value) VALUES ('k2', '1')")
    await db1.commit()
    await w1.close()
    await w2.close()
    await db1.close()


async def test_a_copy_behind_the_history_starts_from_the_snapshot(nc: Client, tmp_path: Path) -> None:
    """Changes aged out of the stream: the follower takes the snapshot and the rest after it."""
    js = nc.jetstream()
    _, obs = await ensure_standby_infra(js, WatchboardConfig(), create=True)
    db, writer = await writer_db(nc, tmp_path / "a" / "x.sqlite")
    for i in range(5):
        await db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (f"k{i}", "v"))
        await db.commit()
    data, applied = await writer.snapshot()
    assert applied >= 4  # the store says how far the stream holds it (written with the last commits)
    await put_snapshot(obs, "test", data)
    # The history before the snapshot is gone (as `standby.history` would age it out).
    await js.purge_stream("WB_REPLICA", subject=SUBJECT, keep=1)
    await db.execute("INSERT INTO meta(key, value) VALUES ('after', 'v')")
    await db.commit()

    follower = ReplicaFollower(nc, SUBJECT, tmp_path / "b" / "x.sqlite", lambda: get_snapshot(obs, "test"))
    await follower.open()
    await follower.drain()
    await follower.close()
    assert rows(tmp_path / "b" / "x.sqlite") == rows(tmp_path / "a" / "x.sqlite")
    assert ("after", "v") in rows(tmp_path / "b" / "x.sqlite")["meta"]
    await writer.close()
    await db.close()


async def test_a_changed_lease_ttl_reaches_the_bucket(nc: Client) -> None:
    """What fences the old active is the bucket's own max age: setup brings it to the config."""
    from watchboard.bus.lease import ensure_lease_bucket

    js = nc.jetstream()
    kv = await ensure_lease_bucket(js, 2.0, 1, create=True)
    assert (await kv.status()).ttl == pytest.approx(2.0)
    kv = await ensure_lease_bucket(js, 5.0, 1, create=True)
    assert (await kv.status()).ttl == pytest.approx(5.0)
    kv = await ensure_lease_bucket(js, 1.0, 1, create=True)
    assert (await kv.status()).ttl == pytest.approx(1.0)


async def test_a_store_from_before_standby_mode_goes_out_whole(nc: Client, tmp_path: Path) -> None:
    """The first active instance brings rows it had before: a standby replaying the stream from
    its beginning (no snapshot yet) has them all."""
    await ensure_standby_infra(nc.jetstream(), WatchboardConfig(), create=True)
    path = tmp_path / "a" / "x.sqlite"
    db = await open_db(path, StateTable.schema("incidents"))  # single-instance days: no replica
    for i in range(30):
        await db.execute("INSERT INTO incidents(id, state) VALUES (?, ?)", (f"old{i}", b"{}"))
    await db.commit()
    await db.close()

    db, writer = await writer_db(nc, path)
    await db.execute("INSERT INTO incidents(id, state) VALUES ('new', x'7b7d')")
    await db.commit()
    follower = ReplicaFollower(nc, SUBJECT, tmp_path / "b" / "x.sqlite", lambda: asyncio.sleep(0, None))
    await follower.open()
    await follower.drain()
    await follower.close()
    copied = rows(tmp_path / "b" / "x.sqlite")["incidents"]
    assert len(copied) == 31 and rows(tmp_path / "b" / "x.sqlite") == rows(path)
    await writer.close()
    await db.close()


async def test_a_column_the_active_adds_reaches_the_copy(nc: Client, tmp_path: Path) -> None:
    """A store the copy already holds gains a column on the active (the state tables' `closed_at`,
    issue 13, made at the first load of a newer version): the copy gains it too and keeps
    following, instead of refusing every changeset."""
    await ensure_standby_infra(nc.jetstream(), WatchboardConfig(), create=True)
    db, writer = await writer_db(nc, tmp_path / "a" / "x.sqlite")
    old = StateTable(db, "incidents", dict)  # the older version: no closing time kept
    tx = old.begin()
    tx.put("inc1", {"closed": True})
    await tx.commit()
    follower = ReplicaFollower(nc, SUBJECT, tmp_path / "b" / "x.sqlite", lambda: asyncio.sleep(0, None))
    await follower.open()
    await follower.drain()
    new = StateTable(db, "incidents", dict, closed=lambda s: bool(s.get("closed")))
    await new.load()  # adds and fills `closed_at`
    tx = new.begin()
    tx.put("inc2", {"closed": True})
    await tx.commit()
    await follower.drain()
    await follower.close()
    expected = rows(tmp_path / "a" / "x.sqlite")
    assert len(expected["incidents"]) == 2 and all(r[2] is not None for r in expected["incidents"])
    assert rows(tmp_path / "b" / "x.sqlite") == expected
    await writer.close()
    await db.close()
