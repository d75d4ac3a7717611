"""A service's SQLite store, copied to its standby instances through JetStream.

Why copy the store and not let each standby fold the event stream itself: a service's state
is more than its events say — deadlines' and notify's outboxes, notify's delivery queue, rate
windows and used link nonces, the processed ids that make a redelivery harmless. A standby that
holds the very rows the active committed takes over exactly as the active would restart on its
own host, a path the crash tests already prove, and no service needs code of its own for it.

Active side (`ReplicaWriter`, attached to the service's connection when the store is opened):

- triggers on every table write the changed row's key into `_replica_log`, in the same
  transaction as the change (so a rolled-back change logs nothing);
- the connection's `commit` is wrapped: after SQLite commits, the changed rows are read on a
  second connection (committed data only) and published as one changeset on
  `<prefix>.replica.<service>` before `commit` returns. Everything the service does after a
  commit — ack the batch, reply to the request, publish the outbox — therefore happens only
  once the standbys can have the change;
- each message carries `Nats-Expected-Last-Subject-Sequence`: the stream accepts a changeset
  only on top of the one its writer last saw, so two writers can never interleave (the loser
  stops, see `ReplicaConflict`); `Wb-Prev` lets a reader check the chain;
- a changeset larger than one message is split into parts; a reader applies it only whole.

Standby side (`ReplicaFollower`): reads the subject by direct get from where its copy stands,
applies each whole changeset in one transaction together with its sequence, and starts from
the latest snapshot (Object Store `wb-replica`, one object per service, put by the active
when it starts and every `standby.snapshot_every`) when its copy is missing, diverged, or older
than the stream's history.

Rows are copied as their current value (upsert) or as gone (delete), so applying a changeset
twice, or one older than the copy, and then the rest in order, always ends at the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
from nats.aio.client import Client
from nats.js.errors import APIError

log = logging.getLogger("watchboard.standby")

REPLICA_STREAM = "WB_REPLICA"
SNAPSHOT_BUCKET = "wb-replica"
LOG_TABLE = "_replica_log"
STATE_TABLE = "_replica_state"
OWN_PREFIX = "_replica_"

REPLICA_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {LOG_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, pk TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

H_WRITER, H_CHANGESET, H_PART, H_LAST, H_PREV = "Wb-Writer", "Wb-Changeset", "Wb-Part", "Wb-Last", "Wb-Prev"
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
LOG_CHUNK = 5000  # log rows per changeset: bounds what one commit holds in memory
HEADROOM = 16 * 1024  # headers and framing, under the server's max_payload


class ReplicaConflict(Exception):
    """Another instance wrote the replica stream: this one is no longer the active one."""


class ReplicaGap(Exception):
    """The copy cannot be brought forward from the stream: it needs a snapshot."""


# --- pure parts -----------------------------------------------------------------------------


class TableDef(msgspec.Struct, array_like=True):
    columns: list[str]
    pk: list[str]  # ["rowid"] for a table without a primary key
    sql: str  # its CREATE TABLE, for a copy that lacks the table


class Changeset(msgspec.Struct):
    tables: dict[str, TableDef]
    upserts: list[tuple[str, list[Any]]] = msgspec.field(default_factory=list)
    deletes: list[tuple[str, list[Any]]] = msgspec.field(default_factory=list)


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Changeset).decode


def encode_changeset(cs: Changeset) -> bytes:
    return _encode(cs)


def decode_changeset(data: bytes) -> Changeset:
    return _decode(data)


def replicated(table: str) -> bool:
    """Is `table` copied? (SQLite's own tables and the replica's bookkeeping are not.)"""
    return not table.startswith("sqlite_") and not table.startswith(OWN_PREFIX)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def trigger_sql(table: str, pk: Sequence[str]) -> list[str]:
    """The three triggers that log a changed row's key into `_replica_log`."""
    t = quote(table)
    lit = "'" + table.replace("'", "''") + "'"

    def key(row: str) -> str:
        return "json_array(" + ", ".join(f"{row}.{'rowid' if c == 'rowid' else quote(c)}" for c in pk) + ")"

    name = f"{OWN_PREFIX}{table}"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_ins')} AFTER INSERT ON {t} BEGIN "
        f"INSERT INTO {LOG_TABLE}(tbl, pk) VALUES ({lit}, {key('NEW')}); END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_upd')} AFTER UPDATE ON {t} BEGIN "
        f"INSERT INTO {LOG_TABLE}(tbl, pk) VALUES ({lit}, {key('OLD')}); "
        f"INSERT INTO {LOG_TABLE}(tbl, pk) SELECT {lit}, {key('NEW')} WHERE {key('NEW')} != {key('OLD')}; END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_del')} AFTER DELETE ON {t} BEGIN "
        f"INSERT INTO {LOG_TABLE}(tbl, pk) VALUES ({lit}, {key('OLD')}); END",
    ]


