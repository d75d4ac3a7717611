"""Which instance of a service is active: a lease in the KV bucket `wb-lease`.

One key per service (`intake`, `grading`, …) in a bucket whose values live `ttl` seconds
(the bucket's max age). An instance becomes active by creating the key (only possible while
nobody holds it) and stays active by updating it with the revision it last wrote
(compare-and-set), every quarter of a lease. A standby polls the key and creates it once it
is gone: after a clean stop at once (the active deletes it), after a kill -9 when it expires.

Fencing: the active stops itself when it could not renew for `ttl - margin` seconds counted
from the moment it *sent* its last successful renewal. The server stored that renewal no
earlier than it was sent, so the key lives at least `margin` seconds after the old active has
stopped, and no two instances ever act at once — whatever the network did. A renewal the
server refuses (someone else's revision) stops the active at once.

`LeaseTiming` is pure (table-tested); `Lease` is the thin part on NATS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from watchboard.bus.errors import map_nats_error

log = logging.getLogger("watchboard.standby")

LEASE_BUCKET = "wb-lease"
LEASE_STREAM = f"KV_{LEASE_BUCKET}"


class LeaseLost(Exception):
    """This instance may no longer act: its lease expired or someone else holds it."""


@dataclass(frozen=True)
class LeaseTiming:
    """When to renew and when to give up, from the lease's lifetime (seconds)."""

    ttl: float

    @property
    def renew_every(self) -> float:
        return self.ttl / 4

    @property
    def margin(self) -> float:
        # The old active stops this long before its lease could expire on the server.
        return self.ttl / 4

    @property
    def poll_every(self) -> float:
        # How often a standby looks at the key: a tenth of a lease, at most 0.25 s.
        return min(0.25, self.ttl / 10)

    def valid_until(self, sent_at: float) -> float:
        """The last moment an active may act after a renewal sent at `sent_at` (monotonic)."""
        return sent_at + self.ttl - self.margin


def holder_value(instance: str, service: str) -> bytes:
    return json.dumps({"instance": instance, "service": service}).encode()


def holder_of(value: bytes | None) -> str:
    """The instance a lease value names ('' when unreadable)."""
    if not value:
        return ""
    try:
        return str(json.loads(value).get("instance", ""))
    except (ValueError, AttributeError):
        return ""


async def ensure_lease_bucket(js: JetStreamContext, ttl: float, replicas: int, *, create: bool) -> KeyValue:
    """The lease bucket (memory storage: a lease means nothing after the servers restart).
    `create`: roles off, or the admin; a service with roles on only opens it."""
    try:
        kv = await asyncio.wait_for(js.key_value(LEASE_BUCKET), 5)
        if create:  # the admin (or roles off): a changed standby.lease_ttl takes effect
            info = await asyncio.wait_for(js.stream_info(LEASE_STREAM), 5)
            if abs((info.config.max_age or 0) - ttl) > 0.01:
                info.config.max_age = ttl
                info.config.duplicate_window = min(info.config.duplicate_window or ttl, ttl)
                await asyncio.wait_for(js.update_stream(info.config), 5)
        return kv
    except (BucketNotFoundError, NotFoundError):
        if not create:
            raise
    except Exception as exc:
        raise map_nats_error(exc) from exc
    try:
        return await asyncio.wait_for(js.create_key_value(
            bucket=LEASE_BUCKET, history=1, ttl=ttl, replicas=replicas, storage=api.StorageType.MEMORY,
            direct=True, description="watchboard: which instance of each service is active"), 5)
    except Exception as exc:
        raise map_nats_error(exc) from exc


