"""The store's contract, run on aiosqlite on a file and in memory: state tables change only
through committed transactions, a redelivered event is skipped, a failed commit leaves memory
and disk as they were, and the outbox publishes what the stream does not hold yet — also
past JetStream's duplicate window (a real nats-server)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import aiosqlite
import msgspec
import pytest
from nats.aio.client import Client
from nats.js import api

from watchboard.bus.consumer import Delivered
from watchboard.bus.errors import BusError
from watchboard.domain.events import Event, NoteAdded
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import already_processed, mark_processed, open_db, prune_processed
from watchboard.store.states import StateTable

SCHEMA = StateTable.schema("things") + Outbox.schema()


class Thing(msgspec.Struct, kw_only=True):
    id: str
    notes: int = 0


class Store(NamedTuple):
    db: aiosqlite.Connection
    path: Path | None  # None: in memory (nothing outlives the connection)


@pytest.fixture(params=["file", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    path = tmp_path / "store.sqlite" if request.param == "file" else None
    db = await open_db(path or ":memory:", SCHEMA)
    yield Store(db, path)
    with contextlib.suppress(Exception):  # some tests close it themselves
        await db.close()


def note(n: int, incident: str = "INC1") -> Delivered:
    event = NoteAdded(id=f"EV{n}", incident_id=incident, at=datetime(2026, 11, 23, tzinfo=UTC), actor="t",
                      text=f"note {n}")
    return Delivered(event, "wb.ev.intake.x.incident.noted", stream_seq=n, num_delivered=1)


class Counter:
    """A step that counts notes per incident and records which events it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, state: Thing | None, event: Event) -> tuple[Thing | None, list[str]]:
        self.seen.append(event.id)
        st = state or Thing(id=event.incident_id)
        return msgspec.structs.replace(st, notes=st.notes + 1), [f"effect of {event.id}"]


async def on_disk(db: aiosqlite.Connection, sql: str) -> list[tuple]:
    async with db.execute(sql) as cur:
        return [tuple(r) async for r in cur]


async def stored_states(s: Store) -> dict[str, int]:
    """What the table holds as another reader sees it (a fresh connection for a file)."""
    if s.path is None:
        rows = await on_disk(s.db, "SELECT id, state FROM things")
    else:
        async with aiosqlite.connect(s.path) as other:
            rows = await on_disk(other, "SELECT id, state FROM things")
    return {k: msgspec.json.decode(v, type=Thing).notes for k, v in rows}


# --- transactions ----------------------------------------------------------------------------


async def test_overlay_is_invisible_until_commit(store: Store) -> None:
    """A put shows in its transaction only; the table, other transactions and the disk see it
    after commit."""
    table = StateTable(store.db, "things", Thing)
    tx = table.begin()
    tx.put("INC1", Thing(id="INC1", notes=1))
    assert tx.get("INC1") == Thing(id="INC1", notes=1)
    assert table.get("INC1") is None and table.begin().get("INC1") is None
    assert await stored_states(store) == {}
    assert await tx.commit() == {"INC1": Thing(id="INC1", notes=1)}
    assert table.get("INC1") == Thing(id="INC1", notes=1)
    assert await stored_states(store) == {"INC1": 1}
    reloaded = StateTable(store.db, "things", Thing)
    assert await reloaded.load() == 1 and reloaded.get("INC1") == Thing(id="INC1", notes=1)


async def test_commit_writes_states_and_processed_ids_together(store: Store) -> None:
    """One commit holds the folded states and the ids of the events that made them."""
    table = StateTable(store.db, "things", Thing)
    tx = table.begin()
    effects = await tx.fold([note(1), note(2), note(3, "INC2")], Counter())
    assert effects == ["effect of EV1", "effect of EV2", "effect of EV3"]
    assert await on_disk(store.db, "SELECT event_id FROM processed") == []
    await tx.commit()
    assert await stored_states(store) == {"INC1": 2, "INC2": 1}
    assert sorted(await on_disk(store.db, "SELECT event_id, stream_seq FROM processed")) == [
        ("EV1", 1), ("EV2", 2), ("EV3", 3)]


