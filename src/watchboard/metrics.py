"""Prometheus metrics of a service process (`prometheus-client`), off unless configured.

    [metrics]                      # watchboard.toml
    listen = "127.0.0.1:0"         # every service; port 0: a free port at each start
    grading = "0.0.0.0:9402"       # or a fixed port for one service
    watchboard serve grading --metrics 127.0.0.1:9412     # or one instance's own

Why port 0 by default: two instances of a service on one host (`up --standby`), or the four
services sharing `listen`, must never fight over a port. The address an instance took is in
its log and in its `$SRV.PING` metadata (`metrics`), which `watchboard status` prints; a
fixed port that is taken falls back to a free one, said in the log.

The endpoint is served from the service's own event loop (aiohttp): a scrape refreshes the
store figures first, and a wedged loop shows as a failed scrape — which is what it is.
Each process has its own registry: the metrics of one service instance, no process globals.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from watchboard import __version__
from watchboard.bus.consumer import ConsumerStats
from watchboard.bus.health import Health
from watchboard.config.watchboard import parse_listen

log = logging.getLogger("watchboard.metrics")

CURRENT: ContextVar[Metrics | None] = ContextVar("watchboard_metrics", default=None)

# Handler latency buckets (seconds): a batch takes milliseconds, a stalled store seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NOTICE_STATUSES = ("pending", "sending", "sent", "failed", "held", "merged")


def address_for(service: str, metrics: Any, override: str | None = None) -> str:
    """The address one instance of `service` serves its metrics on ("": off): the command line's,
    else the service's own key, else `listen` (WatchboardConfig.metrics)."""
    if override:
        return override
    return str(getattr(metrics, service, "") or metrics.listen or "")


class Metrics:
    """The metrics of one service process, served at http://host:port/metrics."""

    def __init__(self, service: str, instance: str = "") -> None:
        self.service, self.instance = service, instance
        self.health = Health(service)
        r = self.registry = CollectorRegistry()
        self.events = Counter("watchboard_events_handled", "Events handed to the service's handler and committed",
                              ["consumer"], registry=r)
        self.latency = Histogram("watchboard_handler_seconds", "Time the handler took over one batch of events",
                                 ["consumer"], buckets=BUCKETS, registry=r)
        self.failures = Gauge("watchboard_handler_failures", "Batches or fetches that failed since start "
                              "(the batch is delivered again)", ["consumer"], registry=r)
        self.lag = Gauge("watchboard_consumer_lag", "Events the server still holds for this consumer",
                         ["consumer"], registry=r)
        # What only some services have (an outbox, clocks, notices) is made on first use: a
        # service without clocks shows no `watchboard_clocks_running 0`.
        self._own: dict[str, Gauge] = {}
        self.logged = Gauge("watchboard_log_problems", "WARNING and ERROR lines logged since start", ["level"],
                            registry=r)
        self.last_error_at = Gauge("watchboard_last_error_timestamp_seconds",
                                   "When the last warning or error was logged (0: none)", registry=r)
        self.last_error = Info("watchboard_last_error", "The last warning or error logged", registry=r)
        self.active = Gauge("watchboard_active", "1 while this instance acts, 0 while it stands by", registry=r)
        self.build = Info("watchboard", "The service and instance behind these metrics", registry=r)
        self.build.info({"service": service, "instance": instance, "version": __version__})
        self.url = ""
        self._runner: web.AppRunner | None = None

    # --- what the runtime tells it -----------------------------------------------------

    def consumer(self, durable: str, stats: ConsumerStats) -> None:
        self.health.consumers[durable] = stats
        events, latency = self.events.labels(durable), self.latency.labels(durable)

        def on_batch(count: int, seconds: float) -> None:
            events.inc(count)
            latency.observe(seconds)

        stats.on_batch = on_batch

    def role(self, active: bool) -> None:
        self.active.set(1 if active else 0)

    # --- a scrape ----------------------------------------------------------------------

    def _gauge(self, name: str, help_: str, labels: tuple[str, ...] = ()) -> Gauge:
        if name not in self._own:
            self._own[name] = Gauge(name, help_, labels, registry=self.registry)
        return self._own[name]

    async def refresh(self) -> None:
        h = self.health
        await h.sample()
        for durable, stats in h.consumers.items():
            self.lag.labels(durable).set(stats.lag)
            self.failures.labels(durable).set(stats.failures)
        if getattr(h.running, "outbox", None) is not None:
            self._gauge("watchboard_outbox_depth", "Effects committed and not yet in the stream").set(h.store.outbox)
            self._gauge("watchboard_outbox_oldest_seconds", "How long the oldest of them has waited").set(
                h.store.outbox_oldest)
            self._gauge("watchboard_dead_letters", "Effects the bus refused for good, set aside").set(
                h.store.dead_letters)
        if "clocks_running" in h.gauges:
            self._gauge("watchboard_clocks_running", "Clocks running (deadlines)").set(h.gauges["clocks_running"])
        notices = h.gauges.get("notices")
        if isinstance(notices, dict):
            gauge = self._gauge("watchboard_notices", "Notices in notify's queue, by status", ("status",))
            for status in sorted(set(NOTICE_STATUSES) | set(notices)):
                gauge.labels(status).set(notices.get(status, 0))
        self.logged.labels("error").set(h.last.errors)
        self.logged.labels("warning").set(h.last.warnings)
        self.last_error_at.set(h.last.at)
        self.last_error.info({"message": h.last.message})

    async def _scrape(self, _request: web.Request) -> web.Response:
        try:
            await self.refresh()
        except Exception as exc:  # the figures we have are still worth serving
            log.debug("%s: metrics refresh: %s", self.service, exc)
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    # --- the endpoint --------------------------------------------------------------------

    async def start(self, address: str) -> str:
        """Serve on `address` (host:port); a taken fixed port falls back to a free one. Returns the URL."""
        host, port = parse_listen(address)
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port == 0:
                await runner.cleanup()
                raise
            log.warning("%s: metrics port %s:%d is taken (another instance on this host?); serving them on a "
                        "free port instead — see `watchboard status`", self.service, host, port)
            site = web.TCPSite(runner, host, 0)
            await site.start()
        self._runner = runner
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}/metrics"
        self.health.watch_log()
        log.info("%s: Prometheus metrics on %s", self.service, self.url)
        return self.url

    async def stop(self) -> None:
        self.health.unwatch_log()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def current() -> Metrics | None:
    return CURRENT.get()


@contextlib.asynccontextmanager
async def serving(service: str, address: str, instance: str = "") -> AsyncIterator[Metrics | None]:
    """Metrics served while the block runs ("" address: off, yields None). The metrics are the
    context's `current()`: a standby's service, started later in a task of this context, finds them."""
    if not address:
        yield None
        return
    metrics = Metrics(service, instance)
    try:
        await metrics.start(address)
    except OSError as exc:  # the service matters more than its metrics
        log.error("%s: cannot serve metrics on %s (%s); running without them", service, address,
                  exc.strerror or exc)
        yield None
        return
    token = CURRENT.set(metrics)
    try:
        yield metrics
    finally:
        CURRENT.reset(token)
        await metrics.stop()
