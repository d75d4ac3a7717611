"""What every service process shares: connect, set up the stream and bucket, register the
service API, run consumer loops and timers in one TaskGroup, and stop cleanly.

A service is a small class with `start(rt)` (open its store, load state, register its
endpoints and loops) and `close()`. `run_service` is the one factory both
`watchboard serve NAME` and the tests call, in-process, with their own `stop` event and
clock: there is no other way a service starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nats.aio.client import Client
from nats.js.kv import KeyValue

from watchboard.bus import steady
from watchboard.bus.connection import ConnectionWatch, connect
from watchboard.bus.consumer import BatchHandler, ConsumerStats, run_consumer
from watchboard.bus.credentials import Credentials
from watchboard.bus.endpoints import Endpoints
from watchboard.bus.errors import map_nats_error
from watchboard.bus.health import Health
from watchboard.bus.jetstream import (
    KV_STREAM,
    PUBLISH_TIMEOUT,
    EventPublisher,
    NotReady,
    check_ready,
    ensure_board_bucket,
    ensure_stream,
)
from watchboard.bus.lease import StandbyOptions
from watchboard.bus.pipeline import Out, pipeline_of
from watchboard.bus.subjects import Subjects
from watchboard.bus.trust import Trust
from watchboard.config import ConfigSource, WatchboardConfig, load_watchboard
from watchboard.domain.events import utcnow
from watchboard.domain.views import KV_BUCKET
from watchboard.metrics import address_for
from watchboard.metrics import current as current_metrics
from watchboard.metrics import serving as serving_metrics

log = logging.getLogger("watchboard.service")

Clock = Callable[[], datetime]
HEALTH_EVERY = 5.0  # seconds between samples of the store's figures (outbox, dead letters)


@dataclass
class ServiceContext:
    """Everything a service needs from outside: where NATS is, its config, its data, a clock."""

    nats_url: str
    data_dir: Path
    source: ConfigSource = field(default_factory=ConfigSource)
    now: Clock = utcnow
    # Tests shorten timers (deadlines' tick, notify's delivery loop) through this factor.
    tick: float = 1.0
    # A process of its own (`watchboard serve`): the collector frozen and its thresholds raised
    # once the state is loaded (bus/steady.py). Off in-process (the tests run many services).
    settle_gc: bool = False
    # Roles on: this service's identity (nkey seed, TLS files). None: roles off, anonymous —
    # only for tests and a set-up on loopback (docs/deploy.md).
    creds: Credentials | None = None
    # Roles on: the registry naming the people (default: identities.json beside the creds).
    identities: Path | None = None
    # Standby mode: one of several instances of the service, active only while it holds the
    # service's lease (watchboard.bus.standby). None: the only instance.
    standby: StandbyOptions | None = None
    # This instance's Prometheus metrics address (`serve --metrics HOST:PORT`); None: what
    # watchboard.toml's [metrics] says (watchboard/metrics.py).
    metrics: str | None = None

    @property
    def roles(self) -> bool:
        return self.creds is not None

    def trust(self, prefix: str) -> Trust | None:
        if self.creds is None:
            return None
        return Trust(self.identities or self.creds.seed.with_name("identities.json"), prefix)


class Closable(Protocol):
    async def close(self) -> None: ...


class Service(Protocol):
    """What `build(source)` returns: config loaded and checked, nothing opened yet. `start`
    opens the store, registers endpoints and loops, and returns the running service (built
    only once its resources exist), which `close()` releases."""

    name: str
    description: str

    async def start(self, rt: Runtime) -> Closable: ...


class Runtime:
    """The connected environment a service runs in."""

    def __init__(self, ctx: ServiceContext, wb: WatchboardConfig, name: str) -> None:
        self.ctx = ctx
        self.wb = wb
        self.name = name
        self.subjects = Subjects(wb.subject_prefix)
        self.watch = ConnectionWatch(ctx.nats_url)
        self.nc: Client | None = None
        self.kv: KeyValue | None = None
        self.publisher: EventPublisher | None = None
        self.endpoints: Endpoints | None = None
        self.stop = asyncio.Event()
        # Set once the state is loaded and every consumer has caught up: the endpoints open then.
        self.ready = asyncio.Event()
        self.consumer_stats: dict[str, ConsumerStats] = {}
        # Health figures for `$SRV.STATS` (watchboard status), shared with the Prometheus
        # metrics when they are on.
        self.metrics = current_metrics()
        self.health = self.metrics.health if self.metrics is not None else Health(name)
        self.caught_up: dict[str, asyncio.Event] = {}  # durable → it has nothing pending
        self._loops: list[Callable[[], Awaitable[None]]] = []

    @property
    def now(self) -> Clock:
        return self.ctx.now

    async def connect(self, description: str) -> None:
        trust = self.ctx.trust(self.wb.subject_prefix)  # a missing or bad registry stops here
        self.nc = await connect(self.ctx.nats_url, f"watchboard-{self.name}", watch=self.watch,
                                creds=self.ctx.creds)
        js = self.nc.jetstream(timeout=PUBLISH_TIMEOUT)
        said = ""
        while True:  # JetStream may still be starting (cluster election): retry, don't crash
            try:
                if self.ctx.roles:  # only the admin may make or change them
                    self.kv = await check_ready(js)
                else:
                    await ensure_stream(js, self.wb)
                    self.kv = await ensure_board_bucket(js, self.wb)
                break
            except NotReady as exc:
                if str(exc) != said:
                    log.warning("%s: %s; waiting", self.name, exc)
                    said = str(exc)
                await asyncio.sleep(2)
            except Exception as exc:
                log.warning("%s: JetStream not ready (%s); retrying", self.name, map_nats_error(exc))
                await asyncio.sleep(1)
        self.publisher = EventPublisher(self.nc, self.subjects)
        standby = self.ctx.standby
        metadata = {"role": "active", "instance": standby.instance} if standby is not None else {}
        if self.metrics is not None:
            metadata["metrics"] = self.metrics.url  # where to scrape this instance (watchboard status)
        self.endpoints = Endpoints(self.nc, self.name, description, trust=trust, metadata=metadata or None,
                                   health=self.health.data)
        await self.endpoints.start()

    def consume(self, durable: str, filters: Sequence[str], handler: BatchHandler, *, batch: int = 1000) -> None:
        stats = self.consumer_stats.setdefault(durable, ConsumerStats())
        self.health.consumers[durable] = stats
        if self.metrics is not None:
            self.metrics.consumer(durable, stats)
        caught = self.caught_up.setdefault(durable, asyncio.Event())
        nc = self.nc
        assert nc is not None

        async def loop() -> None:
            await run_consumer(nc, durable, filters, handler, self.stop, batch=batch, stats=stats,
                               caught_up=caught)

        self._loops.append(loop)

    def every(self, seconds: float, tick: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `tick` every `seconds` (scaled by ctx.tick); a failing tick is logged, not fatal."""
        interval = seconds * self.ctx.tick

        async def loop() -> None:
            while not self.stop.is_set():
                try:
                    await tick()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    try:
                        log.warning("%s: %s failed: %s", self.name, what, map_nats_error(exc))
                    except TypeError:
                        log.exception("%s: %s failed", self.name, what)
                try:
                    await asyncio.wait_for(self.stop.wait(), interval)
                except TimeoutError:
                    pass

        self._loops.append(loop)

    def task(self, body: Callable[[], Awaitable[None]]) -> None:
        self._loops.append(body)

    async def kv_put(self, key: str, value: bytes) -> None:
        await self.kv_put_many({key: value})

    async def kv_put_many(self, items: dict[str, bytes]) -> None:
        """Put views, their acks awaited together (an atomic batch of the bucket's stream from
        `ATOMIC_MIN` on: one disk sync); all stored, or the first failure raised (mapped)."""
        if items:
            assert self.nc is not None
            await pipeline_of(self.nc).publish_all([Out(f"$KV.{KV_BUCKET}.{k}", v) for k, v in items.items()],
                                                   KV_STREAM, PUBLISH_TIMEOUT)

    async def kv_put_ttl(self, key: str, value: bytes, ttl: float) -> None:
        """Put a value the server removes `ttl` seconds later (per-message TTL, nats-server 2.11+)."""
        assert self.nc is not None
        js = self.nc.jetstream(timeout=PUBLISH_TIMEOUT)
        try:
            await asyncio.wait_for(js.publish(f"$KV.{KV_BUCKET}.{key}", value, msg_ttl=ttl), PUBLISH_TIMEOUT + 1)
        except Exception as exc:
            raise map_nats_error(exc) from exc

    async def open_when_caught_up(self, loops: asyncio.Task[None]) -> None:
        """Wait until every consumer has caught up (the loops run meanwhile), then open the
        endpoints: ready means the state is loaded and nothing waits in the stream."""
        assert self.endpoints is not None
        self.endpoints.loading_detail = "catching up"
        waiting = [asyncio.ensure_future(e.wait()) for e in self.caught_up.values()]
        try:
            if waiting:
                done, _ = await asyncio.wait({loops, *waiting}, return_when=asyncio.FIRST_COMPLETED)
                while loops not in done and not all(w.done() for w in waiting):
                    done, _ = await asyncio.wait({loops, *[w for w in waiting if not w.done()]},
                                                 return_when=asyncio.FIRST_COMPLETED)
                if loops in done:
                    loops.result()  # a loop failed before the service was ready: say why
                    raise RuntimeError(f"{self.name} stopped before it was ready")
        finally:
            for w in waiting:
                w.cancel()
        await self.endpoints.open()
        self.ready.set()

    async def run_loops(self) -> None:
        async with asyncio.TaskGroup() as group:
            for loop in self._loops:
                group.create_task(loop())

    async def close(self) -> None:
        if self.endpoints is not None:
            await self.endpoints.stop()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), 5)
            except Exception:
                try:
                    await self.nc.close()
                except Exception:
                    pass


