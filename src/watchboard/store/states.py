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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import aiosqlite
import msgspec

from watchboard.store.sqlite import already_processed, mark_processed

if TYPE_CHECKING:
    from watchboard.bus.consumer import Delivered
    from watchboard.domain.events import Event

S = TypeVar("S")
E = TypeVar("E")
X = TypeVar("X")

log = logging.getLogger("watchboard.store")


class StateTable(Generic[S]):
    """Rows of one msgspec struct type, JSON-encoded, keyed by incident id."""

    def __init__(self, db: aiosqlite.Connection, table: str, type_: type[S]) -> None:
        self.db = db
        self.table = table
        self.encode: Callable[[S], bytes] = msgspec.json.Encoder().encode
        self.decode: Callable[[bytes], S] = msgspec.json.Decoder(type_).decode
        self.items: dict[str, S] = {}
        self.lock = asyncio.Lock()  # one writer at a time: batches and commands interleave safely

    @staticmethod
    def schema(table: str) -> str:
        return f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;"

    async def load(self) -> int:
        async with self.db.execute(f"SELECT id, state FROM {self.table}") as cur:
            async for key, blob in cur:
                self.items[key] = self.decode(blob)
        return len(self.items)

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

    async def fold(self, batch: Sequence[Delivered],
                   step: Callable[[S | None, Event], tuple[S | None, list[E]]]) -> list[E]:
        """Apply `step` to each event of the batch not yet processed, in order, on the overlay;
        returns the effects. `step(state, event)` gives (new state or None if untouched, effects);
        effects are usually events, but a service may return what its own decisions produce."""
        seen = await self.skip_processed(d.event.id for d in batch)
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
        db = self.table.db
        try:
            if self.overlay:
                await db.executemany(
                    f"INSERT INTO {self.table.table}(id, state) VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                    [(k, self.table.encode(v)) for k, v in self.overlay.items()])
            if self.processed:
                await mark_processed(db, self.processed)
            await db.commit()
        except BaseException:
            await self.rollback()
            raise
        self.table.items.update(self.overlay)
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
