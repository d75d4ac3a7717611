"""A keyed state table with an in-memory copy, changed only through `Transaction`s.

The reliability dance every stateful service does for a batch of events or a command:

1. work on an overlay (the in-memory states are untouched until the end);
2. publish the effect events (bounded wait for the stream's acks);
3. write the changed states and the processed event ids in ONE SQLite transaction;
4. only then replace the in-memory states, put the KV views, and let the caller ack.

A failure anywhere before 3 leaves memory and disk as they were, so the redelivered batch
computes the same effects with the same ids (dropped as duplicates by JetStream). A crash
between 3 and the ack redelivers events that the processed table then skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import aiosqlite
import msgspec

from watchboard.store.sqlite import already_processed, mark_processed

if TYPE_CHECKING:
    from watchboard.bus.consumer import Delivered
    from watchboard.domain.events import Event

S = TypeVar("S")
X = TypeVar("X")


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
                   step: Callable[[S | None, Event], tuple[S | None, list[Event]]]) -> list[Event]:
        """Apply `step` to each event of the batch not yet processed, in order, on the overlay;
        returns the effects. `step(state, event)` gives (new state or None if untouched, effects)."""
        seen = await self.skip_processed(d.event.id for d in batch)
        fresh = [d for d in batch if d.event.id not in seen]
        effects = self.fold_each(fresh, lambda d: d.event.incident_id, lambda st, d: step(st, d.event))
        for d in fresh:
            self.done(d.event.id, d.stream_seq)
        return effects

    def fold_each(self, items: Iterable[X], key: Callable[[X], str],
                  step: Callable[[S | None, X], tuple[S | None, list[Event]]]) -> list[Event]:
        """The same fold over anything keyed by state (timer entries, a replan of every state):
        `step(state, item)` on the overlay, in order; returns the effects."""
        effects: list[Event] = []
        for item in items:
            k = key(item)
            new, out = step(self.get(k), item)
            if new is not None:
                self.put(k, new)
            effects.extend(out)
        return effects

    async def commit(self) -> dict[str, S]:
        """Write overlay and processed ids in one SQLite transaction, then update memory."""
        db = self.table.db
        if self.overlay:
            await db.executemany(
                f"INSERT INTO {self.table.table}(id, state) VALUES (?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                [(k, self.table.encode(v)) for k, v in self.overlay.items()])
        if self.processed:
            await mark_processed(db, self.processed)
        await db.commit()
        self.table.items.update(self.overlay)
        return self.overlay
