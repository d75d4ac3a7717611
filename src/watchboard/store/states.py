"""A keyed state table with an in-memory copy, changed only through `Transaction`s.

The reliability dance every stateful service does for a batch of events or a command:

1. work on an overlay (the in-memory states are untouched until the end);
2. publish the effect events (bounded wait for the stream's acks), or add them to the
   transactional outbox (store/outbox.py) in the same SQLite transaction as step 3;
3. write the changed states and the processed event ids in ONE SQLite transaction;
4. only then replace the in-memory states, put the KV views, and let the caller ack.

A failure anywhere before 3 leaves memory and disk as they were, so the redelivered batch
computes the same effects with the same ids (dropped as duplicates by JetStream). A commit
that fails is rolled back before the error goes on, so rows it wrote (and any the caller
wrote on the same connection in this transaction) never ride along with a later commit.
A crash between 3 and the ack redelivers events that the processed table then skips.

`StateTable.lock` is the connection's one writer: a service that writes other tables on
the same connection (an outbox, a queue) takes it too, because a commit on a shared
aiosqlite connection commits whatever any coroutine has written so far.

History out of memory (issue 13): a table told how to see that a state is closed (`closed`)
keeps, beside each row, when it closed (`closed_at`, indexed). `load(closed_since=…)` then
reads only open rows and those closed since; `ensure` reads a row that is not in memory when
an event or a command names it (an old incident comes back on demand); `evict` forgets those
closed before a time; `closed_between` lists, from disk, which closed in a span (the board's
retention purges their keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, TypeVar

import aiosqlite
import msgspec

from watchboard.store.sqlite import already_processed, get_meta, mark_processed, set_meta

if TYPE_CHECKING:
    from watchboard.bus.consumer import Delivered
    from watchboard.domain.events import Event

S = TypeVar("S")
E = TypeVar("E")
X = TypeVar("X")

log = logging.getLogger("watchboard.store")

# Whether a state is closed: the time it closed (or near it: when the closed state last changed),
# True (closed, time unknown: the table's clock at the first commit that saw it closed stands for
# it), or None/False (open). The first stamp a row gets in memory stays (a later change of a closed
# state does not move it); a store rebuilt or upgraded gets the time the state gives, so incidents
# closed long ago are not taken for closed now.
Closed = Callable[[S], "datetime | bool | None"]
_IN_CHUNK = 500  # SQLite's parameter limit
_READ_CHUNK = 4096  # rows fetched at once when loading


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StateTable(Generic[S]):
    """Rows of one msgspec struct type, JSON-encoded, keyed by incident id."""

    def __init__(self, db: aiosqlite.Connection, table: str, type_: type[S], *,
                 closed: Closed[S] | None = None, clock: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self.table = table
        self.encode: Callable[[S], bytes] = msgspec.json.Encoder().encode
        self.decode: Callable[[bytes], S] = msgspec.json.Decoder(type_).decode
        self.items: dict[str, S] = {}
        self.lock = asyncio.Lock()  # one writer at a time: batches and commands interleave safely
        self.closed = closed  # None: every row counts as open (all loaded, none evicted)
        self.clock = clock
        self.closed_at: dict[str, float] = {}  # of the closed rows in memory: when (epoch seconds)
        self._prepared = False

    @staticmethod
    def schema(table: str) -> str:
        return f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;"

    async def prepare(self) -> None:
        """Give the table its `closed_at` column and index (a table of an older store, once),
        and fill the column from the states it holds (once per table, resumed if cut short)."""
        if self._prepared:
            return
        async with self.db.execute(f"PRAGMA table_info({self.table})") as cur:
            columns = [row[1] async for row in cur]
        if "closed_at" not in columns:
            await self.db.execute(f"ALTER TABLE {self.table} ADD COLUMN closed_at REAL")
        await self.db.execute(f"CREATE INDEX IF NOT EXISTS {self.table}_closed_at ON {self.table}(closed_at)")
        await self.db.commit()
        mark = f"{self.table}.closed_at"
        if self.closed is not None and not await get_meta(self.db, mark, False):
            filled = 0
            async with self.db.execute(f"SELECT id, state FROM {self.table} WHERE closed_at IS NULL") as cur:
                rows = [(key, blob) async for key, blob in cur]
            updates = [(at, key) for key, blob in rows if (at := self._closed_ts(key, self.decode(blob))) is not None]
            if updates:
                await self.db.executemany(f"UPDATE {self.table} SET closed_at = ? WHERE id = ?", updates)
                filled = len(updates)
            await set_meta(self.db, mark, True)
            await self.db.commit()
            if filled:
                log.info("%s: %d closed rows stamped with their closing time", self.table, filled)
        self._prepared = True

    async def load(self, *, closed_since: datetime | None = None) -> int:
        """Read the states into memory: every one, or (`closed_since`) the open ones and those
        closed since then. Returns how many are in memory."""
        await self.prepare()
        # What memory held goes (a rebuild's commit left every state there, unstamped): only
        # what this load reads is kept.
        self.items.clear()
        self.closed_at.clear()
        sql = f"SELECT id, state, closed_at FROM {self.table}"
        params: tuple[float, ...] = ()
        if closed_since is not None and self.closed is not None:
            sql += " WHERE closed_at IS NULL OR closed_at >= ?"
            params = (closed_since.timestamp(),)
        await self._read(sql, params)
        return len(self.items)

    async def _read(self, sql: str, params: Sequence[object]) -> list[str]:
        found: list[str] = []
        decode, items, closed_at = self.decode, self.items, self.closed_at
        async with self.db.execute(sql, params) as cur:
            # Large chunks: each is one trip to aiosqlite's thread (64 rows a trip by default,
            # which on a loaded machine made a restart's read of 10,000 states wait seconds).
            while rows := await cur.fetchmany(_READ_CHUNK):
                for key, blob, at in rows:
                    items[key] = decode(blob)
                    if at is not None:
                        closed_at[key] = float(at)
                    found.append(key)
        return found

    async def ensure(self, keys: Iterable[str]) -> list[str]:
        """Read from disk the states of `keys` that are not in memory (a long-closed incident
        named again); returns the keys found there. A key on disk nowhere is new: nothing to read."""
        if self.closed is None:  # every row is in memory from `load` on: nothing could be missing
            return []
        missing = [k for k in dict.fromkeys(keys) if k and k not in self.items]
        found: list[str] = []
        for start in range(0, len(missing), _IN_CHUNK):
            chunk = missing[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            at = "closed_at" if self._prepared else "NULL"  # a table never loaded may lack the column
            found += await self._read(f"SELECT id, state, {at} FROM {self.table} WHERE id IN ({marks})", chunk)
        if found:
            log.debug("%s: %d states read back from disk", self.table, len(found))
        return found

    def evict(self, before: datetime) -> list[str]:
        """Forget (in memory only) the states closed before `before`, returning their keys; call
        it holding `lock`."""
        limit = before.timestamp()
        old = [k for k, at in self.closed_at.items() if at < limit]
        for key in old:
            self.items.pop(key, None)
            del self.closed_at[key]
        return old

    async def closed_between(self, start: float, end: float) -> list[str]:
        """Keys of the states (on disk) closed at or after `start` and before `end`, epoch seconds."""
        async with self.db.execute(f"SELECT id FROM {self.table} WHERE closed_at >= ? AND closed_at < ?",
                                   (start, end)) as cur:
            return [row[0] async for row in cur]

    async def on_disk(self, keys: Iterable[str]) -> set[str]:
        """Of `keys`, those the table holds a row of (in memory or not)."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(f"SELECT id FROM {self.table} WHERE id IN ({marks})", chunk) as cur:
                found.update([row[0] async for row in cur])
        return found

    def closed_time(self, key: str) -> float | None:
        """When the state in memory under `key` closed (epoch seconds), None while open."""
        return self.closed_at.get(key)

    def _closed_ts(self, key: str, state: S) -> float | None:
        if self.closed is None:
            return None
        closed = self.closed(state)
        if not closed:
            return None
        if key in self.closed_at:  # stamped when first seen closed: a later change does not move it
            return self.closed_at[key]
        if isinstance(closed, datetime):
            return closed.timestamp()
        return self.clock().timestamp()

    def get(self, key: str) -> S | None:
        return self.items.get(key)

    def begin(self) -> Transaction[S]:
        return Transaction(self)