class Lease:
    """One service's lease, as one instance sees it."""

    def __init__(self, kv: KeyValue, service: str, instance: str, ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kv = kv
        self.service = service
        self.instance = instance
        self.timing = LeaseTiming(ttl)
        self.clock = clock
        self.revision: int | None = None
        self.until = 0.0  # monotonic: the last moment we may act (valid_until of the last renewal)

    @property
    def held(self) -> bool:
        return self.revision is not None and self.clock() < self.until

    async def holder(self) -> str | None:
        """Who holds the lease now (None: nobody)."""
        try:
            entry = await asyncio.wait_for(self.kv.get(self.service), 2)
        except NotFoundError:  # no key (expired), or a delete marker (released)
            return None
        return holder_of(entry.value) or "?"

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this instance is now active."""
        if await self.holder() is not None:
            return False
        sent = self.clock()
        try:
            self.revision = await asyncio.wait_for(
                self.kv.create(self.service, holder_value(self.instance, self.service)), 2)
        except KeyWrongLastSequenceError:  # another standby was quicker
            return False
        except Exception as exc:
            if "wrong last sequence" in str(exc).lower():
                return False
            raise
        self.until = self.timing.valid_until(sent)
        return True

    async def renew(self, kv: KeyValue | None = None) -> None:
        """One renewal (through `kv`, default this lease's); raises LeaseLost when someone else
        holds the key."""
        kv = kv or self.kv
        if self.revision is None:
            raise LeaseLost(f"{self.service}: not held")
        sent = self.clock()
        left = self.until - sent
        if left <= 0:
            raise LeaseLost(f"{self.service}: lease not renewed within {self.timing.ttl - self.timing.margin:.1f}s")
        try:
            self.revision = await asyncio.wait_for(
                kv.update(self.service, holder_value(self.instance, self.service), last=self.revision), left)
        except KeyWrongLastSequenceError as exc:
            raise LeaseLost(f"{self.service}: the lease was taken by {await self._holder_or_unknown()}") from exc
        self.until = self.timing.valid_until(sent)

    async def _holder_or_unknown(self) -> str:
        try:
            return await self.holder() or "nobody"
        except Exception:
            return "another instance"

    async def keep(self, kv: KeyValue | None = None, alive: Callable[[], str | None] | None = None) -> None:
        """Renew until cancelled; raises LeaseLost when the lease is lost, or when `alive` says
        why this instance should not keep it any more."""
        while True:
            why = alive() if alive is not None else None
            if why is not None:
                raise LeaseLost(f"{self.service}: {why}")
            try:
                await self.renew(kv)
            except LeaseLost:
                raise
            except Exception as exc:  # a slow or cut connection: try again while the lease lasts
                if self.clock() >= self.until:
                    raise LeaseLost(f"{self.service}: could not renew the lease ({exc})") from exc
                log.warning("%s: renewing the lease failed (%s); %.1fs left", self.service, exc,
                            self.until - self.clock())
            wait = min(self.timing.renew_every, max(0.0, self.until - self.clock()))
            await asyncio.sleep(wait)

    async def release(self) -> None:
        """A clean stop: give the lease up at once so a standby need not wait for it to expire."""
        if self.revision is None:
            return
        revision, self.revision = self.revision, None
        try:
            await asyncio.wait_for(self.kv.delete(self.service, last=revision), 2)
        except Exception as exc:  # it expires by itself
            log.info("%s: releasing the lease failed (%s); it expires within %.0fs", self.service, exc,
                     self.timing.ttl)


def default_instance() -> str:
    """This process, as the lease and the replica name it: host and process id."""
    import os
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class StandbyOptions:
    """`watchboard serve NAME --standby`: run as one of several instances of the service."""

    instance: str = ""
    # What happens when this instance may no longer act (its lease lost, another instance
    # writing its store's replica): the CLI ends the process at once (`watchboard serve` exits 3,
    # systemd or `up` start it again as a standby); None (tests, in-process) cancels the service.
    on_lost: Callable[[str], None] | None = None
    # Told "standby" when this instance follows, "active" when it has taken over and serves.
    on_role: Callable[[str], None] | None = None
    active: bool = False  # set by the standby runner when it starts the service itself

    def __post_init__(self) -> None:
        if not self.instance:
            self.instance = default_instance()

    def role(self, role: str) -> None:
        if self.on_role is not None:
            self.on_role(role)


STALL = 20.0  # seconds without a sign of life from the service's event loop: the lease is given up


class LeaseThread:
    """Renews a lease from a thread of its own, on a connection of its own.

    Why a thread: a service may keep its event loop busy for seconds (notify builds the daily
    report's charts and Word file there); renewing from that loop would lose the lease to a
    busy, healthy instance. The service's loop proves it still turns by `beat()`; when it has
    not for `stall` seconds the thread stops renewing and reports the loss, so a wedged instance
    is replaced, not kept for ever. `on_lost` is called from the thread: it must be thread-safe
    (the CLI's ends the process at once).
    """

    def __init__(self, lease: Lease, connect: Callable[[], Any], on_lost: Callable[[str], None], *,
                 stall: float = STALL, clock: Callable[[], float] = time.monotonic) -> None:
        self.lease = lease
        self.connect = connect  # an async factory of the thread's own connection
        self.on_lost = on_lost
        self.stall = stall
        self.clock = clock
        self.heartbeat = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.service}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        self.heartbeat = self.clock()

    def alive(self) -> str | None:
        if self._stop.is_set():
            return "stopping"
        quiet = self.clock() - self.heartbeat
        return f"the service's event loop has not turned for {quiet:.0f}s" if quiet > self.stall else None

    def halt(self) -> None:
        """Renew no more, at once (the thread ends by itself)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except LeaseLost as exc:
            if not self._stop.is_set():
                self.on_lost(str(exc))
        except Exception as exc:  # the thread's own connection never came up, say
            if not self._stop.is_set():
                self.on_lost(f"{self.lease.service}: the lease's keeper failed ({exc.__class__.__name__}: {exc})")

    async def _main(self) -> None:
        nc = await self.connect()
        try:
            kv = await nc.jetstream(timeout=5).key_value(LEASE_BUCKET)
            keeper = asyncio.ensure_future(self.lease.keep(kv, self.alive))
            while not keeper.done():
                if self._stop.is_set():
                    keeper.cancel()
                    break
                await asyncio.wait({keeper}, timeout=0.1)
            if keeper.done() and not keeper.cancelled():
                keeper.result()  # LeaseLost goes up
        finally:
            try:
                await asyncio.wait_for(nc.close(), 2)
            except Exception:
                pass
