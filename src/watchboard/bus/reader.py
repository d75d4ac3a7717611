"""Reading the board and the record without any JetStream API: direct gets and plain subjects.

The people's accounts have no JetStream (docs/architecture.md, "Trust"), so every reader — the
board, `watchboard ls/show`, the demo's check — reads the same way, whatever its account:

- the bucket's snapshot: batched direct gets on its stream `KV_wb-board` (`next_by_subj
  $KV.wb-board.>`, page by page), answered by the server itself; the board's, only what it
  shows (`board_snapshot`: intake's index `live.*`, then `multi_last` of those incidents' keys);
- its changes: a plain subscription to `$KV.wb-board.>` (the services' account exports it as
  a stream; inside that account it is simply the subject the puts are published on);
- one key: a direct get of its last value;
- an incident's history: batched direct gets on the event stream (`wb.ev.*.<id>.>`);
- an evidence file: its meta's last value, then its chunks (`watchboard.evidence_store`).

Direct gets need `allow_direct` on both streams (set by `ensure_stream`/`ensure_board_bucket`).
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from watchboard.bus.errors import BusTimeout, NoResponders, StreamError, map_nats_error, unless_refused
from watchboard.bus.feed_types import KVBatch, KVChange, SnapshotDone
from watchboard.domain.views import KV_BUCKET, LIVE_INDEX_KEY, LIVE_PREFIX, split_key

KV_STREAM = f"KV_{KV_BUCKET}"
KV_PREFIX = f"$KV.{KV_BUCKET}."
DELETED = ("DEL", "PURGE")


@dataclass(frozen=True)
class Stored:
    """One message as the stream holds it."""

    subject: str
    seq: int
    headers: dict[str, str]
    data: bytes


def _direct(stream: str) -> str:
    return f"$JS.API.DIRECT.GET.{stream}"


async def page(nc: Client, stream: str, subject: str, *, seq: int = 1, start_time: datetime | None = None,
               batch: int = 256, timeout: float = 5.0) -> tuple[list[Stored], int]:
    """Up to `batch` messages on `subject` from `seq` (or `start_time`), and how many remain."""
    body: dict[str, object] = {"next_by_subj": subject, "batch": batch}
    if start_time is not None:
        body["start_time"] = start_time.isoformat()
    else:
        body["seq"] = seq
    return await _batch(nc, stream, body, timeout)


async def _batch(nc: Client, stream: str, body: dict[str, object], timeout: float) -> tuple[list[Stored], int]:
    """One batched direct get (`next_by_subj` or `multi_last`): its messages up to the end-of-batch
    status, and how many remain."""
    inbox = nc.new_inbox()
    replies: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        replies.put_nowait(msg)

    sub = await nc.subscribe(inbox, cb=on_reply)
    out: list[Stored] = []
    pending = 0
    try:
        await nc.publish(_direct(stream), json.dumps(body).encode(), reply=inbox)
        msg = await unless_refused(nc, _direct(stream), asyncio.wait_for(replies.get(), timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            headers = dict(msg.headers or {})
            status = headers.get("Status", "")
            if status == "204":  # end of this batch (always sent after one): what remains
                pending = int(headers.get("Nats-Num-Pending", "0") or 0)
                break
            if status == "404":  # nothing (more) on this subject
                break
            if status == "503":
                raise NoResponders(f"no direct get on stream {stream}: it is missing, or this "
                                   "account may not read it")
            if status:
                raise StreamError(f"direct get on {stream}: {status} {headers.get('Description', '')}".strip())
            out.append(Stored(headers.get("Nats-Subject", ""), int(headers.get("Nats-Sequence", "0") or 0),
                              headers, msg.data))
            msg = await asyncio.wait_for(replies.get(), max(0.0, deadline - loop.time()))
    except TimeoutError as exc:
        raise BusTimeout(f"{stream}: the direct get did not end within {timeout:.0f}s") from exc
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return out, pending


async def each(nc: Client, stream: str, subject: str, *, start_time: datetime | None = None,
               batch: int = 256, timeout: float = 10.0) -> AsyncIterator[Stored]:
    """Every message on `subject` (from `start_time`), page by page as they come (an evidence
    file is not held in memory whole), within `timeout` in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    msgs, pending = await page(nc, stream, subject, start_time=start_time, batch=batch, timeout=timeout)
    for stored in msgs:
        yield stored
    while msgs and pending > 0:
        left = deadline - loop.time()
        if left <= 0:
            raise BusTimeout(f"{stream}: reading {subject} took over {timeout:.0f}s")
        msgs, pending = await page(nc, stream, subject, seq=msgs[-1].seq + 1, batch=batch, timeout=left)
        for stored in msgs:
            yield stored


