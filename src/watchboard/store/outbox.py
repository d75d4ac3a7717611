"""A transactional outbox for JetStream: effects are written in the same SQLite transaction
as the state change that decided them, then published, then deleted.

    add(rows)        INSERT OR IGNORE, no commit: the caller's transaction commits them
                     together with its state and processed ids (one SQLite transaction)
    flush()          publish pending rows in order (Nats-Msg-Id = the row's msg id),
                     delete those the stream acked, commit; failures stay for the next flush
    recover()        on start, before any flush: drop the rows the stream already holds

Why `recover` reads the stream: a kill between publish and delete leaves a row whose
message is already stored. JetStream drops a re-publish with the same `Nats-Msg-Id` only
inside its duplicate window (10 min by default); a service down for longer would publish a
second copy. So for each leftover row we read that exact subject's messages from a little
before the row was written (direct gets) and compare `Nats-Msg-Id`.

Rows are published in insertion order; every row's subject and bytes are final when added.
A row the bus will not carry — larger than the server's `max_payload` (checked when it is
added and again before it is sent: one byte over with the headers and the server closes the
connection), or refused by the stream (a 400) — is moved to the `dead_letters` table with a
`service.fault` event in its place (store/deadletter.py), and the rows behind it go on. A
failure that may pass (timeout, no connection) keeps its place: what follows waits with it.

On a connection other coroutines also write (a state table, notify's delivery queue), pass
their writer lock as `lock`: deleting the published rows commits, and a commit must not carry
another coroutine's half-written transaction with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import NamedTuple

import aiosqlite
from nats.aio.client import Client

from watchboard.bus.errors import map_nats_error
from watchboard.domain.bounds import room
from watchboard.store import deadletter
from watchboard.store.deadletter import DeadLetter

log = logging.getLogger("watchboard.outbox")

# How far before a row's creation time the recovery scan starts: covers clock skew between
# this host and the server (the message cannot be stored before its row was written).
SCAN_MARGIN = 300.0


class OutboxRow(NamedTuple):
    seq: int
    msg_id: str
    subject: str
    data: bytes
    created_at: float


class Outbox:
    def __init__(self, db: aiosqlite.Connection, nc: Client, stream: str, *, table: str = "outbox",
                 timeout: float = 5.0, chunk: int = 500, lock: asyncio.Lock | None = None,
                 service: str = "", fault_subject: str = "") -> None:
        self.db = db
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.stream = stream
        self.table = table
        self.timeout = timeout
        self.chunk = chunk
        self.lock = asyncio.Lock()  # one flush at a time keeps stream order = insertion order
        self.write_lock = lock  # the connection's writer lock, when it is shared (see above)
        self.published = 0
        # Who writes the `service.fault` of a row moved aside, and where ("": no fault event).
        self.service, self.fault_subject = service, fault_subject
        self.dead = 0  # rows moved aside since start
        # Test hook (a failpoint): called with the acked rows just before they are deleted.
        self.before_delete: Callable[[list[OutboxRow]], None] | None = None

    @staticmethod
    def schema(table: str = "outbox") -> str:
        return (f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "msg_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL, data BLOB NOT NULL, "
                "created_at REAL NOT NULL);" + deadletter.SCHEMA)

    @property
    def limit(self) -> int:
        """The largest row the connected server takes (its max_payload, headers set aside)."""
        return room(self.nc.max_payload)

    async def add(self, rows: Iterable[tuple[str, str, bytes]]) -> None:
        """Queue (msg_id, subject, data) rows inside the caller's open transaction (no commit).
        A row too large for the bus goes straight to the dead letters, its fault in its place."""
        now = time.time()
        limit = self.limit
        fit: list[tuple[str, str, bytes, float]] = []
        letters: list[DeadLetter] = []
        for msg_id, subject, data in rows:
            if len(data) > limit:
                letters.append(DeadLetter(msg_id, subject, data, now, deadletter.too_large_reason(len(data), limit)))
            else:
                fit.append((msg_id, subject, data, now))
        await self.db.executemany(
            f"INSERT OR IGNORE INTO {self.table}(msg_id, subject, data, created_at) VALUES (?, ?, ?, ?)", fit)
        if letters:
            await self._bury(letters)

    async def _bury(self, letters: list[DeadLetter]) -> None:
        """Dead letters and their faults, in the open transaction (the caller commits)."""
        await deadletter.put(self.db, letters)
        faults = [(*deadletter.encoded_fault(self.service, d), d) for d in letters
                  if self.fault_subject and d.subject != self.fault_subject]  # a fault's fault: never
        await self.db.executemany(
            f"INSERT OR IGNORE INTO {self.table}(msg_id, subject, data, created_at) VALUES (?, ?, ?, ?)",
            [(fid, self.fault_subject, data, time.time()) for fid, data, _ in faults])
        self.dead += len(letters)
        for d in letters:
            log.error("%s: effect %s on %s (%s bytes) moved to dead_letters: %s; the effects behind it go on",
                      self.service or "outbox", d.msg_id, d.subject, f"{len(d.data):,}", d.reason)

    async def _set_aside(self, moved: list[tuple[OutboxRow, str]]) -> None:
        """Move rows from the outbox to the dead letters, with their faults, in one commit."""
        async def now() -> None:
            try:
                await self._bury([DeadLetter(r.msg_id, r.subject, r.data, r.created_at, reason) for r, reason in moved])
                await self.db.executemany(f"DELETE FROM {self.table} WHERE seq = ?", [(r.seq,) for r, _ in moved])
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise

        if self.write_lock is None:
            await now()
        else:
            async with self.write_lock:
                await now()

    async def rows(self, limit: int = -1) -> list[OutboxRow]:
        async with self.db.execute(f"SELECT seq, msg_id, subject, data, created_at FROM {self.table} "
                                   "ORDER BY seq LIMIT ?", (limit,)) as cur:
            return [OutboxRow(*r) async for r in cur]

    async def subjects(self) -> list[str]:
        """The distinct subjects of the pending rows (which incidents still wait for their facts)."""
        async with self.db.execute(f"SELECT DISTINCT subject FROM {self.table}") as cur:
            return [r[0] async for r in cur]

    async def pending(self) -> int:
        async with self.db.execute(f"SELECT COUNT(*) FROM {self.table}") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _delete(self, seqs: list[int]) -> None:
        if not seqs:
            return
        if self.write_lock is None:
            await self._delete_now(seqs)
            return
        async with self.write_lock:
            await self._delete_now(seqs)

    async def _delete_now(self, seqs: list[int]) -> None:
        await self.db.executemany(f"DELETE FROM {self.table} WHERE seq = ?", [(s,) for s in seqs])
        await self.db.commit()

    async def flush(self) -> int:
        """Publish every pending row; returns how many were acked. Raises (mapped) on a bus
        failure after deleting what was acked, so the caller can log; the rest stay queued."""
        sent = 0
        async with self.lock:
            while True:
                batch = await self.rows(self.chunk)
                if not batch:
                    return sent
                limit = self.limit  # again now: the server we reconnected to may take less
                big = [(r, deadletter.too_large_reason(len(r.data), limit)) for r in batch if len(r.data) > limit]
                if big:
                    await self._set_aside(big)
                    continue
                tasks = [asyncio.ensure_future(self.js.publish(r.subject, r.data, stream=self.stream,
                                                               headers={"Nats-Msg-Id": r.msg_id}))
                         for r in batch]
                results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                                                 self.timeout + 1)
                acked: list[OutboxRow] = []
                refused: list[tuple[OutboxRow, str]] = []
                failure: BaseException | None = None
                for row, result in zip(batch, results, strict=True):
                    if isinstance(result, BaseException):
                        reason = deadletter.refusal(result)
                        if reason is not None:
                            refused.append((row, reason))  # for good: moved aside, the rest go on
                            continue
                        failure = failure or result
                        break  # keep order: what follows a failed row waits with it
                    acked.append(row)
                if self.before_delete is not None and acked:
                    self.before_delete(acked)
                await self._delete([r.seq for r in acked])
                if refused:
                    await self._set_aside(refused)
                sent += len(acked)
                self.published += len(acked)
                if failure is not None:
                    raise map_nats_error(failure) from failure  # type: ignore[arg-type]

    async def recover(self) -> int:
        """Delete the leftover rows whose message the stream already holds; return how many."""
        leftover = await self.rows()
        if not leftover:
            return 0
        by_subject: dict[str, list[OutboxRow]] = {}
        for row in leftover:
            by_subject.setdefault(row.subject, []).append(row)
        stored: list[int] = []
        for subject, rows in by_subject.items():
            ids = await self.ids_in_stream(subject, min(r.created_at for r in rows) - SCAN_MARGIN)
            stored.extend(r.seq for r in rows if r.msg_id in ids)
        async with self.lock:
            await self._delete(stored)
        if stored:
            log.info("outbox: %d of %d leftover rows were already in the stream", len(stored), len(leftover))
        return len(stored)

    async def ids_in_stream(self, subject: str, since: float) -> set[str]:
        """The Nats-Msg-Id of every message stored on exactly `subject` since `since` (epoch s).

        Read with direct gets, not a consumer: a service with roles on may create no consumer
        but its own durable ones (docs/architecture.md, "Trust")."""
        from watchboard.bus.reader import scan

        stored = await scan(self.nc, self.stream, subject, start_time=datetime.fromtimestamp(max(since, 0), UTC),
                            timeout=max(self.timeout, 10.0))
        return {m.headers["Nats-Msg-Id"] for m in stored if "Nats-Msg-Id" in m.headers}
