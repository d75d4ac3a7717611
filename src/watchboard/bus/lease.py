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
import time
from collections.abc import Callable
from dataclasses import dataclass

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

    async def renew(self) -> None:
        """One renewal; raises LeaseLost when someone else holds the key."""
        if self.revision is None:
            raise LeaseLost(f"{self.service}: not held")
        sent = self.clock()
        left = self.until - sent
        if left <= 0:
            raise LeaseLost(f"{self.service}: lease not renewed within {self.timing.ttl - self.timing.margin:.1f}s")
        try:
            self.revision = await asyncio.wait_for(
                self.kv.update(self.service, holder_value(self.instance, self.service), last=self.revision), left)
        except KeyWrongLastSequenceError as exc:
            raise LeaseLost(f"{self.service}: the lease was taken by {await self._holder_or_unknown()}") from exc
        self.until = self.timing.valid_until(sent)

    async def _holder_or_unknown(self) -> str:
        try:
            return await self.holder() or "nobody"
        except Exception:
            return "another instance"

    async def keep(self) -> None:
        """Renew until cancelled; returns (raising LeaseLost) when the lease is lost."""
        while True:
            try:
                await self.renew()
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