async def run_service(
    service: Service,
    ctx: ServiceContext,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """Run `service` until `stop` is set. Config errors raise before anything connects.

    Standby mode (`ctx.standby`): the instance first follows the active one and runs the
    service only once it holds the lease (watchboard.bus.standby).

    Metrics (watchboard/metrics.py) are served for the whole life of the process, standing by
    and active: started here unless an outer call (the standby runner's) already did."""
    if current_metrics() is None:
        address = address_for(service.name, load_watchboard(ctx.source).metrics, ctx.metrics)
        if address:
            instance = ctx.standby.instance if ctx.standby is not None else ""
            async with serving_metrics(service.name, address, instance):
                await _run_service(service, ctx, stop, ready)
            return
    await _run_service(service, ctx, stop, ready)


async def _run_service(service: Service, ctx: ServiceContext, stop: asyncio.Event,
                       ready: asyncio.Event | None) -> None:
    metrics = current_metrics()
    if ctx.settle_gc:  # what is loaded now lives on (bus/steady.py)
        steady.loading()
    if ctx.standby is not None and not ctx.standby.active:
        from watchboard.bus.standby import run_standby

        if metrics is not None:
            metrics.role(False)
        await run_standby(service, ctx, stop, ready)
        return
    wb = load_watchboard(ctx.source)
    rt = Runtime(ctx, wb, service.name)
    running: Closable | None = None
    loops: asyncio.Task[None] | None = None
    try:
        await rt.connect(service.description)
        started = time.perf_counter()
        running = await service.start(rt)
        if ctx.settle_gc:  # the state is loaded: what lives now lives on (bus/steady.py)
            steady.settle()
        rt.health.running = running  # its outbox and own figures, for health and metrics
        rt.every(HEALTH_EVERY, rt.health.sample, "health figures")
        if metrics is not None:
            metrics.role(True)

        async def stopper() -> None:
            await stop.wait()
            rt.stop.set()

        rt.task(stopper)
        loops = asyncio.create_task(rt.run_loops())
        await rt.open_when_caught_up(loops)
        assert rt.nc is not None and rt.endpoints is not None
        if ctx.standby is not None:  # what the standbys took is answered here, once we are ready
            await rt.endpoints.accept_forwarded(rt.subjects.forwarded(service.name))
        await rt.nc.flush(timeout=5)  # subscriptions are on the server before we say ready
        if ready is not None:
            ready.set()
        log.info("%s: ready (state loaded, consumers caught up) %.2f s after connecting", service.name,
                 time.perf_counter() - started)
        await loops
    finally:
        if loops is not None and not loops.done():
            rt.stop.set()
            loops.cancel()
            with contextlib.suppress(BaseException):
                await loops
        rt.stop.set()
        rt.health.running = None
        await rt.close()
        if running is not None:
            await running.close()


def install_signal_handlers(stop: asyncio.Event, extra: dict[int, Callable[[], None]] | None = None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for sig, fn in (extra or {}).items():
        loop.add_signal_handler(sig, fn)
