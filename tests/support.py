"""Test support: run services in-process with a controlled clock, wait for conditions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client

from watchboard.bus.credentials import Credentials
from watchboard.bus.runtime import Service, ServiceContext, run_service
from watchboard.config import ConfigSource

T = TypeVar("T")


class FakeClock:
    """A clock the test moves by hand: services read it through ServiceContext.now."""

    def __init__(self, start: datetime | None = None) -> None:
        self.value = start or datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **kwargs: float) -> datetime:
        self.value += timedelta(**kwargs)
        return self.value

    def set(self, value: datetime) -> None:
        self.value = value


@contextlib.asynccontextmanager
async def running(service: Service, url: str, data_dir: Path, *, source: ConfigSource | None = None,
                  now: Callable[[], datetime] | None = None, tick: float = 1.0,
                  timeout: float = 15.0, creds: Credentials | None = None) -> AsyncIterator[asyncio.Task[None]]:
    """Run `service` in this event loop until the block ends (bounded start and stop);
    `creds`: roles on, the service's own credentials (identities.json beside them)."""
    stop, ready = asyncio.Event(), asyncio.Event()
    ctx = ServiceContext(nats_url=url, data_dir=data_dir, source=source or ConfigSource(), tick=tick, creds=creds)
    if now is not None:
        ctx.now = now
    task = asyncio.create_task(run_service(service, ctx, stop, ready))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()  # raises the service's start error
    if not ready.is_set():
        task.cancel()
        waiter.cancel()
        raise TimeoutError(f"{service.name} did not start within {timeout}s")
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            task.cancel()


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0,
                     interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def request(nc: Client, subject: str, body: dict[str, Any] | bytes, timeout: float = 5.0) -> dict[str, Any]:
    from watchboard.client import request_retrying

    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    msg = await request_retrying(nc, subject, data, timeout)
    return json.loads(msg.data)


async def kv_get(nc: Client, key: str) -> dict[str, Any] | None:
    from nats.js.errors import KeyNotFoundError

    kv = await nc.jetstream().key_value("wb-board")
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return json.loads(entry.value) if entry.value else None


Received = list[tuple[str, dict[str, Any]]]  # (Idempotency-Key, JSON body) per POST, in order


async def start_webhook() -> tuple[str, Received, Any]:
    """A local webhook receiver on a free port: its URL, what it received, and its runner
    (`await runner.cleanup()` stops it). It answers every POST as a chat robot would."""
    from aiohttp import web

    received: Received = []

    async def hook(req: web.Request) -> web.Response:
        received.append((req.headers.get("Idempotency-Key", ""), await req.json()))
        return web.json_response({"errcode": 0})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}/hook", received, runner


@contextlib.asynccontextmanager
async def webhook() -> AsyncIterator[tuple[str, Received]]:
    """`start_webhook` for the length of a `with` block."""
    url, received, runner = await start_webhook()
    try:
        yield url, received
    finally:
        await runner.cleanup()
