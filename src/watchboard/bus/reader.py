"""Reading the board and the record without any JetStream API: direct gets and plain subjects.

The people's accounts have no JetStream (docs/architecture.md, "Trust"), so every reader — the
board, `watchboard ls/show`, the demo's check — reads the same way, whatever its account:

- the bucket's snapshot: batched direct gets on its stream `KV_wb-board` (`next_by_subj
  $KV.wb-board.>`, page by page), answered by the server itself;
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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from watchboard.bus.errors import BusTimeout, NoResponders, StreamError, map_nats_error, unless_refused
from watchboard.bus.feed_types import KVChange, SnapshotDone
from watchboard.domain.views import KV_BUCKET

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


async def watch_kv(nc: Client, *, snapshot_timeout: float = 20.0) -> AsyncIterator[KVChange | SnapshotDone]:
    """Every key (then `SnapshotDone`), then every change, until the subscription fails.

    The live subscription starts before the snapshot is read, so nothing written meanwhile is
    lost; a change that arrives during the snapshot is applied after it. Each key has one
    writer on one connection, so its changes arrive in order and the last one wins.
    """
    sub = await nc.subscribe(f"{KV_PREFIX}>", pending_msgs_limit=500_000)
    try:
        await nc.flush(timeout=5)
        snapshot = await kv_snapshot(nc, timeout=snapshot_timeout)
        for key, value in snapshot.items():
            yield KVChange(key, value)
        yield SnapshotDone(len(snapshot))
        while True:
            try:
                msg = await sub.next_msg(timeout=5)
            except nats.errors.TimeoutError:
                continue
            change = _change(msg.subject, msg.headers, msg.data)
            if change is not None:
                yield change
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
