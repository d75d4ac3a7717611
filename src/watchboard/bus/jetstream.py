"""JetStream set-up and publishing: the stream `WATCHBOARD`, the bucket `wb-board`,
events published with a deterministic `Nats-Msg-Id`, every wait bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from watchboard.bus.errors import map_nats_error
from watchboard.bus.pipeline import Ack, Out, Sent, pipeline_of
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.config import WatchboardConfig, parse_seconds
from watchboard.domain.events import Event, encode_event, event_type, owner_of
from watchboard.domain.views import KV_BUCKET

KV_STREAM = f"KV_{KV_BUCKET}"

log = logging.getLogger("watchboard.bus")

PUBLISH_TIMEOUT = 5.0  # seconds for one publish ack; nats-py's own futures may never resolve


def stream_config(cfg: WatchboardConfig) -> api.StreamConfig:
    max_age = parse_seconds(cfg.stream.max_age) if cfg.stream.max_age != "0" else None
    return api.StreamConfig(
        name=STREAM,
        subjects=[Subjects(cfg.subject_prefix).events],
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        num_replicas=cfg.stream.replicas,
        max_age=max_age or None,
        duplicate_window=parse_seconds(cfg.stream.duplicate_window) or 120.0,
        # Direct get: how the people's accounts read an incident's timeline without any
        # JetStream API of their own (read-only, answered by the server; docs/architecture.md).
        allow_direct=True,
        # Atomic batches: a batch's effects stored together with one disk sync (bus/pipeline.py).
        allow_atomic=True,
    )


async def ensure_stream(js: JetStreamContext, cfg: WatchboardConfig) -> None:
    """Create the stream, or bring an existing one in line with the config."""
    wanted = stream_config(cfg)
    try:
        await asyncio.wait_for(js.stream_info(STREAM), PUBLISH_TIMEOUT)
    except NotFoundError:
        await asyncio.wait_for(js.add_stream(wanted), PUBLISH_TIMEOUT)
        log.info("created stream %s", STREAM)
        return
    except Exception as exc:
        raise map_nats_error(exc) from exc
    try:
        await asyncio.wait_for(js.update_stream(wanted), PUBLISH_TIMEOUT)
    except Exception as exc:
        raise map_nats_error(exc) from exc


async def ensure_board_bucket(js: JetStreamContext, cfg: WatchboardConfig) -> KeyValue:
    """Create the bucket (nats-py makes it with per-message TTL allowed), or let an existing one
    answer direct gets (the board's snapshot), take per-message TTL (history) and atomic batches."""
    try:
        kv = await asyncio.wait_for(js.key_value(KV_BUCKET), PUBLISH_TIMEOUT)
    except BucketNotFoundError:
        kv = None
    except Exception as exc:
        raise map_nats_error(exc) from exc
    try:
        if kv is None:
            kv = await asyncio.wait_for(
                js.create_key_value(bucket=KV_BUCKET, history=1, replicas=cfg.stream.replicas,
                                    storage=api.StorageType.FILE, direct=True,
                                    description="watchboard: current facts per incident, one writer per key"),
                PUBLISH_TIMEOUT,
            )
        info = await asyncio.wait_for(js.stream_info(KV_STREAM), PUBLISH_TIMEOUT)
        # A bucket made by an older version (or by nats-py, which knows no atomic batches): direct
        # gets (the board's snapshot), per-message TTL (the board's index, and purge markers that
        # expire: history), atomic batches (a batch of views stored with one disk sync).
        config = info.config
        if not (config.allow_direct and config.allow_msg_ttl and config.allow_atomic):
            config.allow_direct = config.allow_msg_ttl = config.allow_atomic = True
            await asyncio.wait_for(js.update_stream(config), PUBLISH_TIMEOUT)
        return kv
    except Exception as exc:
        raise map_nats_error(exc) from exc


class NotReady(Exception):
    """Roles on: the stream or the bucket is missing, and only the admin may make them."""


async def check_ready(js: JetStreamContext) -> KeyValue:
    """Roles on, a service only checks that the admin made the stream and the bucket."""
    for name in (STREAM, KV_STREAM):
        try:
            await asyncio.wait_for(js.stream_info(name), PUBLISH_TIMEOUT)
        except NotFoundError:
            raise NotReady(f"stream {name} does not exist yet: the admin makes it with "
                           "`watchboard setup --creds admin.nk` (`watchboard up` does it itself)") from None
        except Exception as exc:
            raise map_nats_error(exc) from exc
    try:
        return await asyncio.wait_for(js.key_value(KV_BUCKET), PUBLISH_TIMEOUT)
    except Exception as exc:
        raise map_nats_error(exc) from exc


async def setup(js: JetStreamContext, cfg: WatchboardConfig) -> None:
    """The admin's job with roles on (a service's own at start with roles off): the stream,
    the board's bucket and the evidence bucket; what standby instances need; at a hub, its
    towns' stream; and every bucket brought to the configured replicas."""
    from watchboard.bus.cluster import align_replicas
    from watchboard.bus.site import ensure_sites_stream
    from watchboard.bus.standby import ensure_standby_infra
    from watchboard.evidence_store import ensure_store  # it reads through bus.reader: no cycle at import

    await ensure_stream(js, cfg)
    await ensure_board_bucket(js, cfg)
    await ensure_store(js, cfg)
    await ensure_standby_infra(js, cfg, create=True)  # leases, replicas, snapshots (`serve --standby`)
    await ensure_sites_stream(js, cfg)  # a hub: its towns' reports (watchboard.toml [[sites]])
    changed = await align_replicas(js, cfg)  # a config now asking for 3 copies (a cluster)
    if changed:
        log.info("replicas brought to %d: %s", cfg.stream.replicas, ", ".join(changed))


class EventPublisher:
    """Publishes events to `wb.ev.<owner>.<incident>.<type>` with `Nats-Msg-Id = event.id`, through
    the connection's `Pipeline` (bus/pipeline.py: acks awaited together, atomic batches)."""

    def __init__(self, nc: Client, subjects: Subjects, timeout: float = PUBLISH_TIMEOUT) -> None:
        self.pipeline = pipeline_of(nc, timeout)
        self.subjects = subjects
        self.timeout = timeout

    def subject_of(self, event: Event) -> str:
        kind = event_type(event)
        return self.subjects.event(owner_of(event), event.incident_id, kind)

    def out(self, event: Event) -> Out:
        return Out(self.subject_of(event), encode_event(event), event.id)

    async def publish(self, event: Event) -> Ack:
        """Publish one event and wait (bounded) for the stream's ack."""
        return (await self.publish_all([event]))[0]

    async def send(self, event: Event) -> Sent:
        """Put the event on the wire now (so callers holding a lock keep stream order); await
        its ack with `confirm`, which bounds the wait."""
        return await self.pipeline.send([self.out(event)], self.timeout)

    async def confirm(self, sent: Sent) -> Ack:
        result = (await sent.wait())[0]
        if isinstance(result, BaseException):
            raise map_nats_error(result) from result
        return result

    async def publish_all(self, events: Sequence[Event]) -> list[Ack]:
        """Publish many events in order, their acks awaited together (an atomic batch from
        `ATOMIC_MIN` on); all stored, or the first failure raised (mapped)."""
        return await self.pipeline.publish_all([self.out(e) for e in events], STREAM, self.timeout)