async def scan(nc: Client, stream: str, subject: str, *, start_time: datetime | None = None,
               batch: int = 256, timeout: float = 10.0) -> list[Stored]:
    """Every message on `subject` (from `start_time`), page by page, within `timeout` in all."""
    return [s async for s in each(nc, stream, subject, start_time=start_time, batch=batch, timeout=timeout)]


async def last(nc: Client, stream: str, subject: str, timeout: float = 5.0) -> Stored | None:
    """The last message on `subject` (None: there is none)."""
    request = f"{_direct(stream)}.{subject}"
    try:
        msg = await unless_refused(nc, request, nc.request(request, b"", timeout=timeout))
    except Exception as exc:
        raise map_nats_error(exc) from exc
    headers = dict(msg.headers or {})
    if headers.get("Status") == "404":
        return None
    if headers.get("Status"):
        raise StreamError(f"direct get of {subject}: {headers['Status']} {headers.get('Description', '')}".strip())
    return Stored(headers.get("Nats-Subject", subject), int(headers.get("Nats-Sequence", "0") or 0), headers,
                  msg.data)


def _change(subject: str, headers: dict[str, str] | None, data: bytes) -> KVChange | None:
    if not subject.startswith(KV_PREFIX):
        return None
    deleted = (headers or {}).get("KV-Operation") in DELETED
    return KVChange(subject[len(KV_PREFIX):], None if deleted else data)


async def kv_snapshot(nc: Client, timeout: float = 10.0) -> dict[str, bytes]:
    """Every key of the bucket with its value (deleted keys left out)."""
    values: dict[str, bytes] = {}
    # Pages of 1,000: 40,000 keys (10,000 incidents) in about 1.6 s on a 2-core machine, against
    # 2.4 s with pages of 256 and 1.3 s for nats-py's watcher, which needs JetStream API.
    for stored in await scan(nc, KV_STREAM, f"{KV_PREFIX}>", batch=1000, timeout=timeout):
        change = _change(stored.subject, stored.headers, stored.data)
        if change is None:
            continue
        if change.value is None:
            values.pop(change.key, None)
        else:
            values[change.key] = change.value
    return values


async def kv_get(nc: Client, key: str, timeout: float = 5.0) -> bytes | None:
    """The value of one key, or None when it does not exist (or was deleted)."""
    stored = await last(nc, KV_STREAM, f"{KV_PREFIX}{key}", timeout=timeout)
    if stored is None or stored.headers.get("KV-Operation") in DELETED:
        return None
    return stored.data


async def board_exists(nc: Client) -> bool:
    """Does the bucket answer direct gets here? (False: no service made it yet, or this account
    may not read it.)"""
    try:
        await kv_get(nc, "sys.sweep", timeout=3.0)
    except NoResponders:
        return False
    return True


MULTI_LAST_IDS = 250  # incidents per `multi_last` request: 4 keys each, and the server answers ≤ 1,024
SNAPSHOT_BATCH = 2048  # keys of the snapshot per `KVBatch` (the board folds them in one call)
HELD_MAX = 5_000  # keys of incidents not (yet) known to the board held back (see `_Shown`)


async def multi_last(nc: Client, subjects: list[str], timeout: float = 5.0) -> list[Stored]:
    """The last message of each subject (wildcards allowed) of the bucket, in one batched direct
    get (nats-server 2.11+): at most 1,024 messages in all."""
    msgs, _ = await _batch(nc, KV_STREAM, {"multi_last": subjects, "batch": 1024}, timeout)
    return msgs


