"""Standby instances: several processes of one service, on different hosts; one active.

    watchboard serve grading --standby            # on host A
    watchboard serve grading --standby            # on host B

Each instance starts as a standby: it keeps a copy of the active instance's store
(store/replica.py), answers the service's requests by handing them on to the active one
(`Forwarder`), and polls the service's lease (bus/lease.py). When the lease is free — at once
after a clean stop, `standby.lease_ttl` after a kill -9 — one standby takes it, reads the copy
to the stream's end, recreates the service's durable consumers at their ack floor (what the
dead one held comes first), and starts the service on the copy, exactly as the service restarts
on its own host after a crash: the outbox is checked against the stream, the consumers catch
up, effects keep their deterministic ids, so nothing is done twice.

While active it renews the lease and publishes each commit to the replica stream before the
commit returns; if it cannot renew in time, or another instance wrote the replica, it stops at
once (`StandbyOptions.on_lost`). Decisions stay serialised: only the active instance decides;
a standby takes requests off the queue group only to hand them on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service as MicroService

from watchboard import __version__
from watchboard.auth.roles import DURABLES
from watchboard.bus.connection import connect
from watchboard.bus.consumer import rewind_to_ack_floor
from watchboard.bus.endpoints import _encode, error_reply
from watchboard.bus.errors import map_nats_error
from watchboard.bus.lease import Lease, LeaseLost, LeaseThread, StandbyOptions, ensure_lease_bucket
from watchboard.bus.subjects import Subjects
from watchboard.bus.survey import survey
from watchboard.bus.trust import REQUEST_INFO, Caller, Trust
from watchboard.config import WatchboardConfig, load_watchboard, parse_seconds
from watchboard.domain.errors import DomainError
from watchboard.store.replica import (
    REPLICA_STREAM,
    SNAPSHOT_BUCKET,
    ReplicaConflict,
    ReplicaFollower,
    ReplicaGap,
    ReplicaWriter,
)
from watchboard.store.sqlite import ON_OPEN

log = logging.getLogger("watchboard.standby")

CALLER_HEADER = "Wb-Caller"  # the person a standby checked, on a request it hands on (JSON)


def forwarded_caller(headers: dict[str, str]) -> Caller | None:
    """The person a standby checked before handing the request on (None: roles off)."""
    raw = headers.get(CALLER_HEADER)
    if not raw:
        return None
    try:
        return Caller(**json.loads(raw))
    except (ValueError, TypeError):
        return None
FORWARD_WAIT = 8.0  # how long a standby holds a request while no instance is active


def replica_stream_config(wb: WatchboardConfig) -> api.StreamConfig:
    return api.StreamConfig(
        name=REPLICA_STREAM, subjects=[Subjects(wb.subject_prefix).replica("*")],
        storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS, num_replicas=wb.stream.replicas,
        max_age=parse_seconds(wb.standby.history), discard=api.DiscardPolicy.OLD, allow_direct=True,
        description="watchboard: each active service's store changes, for its standby instances")


async def ensure_standby_infra(js: JetStreamContext, wb: WatchboardConfig, *,
                               create: bool) -> tuple[KeyValue, ObjectStore]:
    """The lease bucket, the replica stream and the snapshot store. `create`: roles off or the
    admin (`watchboard setup`); a service with roles on only opens them."""
    try:
        await asyncio.wait_for(js.stream_info(REPLICA_STREAM), 5)
    except NotFoundError:
        if not create:
            raise
        await asyncio.wait_for(js.add_stream(replica_stream_config(wb)), 5)
    kv = await ensure_lease_bucket(js, parse_seconds(wb.standby.lease_ttl) or 2.0, wb.stream.replicas,
                                   create=create)
    try:
        obs = await asyncio.wait_for(js.object_store(SNAPSHOT_BUCKET), 5)
    except BucketNotFoundError:
        if not create:
            raise
        obs = await asyncio.wait_for(js.create_object_store(SNAPSHOT_BUCKET, config=api.ObjectStoreConfig(
            description="watchboard: the latest snapshot of each service's store, for standbys",
            replicas=wb.stream.replicas, storage=api.StorageType.FILE)), 5)
    return kv, obs


async def get_snapshot(obs: ObjectStore, service: str) -> bytes | None:
    try:
        result = await asyncio.wait_for(obs.get(f"{service}.sqlite"), 60)
    except (NotFoundError, BucketNotFoundError):
        return None
    return bytes(result.data or b"")


async def put_snapshot(obs: ObjectStore, service: str, data: bytes) -> None:
    await asyncio.wait_for(obs.put(f"{service}.sqlite", data), 120)


class Forwarder:
    """A standby's answer to the service's requests: check the caller (roles on), write the
    person into the body, hand the request on to the active instance and relay its reply.

    While no instance is active (a takeover under way) it retries for `FORWARD_WAIT` seconds
    — only on "no responders", which means nobody took the request; a request the active took
    but did not answer is never sent twice (the reply says to look before sending it again)."""

    def __init__(self, nc: Client, service: str, description: str, subjects: Subjects, instance: str,
                 trust: Trust | None = None, wait: float = FORWARD_WAIT) -> None:
        self.nc, self.service, self.description, self.subjects = nc, service, description, subjects
        self.instance, self.trust, self.wait = instance, trust, wait
        self.target = subjects.forwarded(service)
        self._micro: MicroService | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.forwarded = 0

    async def start(self) -> None:
        from watchboard.metrics import current

        metadata = {"role": "standby", "instance": self.instance}
        if (metrics := current()) is not None:
            metadata["metrics"] = metrics.url  # a standby is scraped too (watchboard_active 0)
        self._micro = await add_service(self.nc, name=self.service, version=__version__,
                                        description=self.description, metadata=metadata)
        for name, subject in self.subjects.requests_of(self.service):
            await self._micro.add_endpoint(name=name, subject=subject, handler=self._on_request,
                                           queue_group=self.service)

    async def _on_request(self, request: Request) -> None:
        task = asyncio.create_task(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: Request) -> None:
        # The request's own headers go along (an evidence chunk's offset, …), the server's
        # Nats-Request-Info does not: the person it proves is checked here and named in ours.
        body = request.data
        headers = {k: v for k, v in (request.headers or {}).items() if k not in (REQUEST_INFO, CALLER_HEADER)}
        try:
            if self.trust is not None:
                reply_to = getattr(getattr(request, "_msg", None), "reply", "") or ""
                caller = self.trust.caller(request.subject, request.headers, reply_to)
                body = self.trust.stamp(request.subject, body, caller)
                headers[CALLER_HEADER] = json.dumps(asdict(caller), ensure_ascii=False)
            data = await self.forward(request.subject, body, headers)
        except DomainError as exc:
            data = _encode(error_reply(exc.code, exc.message, exc.field, exc.message_zh))
        except Exception as exc:
            log.exception("%s (standby): handing on %s failed", self.service, request.subject)
            data = _encode(error_reply("unavailable", f"the standby {self.service} could not hand the request on "
                                       f"({exc.__class__.__name__}); retry",
                                       message_zh=f"备用 `{self.service}` 实例未能转交请求，请重试"))
        with contextlib.suppress(Exception):
            await request.respond(data)

    async def forward(self, subject: str, body: bytes, headers: dict[str, str]) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        target = f"{self.target}.{subject}"
        while True:
            left = deadline - loop.time()
            try:
                msg = await self.nc.request(target, body, timeout=max(0.5, left), headers=headers or None)
                self.forwarded += 1
                return msg.data
            except NoRespondersError:
                if deadline - loop.time() < 0.25:
                    return _encode(error_reply(
                        "unavailable", f"no active {self.service} instance answered within {self.wait:.0f}s "
                        "(one is taking over); retry in a few seconds",
                        message_zh=f"{self.wait:.0f} 秒内没有在岗的 `{self.service}` 实例应答（正在接替），请几秒后重试"))
                await asyncio.sleep(0.2)
            except (NatsTimeout, TimeoutError):
                return _encode(error_reply(
                    "unavailable", f"the active {self.service} instance took the request but did not answer "
                    f"within {self.wait:.0f}s: it may have been carried out; look before sending it again",
                    message_zh=f"在岗的 `{self.service}` 实例已收到请求，但 {self.wait:.0f} 秒内未答复：可能已办理，"
                    "请先查看再决定是否重发"))

    async def stop(self) -> None:
        """Take no more requests. Those in hand carry on: at a takeover they reach this very
        instance once it serves (so this must not wait for them)."""
        if self._micro is not None:
            with contextlib.suppress(Exception):
                await self._micro.stop()
            self._micro = None

    async def close(self, wait: float = 2.0) -> None:
        """Stop, give the requests in hand `wait` seconds to be answered, then drop the rest: their
        callers time out (one already handed on may have been carried out by the active
        instance, as with any request whose reply is lost)."""
        await self.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=wait)
        for task in list(self._tasks):
            task.cancel()


async def _infra(js: JetStreamContext, wb: WatchboardConfig, create: bool, name: str,
                 stop: asyncio.Event) -> tuple[KeyValue, ObjectStore] | None:
    """The standby infrastructure, waiting (as a service waits for its stream) until it exists."""
    said = ""
    while not stop.is_set():
        try:
            return await ensure_standby_infra(js, wb, create=create)
        except (NotFoundError, BucketNotFoundError):
            why = ("the standby streams do not exist yet: the admin makes them with "
                   "`watchboard setup --creds admin.nk` (`watchboard up` does it itself)")
        except Exception as exc:
            why = f"JetStream not ready ({map_nats_error(exc) if not isinstance(exc, TypeError) else exc})"
        if why != said:
            log.warning("%s: %s; waiting", name, why)
            said = why
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)
    return None


async def run_standby(service: Any, ctx: Any, stop: asyncio.Event, ready: asyncio.Event | None) -> None:
    """Follow, take over when the lease is free, serve until stopped or the lease is lost."""
    opts: StandbyOptions = ctx.standby
    wb = load_watchboard(ctx.source)
    name = service.name
    subjects = Subjects(wb.subject_prefix)
    ttl = parse_seconds(wb.standby.lease_ttl) or 2.0
    trust = ctx.trust(wb.subject_prefix)  # a missing or bad registry stops here
    control = await connect(ctx.nats_url, f"watchboard-{name}-{opts.instance}", creds=ctx.creds)
    forwarder: Forwarder | None = None
    follower: ReplicaFollower | None = None
    lease: Lease | None = None
    try:
        found = await _infra(control.jetstream(timeout=5), wb, not ctx.roles, name, stop)
        if found is None:
            return
        kv, obs = found
        # The bucket's own max age is what lets a standby in: fence by it, not by what this
        # instance's config says (another site may have made the bucket).
        bucket_ttl = (await kv.status()).ttl or ttl
        if abs(bucket_ttl - ttl) > 0.01:
            log.warning("%s: the lease bucket keeps a lease %.1fs, watchboard.toml says standby.lease_ttl "
                        "%.1fs; using the bucket's (`watchboard setup` makes it anew)", name, bucket_ttl, ttl)
            ttl = bucket_ttl
        path = ctx.data_dir / f"{name}.sqlite"
        follower = ReplicaFollower(control, subjects.replica(name), path, lambda: get_snapshot(obs, name))
        await _open_follower(follower, name, stop)
        lease = Lease(kv, name, opts.instance, ttl)
        forwarder = Forwarder(control, name, service.description, subjects, opts.instance, trust)
        await forwarder.start()
        opts.role("standby")
        holder = await lease.holder()
        log.info("%s: standing by as %s (active: %s); copy at %d", name, opts.instance, holder or "nobody",
                 follower.applied)
        if not await _wait_for_lease(lease, follower, name, stop):
            return
        log.info("%s: %s takes over as the active instance", name, opts.instance)
        await _serve_active(service, ctx, stop, ready, opts, control, obs, lease, follower, forwarder, wb)
    finally:
        if forwarder is not None:
            await forwarder.close()
        if follower is not None:
            await follower.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(control.drain(), 5)


async def _open_follower(follower: ReplicaFollower, name: str, stop: asyncio.Event) -> None:
    while True:
        try:
            await follower.open()
            return
        except ReplicaGap as exc:
            log.warning("%s: %s", name, exc)
        except Exception as exc:
            log.warning("%s: cannot read the replica stream yet (%s); retrying", name, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)
        if stop.is_set():
            return


async def _wait_for_lease(lease: Lease, follower: ReplicaFollower, name: str, stop: asyncio.Event) -> bool:
    """Follow the active instance until the lease is ours (True) or we are stopped (False)."""
    said = ""
    while not stop.is_set():
        try:
            if await lease.try_acquire():
                return True
            await follower.poll()
            said = ""
        except ReplicaGap as exc:
            if str(exc) != said:
                log.warning("%s: %s", name, exc)
                said = str(exc)
        except Exception as exc:
            why = f"standing by: {exc.__class__.__name__}: {exc}"
            if why != said:
                log.warning("%s: %s; retrying", name, why)
                said = why
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), lease.timing.poll_every)
    return False


async def _serve_active(service: Any, ctx: Any, stop: asyncio.Event, ready: asyncio.Event | None,
                        opts: StandbyOptions, control: Client, obs: ObjectStore, lease: Lease,
                        follower: ReplicaFollower, forwarder: Forwarder, wb: WatchboardConfig) -> None:
    from watchboard.bus.runtime import run_service

    name = service.name
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()

    def on_lost(why: str) -> None:
        if not lost.done():
            lost.set_result(why)

    def on_lost_in_thread(why: str) -> None:
        if opts.on_lost is not None:  # the CLI ends the process at once, whatever the loop does
            opts.on_lost(why)
        loop.call_soon_threadsafe(on_lost, why)

    async def keeper_connection() -> Client:
        return await connect(ctx.nats_url, f"watchboard-{name}-{opts.instance}-lease", retry_for=5, creds=ctx.creds)

    keeper = LeaseThread(lease, keeper_connection, on_lost_in_thread)
    keeper.start()

    async def heartbeat() -> None:
        while True:
            keeper.beat()
            await asyncio.sleep(0.25)

    stopping = asyncio.Event()
    writer: ReplicaWriter | None = None
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(heartbeat())]
    clean = False
    try:
        while True:  # the copy to the stream's end (a gap: the latest snapshot, then the rest)
            try:
                await follower.drain()
                break
            except ReplicaGap as exc:
                log.warning("%s: %s", name, exc)
                await asyncio.sleep(1)
        last = follower.last_seen
        await follower.close()
        await forwarder.stop()  # requests in hand wait for our own endpoints below
        writer = ReplicaWriter(control, Subjects(wb.subject_prefix).replica(name), follower.path,
                               f"{opts.instance}/{uuid.uuid4().hex[:8]}", last, on_conflict=on_lost,
                               stopping=stopping, fence=lambda: None if lease.held else "the lease ran out")
        for durable in DURABLES.get(name, ()):
            await rewind_to_ack_floor(control, durable)
        if lost.done():  # the drain took longer than the lease lasts without us
            raise LeaseLost(lost.result())
        opts.active = True
        service_stop, service_ready = asyncio.Event(), asyncio.Event()
        token = ON_OPEN.set(writer.hook)
        try:
            runner = asyncio.create_task(run_service(service, ctx, service_stop, service_ready))
        finally:
            ON_OPEN.reset(token)  # the task took its own copy of the context
        tasks.append(runner)
        tasks.append(asyncio.create_task(_snapshots(writer, obs, name, service_ready, wb)))
        tasks.append(asyncio.create_task(_tell_ready(service_ready, ready, opts)))
        stopper = asyncio.create_task(stop.wait())
        tasks.append(stopper)
        done, _ = await asyncio.wait({runner, stopper, lost}, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[arg-type]
        if lost in done:
            why = lost.result()
            log.error("%s: %s is no longer the active instance: %s", name, opts.instance, why)
            if opts.on_lost is not None:
                opts.on_lost(why)  # the CLI ends the process here, before anything else is done
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            raise LeaseLost(why)
        service_stop.set()
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(runner), 30)
        except TimeoutError:
            runner.cancel()
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        clean = stop.is_set()
    finally:
        if not clean:  # cancelled or failed: renew no more (commits stay fenced by the lease's time)
            keeper.halt()
        stopping.set()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(keeper.stop)
        if writer is not None:
            await writer.close()
        if clean:
            await lease.release()  # a standby takes over at once, not after the lease expires
        opts.active = False


async def _tell_ready(service_ready: asyncio.Event, ready: asyncio.Event | None, opts: StandbyOptions) -> None:
    await service_ready.wait()
    opts.role("active")
    if ready is not None:
        ready.set()


async def _snapshots(writer: ReplicaWriter, obs: ObjectStore, name: str, service_ready: asyncio.Event,
                     wb: WatchboardConfig) -> None:
    """A snapshot once the service serves, then every `standby.snapshot_every`."""
    every = parse_seconds(wb.standby.snapshot_every) or 600.0
    await service_ready.wait()
    while True:
        try:
            data, applied = await writer.snapshot()
            await put_snapshot(obs, name, data)
            log.info("%s: snapshot of the store put for standbys (%d bytes, stream position %d)", name,
                     len(data), applied)
        except (ReplicaConflict, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.warning("%s: putting a snapshot failed (%s); next try in a minute", name, exc)
            await asyncio.sleep(min(60.0, every))
            continue
        await asyncio.sleep(every)


@dataclass(frozen=True)
class InstanceInfo:
    """One running instance as it answers `$SRV.PING` (watchboard status)."""

    service: str
    id: str
    version: str
    role: str  # "active" | "standby" | "" (a service run without --standby)
    instance: str
    metrics: str = ""  # where its Prometheus metrics are ("" : off)


async def service_instances(nc: Client, wait: float = 1.0) -> list[InstanceInfo]:
    """Every instance that answers one `$SRV.PING` round within `wait` seconds."""
    out: list[InstanceInfo] = []
    for info in await survey(nc, "$SRV.PING", wait):
        with contextlib.suppress(AttributeError, TypeError):
            meta = info.get("metadata") or {}
            out.append(InstanceInfo(str(info.get("name", "?")), str(info.get("id", "")),
                                    str(info.get("version", "")), str(meta.get("role", "")),
                                    str(meta.get("instance", "")), str(meta.get("metrics", ""))))
    return sorted(out, key=lambda i: (i.service, i.role != "active", i.instance))