async def test_redelivered_events_are_skipped(store: Store) -> None:
    """A batch folded and committed, delivered again (whole or in part), changes nothing."""
    table = StateTable(store.db, "things", Thing)
    first = Counter()
    tx = table.begin()
    await tx.fold([note(1), note(2)], first)
    await tx.commit()
    again = Counter()
    tx = table.begin()
    assert await tx.fold([note(1), note(2), note(3)], again) == ["effect of EV3"]
    assert again.seen == ["EV3"] and tx.processed == [("EV3", 3)]
    await tx.commit()
    assert table.get("INC1") == Thing(id="INC1", notes=3)


async def test_the_same_event_twice_in_one_batch_is_folded_once(store: Store) -> None:
    """A copy stored past the duplicate window can arrive in the same batch: one fold."""
    table = StateTable(store.db, "things", Thing)
    step = Counter()
    tx = table.begin()
    await tx.fold([note(1), note(1)], step)
    assert step.seen == ["EV1"] and tx.get("INC1") == Thing(id="INC1", notes=1)


async def test_failed_commit_leaves_memory_and_disk_unchanged(store: Store) -> None:
    """Writing the processed ids fails after the states were written: nothing of it stays,
    and the next commit does not carry it along."""
    table = StateTable(store.db, "things", Thing)
    tx = table.begin()
    await tx.fold([note(1)], Counter())
    await tx.commit()
    await store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON processed "
                           "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
    await store.db.commit()
    failing = table.begin()
    await failing.fold([note(2), note(3, "INC2")], Counter())
    with pytest.raises(aiosqlite.IntegrityError, match="disk full"):
        await failing.commit()
    assert table.items == {"INC1": Thing(id="INC1", notes=1)}
    assert await stored_states(store) == {"INC1": 1}
    await store.db.execute("DROP TRIGGER refuse")
    await store.db.commit()
    later = table.begin()
    later.put("INC9", Thing(id="INC9"))  # no processed ids: only its own state
    await later.commit()
    assert await stored_states(store) == {"INC1": 1, "INC9": 0}
    assert await on_disk(store.db, "SELECT event_id FROM processed") == [("EV1",)]


async def test_commit_on_a_lost_connection_changes_nothing(store: Store) -> None:
    """The database goes away before the commit: memory keeps the old states, and a file
    reopened holds what was committed before."""
    table = StateTable(store.db, "things", Thing)
    tx = table.begin()
    await tx.fold([note(1)], Counter())
    await tx.commit()
    failing = table.begin()
    await failing.fold([note(2)], Counter())
    await store.db.close()
    with pytest.raises(ValueError, match="no active connection"):
        await failing.commit()
    assert table.items == {"INC1": Thing(id="INC1", notes=1)}
    if store.path is not None:
        reopened = await open_db(store.path, SCHEMA)
        try:
            again = StateTable(reopened, "things", Thing)
            assert await again.load() == 1 and again.get("INC1") == Thing(id="INC1", notes=1)
            assert await on_disk(reopened, "SELECT event_id FROM processed") == [("EV1",)]
        finally:
            await reopened.close()


# --- the outbox, against a real nats-server ----------------------------------------------------

STREAM = "STORETEST"


async def make_stream(nc: Client, window: float) -> None:
    await nc.jetstream(timeout=5).add_stream(api.StreamConfig(
        name=STREAM, subjects=["store.>"], duplicate_window=window, storage=api.StorageType.FILE,
        allow_direct=True))  # the outbox's recovery reads the stream by direct get (bus/reader.py)


async def stream_messages(nc: Client) -> int:
    info = await nc.jetstream(timeout=5).stream_info(STREAM)
    return int(info.state.messages)


async def test_outbox_recovery_past_the_duplicate_window(store: Store, nc: Client) -> None:
    """A row whose message reached the stream before the crash is dropped, not published
    again, even once JetStream's duplicate window no longer covers it; the others go out."""
    await make_stream(nc, window=0.5)
    js = nc.jetstream(timeout=5)
    # Before the "crash": the row for X was published, the one for Y was not.
    await js.publish("store.x", b"x", stream=STREAM, headers={"Nats-Msg-Id": "X"})
    await js.publish("store.z", b"z", stream=STREAM, headers={"Nats-Msg-Id": "Z"})
    box = Outbox(store.db, nc, STREAM)
    await box.add([("X", "store.x", b"x"), ("Y", "store.y", b"y")])
    await store.db.commit()
    await asyncio.sleep(1.0)
    # The window has passed: the stream would now store a second copy of an old id.
    again = await js.publish("store.z", b"z", stream=STREAM, headers={"Nats-Msg-Id": "Z"})
    assert not again.duplicate
    assert await stream_messages(nc) == 3
    assert await asyncio.wait_for(box.recover(), 15) == 1
    assert [r.msg_id for r in await box.rows()] == ["Y"]
    assert await asyncio.wait_for(box.flush(), 10) == 1
    assert await box.pending() == 0
    assert await stream_messages(nc) == 4  # X once, Z twice (the control), Y once
    assert await asyncio.wait_for(box.ids_in_stream("store.y", 0), 15) == {"Y"}


