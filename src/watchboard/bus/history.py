"""History out of the hot path, for one service: what `[history]` in watchboard.toml asks.

    keeper = HistoryKeeper(rt, states, "grade")
    await states.load(closed_since=keeper.memory_since())      # open + closed within keep_closed
    views = {k: v for k, v in views.items() if keeper.on_board(k)}  # no view for one off the board
    keeper.schedule()                                            # sweep, evict, prune, once ready

- **Off the board.** A closed incident's key `<id>.<part>` leaves `wb-board` `board_retention`
  after it closed: each service purges only its own part (one writer per key), with a purge
  marker that itself expires (per-message TTL, nats-server 2.11+), so nothing of the incident
  is left in the bucket for a reader to page through. Which incidents is read from the store
  (`StateTable.closed_between`, indexed), from the mark of the last sweep (meta
  `board_swept_until`) to now − retention, so a sweep costs only what closed since the last one,
  and the first one after an upgrade purges every old key once. A view an incident off the board
  would get later (a note on it, say) is not put (`on_board`): the stream has it.
- **Out of memory.** Every `interval`, states closed more than `keep_closed` ago are dropped
  from memory (`StateTable.evict`; `on_evict` lets a service drop what it derived from them);
  an event or a command naming one reads it back from disk (`StateTable.ensure`).
- **Processed ids.** Rows of the `processed` table older than the duplicate horizon (the
  stream's duplicate window + `PROCESSED_MARGIN`) are deleted: past it a redelivered message or
  a re-published effect cannot come (see `store.sqlite.prune_processed`). The first prune waits
  one interval after the service is ready, so a batch redelivered at start is still recognised.

Every step runs under the table's lock (the connection's one writer) and is logged, not fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from nats.js.kv import KV_OP, KV_PURGE, MSG_ROLLUP_SUBJECT

from watchboard.bus.errors import map_nats_error
from watchboard.bus.jetstream import KV_STREAM, PUBLISH_TIMEOUT
from watchboard.bus.reader import KV_PREFIX
from watchboard.config import parse_seconds
from watchboard.domain.views import kv_key
from watchboard.store.sqlite import get_meta, prune_processed, set_meta
from watchboard.store.states import StateTable

log = logging.getLogger("watchboard.history")

INTERVAL = 600.0  # seconds between rounds (scaled by the context's tick in tests)
MARKER_TTL = 600.0  # a purge marker is removed by the server this long after it was put
PROCESSED_MARGIN = 900.0  # seconds past the duplicate window before a processed id is forgotten
PURGE_CHUNK = 200  # purges in flight at once
SWEPT = "board_swept_until"  # meta: closed before this (epoch seconds) have left the board


class HistoryKeeper:
    def __init__(self, rt: Any, table: StateTable[Any], part: str | Sequence[str], *,
                 on_evict: Callable[[list[str]], None] | None = None) -> None:
        self.rt = rt
        self.table = table
        self.parts = (part,) if isinstance(part, str) else tuple(part)
        self.on_evict = on_evict
        history = rt.wb.history
        self.retention = history.board_retention_seconds()
        self.keep = history.keep_closed_seconds()
        self.horizon = (parse_seconds(rt.wb.stream.duplicate_window) or 120.0) + PROCESSED_MARGIN
        self.started = time.time()
        self._ttl_ok: bool | None = None  # does the bucket let purge markers expire?

    # --- what the service asks -------------------------------------------------------------

    def memory_since(self) -> datetime:
        """States closed before this are not loaded at start."""
        return self.rt.now() - timedelta(seconds=self.keep)

    def on_board(self, incident_id: str) -> bool:
        """Whether `<id>.<part>` may be put: the incident is open, or closed within the retention."""
        closed = self.table.closed_time(incident_id)
        return closed is None or closed >= self.rt.now().timestamp() - self.retention

    async def held(self, incidents: list[str]) -> set[str]:
        """Of `incidents`, those whose state is on disk but not in memory (closed long ago, or
        evicted): reconcile leaves their keys to the sweep, which reads when they closed from disk."""
        away = [i for i in incidents if i not in self.table.items]
        if not away:
            return set()
        async with self.table.lock:
            return await self.table.on_disk(away)

    def schedule(self) -> None:
        """Run a round once the service is ready (its endpoints open), then every INTERVAL."""
        interval = INTERVAL * self.rt.ctx.tick

        async def loop() -> None:
            ready = getattr(self.rt, "ready", None)
            if ready is not None:
                await ready.wait()
            while not self.rt.stop.is_set():
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s: keeping history out of the hot path failed (%s); tried again later",
                                self.rt.name, _said(exc))
                try:
                    await asyncio.wait_for(self.rt.stop.wait(), interval)
                except TimeoutError:
                    pass

        self.rt.task(loop)

    async def round(self) -> None:
        await self.sweep()
        await self.evict()
        if time.time() - self.started >= INTERVAL * self.rt.ctx.tick:
            await self.prune()

    # --- the steps ---------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Purge this service's keys of the incidents that closed before now − retention."""
        db = self.table.db
        until = self.rt.now().timestamp() - self.retention
        since = float(await get_meta(db, SWEPT, 0.0))
        if until <= since:
            return 0
        ids = await self.table.closed_between(since, until)
        ttl = MARKER_TTL if await self._markers_expire() else None
        for start in range(0, len(ids), PURGE_CHUNK):
            chunk = ids[start:start + PURGE_CHUNK]
            await asyncio.gather(*(self._purge(kv_key(i, part), ttl) for i in chunk for part in self.parts))
        async with self.table.lock:
            await set_meta(db, SWEPT, until)
            await db.commit()
        if ids:
            log.info("%s: %d incidents closed over %s ago left the board (<id>.%s)", self.rt.name, len(ids),
                     self.rt.wb.history.board_retention, "|".join(self.parts))
        return len(ids)

    async def evict(self) -> list[str]:
        async with self.table.lock:
            gone = self.table.evict(self.memory_since())
        if gone and self.on_evict is not None:
            self.on_evict(gone)
        if gone:
            log.info("%s: %d incidents closed over %s ago left memory", self.rt.name, len(gone),
                     self.rt.wb.history.keep_closed)
        return gone

    async def prune(self) -> int:
        async with self.table.lock:
            # Rows without a time predate this version: as old as the start at least.
            gone = await prune_processed(self.table.db, time.time() - self.horizon,
                                         unstamped=time.time() - self.started >= self.horizon)
        if gone:
            log.info("%s: %d processed ids past the duplicate horizon forgotten", self.rt.name, gone)
        return gone

    # --- the bucket ---------------------------------------------------------------------------

    async def _markers_expire(self) -> bool:
        if self._ttl_ok is None:
            js = self.rt.nc.jetstream(timeout=PUBLISH_TIMEOUT)
            info = await asyncio.wait_for(js.stream_info(KV_STREAM), PUBLISH_TIMEOUT)
            self._ttl_ok = bool(info.config.allow_msg_ttl)
            if not self._ttl_ok:
                log.warning("%s: the bucket wb-board does not allow per-message TTL, so the markers of purged "
                            "keys stay; `watchboard setup` (the admin) lets them expire", self.rt.name)
        return self._ttl_ok

    async def _purge(self, key: str, ttl: float | None) -> None:
        js = self.rt.nc.jetstream(timeout=PUBLISH_TIMEOUT)
        headers = {KV_OP: KV_PURGE, "Nats-Rollup": MSG_ROLLUP_SUBJECT}
        try:
            await asyncio.wait_for(js.publish(f"{KV_PREFIX}{key}", b"", headers=headers, msg_ttl=ttl),
                                   PUBLISH_TIMEOUT + 1)
        except Exception as exc:
            raise map_nats_error(exc) from exc


def _said(exc: BaseException) -> str:
    try:
        return str(map_nats_error(exc))
    except TypeError:
        return f"{exc.__class__.__name__}: {exc}"
