"""The outbox: one SQLite table of notices keyed by their deterministic key.

- `enqueue` is INSERT OR IGNORE: a redelivered event, or a restart that handles it again,
  cannot queue a second copy of a notice that exists (whatever its status).
- `deliver_due(now, send)` marks the rows it is about to send "sending" and commits before
  sending, then "sent", "pending" (retry later) or "failed" (final) after. A crash in
  between leaves "sending": `open` puts such rows back to "pending" and they are sent again
  with the same key (Idempotency-Key / Message-ID). No sender can do better against an
  outside server that does not deduplicate.
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

Call `deliver_due` from one loop only; it is not meant to run concurrently with itself.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import aiosqlite
import msgspec

from watchboard.services.notify.channels.outcome import SendResult
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

Sender = Callable[[Outgoing], Awaitable[SendResult]]
DigestBuilder = Callable[[list[Outgoing]], Outgoing]


class Delivered(NamedTuple):
    """One send attempt's outcome, for the service to publish and show."""

    message: Outgoing
    status: str  # sent | pending (will retry) | failed (final)
    attempts: int
    result: SendResult
    members: list[Outgoing]  # a digest's merged notices (each is one incident's notice); else []

    @property
    def final(self) -> bool:
        return self.status != "pending"

    @property
    def notices(self) -> list[Outgoing]:
        """The notices this delivery settles: the digest's members, or the message itself."""
        return self.members or [self.message]


class NoticeRow(NamedTuple):
    key: str
    incident_id: str
    person_id: str
    contact: str
    cause: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    digest_key: str | None


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def backoff(delivery: Delivery, attempts: int, rng: random.Random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: exponential, capped, ± jitter."""
    base = seconds(delivery.backoff_initial) * delivery.backoff_factor ** max(attempts - 1, 0)
    base = min(base, seconds(delivery.backoff_max))
    return max(0.0, base * (1 + rng.uniform(-delivery.jitter, delivery.jitter)))


class Outbox:
    def __init__(self, db: aiosqlite.Connection, delivery: Delivery, *,
                 rng: random.Random | None = None, digest: DigestBuilder | None = None,
                 concurrency: int = 32) -> None:
        self.db = db
        self.delivery = delivery
        self.rng = rng or random.Random()
        self.digest = digest
        self._sem = asyncio.Semaphore(concurrency)

    @classmethod
    async def open(cls, path: Path | str, delivery: Delivery, **kwargs: object) -> Outbox:
        """Open (creating) the database and put rows left "sending" by a crash back to pending."""
        db = await open_db(path, SCHEMA)
        box = cls(db, delivery, **kwargs)  # type: ignore[arg-type]
        await box.recover()
        return box

    @staticmethod
    async def init(db: aiosqlite.Connection) -> None:
        """Create the tables on a connection the service opened itself."""
        await db.executescript(SCHEMA)
        await db.commit()

    async def close(self) -> None:
        await self.db.close()

    async def recover(self) -> int:
        """Rows found "sending" were interrupted mid-send: send them again, same key."""
        cur = await self.db.execute(
            "UPDATE notices SET status = 'pending', last_error = 'interrupted while sending; resent' "
            "WHERE status = 'sending'")
        await self.db.commit()
        return cur.rowcount

    async def enqueue(self, messages: list[Outgoing], now: datetime, *, commit: bool = True) -> list[str]:
        """Queue notices; returns the keys that were new (a known key is left as it is)."""
        new: list[str] = []
        for m in messages:
            cur = await self.db.execute(
                "INSERT OR IGNORE INTO notices(key, incident_id, event_id, cause, person_id, contact, "
                "payload, status, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,'pending',?,?)",
                (m.key, m.incident_id, m.event_id, m.cause, m.person_id, m.contact, _enc.encode(m),
                 _ts(now), _ts(now)))
            if cur.rowcount:
                new.append(m.key)
        if commit:
            await self.db.commit()
        return new

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
            await self.enqueue([digest], now, commit=False)
            await self.db.executemany(
                "UPDATE notices SET status = 'merged', digest_key = ? WHERE key = ?",
                [(digest.key, m.key) for m in members])
        await self.db.commit()

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
        if d.rate_limit <= 0 or channel == "board" or m.cause == "digest":
            return None
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
        return started + window

    async def deliver_due(self, now: datetime, send: Sender) -> list[Delivered]:
        """Send every notice due at `now`; returns one `Delivered` per attempt made."""
        await self._release_digests(now)
        async with self.db.execute(
                "SELECT key, payload, attempts, release_at FROM notices WHERE status = 'pending' "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, key LIMIT ?",
                (_ts(now), self.delivery.batch)) as cur:
            rows = await cur.fetchall()
        batch: list[tuple[Outgoing, int]] = []
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
            batch.append((m, attempts + 1))
        # Recorded as "sending" before any byte leaves: see the module docstring.
        await self.db.executemany("UPDATE notices SET status = 'sending', attempts = ? WHERE key = ?",
                                  [(n, m.key) for m, n in batch])
        await self.db.commit()
        if not batch:
            return []

        async def one(m: Outgoing, attempts: int) -> Delivered:
            async with self._sem:
                try:
                    result = await send(m)
                except Exception as exc:  # a channel bug must not stop the batch
                    result = SendResult(False, False, f"{m.contact} for {m.person_id}: {type(exc).__name__}: {exc}")
            # Recorded (and committed) as soon as this one send is answered: a crash then
            # repeats only the sends actually in flight, not the whole batch.
            return await self._record(m, attempts, result, now)

        return list(await asyncio.gather(*(one(m, attempts) for m, attempts in batch)))

    async def _record(self, m: Outgoing, attempts: int, result: SendResult, now: datetime) -> Delivered:
        if result.ok:
            status = "sent"
            await self.db.execute("UPDATE notices SET status = 'sent', sent_at = ?, last_error = '' "
                                  "WHERE key = ?", (_ts(now), m.key))
        elif result.retryable and attempts < self.delivery.max_attempts:
            status = "pending"
            wait = backoff(self.delivery, attempts, self.rng)
            await self.db.execute("UPDATE notices SET status = 'pending', next_attempt_at = ?, last_error = ? "
                                  "WHERE key = ?", (_ts(now) + wait, result.reason, m.key))
        else:
            status = "failed"
            reason = result.reason if not result.retryable else \
                f"{result.reason} (gave up after {attempts} attempts)"
            result = result._replace(reason=reason)
            await self.db.execute("UPDATE notices SET status = 'failed', last_error = ? WHERE key = ?",
                                  (reason, m.key))
        await self.db.commit()
        members = await self._members(m.key) if m.cause == "digest" else []
        return Delivered(m, status, attempts, result, members)

    async def _members(self, digest_key: str) -> list[Outgoing]:
        async with self.db.execute("SELECT payload FROM notices WHERE digest_key = ? ORDER BY created_at, key",
                                   (digest_key,)) as cur:
            return [_dec.decode(r[0]) async for r in cur]

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