async def test_outbox_publishes_in_order_and_keeps_what_follows_a_failure(store: Store, nc: Client) -> None:
    """A row the stream refuses stops the flush there: rows before it are published and
    deleted, it and the rows after it stay for the next flush (a row after it may already be
    stored, being published in the same pipelined chunk: its id makes the next copy a duplicate)."""
    await make_stream(nc, window=120)
    box = Outbox(store.db, nc, STREAM, timeout=2)
    await box.add([("A", "store.a", b"a"), ("B", "nowhere.b", b"b"), ("C", "store.c", b"c")])
    await store.db.commit()
    with pytest.raises(BusError):
        await asyncio.wait_for(box.flush(), 15)
    assert [r.msg_id for r in await box.rows()] == ["B", "C"]
    assert await stream_messages(nc) == 2  # A, and C from the same chunk
    js = nc.jetstream(timeout=5)
    await js.update_stream(api.StreamConfig(name=STREAM, subjects=["store.>", "nowhere.>"],
                                            duplicate_window=120, storage=api.StorageType.FILE, allow_direct=True))
    assert await asyncio.wait_for(box.flush(), 10) == 2
    assert await box.pending() == 0 and await stream_messages(nc) == 3  # C's second copy dropped


async def test_outbox_delete_waits_for_the_shared_writer_lock(store: Store, nc: Client) -> None:
    """With the connection's writer lock given, deleting published rows (a commit) waits
    while another writer holds it, so it cannot commit that writer's half transaction."""
    await make_stream(nc, window=120)
    table = StateTable(store.db, "things", Thing)
    box = Outbox(store.db, nc, STREAM, lock=table.lock)
    await box.add([("A", "store.a", b"a")])
    await store.db.commit()
    async with table.lock:
        await store.db.execute("INSERT INTO things(id, state) VALUES ('HALF', x'7b7d')")  # not committed
        flush = asyncio.create_task(box.flush())
        await asyncio.sleep(0.5)
        assert not flush.done() and await stream_messages(nc) == 1  # published, delete waiting
        await store.db.rollback()
    assert await asyncio.wait_for(flush, 10) == 1
    assert await box.pending() == 0 and await stored_states(store) == {}


# --- history out of memory (issue 13) ---------------------------------------------------------


class Case(msgspec.Struct, kw_only=True):
    id: str
    closed_at: datetime | None = None  # None: open
    closed: bool = False  # closed, time unknown (the table's clock stands for it)


T0 = datetime(2026, 11, 1, tzinfo=UTC)


def cases_table(store: Store, clock: datetime = T0) -> StateTable[Case]:
    return StateTable(store.db, "things", Case, clock=lambda: clock,
                      closed=lambda c: c.closed_at or c.closed or None)


async def put_all(table: StateTable[Case], *cases: Case) -> None:
    tx = table.begin()
    for case in cases:
        tx.put(case.id, case)
    await tx.commit()


