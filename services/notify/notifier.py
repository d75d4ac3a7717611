"""The notify core the service wires to the bus: load, decide (logic.py), save. No NATS here.

What notify remembers per incident is an `IncidentMemo` in a `StateTable` (store/states.py);
notices wait in the `DeliveryQueue` (queue.py), both in `<data>/notify.sqlite`, so a restart
resumes where it stopped. A consumer batch is folded through `Transaction.fold` in ONE SQLite
transaction: memos, queued notices and processed event ids are committed together, and a
redelivered event is skipped. Events the decisions make (escalations, acknowledgements,
`notice.sent` / `notice.failed`) go to `effects`, called inside the same transaction — the
service adds them to its outbox (store/outbox.py) there — and are also returned.

    notifier = await Notifier.open(cfg, data_dir, channels=Channels(cfg), profile=source.profile_name(),
                                   calendar=WorkCalendar(load_calendar(source)), unit_names=names)
    handled = await notifier.handle_batch(batch, now)    # a fetched consumer batch
    escalated = await notifier.escalate_due(now)          # on the delivery loop
    attempts = await notifier.deliver_due(now)            # on the delivery loop
    view = await notifier.notices_view(incident_id, now)  # → KV `<id>.notices`

Every method takes `now`; every write that commits holds `lock`, the connection's one writer.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import aiosqlite

from watchboard.bus.consumer import Delivered
from watchboard.config import DEFAULT_PROFILE
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.events import (
    NO_INCIDENT,
    AnyEvent,
    Event,
    IncidentAcknowledged,
    NoticeEscalated,
    event_type,
)
from watchboard.domain.views import NoticesView
from watchboard.services.notify import logic, render
from watchboard.services.notify.acklink import NONCE_SCHEMA, NonceLedger, load_secret
from watchboard.services.notify.acktoken import AckSigner
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.delivery import Attempt
from watchboard.services.notify.model import Context, IncidentMemo, major_open, may_escalate, memo_from_legacy
from watchboard.services.notify.queue import SCHEMA as QUEUE_SCHEMA
from watchboard.services.notify.queue import DeliveryQueue
from watchboard.services.notify.settings import NotifyConfig, seconds
from watchboard.services.notify.templates import Outgoing
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import open_db
from watchboard.store.states import StateTable, Transaction

log = logging.getLogger("watchboard.notify")

TABLE = "incidents"
# The scheduled reports this notify has dealt with (reporter.py): queued here, or sent by another.
REPORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_jobs (
    key TEXT PRIMARY KEY,            -- report:daily:2026-11-27
    status TEXT NOT NULL,            -- queued | elsewhere
    at REAL NOT NULL,                -- epoch seconds
    detail TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
"""
SCHEMA = QUEUE_SCHEMA + NONCE_SCHEMA + Outbox.schema() + REPORTS_SCHEMA

Effects = Callable[[list[Event]], Awaitable[None]]


class Missing(NamedTuple):
    """Roles an event's routes named that reached nobody (log them: notify.toml lacks someone)."""

    event_type: str
    incident_id: str
    roles: list[str]


class Handled(NamedTuple):
    """What a batch caused: notices newly queued, incidents whose KV view changed."""

    queued: list[Outgoing]
    incidents: list[str]
    missing: list[Missing]


async def migrate_legacy(db: aiosqlite.Connection) -> int:
    """Move the `incidents` table of notify before the state table (one column per field)
    into the state table, in one transaction; returns how many incidents moved."""
    async with db.execute(f"PRAGMA table_info({TABLE})") as cur:
        columns = [row[1] async for row in cur]
    if not columns or "state" in columns:
        return 0
    db.row_factory = aiosqlite.Row
    try:
        async with db.execute(f"SELECT * FROM {TABLE}") as cur:
            memos = [memo_from_legacy(dict(row)) async for row in cur]
    finally:
        db.row_factory = None
    table = StateTable(db, TABLE, IncidentMemo)
    await db.execute("BEGIN")  # DDL included: a crash half-way leaves the old table as it was
    try:
        await db.execute(f"DROP TABLE {TABLE}")
        await db.execute(StateTable.schema(TABLE))
        await db.executemany(f"INSERT INTO {TABLE}(id, state) VALUES (?, ?)",
                             [(m.id, table.encode(m)) for m in memos])
        await db.commit()
    except BaseException:
        await db.rollback()
        raise
    return len(memos)


