"""The pure parts of standby mode: the lease's timing, the replica's triggers, parts and chain."""

from __future__ import annotations

import sqlite3

import pytest

from watchboard.bus.lease import LeaseTiming, holder_of, holder_value
from watchboard.bus.subjects import Subjects
from watchboard.store.replica import (
    H_CHANGESET,
    H_LAST,
    H_PART,
    H_PREV,
    H_WRITER,
    REPLICA_SCHEMA,
    Assembler,
    Changeset,
    ReplicaGap,
    TableDef,
    decode_changeset,
    encode_changeset,
    replicated,
    split,
    trigger_sql,
)


@pytest.mark.parametrize(("ttl", "renew", "margin", "poll", "until"), [
    (2.0, 0.5, 0.5, 0.2, 101.5),
    (4.0, 1.0, 1.0, 0.25, 103.0),
    (1.0, 0.25, 0.25, 0.1, 100.75),
])
def test_lease_timing(ttl: float, renew: float, margin: float, poll: float, until: float) -> None:
    t = LeaseTiming(ttl)
    assert (t.renew_every, t.margin, t.poll_every, t.valid_until(100.0)) == (renew, margin, poll, until)
    # The old active stops before the server could let anyone else in (it stored the renewal
    # no earlier than it was sent), with a margin to spare.
    assert t.valid_until(100.0) + t.margin == 100.0 + ttl


@pytest.mark.parametrize(("value", "instance"), [
    (holder_value("host-1", "grading"), "host-1"),
    (b"", ""),
    (b"not json", ""),
    (b"[1]", ""),
])
def test_holder_of(value: bytes, instance: str) -> None:
    assert holder_of(value) == instance


@pytest.mark.parametrize(("table", "copied"), [
    ("incidents", True), ("outbox", True), ("sqlite_sequence", False), ("_replica_log", False),
])
def test_replicated(table: str, copied: bool) -> None:
    assert replicated(table) is copied


@pytest.mark.parametrize(("data", "size", "parts"), [
    (b"", 4, [b""]),
    (b"abc", 4, [b"abc"]),
    (b"abcd", 4, [b"abcd"]),
    (b"abcdefghij", 4, [b"abcd", b"efgh", b"ij"]),
])
def test_split(data: bytes, size: int, parts: list[bytes]) -> None:
    assert split(data, size) == parts
    assert b"".join(split(data, size)) == data


def _logged(schema: str, statements: list[tuple[str, tuple]]) -> list[tuple[str, str]]:
    db = sqlite3.connect(":memory:")
    db.executescript(REPLICA_SCHEMA + schema)
    for name in [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]:
        if replicated(name):
            pk = [r[1] for r in sorted((r for r in db.execute(f'PRAGMA table_info("{name}")') if r[5]),
                                       key=lambda r: r[5])] or ["rowid"]
            for sql in trigger_sql(name, pk):
                db.execute(sql)
    for sql, params in statements:
        db.execute(sql, params)
    return [(t, k) for t, k in db.execute("SELECT tbl, pk FROM _replica_log ORDER BY seq")]


@pytest.mark.parametrize(("schema", "statements", "logged"), [
    ("CREATE TABLE s (id TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;",
     [("INSERT INTO s VALUES ('a', '1')", ()), ("UPDATE s SET v = '2' WHERE id = 'a'", ()),
      ("DELETE FROM s WHERE id = 'a'", ())],
     [("s", '["a"]'), ("s", '["a"]'), ("s", '["a"]')]),
    # A key that changes logs both the old and the new key (the old row is gone).
    ("CREATE TABLE s (id TEXT PRIMARY KEY, v TEXT);",
     [("INSERT INTO s VALUES ('a', '1')", ()), ("UPDATE s SET id = 'b' WHERE id = 'a'", ())],
     [("s", '["a"]'), ("s", '["a"]'), ("s", '["b"]')]),
    # A two-column key; and INSERT OR REPLACE (as the state tables write) logs the key.
    ("CREATE TABLE r (p TEXT, c TEXT, n INTEGER, PRIMARY KEY (p, c)) WITHOUT ROWID;",
     [("INSERT OR REPLACE INTO r VALUES (?, ?, ?)", ("x", "y", 1)),
      ("INSERT OR REPLACE INTO r VALUES (?, ?, ?)", ("x", "y", 2))],
     [("r", '["x","y"]'), ("r", '["x","y"]')]),
    # A table without a key: its rowid.
    ("CREATE TABLE k (v TEXT);", [("INSERT INTO k VALUES ('z')", ())], [("k", "[1]")]),
])
def test_triggers_log_each_changed_key(schema: str, statements: list, logged: list) -> None:
    assert _logged(schema, statements) == logged