@pytest.mark.parametrize(("since_days", "loaded"), [
    (None, {"OPEN", "NEW", "OLD", "UNKNOWN"}),  # no window: everything
    (5, {"OPEN", "NEW", "UNKNOWN"}),  # closed within 5 days of day 10, and the open one
    (0, {"OPEN", "UNKNOWN"}),  # UNKNOWN was stamped with the clock of its commit (day 10)
])
async def test_load_reads_open_and_recently_closed(store: Store, since_days: int | None, loaded: set[str]) -> None:
    """`load(closed_since=…)` leaves long-closed states on disk; `ensure` reads one back when named."""
    day10 = T0.replace(day=10)
    table = cases_table(store, clock=day10)
    await table.load()
    await put_all(table, Case(id="OPEN"), Case(id="NEW", closed_at=day10.replace(day=8)),
                  Case(id="OLD", closed_at=T0), Case(id="UNKNOWN", closed=True))
    again = cases_table(store)
    since = None if since_days is None else day10 - timedelta(days=since_days)
    assert await again.load(closed_since=since) == len(loaded) and set(again.items) == loaded
    assert await again.ensure(["OLD", "NOPE", "OPEN"]) == ([] if "OLD" in loaded else ["OLD"])
    assert again.get("OLD") == Case(id="OLD", closed_at=T0) and again.closed_time("OLD") == T0.timestamp()
    assert again.closed_time("OPEN") is None


async def test_evict_and_closed_between(store: Store) -> None:
    """Evicting forgets in memory only; the index on disk says which closed in a span."""
    table = cases_table(store)
    await table.load()
    await put_all(table, Case(id="A", closed_at=T0), Case(id="B", closed_at=T0 + timedelta(days=3)), Case(id="C"))
    assert table.evict(T0 + timedelta(days=1)) == ["A"] and set(table.items) == {"B", "C"}
    assert await table.closed_between(0, (T0 + timedelta(days=1)).timestamp()) == ["A"]
    assert sorted(await table.closed_between(T0.timestamp(), (T0 + timedelta(days=4)).timestamp())) == ["A", "B"]
    # A reopened state (in memory again) loses its closing time.
    await put_all(table, Case(id="B"))
    assert table.closed_time("B") is None and await table.closed_between(0, 1e12) == ["A"]


async def test_a_closing_stamp_stays_and_load_replaces_memory(store: Store) -> None:
    """A closed state keeps its first stamp when it changes again (a note long after the close);
    `load` keeps only what it reads (a rebuild's commit left everything in memory); `on_disk`
    says which keys the table holds, in memory or not."""
    table = cases_table(store, clock=T0 + timedelta(days=2))
    await table.load()
    await put_all(table, Case(id="A", closed=True), Case(id="B", closed_at=T0), Case(id="C"))
    assert table.closed_time("A") == (T0 + timedelta(days=2)).timestamp()
    table.clock = lambda: T0 + timedelta(days=9)
    await put_all(table, Case(id="A", closed=True), Case(id="B", closed_at=T0 + timedelta(days=5)))
    assert table.closed_time("A") == (T0 + timedelta(days=2)).timestamp()
    assert table.closed_time("B") == T0.timestamp()
    assert sorted(await table.closed_between(0, (T0 + timedelta(days=3)).timestamp())) == ["A", "B"]
    assert await table.load(closed_since=T0 + timedelta(days=3)) == 1 and set(table.items) == {"C"}
    assert await table.on_disk(["A", "C", "NOPE"]) == {"A", "C"}


async def test_a_store_of_an_older_version_is_stamped_once(store: Store) -> None:
    """Rows written before the column existed get their closing time at the first load."""
    legacy = StateTable(store.db, "things", Case)  # no `closed`: the old behaviour, no column
    tx = legacy.begin()
    tx.put("OLD", Case(id="OLD", closed_at=T0))
    tx.put("OPEN", Case(id="OPEN"))
    await tx.commit()
    table = cases_table(store)
    await table.load(closed_since=T0 + timedelta(days=1))
    assert set(table.items) == {"OPEN"}
    assert await table.closed_between(0, 1e12) == ["OLD"]


async def test_processed_ids_are_pruned_past_the_horizon(store: Store) -> None:
    """Ids processed before the horizon go; with `unstamped`, so do those of an older store."""
    await store.db.execute("INSERT INTO processed(event_id, stream_seq) VALUES ('LEGACY', 1)")
    await mark_processed(store.db, [("NOW", 2)])
    await store.db.commit()
    assert await prune_processed(store.db, time.time() - 60) == 0
    assert await already_processed(store.db, ["LEGACY", "NOW"]) == {"LEGACY", "NOW"}
    assert await prune_processed(store.db, time.time() - 60, unstamped=True) == 1
    assert await prune_processed(store.db, time.time() + 1) == 1
    assert await already_processed(store.db, ["LEGACY", "NOW"]) == set()