class Notifier:
    def __init__(self, ctx: Context, db: aiosqlite.Connection, *, channels: Channels | None = None,
                 rng: random.Random | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.db = db
        self.channels = channels
        self.states: StateTable[IncidentMemo] = StateTable(db, TABLE, IncidentMemo, closed=lambda m: m.closed,
                                                           **({"clock": clock} if clock else {}))
        self.lock = self.states.lock  # the one writer on `db`: state table, queue, nonces, outbox
        self.queue = DeliveryQueue(db, self.cfg.delivery, rng=rng, digest=lambda ms: render.digest(ctx, ms),
                                   lock=self.lock)
        self.queue.on_record = self._recorded
        self.ledger = NonceLedger(db, lock=self.lock)
        self.effects: Effects | None = None  # the service's outbox; None: events are only returned
        self.majors: set[str] = set()  # open incidents of a 24-hour-duty grade (committed)
        self.escalating: set[str] = set()  # incidents a tier may still fall due for (committed)

    @property
    def signer(self) -> AckSigner:
        assert self.ctx.signer is not None
        return self.ctx.signer

    @classmethod
    async def open(cls, cfg: NotifyConfig, data_dir: Path, *, channels: Channels | None = None,
                   db_name: str = "notify.sqlite", rng: random.Random | None = None,
                   profile: str = DEFAULT_PROFILE, calendar: WorkCalendar | None = None,
                   unit_names: Mapping[str, Mapping[str, str]] | None = None,
                   closed_since: datetime | None = None, clock: Callable[[], datetime] | None = None) -> Notifier:
        """Open `<data_dir>/notify.sqlite` (creating it, moving an older layout's incidents into
        the state table), load or make the ack secret, load the memos (the open ones and those
        closed since `closed_since`; None: all), and put notices interrupted mid-send back in
        the queue."""
        db = await open_db(data_dir / db_name, SCHEMA)
        moved = await migrate_legacy(db)
        if moved:
            log.info("notify: %d incidents moved to the state table", moved)
        await db.executescript(StateTable.schema(TABLE))
        await db.commit()
        signer = AckSigner(load_secret(cfg.ack, data_dir), seconds(cfg.ack.ttl))
        ctx = Context(cfg, profile=profile, signer=signer, unit_names=unit_names, calendar=calendar)
        notifier = cls(ctx, db, channels=channels, rng=rng, clock=clock)
        await notifier.states.load(closed_since=closed_since)
        notifier._index(notifier.states.items)
        await notifier.queue.recover()
        return notifier

    async def close(self) -> None:
        if self.channels is not None:
            await self.channels.close()
        await self.db.close()

    # --- memory ---------------------------------------------------------------------------

    def memo(self, incident_id: str) -> IncidentMemo:
        return self.states.get(incident_id) or IncidentMemo(id=incident_id)

    def on_duty(self, now: datetime) -> list[str]:
        return logic.on_duty(self.ctx, now, major_open=bool(self.majors))

    def _index(self, changed: Mapping[str, IncidentMemo]) -> None:
        """Keep the sets the roster and the escalation timer read, so neither scans every memo."""
        for key, memo in changed.items():
            for found, index in ((major_open(memo, self.cfg), self.majors),
                                 (may_escalate(memo, self.cfg), self.escalating)):
                if found:
                    index.add(key)
                else:
                    index.discard(key)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Transaction[IncidentMemo]]:
        """Lock, begin, let the caller decide and write, commit (or roll back), index."""
        async with self.lock:
            tx = self.states.begin()
            try:
                yield tx
            except BaseException:
                await tx.rollback()
                raise
            self._index(await tx.commit())

    async def _queue(self, notices: list[Outgoing], events: list[Event], now: datetime) -> list[str]:
        """Inside a transaction: queue the notices (dedup) and hand the events to the outbox."""
        new = await self.queue.enqueue(notices, now, commit=False)
        if events and self.effects is not None:
            await self.effects(events)
        return new

    # --- events in --------------------------------------------------------------------------

    async def handle_batch(self, batch: Sequence[Delivered], now: datetime) -> Handled:
        """Fold a consumer batch in one transaction: memos, notices, processed ids. Idempotent."""
        relevant = [d for d in batch if isinstance(d.event, logic.HANDLED)]
        if not relevant:
            return Handled([], [], [])
        missing: list[Missing] = []
        async with self._transaction() as tx:
            majors = set(self.majors)  # as the batch changes it, event by event

            def one(memo: IncidentMemo | None, event: Event) -> tuple[IncidentMemo | None, list[logic.Decision]]:
                d = logic.step(memo, event, self.ctx, logic.on_duty(self.ctx, now, major_open=bool(majors)), now)
                if d.memo is not None and major_open(d.memo, self.cfg):
                    majors.add(d.memo.id)
                elif d.memo is not None:
                    majors.discard(d.memo.id)
                if d.missing:
                    missing.append(Missing(event_type(event), event.incident_id, d.missing))
                return d.memo, [d]

            decisions = await tx.fold(relevant, one)
            notices = [n for d in decisions for n in d.notices]
            new = set(await self._queue(notices, [e for d in decisions for e in d.events], now))
        done = {event_id for event_id, _ in tx.processed}  # a redelivered event changed nothing
        incidents = dict.fromkeys(d.event.incident_id for d in relevant
                                  if d.event.id in done and d.event.incident_id != NO_INCIDENT)
        return Handled([m for m in notices if m.key in new], list(incidents), missing)

    async def handle(self, event: AnyEvent, now: datetime) -> Handled:
        """One event as a batch of one (tests, tools)."""
        return await self.handle_batch([Delivered(event, "", 0, 1)], now)

    # --- escalation -------------------------------------------------------------------------

    async def escalate_due(self, now: datetime) -> list[NoticeEscalated]:
        """Queue the escalation tiers due at `now`; one `notice.escalated` event per tier."""
        if not self.cfg.escalation.tiers or not self.escalating:
            return []
        events: list[Event] = []
        async with self._transaction() as tx:
            duty = self.on_duty(now)
            notices: list[Outgoing] = []
            for incident_id in sorted(self.escalating):
                memo = tx.get(incident_id)
                if memo is None:
                    continue
                d = logic.escalate(memo, self.ctx, duty, now)
                if d.memo is not None:
                    tx.put(incident_id, d.memo)
                    notices += d.notices
                    events += d.events
            await self._queue(notices, events, now)
        return [e for e in events if isinstance(e, NoticeEscalated)]

    # --- acknowledgement ----------------------------------------------------------------------

    async def acknowledge(self, incident_id: str, person_id: str, now: datetime, *,
                          via: str = "cli", cause: str | None = None) -> IncidentAcknowledged | None:
        """Record the first acknowledgement (it stops escalation); None if already acknowledged."""
        async with self._transaction() as tx:
            d = logic.acknowledge(tx.get(incident_id) or IncidentMemo(id=incident_id), person_id, via, now, cause)
            if d.memo is None:
                return None
            tx.put(incident_id, d.memo)
            await self._queue([], d.events, now)
        ack = d.events[0]
        assert isinstance(ack, IncidentAcknowledged)
        return ack

    # --- delivery -----------------------------------------------------------------------------

    async def deliver_due(self, now: datetime) -> list[Attempt]:
        """Send what is due through the channels (one batch); their `notice.*` events go to
        `effects` in the transaction that records them (else: `logic.delivery_events(...)`)."""
        if self.channels is None:
            raise RuntimeError("Notifier was opened without channels")
        return await self.queue.deliver_due(now, self.channels.send)

    async def _recorded(self, attempts: list[Attempt]) -> None:
        if self.effects is not None:
            await self.effects([e for a in attempts for e in logic.delivery_events([a], a.now)])

    # --- scheduled reports --------------------------------------------------------------------

    async def report_status(self, key: str) -> str | None:
        """What this notify did with the report `key` (queued | elsewhere), None if nothing yet."""
        async with self.db.execute("SELECT status FROM report_jobs WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def record_report(self, key: str, status: str, now: datetime, *, notices: Sequence[Outgoing] = (),
                            detail: str = "") -> list[str]:
        """Queue a report's notices and remember it, in one transaction (a restart then neither
        loses nor repeats it); returns the notice keys that were new."""
        async with self.lock:
            try:
                new = await self.queue.enqueue(list(notices), now, commit=False)
                await self.db.execute("INSERT OR IGNORE INTO report_jobs(key, status, at, detail) VALUES (?,?,?,?)",
                                      (key, status, now.timestamp(), detail))
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise
        return new

    # --- views --------------------------------------------------------------------------------

    async def notices_view(self, incident_id: str, now: datetime) -> NoticesView:
        """The KV value `<incident_id>.notices`."""
        return logic.view_of(self.memo(incident_id), await self.queue.rows(incident_id), now)

    async def notices_views(self, incident_ids: Iterable[str], now: datetime) -> dict[str, NoticesView]:
        """The KV values of several incidents, read in one query."""
        ids = list(incident_ids)
        rows = await self.queue.rows_of(ids)
        return {i: logic.view_of(self.memo(i), rows.get(i, []), now) for i in ids}
