"""The delivery queue: one SQLite table of notices keyed by their deterministic key.

- `enqueue` is INSERT OR IGNORE (the dedup stage): a redelivered event, or a restart that
  handles it again, cannot queue a second copy of a notice that exists (whatever its status).
- `deliver_due(now, send)` claims the due rows, marking them "sending" and committing before
  sending, then runs each through send → retry → record (delivery.py). A crash in between
  leaves "sending": `recover` puts such rows back to "pending" and they are sent again with
  the same key (Idempotency-Key / Message-ID). No sender can do better against an outside
  server that does not deduplicate.
- Each send is recorded as soon as it is answered. Answers that arrive while another record
  is being committed are written together in the next commit (group commit): no answer
  waits for another send, and a burst costs a few disk syncs instead of one per notice.
- Retries back off exponentially with jitter up to `max_attempts`.
- Rate limit per recipient (person × contact): past `rate_limit` notices in a window of
  `rate_window`, further first attempts are "held"; when the window ends the held rows are
  merged into one digest row ("merged" rows point at it) that is sent like any notice.
  The board channel is never limited: it is the alert panel, not a push.
- Low priority (a route's `priority = "low"`: plans 000/001/004 put every III/IV item before
  the leadership group, but such an item must not ring anyone's phone): on a pushing channel
  its first attempt is "held" until the recipient's low-priority window ends — the window a
  notice already held for that recipient closes, else `low_priority_window` from now — and
  released like the rate-limit digests: several become one digest, one goes as itself. On
  the board it shows at once.

Every write that commits takes `lock`, the connection's one writer (notify shares the
connection with its state table and outbox). Call `deliver_due` from one loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from watchboard.services.notify.delivery import (
    Attempt,
    Sender,
    record_stage,
    retry_stage,
    send_stage,
    sequence,
)
from watchboard.services.notify.model import NoticeRow
from watchboard.services.notify.settings import Delivery, seconds
from watchboard.services.notify.templates import Outgoing
from watchboard.store.sqlite import open_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS notices (
    key TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    person_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    payload BLOB NOT NULL,
    status TEXT NOT NULL,            -- pending | sending | sent | failed | held | merged
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,   -- epoch seconds
    created_at REAL NOT NULL,
    sent_at REAL,
    last_error TEXT NOT NULL DEFAULT '',
    release_at REAL,                 -- held: when its digest goes out
    digest_key TEXT                  -- merged: the digest that carried it
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notices_due ON notices(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notices_incident ON notices(incident_id);
CREATE TABLE IF NOT EXISTS rate_windows (
    person_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    started_at REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (person_id, contact)
) WITHOUT ROWID;
"""

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(Outgoing)

