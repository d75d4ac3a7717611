"""Dead letters: effects the bus will not carry, moved aside so the ones behind them go out.

An effect larger than the server's `max_payload`, or one the stream refuses outright (a 400:
too large for the stream, say), would otherwise stay first in an outbox and be tried again
for ever — every restart dying on it, every later effect waiting behind it (issue 12, the
"poison pill"). Instead it goes to the `dead_letters` table of the service's own store, in the
same transaction that takes it out of the outbox, together with a `service.fault` event
(`wb.ev.<service>._.service.fault`) that says which entry, how large and why, so a person
sees it (the board, `watchboard report`) and can read it back from the table:

    sqlite3 deadlines.sqlite "SELECT msg_id, subject, length(data), reason FROM dead_letters"
"""

from __future__ import annotations

import time
from typing import NamedTuple

import aiosqlite
import nats.errors
import nats.js.errors

from watchboard.domain.events import (
    FAULT_REASON_MAX,
    NO_INCIDENT,
    ServiceFault,
    effect_id,
    encode_event,
    utcnow,
)

SCHEMA = ("CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
          "msg_id TEXT NOT NULL, subject TEXT NOT NULL, data BLOB NOT NULL, created_at REAL NOT NULL, "
          "failed_at REAL NOT NULL, reason TEXT NOT NULL);")


class DeadLetter(NamedTuple):
    msg_id: str
    subject: str
    data: bytes
    created_at: float
    reason: str


def refusal(exc: BaseException) -> str | None:
    """Why the bus refused a publish for good, in words; None for a failure worth retrying
    (timeouts, no connection, the stream briefly unavailable: those keep their place)."""
    if isinstance(exc, nats.errors.MaxPayloadError):
        return "larger than the server's max_payload"
    if isinstance(exc, nats.js.errors.BadRequestError) or (
            isinstance(exc, nats.js.errors.APIError) and exc.code in (400, 413)):
        detail = (getattr(exc, "description", "") or "bad request")[:200]
        return f"the stream refused it: {detail} (error {getattr(exc, 'err_code', None) or exc.code})"
    return None


def too_large_reason(size: int, limit: int) -> str:
    return f"{size:,} bytes; one message may take at most {limit:,} bytes on this bus"


def fault(service: str, letter: DeadLetter) -> ServiceFault:
    """The `service.fault` event announcing `letter` (its id follows from the entry's)."""
    return ServiceFault(id=effect_id(letter.msg_id, "fault"), incident_id=NO_INCIDENT, at=utcnow(), actor=service,
                        causation_id=letter.msg_id, service=service, reason=letter.reason[:FAULT_REASON_MAX],
                        entry_id=letter.msg_id, subject=letter.subject[:300], size=len(letter.data))


async def put(db: aiosqlite.Connection, letters: list[DeadLetter]) -> None:
    """Insert `letters` in the caller's open transaction (no commit)."""
    now = time.time()
    await db.executemany(
        "INSERT INTO dead_letters(msg_id, subject, data, created_at, failed_at, reason) VALUES (?, ?, ?, ?, ?, ?)",
        [(d.msg_id, d.subject, d.data, d.created_at, now, d.reason) for d in letters])


async def count(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT COUNT(*) FROM dead_letters") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def entries(db: aiosqlite.Connection) -> list[DeadLetter]:
    async with db.execute("SELECT msg_id, subject, data, created_at, reason FROM dead_letters ORDER BY seq") as cur:
        return [DeadLetter(*row) async for row in cur]


def encoded_fault(service: str, letter: DeadLetter) -> tuple[str, bytes]:
    event = fault(service, letter)
    return event.id, encode_event(event)
