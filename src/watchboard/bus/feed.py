"""The board's data feed: KV snapshot then changes, connection state, service health.

`watch_board` yields `watchboard.bus.feed_types` items. It ends (returns) when the KV
watcher fails; the board's worker then calls the factory again after a pause, which
re-reads the snapshot: a reconnect never leaves the board with stale data.

The bucket is read through `watchboard.bus.reader` (direct gets and the exported updates),
never through a JetStream consumer, so a wall or an operator reads it from an account that
has no JetStream at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client

from watchboard.bus.connection import ConnectionWatch
from watchboard.bus.errors import map_nats_error
from watchboard.bus.feed_types import (
    CommandSender,
    Connection,
    FeedItem,
    ServiceHealth,
)
from watchboard.bus.reader import watch_kv
from watchboard.bus.subjects import SERVICES, Subjects
from watchboard.bus.survey import survey

log = logging.getLogger("watchboard.feed")


async def ping_services(nc: Client, wait: float = 0.5) -> ServiceHealth:
    """One `$SRV.PING` round: which of our services answered ready within `wait` seconds, and
    which answered that they are still loading (their state, or catching up on the stream).
    One ready instance makes a service ready, whatever another instance says."""
    seen: dict[str, str] = {}
    loading: dict[str, str] = {}
    for info in await survey(nc, "$SRV.PING", wait):
        with contextlib.suppress(AttributeError):
            name = str(info.get("name", "?"))
            meta = info.get("metadata") or {}
            if meta.get("status") == "loading":
                loading[name] = str(meta.get("loading", "state"))
            else:
                seen[name] = info.get("version", "")
    return ServiceHealth(services={name: name in seen for name in SERVICES}, at=datetime.now(UTC),
                         detail={k: v for k, v in seen.items() if k in SERVICES},
                         loading={k: v for k, v in loading.items() if k in SERVICES and k not in seen})


async def watch_board(nc: Client, watch: ConnectionWatch, *, health_every: float = 2.0) -> AsyncIterator[FeedItem]:
    queue: asyncio.Queue[FeedItem | BaseException | None] = asyncio.Queue()
    watch.listen(queue.put_nowait)

    async def kv_loop() -> None:
        try:
            async for item in watch_kv(nc):
                queue.put_nowait(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            queue.put_nowait(exc)

    async def health_loop() -> None:
        while True:
            if watch.state.state == "connected":
                try:
                    queue.put_nowait(await ping_services(nc))
                except Exception as exc:
                    log.debug("health ping failed: %s", exc)
            await asyncio.sleep(health_every)

    tasks = [asyncio.create_task(kv_loop()), asyncio.create_task(health_loop())]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                log.warning("board feed stopped: %s", item)
                return
            if item is not None:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        watch._listeners = [cb for cb in watch._listeners if cb != queue.put_nowait]


def make_sender(nc: Client, subjects: Subjects, timeout: float = 5.0) -> CommandSender:
    async def send(verb: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            from watchboard.client import request_retrying

            msg = await request_retrying(nc, subjects.command(verb),
                                         json.dumps(payload, ensure_ascii=False).encode(), timeout)
            reply: dict[str, Any] = json.loads(msg.data)
            return reply
        except Exception as exc:
            try:
                reason = str(map_nats_error(exc))
            except TypeError:
                reason = f"{exc.__class__.__name__}: {exc}"
            return {"ok": False, "error": {"code": "unavailable", "message":
                                           f"no answer on {subjects.command(verb)}: {reason}",
                                           "message_zh": f"`{subjects.command(verb)}` 无应答，请确认相关服务正在运行"}}

    return send


__all__ = ["Connection", "make_sender", "ping_services", "watch_board"]