DigestBuilder = Callable[[list[Outgoing]], Outgoing]
# Called inside the transaction that records answered sends, before its commit (the notifier
# adds their `notice.*` events to the outbox there, so they are exactly as durable).
OnRecord = Callable[[list[Attempt]], Awaitable[None]]


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class DeliveryQueue:
    def __init__(self, db: aiosqlite.Connection, delivery: Delivery, *,
                 rng: random.Random | None = None, digest: DigestBuilder | None = None,
                 concurrency: int = 32, lock: asyncio.Lock | None = None) -> None:
        self.db = db
        self.delivery = delivery
        self.rng = rng or random.Random()
        self.digest = digest
        self.lock = lock or asyncio.Lock()
        self.on_record: OnRecord | None = None
        self._limit = asyncio.Semaphore(concurrency)  # sends in flight
        self._answered: list[tuple[Attempt, asyncio.Future[Attempt]]] = []

    @classmethod
    async def open(cls, path: Path | str, delivery: Delivery, **kwargs: Any) -> DeliveryQueue:
        """Open (creating) the database and put rows left "sending" by a crash back to pending."""
        db = await open_db(path, SCHEMA)
        queue = cls(db, delivery, **kwargs)
        await queue.recover()
        return queue

    async def close(self) -> None:
        await self.db.close()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """The writer lock and one transaction: committed at the end, rolled back on error."""
        async with self.lock:
            try:
                yield
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise

    async def recover(self) -> int:
        """Rows found "sending" were interrupted mid-send: send them again, same key."""
        async with self._writing():
            cur = await self.db.execute(
                "UPDATE notices SET status = 'pending', last_error = 'interrupted while sending; resent' "
                "WHERE status = 'sending'")
        return cur.rowcount

    # --- dedup -----------------------------------------------------------------------------

    async def enqueue(self, messages: list[Outgoing], now: datetime, *, commit: bool = True) -> list[str]:
        """Queue notices; returns the keys that were new (a known key is left as it is).
        With `commit=False` the caller holds `lock` and commits (its own transaction)."""
        if not commit:
            return await self._insert(messages, now)
        async with self._writing():
            return await self._insert(messages, now)

    async def _insert(self, messages: list[Outgoing], now: datetime) -> list[str]:
        if not messages:
            return []
        keys = list(dict.fromkeys(m.key for m in messages))
        known: set[str] = set()
        for start in range(0, len(keys), 500):  # SQLite's parameter limit
            chunk = keys[start:start + 500]
            async with self.db.execute(f"SELECT key FROM notices WHERE key IN ({','.join('?' * len(chunk))})",
                                       chunk) as cur:
                known.update([r[0] async for r in cur])
        t = _ts(now)
        await self.db.executemany(
            "INSERT OR IGNORE INTO notices(key, incident_id, event_id, cause, person_id, contact, "
            "payload, status, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,'pending',?,?)",
            [(m.key, m.incident_id, m.event_id, m.cause, m.person_id, m.contact, _enc.encode(m), t, t)
             for m in messages if m.key not in known])
        return [k for k in keys if k not in known]

    # --- claim: due rows, holds and digests --------------------------------------------------

    async def _release_digests(self, now: datetime) -> None:
        async with self.db.execute(
                "SELECT key, person_id, contact, payload FROM notices WHERE status = 'held' "
                "AND release_at <= ? ORDER BY person_id, contact, created_at, key", (_ts(now),)) as cur:
            rows = await cur.fetchall()
        groups: dict[tuple[str, str], list[Outgoing]] = {}
        for _key, person, contact, payload in rows:
            groups.setdefault((person, contact), []).append(_dec.decode(payload))
        for members in groups.values():
            if self.digest is None or len(members) == 1:
                # One held notice needs no digest: send it as it is.
                await self.db.executemany(
                    "UPDATE notices SET status = 'pending', next_attempt_at = ? WHERE key = ?",
                    [(_ts(now), m.key) for m in members])
                continue
            digest = self.digest(members)
            await self._insert([digest], now)
            await self.db.executemany(
                "UPDATE notices SET status = 'merged', digest_key = ? WHERE key = ?",
                [(digest.key, m.key) for m in members])

    async def _low_release(self, m: Outgoing, now: datetime) -> float:
        """When a low-priority notice to this recipient goes out: with the digest already
        gathering for them, else at the end of a new window."""
        async with self.db.execute("SELECT MIN(release_at) FROM notices WHERE status = 'held' AND person_id = ? "
                                   "AND contact = ? AND release_at > ?", (m.person_id, m.contact, _ts(now))) as cur:
            row = await cur.fetchone()
        if row and row[0] is not None:
            return float(row[0])
        return _ts(now) + seconds(self.delivery.low_priority_window)

    async def _admit(self, m: Outgoing, channel: str, now: datetime) -> float | None:
        """None if `m` may go now; else when its digest is due (the rate window's end)."""
        d = self.delivery
        if d.rate_limit <= 0 or channel == "board" or m.cause == "digest" or m.cause.startswith("report."):
            return None  # a scheduled report goes as itself: a digest would drop its file
        window = seconds(d.rate_window)
        async with self.db.execute("SELECT started_at, count FROM rate_windows WHERE person_id = ? "
                                   "AND contact = ?", (m.person_id, m.contact)) as cur:
            row = await cur.fetchone()
        t = _ts(now)
        if row is None or row[0] + window <= t:
            await self.db.execute("INSERT OR REPLACE INTO rate_windows VALUES (?,?,?,1)", (m.person_id, m.contact, t))
            return None
        started, count = row
        if count < d.rate_limit:
            await self.db.execute("UPDATE rate_windows SET count = count + 1 WHERE person_id = ? AND contact = ?",
                                  (m.person_id, m.contact))
            return None
        return float(started + window)

    async def claim(self, now: datetime) -> list[Attempt]:
        """The notices due at `now`, at most `delivery.batch`, marked "sending" and committed
        before any byte leaves (see the module docstring); held ones stay for their digest."""
        async with self._writing():
            await self._release_digests(now)
            async with self.db.execute(
                    "SELECT key, payload, attempts, release_at FROM notices WHERE status = 'pending' "
                    "AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, key LIMIT ?",
                    (_ts(now), self.delivery.batch)) as cur:
                rows = await cur.fetchall()
            batch: list[Attempt] = []
            for _key, payload, attempts, released_at in rows:
                m = _dec.decode(payload)
                channel = m.contact.partition(":")[0]
                if attempts == 0:
                    # A low notice is held once; released (release_at set) it goes on like any other.
                    if m.priority == "low" and released_at is None and channel != "board":
                        release: float | None = await self._low_release(m, now)
                    else:
                        release = await self._admit(m, channel, now)
                    if release is not None:
                        await self.db.execute("UPDATE notices SET status = 'held', release_at = ? WHERE key = ?",
                                              (release, m.key))
                        continue
                batch.append(Attempt(m, attempts + 1, now))
            await self.db.executemany("UPDATE notices SET status = 'sending', attempts = ? WHERE key = ?",
                                      [(a.attempts, a.message.key) for a in batch])
        return batch

    # --- send → retry → record -------------------------------------------------------------------

    async def deliver_due(self, now: datetime, send: Sender) -> list[Attempt]:
        """Send every notice due at `now` (one batch); returns one `Attempt` per send made."""
        claimed = await self.claim(now)
        if not claimed:
            return []
        pipeline = sequence(send_stage(send, self._limit), retry_stage(self.delivery, self.rng),
                            record_stage(self.record))
        return list(await asyncio.gather(*(pipeline(a) for a in claimed)))

    async def record(self, attempt: Attempt) -> Attempt:
        """Write an answered attempt; it and every answer that came meanwhile share one commit."""
        done: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        self._answered.append((attempt, done))
        async with self.lock:
            if self._answered:  # else an earlier holder of the lock wrote ours with its own
                answered, self._answered = self._answered, []
                try:
                    written = await self._write([a for a, _ in answered])
                    await self.db.commit()
                except BaseException as exc:
                    # The rows stay "sending": sent again after a restart, with the same key.
                    with contextlib.suppress(Exception):
                        await self.db.rollback()
                    for _, fut in answered:
                        if isinstance(exc, Exception):
                            fut.set_exception(exc)
                        else:
                            fut.cancel()
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for (_, fut), a in zip(answered, written, strict=True):
                        fut.set_result(a)
        return await done

    async def _write(self, attempts: list[Attempt]) -> list[Attempt]:
        sent, retry, failed = [], [], []
        for a in attempts:
            t = _ts(a.now)
            if a.status == "sent":
                sent.append((t, a.message.key))
            elif a.status == "pending":
                assert a.retry_at is not None
                retry.append((_ts(a.retry_at), a.result.reason, a.message.key))
            else:
                failed.append((a.result.reason, a.message.key))
        if sent:
            await self.db.executemany("UPDATE notices SET status = 'sent', sent_at = ?, last_error = '' "
                                      "WHERE key = ?", sent)
        if retry:
            await self.db.executemany("UPDATE notices SET status = 'pending', next_attempt_at = ?, last_error = ? "
                                      "WHERE key = ?", retry)
        if failed:
            await self.db.executemany("UPDATE notices SET status = 'failed', last_error = ? WHERE key = ?", failed)
        out = [a._replace(members=tuple(await self._members(a.message.key))) if a.message.cause == "digest" else a
               for a in attempts]
        if self.on_record is not None:
            await self.on_record(out)
        return out

    async def _members(self, digest_key: str) -> list[Outgoing]:
        async with self.db.execute("SELECT payload FROM notices WHERE digest_key = ? ORDER BY created_at, key",
                                   (digest_key,)) as cur:
            return [_dec.decode(r[0]) async for r in cur]

    # --- reading -----------------------------------------------------------------------------

    async def next_due(self) -> datetime | None:
        """The earliest instant at which `deliver_due` has something to do (for the timer)."""
        async with self.db.execute(
                "SELECT MIN(t) FROM (SELECT MIN(next_attempt_at) AS t FROM notices WHERE status = 'pending' "
                "UNION ALL SELECT MIN(release_at) FROM notices WHERE status = 'held')") as cur:
            row = await cur.fetchone()
        return _dt(row[0]) if row and row[0] is not None else None

    async def rows(self, incident_id: str | None = None, *, key: str | None = None) -> list[NoticeRow]:
        """Notices of one incident (or one key), oldest first; merged rows show their digest's status."""
        where, args = ("n.key = ?", (key,)) if key else ("n.incident_id = ?", (incident_id,))
        return await self._select(where, args)

    async def rows_of(self, incident_ids: Iterable[str]) -> dict[str, list[NoticeRow]]:
        """`rows` of several incidents, in as few queries as SQLite's parameter limit allows."""
        ids = list(dict.fromkeys(incident_ids))
        found: dict[str, list[NoticeRow]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in await self._select(f"n.incident_id IN ({','.join('?' * len(chunk))})", chunk):
                found.setdefault(row.incident_id, []).append(row)
        return found

    async def _select(self, where: str, args: Sequence[str | None]) -> list[NoticeRow]:
        sql = ("SELECT n.key, n.incident_id, n.person_id, n.contact, n.cause, "
               "CASE WHEN n.status = 'merged' THEN COALESCE(d.status, 'pending') ELSE n.status END, "
               "n.attempts + COALESCE(d.attempts, 0), "
               "CASE WHEN n.status = 'merged' THEN COALESCE(d.last_error, '') ELSE n.last_error END, "
               "n.created_at, COALESCE(n.sent_at, d.sent_at), n.digest_key "
               "FROM notices n LEFT JOIN notices d ON d.key = n.digest_key "
               f"WHERE {where} ORDER BY n.created_at, n.key")
        async with self.db.execute(sql, args) as cur:
            return [NoticeRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _dt(r[8]) or datetime.min,  # type: ignore[arg-type]
                              _dt(r[9]), r[10]) async for r in cur]

    async def counts(self) -> dict[str, int]:
        async with self.db.execute("SELECT status, COUNT(*) FROM notices GROUP BY status") as cur:
            return {r[0]: r[1] async for r in cur}