def split(data: bytes, size: int) -> list[bytes]:
    """`data` in parts of at most `size` bytes (one part, possibly empty, at least)."""
    if size <= 0:
        raise ValueError("part size must be positive")
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@dataclass
class Assembler:
    """Puts parts back together, checking the chain (`Wb-Prev` = the sequence read before).

    `feed` returns a whole changeset's bytes when its last part arrives; a changeset whose
    writer stopped half-way is dropped when the next one begins. A broken chain (a message
    missing, e.g. aged out of the stream) raises ReplicaGap."""

    last_seen: int = 0
    key: tuple[str, str] | None = None
    parts: list[bytes] = field(default_factory=list)

    def feed(self, seq: int, headers: dict[str, str], data: bytes) -> bytes | None:
        try:
            prev, part = int(headers.get(H_PREV, "-1")), int(headers.get(H_PART, "-1"))
        except ValueError:
            raise ReplicaGap(f"message {seq} has unreadable replica headers") from None
        if prev != self.last_seen:
            raise ReplicaGap(f"message {seq} follows {prev}, but the copy stands at {self.last_seen}")
        self.last_seen = seq
        key = (headers.get(H_WRITER, ""), headers.get(H_CHANGESET, ""))
        if part == 0:
            self.key, self.parts = key, [data]
        elif key == self.key and part == len(self.parts):
            self.parts.append(data)
        else:  # the rest of a changeset whose beginning was dropped: nothing to apply
            self.key, self.parts = None, []
            return None
        if headers.get(H_LAST) != "1":
            return None
        whole = b"".join(self.parts)
        self.key, self.parts = None, []
        return whole


# --- on a connection --------------------------------------------------------------------------


async def _rows(db: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    async with db.execute(sql, tuple(params)) as cur:
        return list(await cur.fetchall())


async def table_def(db: aiosqlite.Connection, table: str) -> TableDef:
    info = await _rows(db, f"PRAGMA table_info({quote(table)})")
    columns = [r[1] for r in info]
    pk = [r[1] for r in sorted((r for r in info if r[5] > 0), key=lambda r: r[5])]
    sql = (await _rows(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))[0][0]
    if not pk:
        return TableDef(["rowid", *columns], ["rowid"], sql)
    return TableDef(columns, pk, sql)


async def user_tables(db: aiosqlite.Connection) -> list[str]:
    rows = await _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [r[0] for r in rows if replicated(r[0])]


async def schema_version(db: aiosqlite.Connection) -> int:
    return int((await _rows(db, "PRAGMA schema_version"))[0][0])


async def read_state(db: aiosqlite.Connection, key: str) -> str | None:
    rows = await _rows(db, f"SELECT value FROM {STATE_TABLE} WHERE key = ?", (key,))
    return rows[0][0] if rows else None


def _set_state_sql() -> str:
    return (f"INSERT INTO {STATE_TABLE}(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value")


async def has_table(db: aiosqlite.Connection, table: str) -> bool:
    return bool(await _rows(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))


async def _add_columns(db: aiosqlite.Connection, table: str, columns: Sequence[str]) -> None:
    """Columns the active's table gained since the copy made it (a newer version's `ALTER TABLE
    … ADD COLUMN`, such as the state tables' `closed_at`, issue 13) are added to the copy too."""
    have = {r[1] for r in await _rows(db, f"PRAGMA table_info({quote(table)})")}
    for column in columns:
        if column != "rowid" and column not in have:
            await db.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)}")


