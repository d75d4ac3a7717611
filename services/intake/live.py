"""The board's index of what it shows (`live.<id>`, `sys.live`: `watchboard.domain.views`), kept by intake.

intake owns the incident's stage and close, so it alone writes the index: after each projector
batch, `live.<id>` for every incident reported in it (empty value, kept while open) and for
every incident closed in it (its `closed_at`, removed by the server `LIVE_CLOSED_TTL` later).
Both are idempotent puts: a redelivered batch writes the same.

At start the index is filled once for the bucket it lives in (`fill`): after an upgrade, or
when the bucket was made anew (its creation time differs from the one recorded in intake's
store), every open incident and every one closed in the last day gets its key, and only then
`sys.live`, which tells a board the index is whole.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

import aiosqlite

from watchboard.bus.consumer import Delivered
from watchboard.bus.errors import NotPermitted, unless_refused
from watchboard.bus.jetstream import KV_STREAM, PUBLISH_TIMEOUT
from watchboard.bus.runtime import Runtime
from watchboard.domain import events as ev
from watchboard.domain.views import KV_BUCKET, LIVE_CLOSED_TTL, LIVE_INDEX_KEY, CoreView, live_key
from watchboard.store.sqlite import get_meta, set_meta

log = logging.getLogger("watchboard.intake")

FILLED = "live_index_bucket"  # meta: the creation time of the bucket the index was filled in
CHUNK = 500


class LiveIndex:
    def __init__(self, rt: Runtime, db: aiosqlite.Connection) -> None:
        self.rt, self.db = rt, db
        # False once the server refused a put of the index (an auth.conf older than the index):
        # the record goes on, and boards read the whole bucket as before (`sys.live` is missing).
        self.enabled = True

    async def after_batch(self, batch: Sequence[Delivered]) -> None:
        """The index keys of the incidents this batch reported or closed."""
        jobs = []
        for d in batch:
            match d.event:
                case ev.IncidentReported():
                    jobs.append(self._put(live_key(d.event.incident_id), b""))
                case ev.IncidentClosed():
                    jobs.append(self._closed(d.event.incident_id, d.event.at))
        if jobs:
            await asyncio.gather(*jobs)

    async def _closed(self, incident_id: str, at: datetime) -> None:
        left = LIVE_CLOSED_TTL - (self.rt.now() - at).total_seconds()
        if left >= 1:  # a close caught up on long after: nothing for the board's day
            await self._put(live_key(incident_id), at.isoformat().encode(), left)

    async def _put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """A put of the index; refused by the server, the index is given up (said once)."""
        if not self.enabled:
            return
        assert self.rt.nc is not None
        put = self.rt.kv_put(key, value) if ttl is None else self.rt.kv_put_ttl(key, value, ttl)
        try:
            await unless_refused(self.rt.nc, f"$KV.{KV_BUCKET}.{key}", put)
        except NotPermitted:
            if self.enabled:
                log.error("intake: the server refuses intake's puts of the board's index (%s): its auth.conf is "
                          "older than the index; `watchboard up` rewrites it at start, on separate hosts run "
                          "`watchboard auth add-person` or write it again (docs/deploy.md). Boards read the whole "
                          "bucket meanwhile.", key)
            self.enabled = False

    async def fill(self, cores: Iterable[CoreView], lock: asyncio.Lock) -> int:
        """Once per bucket: the index keys of every open incident and of those closed in the last
        day, then `sys.live`. Returns how many keys were put (0: the index was whole already)."""
        assert self.rt.nc is not None
        js = self.rt.nc.jetstream(timeout=PUBLISH_TIMEOUT)
        info = await asyncio.wait_for(js.stream_info(KV_STREAM), PUBLISH_TIMEOUT)
        bucket = info.created.isoformat() if info.created else "unknown"
        if await get_meta(self.db, FILLED) == bucket:
            return 0
        now = self.rt.now()
        open_ids = [c.id for c in cores if c.stage != "closed"]
        recent = [c for c in cores if c.stage == "closed" and c.closed_at is not None
                  and (now - c.closed_at).total_seconds() < LIVE_CLOSED_TTL - 1]
        for start in range(0, len(open_ids), CHUNK):
            await asyncio.gather(*(self._put(live_key(i), b"") for i in open_ids[start:start + CHUNK]))
        for start in range(0, len(recent), CHUNK):
            await asyncio.gather(*(self._closed(c.id, c.closed_at) for c in recent[start:start + CHUNK]
                                   if c.closed_at is not None))
        await self._put(LIVE_INDEX_KEY, json.dumps({"since": now.isoformat()}).encode())
        if not self.enabled:
            return 0
        async with lock:
            await set_meta(self.db, FILLED, bucket)
            await self.db.commit()
        log.info("intake: the board's index filled: %d open, %d closed in the last day", len(open_ids),
                 len(recent))
        return len(open_ids) + len(recent)
