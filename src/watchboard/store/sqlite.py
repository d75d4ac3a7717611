"""aiosqlite helpers every service shares: open a database safely, record processed events.

Each service has its own file in its data folder. WAL journal with `synchronous=FULL`: a
transaction that returned is on disk, so an event acked after its commit is never lost to
a power cut. Services commit once per batch, which keeps that affordable.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

# Standby mode (watchboard.bus.standby) sets this around the service's start: it is handed every
# store the service opens, and attaches the replica writer to the service's own (store/replica.py).
ON_OPEN: ContextVar[Callable[[aiosqlite.Connection, Path], Awaitable[None]] | None] = ContextVar(
    "watchboard_store_on_open", default=None)

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


class StoreError(Exception):
    """A service's store cannot be used: the service stops with one line naming the path and
    what to do (never a traceback and a hang: systemd restarts a process that exits)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


# Meta key set on a store just created: its state must be rebuilt from the stream before the
# service serves (recovery/rebuild.py); removed in the transaction that commits the rebuild.
REBUILD_PENDING = "rebuild_pending"
# What a person does about a store that cannot be used: the stream holds everything it held.
WHAT_TO_DO = ("rebuild it from the stream with --rebuild (the file is kept beside the new one), or restore it "
              "from a backup")


async def open_db(path: Path | str, schema: str = "") -> aiosqlite.Connection:
    """Open (creating) a service database with the shared tables and `schema`.

    The folder must be writable and the file must pass `PRAGMA quick_check`; otherwise
    `StoreError` says which and what to do. A store created here is marked `rebuild_pending`."""
    new = str(path) != ":memory:" and not os.path.exists(path)  # noqa: ASYNC240 - one stat, before opening
    if str(path) != ":memory:":
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(folder, f"cannot create the data folder ({exc.strerror}); give the service a "
                             "folder it may write (--data DIR)") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(folder, "the data folder is not writable by this user; fix its owner or "
                             "permissions, or give another folder (--data DIR)")
    try:
        db = await aiosqlite.connect(str(path))
    except sqlite3.Error as exc:
        raise StoreError(path, f"cannot open the store ({exc})") from None
    try:
        await db.execute("PRAGMA busy_timeout=5000")
        async with db.execute("PRAGMA quick_check") as cur:
            verdict = [row[0] async for row in cur]
        if verdict != ["ok"]:
            raise StoreError(path, f"the store is damaged (quick_check: {'; '.join(verdict)[:200]}); {WHAT_TO_DO}")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.executescript(PROCESSED_SCHEMA + schema)
        await _add_processed_at(db)
        if new:
            await set_meta(db, REBUILD_PENDING, True)
        await db.commit()
    except sqlite3.DatabaseError as exc:
        await db.close()
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise StoreError(path, "the store is read-only for this user; fix its owner or permissions") from None
        raise StoreError(path, f"the store is not a usable database ({exc}); {WHAT_TO_DO}") from None
    except StoreError:
        await db.close()
        raise
    hook = ON_OPEN.get()
    if hook is not None and str(path) != ":memory:":
        try:
            await hook(db, Path(path))
        except BaseException:
            await db.close()
            raise
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
    at = time.time()  # when it was processed: `prune_processed` forgets it past the duplicate horizon
    await db.executemany("INSERT OR IGNORE INTO processed(event_id, stream_seq, at) VALUES (?, ?, ?)",
                         [(event_id, seq, at) for event_id, seq in items])


async def _add_processed_at(db: aiosqlite.Connection) -> None:
    """A store made before processed ids were pruned gains the column saying when (NULL: before)."""
    async with db.execute("PRAGMA table_info(processed)") as cur:
        columns = [row[1] async for row in cur]
    if "at" not in columns:
        await db.execute("ALTER TABLE processed ADD COLUMN at REAL")


async def prune_processed(db: aiosqlite.Connection, before: float, *, unstamped: bool = False) -> int:
    """Forget the ids processed before `before` (epoch seconds), and with `unstamped` those of a
    store older than the column; commits. Returns how many went.

    Safe past the duplicate horizon: a redelivered message (ack lost, or a crash between commit
    and ack) comes back within the consumer's ack wait or at the next start, and a re-published
    effect within the stream's duplicate window, which drops it itself."""
    sql = "DELETE FROM processed WHERE at < ?" + (" OR at IS NULL" if unstamped else "")
    cur = await db.execute(sql, (before,))
    await db.commit()
    return cur.rowcount or 0


async def rebuild_pending(db: aiosqlite.Connection) -> bool:
    """Whether the store was created empty (or its rebuild never finished)."""
    return bool(await get_meta(db, REBUILD_PENDING, False))


async def rebuilt(db: aiosqlite.Connection) -> None:
    """In the caller's transaction: the rebuild is done (committed with its state)."""
    await db.execute("DELETE FROM meta WHERE key = ?", (REBUILD_PENDING,))


async def get_meta(db: aiosqlite.Connection, key: str, default: Any = None) -> Any:
    async with db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return default if row is None else json.loads(row[0])


async def set_meta(db: aiosqlite.Connection, key: str, value: Any) -> None:
    await db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (key, json.dumps(value)))