async def drop_triggers(db: aiosqlite.Connection) -> None:
    for (name,) in await _rows(db, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                               (OWN_PREFIX.replace("_", r"\_") + "%",)):
        if name.startswith(OWN_PREFIX):
            await db.execute(f"DROP TRIGGER IF EXISTS {quote(name)}")


async def apply_changeset(db: aiosqlite.Connection, cs: Changeset, seq: int) -> None:
    """Apply one whole changeset and record `seq` as applied, in one transaction."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        for name, t in cs.tables.items():
            if not await has_table(db, name):
                await db.execute(t.sql)
            else:
                await _add_columns(db, name, t.columns)
        for name, values in cs.upserts:
            cols = cs.tables[name].columns
            await db.execute(f"INSERT OR REPLACE INTO {quote(name)} ({', '.join(quote(c) if c != 'rowid' else 'rowid' for c in cols)}) "
                             f"VALUES ({', '.join('?' * len(cols))})", values)
        for name, key in cs.deletes:
            pk = cs.tables[name].pk
            where = " AND ".join(("rowid" if c == "rowid" else quote(c)) + " = ?" for c in pk)
            await db.execute(f"DELETE FROM {quote(name)} WHERE {where}", key)
        await db.execute(_set_state_sql(), ("applied_seq", str(seq)))
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            await db.execute("ROLLBACK")
        raise


async def last_on_subject(nc: Client, stream: str, subject: str, timeout: float = 5.0) -> tuple[int, dict[str, str]]:
    """The sequence and headers of the last message on `subject` ((0, {}) when none)."""
    msg = await nc.request(f"$JS.API.DIRECT.GET.{stream}.{subject}", b"", timeout=timeout)
    headers = dict(msg.headers or {})
    if headers.get("Status") == "404":
        return 0, {}
    if headers.get("Status"):
        raise RuntimeError(f"direct get of {subject}: {headers['Status']} {headers.get('Description', '')}")
    return int(headers.get("Nats-Sequence", "0") or 0), headers


# --- the active side ----------------------------------------------------------------------------


OnConflict = Callable[[str], None]


class ReplicaWriter:
    """Attached to the active service's store: every commit is published before it returns."""

    def __init__(self, nc: Client, subject: str, path: Path, writer: str, last_seq: int, *,
                 stream: str = REPLICA_STREAM, on_conflict: OnConflict | None = None,
                 stopping: asyncio.Event | None = None, fence: Callable[[], str | None] | None = None) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=5)
        self.subject, self.path, self.writer, self.stream = subject, path, writer, stream
        self.last_seq = last_seq  # the last message on the subject, whoever wrote it
        self.on_conflict = on_conflict
        self.stopping = stopping or asyncio.Event()
        # Why this instance may no longer act (its lease ran out), or None. Asked before every
        # commit: after a stalled event loop the keeper may not have noticed yet.
        self.fence = fence
        self.db: aiosqlite.Connection | None = None
        self.reader: aiosqlite.Connection | None = None
        self._original: Callable[[], Awaitable[None]] | None = None
        self._lock = asyncio.Lock()
        self._version = -1
        self._sent_log = 0  # log rows up to here are in the stream
        self._pruned = 0  # … and deleted from the log
        self._changeset = 0
        self._announce = False
        self.published = 0  # changesets, for tests and the log
        max_payload = getattr(nc, "max_payload", 0) or 1024 * 1024
        self.part_size = max(4096, max_payload - HEADROOM)

    async def hook(self, db: aiosqlite.Connection, path: Path) -> None:
        """`watchboard.store.sqlite.ON_OPEN`: attach to the service's own store only."""
        if _same_file(Path(path), self.path):
            await self.attach(db)

    async def attach(self, db: aiosqlite.Connection) -> None:
        if self.db is not None:
            raise RuntimeError(f"{self.path} is already attached to a replica writer")
        self.db = db
        await db.executescript(REPLICA_SCHEMA)
        await self._ensure_triggers()
        if self.last_seq == 0:
            # The history begins here: a store that already holds rows (one from before standby
            # mode) goes out whole, so a standby replaying from the start has every row.
            for table in await user_tables(db):
                t = await table_def(db, table)
                key = ", ".join("rowid" if c == "rowid" else quote(c) for c in t.pk)
                await db.execute(f"INSERT INTO {LOG_TABLE}(tbl, pk) SELECT ?, json_array({key}) FROM {quote(table)}",
                                 (table,))
        await db.commit()
        self.reader = await aiosqlite.connect(str(self.path), isolation_level=None)
        await self.reader.execute("PRAGMA busy_timeout=5000")
        self._original = db.commit
        db.commit = self._commit  # type: ignore[method-assign]
        await self.flush_until_done()  # what a crash left unpublished on this host

    async def close(self) -> None:
        """A clean stop: the log emptied of what the stream holds, so this store can follow
        the next active without being copied again."""
        if self.db is not None and self._original is not None:
            self.db.commit = self._original  # type: ignore[method-assign]
            if self._sent_log > self._pruned:
                with contextlib.suppress(Exception):
                    await self.db.execute(f"DELETE FROM {LOG_TABLE} WHERE seq <= ?", (self._sent_log,))
                    await self.db.execute(_set_state_sql(), ("applied_seq", str(self.last_seq)))
                    await self._original()
                    self._pruned = self._sent_log
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader.close()
            self.reader = None

    async def _ensure_triggers(self) -> None:
        db = self.db
        assert db is not None
        if await schema_version(db) == self._version:
            return
        for table in await user_tables(db):
            t = await table_def(db, table)
            for sql in trigger_sql(table, t.pk):
                await db.execute(sql)
        self._version = await schema_version(db)
        self._announce = True  # the next changeset carries every table, so copies have them all

    async def _commit(self) -> None:
        db, original = self.db, self._original
        assert db is not None and original is not None
        why = self.fence() if self.fence is not None else None
        if why is not None:  # nothing is committed by an instance that may no longer act
            if self.on_conflict is not None:
                self.on_conflict(why)
            raise ReplicaConflict(why)
        pruned = self._sent_log
        if pruned > self._pruned:
            # Inside the caller's transaction: the log keeps only what is not yet published,
            # and the store says how far the stream holds it (a snapshot of it says so too).
            await db.execute(f"DELETE FROM {LOG_TABLE} WHERE seq <= ?", (pruned,))
            await db.execute(_set_state_sql(), ("applied_seq", str(self.last_seq)))
        await self._ensure_triggers()
        await original()
        self._pruned = max(self._pruned, pruned)
        await self.flush_until_done()

    async def flush_until_done(self) -> None:
        """Publish what is committed; while the bus is away, keep trying (the lease's keeper
        stops this instance if that lasts too long). A conflict is final."""
        failures = 0
        while True:
            try:
                await self.flush()
                return
            except ReplicaConflict:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("replica %s: publishing the store's changes failed (%s); retrying",
                                self.subject, exc)
                if self.stopping.is_set():
                    raise
                await asyncio.sleep(min(2.0, 0.1 * failures))

    async def flush(self) -> int:
        """Publish the committed changes not yet in the stream; returns how many changesets."""
        async with self._lock:
            count = 0
            while True:
                cs, upto = await self._read()
                if cs is None:
                    return count
                await self._publish(encode_changeset(cs))
                self._sent_log = upto
                count += 1
                self.published += 1

    async def _read(self) -> tuple[Changeset | None, int]:
        reader = self.reader
        assert reader is not None
        await reader.execute("BEGIN")  # one read snapshot: the log and the rows agree
        try:
            logged = await _rows(reader, f"SELECT seq, tbl, pk FROM {LOG_TABLE} WHERE seq > ? ORDER BY seq LIMIT ?",
                                 (self._sent_log, LOG_CHUNK))
            if not logged and not self._announce:
                return None, self._sent_log
            keys: dict[tuple[str, str], None] = {}
            for _, table, pk in logged:
                keys[(table, pk)] = None
            tables: dict[str, TableDef] = {}
            if self._announce:
                self._announce = False
                for table in await user_tables(reader):
                    tables[table] = await table_def(reader, table)
            cs = Changeset(tables={})
            for table, pk in keys:
                if table not in tables:
                    if not await has_table(reader, table):
                        continue  # dropped since: nothing to copy
                    tables[table] = await table_def(reader, table)
                t = tables[table]
                values = json.loads(pk)
                where = " AND ".join(("rowid" if c == "rowid" else quote(c)) + " = ?" for c in t.pk)
                cols = ", ".join("rowid" if c == "rowid" else quote(c) for c in t.columns)
                found = await _rows(reader, f"SELECT {cols} FROM {quote(table)} WHERE {where}", values)
                if found:
                    cs.upserts.append((table, list(found[0])))
                else:
                    cs.deletes.append((table, values))
            cs.tables = tables
            return cs, int(logged[-1][0]) if logged else self._sent_log
        finally:
            await reader.execute("COMMIT")

    async def _publish(self, data: bytes) -> None:
        self._changeset += 1
        parts = split(data, self.part_size)
        for i, part in enumerate(parts):
            headers = {H_WRITER: self.writer, H_CHANGESET: str(self._changeset), H_PART: str(i),
                       H_LAST: "1" if i == len(parts) - 1 else "0", H_PREV: str(self.last_seq),
                       EXPECTED_LAST: str(self.last_seq)}
            try:
                ack = await asyncio.wait_for(self.js.publish(self.subject, part, stream=self.stream, headers=headers), 6)
                self.last_seq = ack.seq
            except APIError as exc:
                if exc.err_code not in (10071, 10164):
                    raise
                await self._after_wrong_sequence(headers)

    async def _after_wrong_sequence(self, sent: dict[str, str]) -> None:
        """The stream holds another last message than we thought: ours, whose ack was lost
        (carry on), or another writer's (stop: we are not the active one any more)."""
        seq, headers = await last_on_subject(self.nc, self.stream, self.subject)
        if all(headers.get(k) == sent[k] for k in (H_WRITER, H_CHANGESET, H_PART)):
            self.last_seq = seq
            return
        why = (f"another instance ({headers.get(H_WRITER, '?')}) wrote the replica of this store "
               f"(message {seq}); this instance stops")
        if self.on_conflict is not None:
            self.on_conflict(why)
        raise ReplicaConflict(why)

    async def snapshot(self) -> tuple[bytes, int]:
        """The committed store as one SQLite file, and the sequence it includes."""
        reader = self.reader
        assert reader is not None
        target = self.path.with_name(self.path.name + ".snapshot")
        async with self._lock:  # the reader connection is flush's too
            _remove(target)
            await reader.execute("VACUUM INTO ?", (str(target),))
        try:
            data = await asyncio.to_thread(_read, target)
        finally:
            _remove(target)
        return data, await applied_in_file_bytes(data, self.path.with_name(self.path.name + ".probe"))


