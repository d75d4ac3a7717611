"""aiosqlite helpers every service shares: open a database safely, record processed events.

Each service has its own file in its data folder. WAL journal with `synchronous=FULL`: a
transaction that returned is on disk, so an event acked after its commit is never lost to
a power cut. Services commit once per batch, which keeps that affordable.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

PROCESSED_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    event_id TEXT PRIMARY KEY,
    stream_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


async def open_db(path: Path | str, schema: str = "") -> aiosqlite.Connection:
    """Open (creating) a service database with the shared tables and `schema`."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(str(path))
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("PRAGMA busy_timeout=5000")
    await db.executescript(PROCESSED_SCHEMA + schema)
    await db.commit()
    return db


async def start_on_db(path: Path | str, schema: str,
                      start: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
    """Open the store and hand it to `start` (which builds and starts a running service); if
    starting fails, the store is closed again before the error goes up."""
    db = await open_db(path, schema)
    try:
        return await start(db)
    except BaseException:
        await db.close()
        raise


async def already_processed(db: aiosqlite.Connection, event_ids: Iterable[str]) -> set[str]:
    ids = list(event_ids)
    if not ids:
        return set()
    found: set[str] = set()
    for start in range(0, len(ids), 500):  # SQLite's parameter limit
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        async with db.execute(f"SELECT event_id FROM processed WHERE event_id IN ({marks})", chunk) as cur:
            found.update([row[0] async for row in cur])
    return found


async def mark_processed(db: aiosqlite.Connection, items: Iterable[tuple[str, int]]) -> None:
    await db.executemany("INSERT OR IGNORE INTO processed(event_id, stream_seq) VALUES (?, ?)", list(items))


async def get_meta(db: aiosqlite.Connection, key: str, default: Any = None) -> Any:
    async with db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return default if row is None else json.loads(row[0])


async def set_meta(db: aiosqlite.Connection, key: str, value: Any) -> None:
    await db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (key, json.dumps(value)))