class Transaction(Generic[S]):
    def __init__(self, table: StateTable[S]) -> None:
        self.table = table
        self.overlay: dict[str, S] = {}
        self.processed: list[tuple[str, int]] = []

    def get(self, key: str) -> S | None:
        return self.overlay[key] if key in self.overlay else self.table.items.get(key)

    def put(self, key: str, state: S) -> None:
        self.overlay[key] = state

    def done(self, event_id: str, stream_seq: int = 0) -> None:
        self.processed.append((event_id, stream_seq))

    async def skip_processed(self, event_ids: Iterable[str]) -> set[str]:
        return await already_processed(self.table.db, event_ids)

    async def ensure(self, key: str) -> None:
        """Before deciding on `key`: read its state from disk if memory no longer holds it."""
        if key not in self.overlay:
            await self.table.ensure([key])

    async def fold(self, batch: Sequence[Delivered],
                   step: Callable[[S | None, Event], tuple[S | None, list[E]]]) -> list[E]:
        """Apply `step` to each event of the batch not yet processed, in order, on the overlay;
        returns the effects. `step(state, event)` gives (new state or None if untouched, effects);
        effects are usually events, but a service may return what its own decisions produce."""
        seen = await self.skip_processed(d.event.id for d in batch)
        await self.table.ensure(d.event.incident_id for d in batch if d.event.id not in seen)
        fresh: list[Delivered] = []
        for d in batch:
            if d.event.id not in seen:
                seen.add(d.event.id)  # the same event twice in one batch is folded once
                fresh.append(d)
        effects = self.fold_each(fresh, _incident_of, lambda st, d: step(st, d.event))
        for d in fresh:
            self.done(d.event.id, d.stream_seq)
        return effects

    def fold_each(self, items: Iterable[X], key: Callable[[X], str],
                  step: Callable[[S | None, X], tuple[S | None, list[E]]]) -> list[E]:
        """The same fold over anything keyed by state (timer entries, a replan of every state):
        `step(state, item)` on the overlay, in order; returns the effects."""
        effects: list[E] = []
        for item in items:
            k = key(item)
            new, out = step(self.get(k), item)
            if new is not None:
                self.put(k, new)
            effects.extend(out)
        return effects

    async def commit(self) -> dict[str, S]:
        """Write overlay and processed ids in one SQLite transaction, then update memory.
        On failure the transaction is rolled back (memory was never touched) and the error
        raised as it is."""
        db, table = self.table.db, self.table
        closed = {k: table._closed_ts(k, v) for k, v in self.overlay.items()} if table._prepared else {}
        try:
            if self.overlay and table._prepared:
                await db.executemany(
                    f"INSERT INTO {table.table}(id, state, closed_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET state = excluded.state, closed_at = excluded.closed_at",
                    [(k, table.encode(v), closed[k]) for k, v in self.overlay.items()])
            elif self.overlay:  # a table never loaded (a tool, a test): no column to stamp yet
                await db.executemany(
                    f"INSERT INTO {table.table}(id, state) VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                    [(k, table.encode(v)) for k, v in self.overlay.items()])
            if self.processed:
                await mark_processed(db, self.processed)
            await db.commit()
        except BaseException:
            await self.rollback()
            raise
        table.items.update(self.overlay)
        for key, at in closed.items():
            if at is None:
                table.closed_at.pop(key, None)
            else:
                table.closed_at[key] = at
        return self.overlay

    async def rollback(self) -> None:
        """Undo whatever this transaction (and anything else on the connection since the last
        commit) wrote. A connection that is already gone has nothing left to undo."""
        try:
            await self.table.db.rollback()
        except Exception as exc:  # closed connection: SQLite discards the open transaction itself
            log.debug("rollback after a failed commit: %s", exc)


def _incident_of(d: Delivered) -> str:
    return d.event.incident_id