async def applied_in_file_bytes(data: bytes, scratch: Path) -> int:
    """The `applied_seq` a snapshot's bytes record (0 when none)."""
    await asyncio.to_thread(_write, scratch, data)
    try:
        async with aiosqlite.connect(str(scratch)) as db:
            if not await has_table(db, STATE_TABLE):
                return 0
            value = await read_state(db, "applied_seq")
            return int(value or 0)
    finally:
        _remove(scratch)


# Small file operations, kept out of the coroutines (a snapshot's bytes go through a thread).

def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


def _exists(path: Path) -> bool:
    return path.exists()


def _remove(path: Path) -> None:
    """`path` and SQLite's companions (-wal, -shm, -journal), where they exist."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


# --- the standby side -------------------------------------------------------------------------------


SnapshotGetter = Callable[[], Awaitable[bytes | None]]


class ReplicaFollower:
    """A standby's copy of the active's store, brought forward from the replica stream."""

    def __init__(self, nc: Client, subject: str, path: Path, snapshot: SnapshotGetter, *,
                 stream: str = REPLICA_STREAM) -> None:
        self.nc, self.subject, self.path, self.stream = nc, subject, path, stream
        self.get_snapshot = snapshot
        self.db: aiosqlite.Connection | None = None
        self.applied = 0
        self.assembler = Assembler()
        self.changesets = 0  # applied since start, for the log and tests

    @property
    def last_seen(self) -> int:
        return self.assembler.last_seen

    async def open(self) -> None:
        """Open the copy, or start it again from a snapshot when it cannot be brought forward."""
        stream_last, _ = await last_on_subject(self.nc, self.stream, self.subject)
        if _exists(self.path):
            db = await self._connect()
            own = await has_table(db, STATE_TABLE)
            pending = own and bool(await _rows(db, f"SELECT 1 FROM {LOG_TABLE} LIMIT 1"))
            applied = int(await read_state(db, "applied_seq") or 0) if own else 0
            await db.close()
            if stream_last == 0 and not pending:
                applied = 0  # nothing published yet: this store is where the history begins
            elif pending or not own:
                # An active that died before publishing its last commit, or a store from before
                # standby mode: rows the stream does not hold. The stream's history wins.
                if stream_last == 0:
                    applied = 0  # …unless nobody has published anything: then this is the history
                else:
                    self._move_aside("rows the replica stream does not hold")
                    applied = 0
            self.applied = applied
        self.assembler = Assembler(last_seen=self.applied)
        self.db = await self._connect() if _exists(self.path) else None
        if self.db is not None:
            await self._forget_writer_parts()

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(str(self.path), isolation_level=None)
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is read again from the stream
        return db

    async def _forget_writer_parts(self) -> None:
        """A copy that was once active: no triggers while following (they would log the
        applied rows as this instance's own), no log."""
        db = self.db
        assert db is not None
        await db.executescript(REPLICA_SCHEMA)
        await drop_triggers(db)
        await db.execute(f"DELETE FROM {LOG_TABLE}")

    def _move_aside(self, why: str) -> None:
        aside = self.path.with_name(self.path.name + ".standby-old")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        log.warning("replica %s: %s; the store was moved aside to %s and is copied again", self.subject, why, aside)

    async def poll(self, batch: int = 256) -> int:
        """Apply what the stream holds beyond the copy; returns how many messages were read."""
        from watchboard.bus.reader import page

        try:
            msgs, _ = await page(self.nc, self.stream, self.subject, seq=self.last_seen + 1, batch=batch)
        except Exception as exc:
            log.debug("replica %s: reading failed (%s)", self.subject, exc)
            raise
        for m in msgs:
            try:
                whole = self.assembler.feed(m.seq, m.headers, m.data)
            except ReplicaGap as exc:
                await self.restore(str(exc))
                return len(msgs)
            if whole is not None:
                await self._apply(decode_changeset(whole), m.seq)
        return len(msgs)

    async def drain(self, limit: float = 30.0) -> None:
        """Read until the copy stands at the stream's end (before taking over)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while await self.poll(1000):
            if loop.time() > deadline:
                raise TimeoutError(f"replica {self.subject}: still catching up after {limit:.0f}s")

    async def _apply(self, cs: Changeset, seq: int) -> None:
        if self.db is None:
            _mkdir(self.path.parent)
            self.db = await self._connect()
            await self.db.executescript(REPLICA_SCHEMA)
        await apply_changeset(self.db, cs, seq)
        self.applied = seq
        self.changesets += 1

    async def restore(self, why: str) -> None:
        """Start the copy again from the latest snapshot (waiting for one if there is none)."""
        data = await self.get_snapshot()
        if data is None:
            raise ReplicaGap(f"{why}, and no snapshot exists yet: waiting for the active to put one")
        _mkdir(self.path.parent)
        applied = await applied_in_file_bytes(data, self.path.with_name(self.path.name + ".probe"))
        await self.close()
        tmp = self.path.with_name(self.path.name + ".restoring")
        await asyncio.to_thread(_write, tmp, data)
        self._move_aside(f"{why}; starting from the snapshot at {applied}")
        os.replace(tmp, self.path)
        self.db = await self._connect()
        await self._forget_writer_parts()
        self.applied = applied
        self.assembler = Assembler(last_seen=applied)
        log.info("replica %s: copy restored from a snapshot (stream position %d)", self.subject, applied)

    async def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(Exception):
                await self.db.close()
            self.db = None