def test_a_rolled_back_change_logs_nothing() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(REPLICA_SCHEMA + "CREATE TABLE s (id TEXT PRIMARY KEY) WITHOUT ROWID;")
    for sql in trigger_sql("s", ["id"]):
        db.execute(sql)
    db.execute("BEGIN")
    db.execute("INSERT INTO s VALUES ('a')")
    db.execute("ROLLBACK")
    assert db.execute("SELECT COUNT(*) FROM _replica_log").fetchone() == (0,)


def test_changeset_round_trip() -> None:
    cs = Changeset(tables={"s": TableDef(["id", "v", "b"], ["id"], "CREATE TABLE s (…)")},
                   upserts=[("s", ["a", 1.5, b"\x00\xff"])], deletes=[("s", ["gone"])])
    assert decode_changeset(encode_changeset(cs)) == cs


def headers(prev: int, part: int, last: bool, writer: str = "w", cs: int = 1) -> dict[str, str]:
    return {H_PREV: str(prev), H_PART: str(part), H_LAST: "1" if last else "0", H_WRITER: writer,
            H_CHANGESET: str(cs)}


@pytest.mark.parametrize(("messages", "wholes"), [
    # one message, one changeset
    ([(1, headers(0, 0, True), b"a")], [b"a"]),
    # three parts of one changeset
    ([(1, headers(0, 0, False), b"a"), (2, headers(1, 1, False), b"b"), (5, headers(2, 2, True), b"c")], [b"abc"]),
    # a writer died half-way; the next one's changeset starts: the half is dropped
    ([(1, headers(0, 0, False), b"a"), (2, headers(1, 0, True, writer="v"), b"z")], [b"z"]),
    # the tail of a changeset whose start was not read (a copy from a snapshot taken mid-way)
    ([(3, headers(0, 2, True), b"c"), (4, headers(3, 0, True, cs=2), b"d")], [b"d"]),
])
def test_assembler(messages: list, wholes: list[bytes]) -> None:
    a = Assembler()
    got = [w for seq, h, data in messages if (w := a.feed(seq, h, data)) is not None]
    assert got == wholes
    assert a.last_seen == messages[-1][0]


@pytest.mark.parametrize(("start", "prev"), [(0, 7), (10, 9), (10, 11)])
def test_a_broken_chain_asks_for_a_snapshot(start: int, prev: int) -> None:
    with pytest.raises(ReplicaGap):
        Assembler(last_seen=start).feed(12, headers(prev, 0, True), b"x")


def test_forwarded_and_replica_subjects() -> None:
    s = Subjects("wb")
    assert s.forwarded("intake") == "wb.active.intake"
    assert s.replica("notify") == "wb.replica.notify"
    assert ("submit", "wb.intake.submit") in s.requests_of("intake")
    assert all(subject.startswith("wb.cmd.") for _, subject in s.requests_of("grading"))
    assert ("ack", "wb.cmd.ack") in s.requests_of("notify")


def test_the_keeper_thread_gives_up_a_lease_whose_loop_has_stopped_turning() -> None:
    """A busy loop keeps its lease (the thread renews); one silent past `stall` seconds does not."""
    from watchboard.bus.lease import Lease, LeaseThread

    now = [100.0]
    lease = Lease(None, "notify", "n-1", 2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    keeper = LeaseThread(lease, connect=lambda: None, on_lost=lambda why: None, stall=20.0, clock=lambda: now[0])
    assert keeper.alive() is None
    now[0] += 19.0  # 19 s busy building a report: still alive
    assert keeper.alive() is None
    keeper.beat()
    now[0] += 20.5
    assert "not turned for 20s" in (keeper.alive() or "")
    keeper.beat()
    assert keeper.alive() is None
    keeper.halt()
    assert keeper.alive() == "stopping"