async def board_snapshot(nc: Client, closed_since: datetime,
                         timeout: float = 10.0) -> tuple[dict[str, bytes], set[str]] | None:
    """What a board shows, read without paging through the rest of the bucket: the `sys.*` keys,
    intake's index `live.*` (open incidents, and those closed since `closed_since`), and the keys
    of those incidents (`multi_last`, `MULTI_LAST_IDS` at a time, each request sent as soon as
    the index has named that many, all in flight together). Returns (key → value, the
    incidents), or None when intake keeps no index (`sys.live` missing: an older intake), and
    the whole bucket must be read."""
    if await kv_get(nc, LIVE_INDEX_KEY, timeout=timeout) is None:
        return None
    system = asyncio.ensure_future(scan(nc, KV_STREAM, f"{KV_PREFIX}sys.>", batch=1000, timeout=timeout))
    ids: set[str] = set()
    chunk: list[str] = []
    reads: list[asyncio.Future[list[Stored]]] = []

    def read(chunk: list[str]) -> None:
        reads.append(asyncio.ensure_future(multi_last(nc, [f"{KV_PREFIX}{i}.*" for i in chunk], timeout)))

    try:
        async for stored in each(nc, KV_STREAM, f"{KV_PREFIX}{LIVE_PREFIX}>", batch=1000, timeout=timeout):
            change = _change(stored.subject, stored.headers, stored.data)
            if change is None or change.value is None:
                continue
            if change.value and not _closed_since(change.value, closed_since):
                continue
            incident_id = change.key[len(LIVE_PREFIX):]
            if incident_id not in ids:
                ids.add(incident_id)
                chunk.append(incident_id)
                if len(chunk) == MULTI_LAST_IDS:
                    read(chunk)
                    chunk = []
        if chunk:
            read(chunk)
        pages = await asyncio.gather(system, *reads)
    except BaseException:
        for future in (system, *reads):
            future.cancel()
        raise
    values: dict[str, bytes] = {}
    for page_ in pages:
        for stored in page_:
            change = _change(stored.subject, stored.headers, stored.data)
            if change is not None and change.value is not None:
                values[change.key] = change.value
    return values, ids


def _closed_since(value: bytes, since: datetime) -> bool:
    try:
        return datetime.fromisoformat(value.decode()) >= since
    except (ValueError, UnicodeDecodeError):
        return True  # unreadable: show it rather than lose it


class _Shown:
    """After a board's snapshot: which incidents the board shows (open, or closed today), so a
    later grade, clock or notices key of an incident it does not show — a late put for one
    closed days ago — is held back instead of showing a row with no title. An incident becomes
    shown when its index key or its record (`<id>.core`) arrives; what was held for it is then
    passed on first. At most `HELD_MAX` keys are held (the oldest go first)."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids
        self.held: dict[str, list[KVChange]] = {}
        self.count = 0

    def take(self, change: KVChange) -> list[KVChange]:
        key = change.key
        if key.startswith(LIVE_PREFIX):
            return self._show(key[len(LIVE_PREFIX):]) if change.value is not None else []
        parts = split_key(key)
        if parts is None:
            return [change]
        incident_id, part = parts
        if incident_id in self.ids:
            return [change]
        if part == "core" and change.value is not None:
            return [*self._show(incident_id), change]
        if change.value is not None:
            self.held.setdefault(incident_id, []).append(change)
            self.count += 1
            while self.count > HELD_MAX and self.held:
                oldest = next(iter(self.held))
                self.count -= len(self.held.pop(oldest))
        return []

    def _show(self, incident_id: str) -> list[KVChange]:
        self.ids.add(incident_id)
        held = self.held.pop(incident_id, [])
        self.count -= len(held)
        return held


async def watch_kv(nc: Client, *, snapshot_timeout: float = 20.0, closed_since: Callable[[], datetime] | None = None,
                   ) -> AsyncIterator[KVChange | KVBatch | SnapshotDone]:
    """Every key the board shows (then `SnapshotDone`), then every change, until the
    subscription fails.

    With intake's index (`board_snapshot`) the snapshot is the open incidents and those closed
    since `closed_since()` (default: the last 24 hours); without it, every key of the bucket.
    The live subscription starts before the snapshot is read, so nothing written meanwhile is
    lost; a change that arrives during the snapshot is applied after it. Each key has one
    writer on one connection, so its changes arrive in order and the last one wins.
    """
    since = closed_since or (lambda: datetime.now(UTC) - timedelta(hours=24))
    sub = await nc.subscribe(f"{KV_PREFIX}>", pending_msgs_limit=500_000)
    try:
        await nc.flush(timeout=5)
        selected = await board_snapshot(nc, since(), timeout=snapshot_timeout)
        shown: _Shown | None = None
        if selected is None:
            snapshot = await kv_snapshot(nc, timeout=snapshot_timeout)
        else:
            snapshot, ids = selected
            shown = _Shown(ids)
        # In batches: one item per 2,048 keys rather than one per key through every layer.
        items = [KVChange(key, value) for key, value in snapshot.items()]
        for start in range(0, len(items), SNAPSHOT_BATCH):
            yield KVBatch(items[start:start + SNAPSHOT_BATCH])
        yield SnapshotDone(len(snapshot))
        while True:
            try:
                msg = await sub.next_msg(timeout=5)
            except nats.errors.TimeoutError:
                continue
            change = _change(msg.subject, msg.headers, msg.data)
            if change is None:
                continue
            if shown is None:
                yield change
                continue
            for passed in shown.take(change):
                yield passed
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
