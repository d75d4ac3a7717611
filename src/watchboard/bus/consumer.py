"""The durable pull-consumer loop: fetch a batch, let the handler commit its effects, ack.
Fetches return as soon as an event arrived (bus/pull.py).

Contract with the handler (`BatchHandler`): it receives the decoded events of one batch
in stream order and returns only after every effect is committed (SQLite written, effect
events acked by the stream, KV put). Then, and only then, the loop acks the messages.
If the handler raises, nothing is acked: the batch is redelivered after a short delay, and
because effects carry deterministic ids and the handler records what it processed, the
redelivery is harmless. A message whose body cannot be decoded is a writer's bug: it is
logged with its subject and sequence and terminated, so it cannot block the stream.

Events only from their owner: an event is accepted only on its owning service's subject
(`wb.ev.<service>.<incident>.<type>`, the service that owns the type in `OWNER`), with the
subject's type and incident equal to the body's. Anything else — a grade published on intake's
subject, a body that says another type than its subject — is logged and terminated, never
handed to the service (`misplaced`). With roles on the server already refuses a service's
publish on another's subjects; this check is what holds with roles off, and behind a
misconfigured server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import NotFoundError

from watchboard.bus.errors import map_nats_error
from watchboard.bus.pull import Pull
from watchboard.bus.subjects import STREAM
from watchboard.domain.events import NO_INCIDENT, OWNER, AnyEvent, decode_event, event_type

log = logging.getLogger("watchboard.bus")


@dataclass(frozen=True)
class Delivered:
    event: AnyEvent
    subject: str
    stream_seq: int
    num_delivered: int


BatchHandler = Callable[[Sequence[Delivered]], Awaitable[None]]


@dataclass
class ConsumerStats:
    batches: int = 0
    events: int = 0
    skipped: int = 0
    refused: int = 0  # events not on their owner's subject: terminated, never handled
    failures: int = 0
    last_error: str = ""
    # For health and metrics (bus/health.py, watchboard/metrics.py): events the server still
    # holds for this consumer after the last fetch, whether the last fetch or batch failed, and
    # a callback told of every handled batch (events, seconds in the handler).
    lag: int = 0
    failing: bool = False
    on_batch: Callable[[int, float], None] | None = None


def event_head(filters: Sequence[str]) -> str:
    """`wb.ev.` from a filter `wb.ev.intake.>` (every filter is built by `Subjects.from_service`)."""
    first = filters[0] if filters else "wb.ev.>"
    at = first.find(".ev.")
    return first[: at + 4] if at >= 0 else "wb.ev."


def misplaced(head: str, subject: str, event: AnyEvent) -> str | None:
    """Why `event` may not be accepted from `subject`, or None when its owner sent it there."""
    if not subject.startswith(head):
        return f"{subject} is not an event subject ({head}<service>.<incident>.<type>)"
    parts = subject[len(head):].split(".", 2)
    if len(parts) != 3:
        return f"{subject} is not {head}<service>.<incident>.<type>"
    service, incident, kind = parts
    etype = event_type(event)
    owner = OWNER.get(etype)
    if owner != service:
        return f"{etype} belongs to {owner}, but came on {service}'s subject"
    if kind != etype:
        return f"the subject says {kind}, the body {etype}"
    if incident != (event.incident_id or NO_INCIDENT):
        return f"the subject names incident {incident}, the body {event.incident_id or NO_INCIDENT}"
    return None


async def ensure_consumer(nc: Client, durable: str, filters: Sequence[str], *,
                          ack_wait: float = 30.0, max_ack_pending: int = 2000) -> None:
    """Create the durable consumer, or update its filters if the service's version changed them."""
    js = nc.jetstream(timeout=5)
    config = api.ConsumerConfig(
        durable_name=durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
        filter_subjects=list(filters) if len(filters) > 1 else None,
        filter_subject=filters[0] if len(filters) == 1 else None,
    )
    try:
        info = await js.consumer_info(STREAM, durable)
        current = info.config.filter_subjects or ([info.config.filter_subject]
                                                  if info.config.filter_subject else [])
        if sorted(current) != sorted(filters):
            await js.add_consumer(STREAM, config)  # same durable name: an update
    except NotFoundError:
        await js.add_consumer(STREAM, config)


async def run_consumer(
    nc: Client,
    durable: str,
    filters: Sequence[str],
    handle: BatchHandler,
    stop: asyncio.Event,
    *,
    batch: int = 256,
    fetch_timeout: float = 1.0,
    stats: ConsumerStats | None = None,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set. Survives disconnects: it waits and fetches again.

    `caught_up` is set once nothing is pending for the consumer: at once when its info says
    so, else after the batch whose last message had nothing after it (or a fetch found none)."""
    stats = stats or ConsumerStats()
    js = nc.jetstream(timeout=5)
    sub: Pull | None = None
    while not stop.is_set():
        try:
            if sub is None:
                await ensure_consumer(nc, durable, filters)
                sub = await Pull(nc, STREAM, durable).start()
                if caught_up is not None and not caught_up.is_set():
                    info = await js.consumer_info(STREAM, durable)
                    if not info.num_pending:
                        caught_up.set()
            try:
                msgs = await sub.fetch(batch, fetch_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                stats.lag, stats.failing = 0, False  # nothing came within the wait: nothing pending
                if caught_up is not None:
                    caught_up.set()
                continue
            if msgs:
                stats.lag = len(msgs) + (msgs[-1].metadata.num_pending or 0)
            await _process(msgs, handle, stats, event_head(filters))
            stats.lag -= len(msgs) if msgs else 0
            stats.failing = False
            if caught_up is not None and msgs and not msgs[-1].metadata.num_pending:
                caught_up.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stats.failing = True
            stats.failures += 1
            stats.last_error = f"{exc.__class__.__name__}: {exc}"
            try:
                mapped = map_nats_error(exc)
                log.warning("consumer %s: %s; retrying", durable, mapped)
            except TypeError:
                log.error("consumer %s: handler failed (%s: %s); the batch will be redelivered",
                          durable, exc.__class__.__name__, exc, exc_info=stats.failures == 1)
            if isinstance(exc, NotFoundError) and sub is not None:
                await sub.unsubscribe()
                sub = None
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    if sub is not None:
        try:
            await sub.unsubscribe()
        except Exception:
            pass


async def _process(msgs: list[Msg], handle: BatchHandler, stats: ConsumerStats, head: str = "wb.ev.") -> None:
    items: list[Delivered] = []
    keep: list[Msg] = []
    for msg in msgs:
        meta = msg.metadata
        try:
            event = decode_event(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("undecodable event at %s seq %s: %s; terminated", msg.subject,
                      meta.sequence.stream, exc)
            await msg.term()
            continue
        if event is None:  # a type from a newer version: not ours to understand
            stats.skipped += 1
            keep.append(msg)
            continue
        problem = misplaced(head, msg.subject, event)
        if problem is not None:
            stats.refused += 1
            log.error("refused event %s at %s seq %s: %s; terminated, not acted on", event.id, msg.subject,
                      meta.sequence.stream, problem)
            await msg.term()
            continue
        items.append(Delivered(event, msg.subject, meta.sequence.stream, meta.num_delivered))
        keep.append(msg)
    if items:
        began = time.perf_counter()
        try:
            await handle(items)
            if stats.on_batch is not None:
                stats.on_batch(len(items), time.perf_counter() - began)
        except Exception:
            # Nothing acked: ask for redelivery a little later, not in a tight loop.
            for msg in keep:
                try:
                    await msg.nak(delay=2)
                except Exception:
                    pass
            raise
    for msg in keep:
        await msg.ack()
    stats.batches += 1
    stats.events += len(items)


async def catch_up(nc: Client, durable: str, filters: Sequence[str], handle: BatchHandler, *,
                   batch: int = 512, idle: float = 0.3, limit: float = 120.0) -> int:
    """Process what the durable consumer has pending, then return (before serving requests).

    Returns how many events were handled; stops after `idle` seconds without a message, or
    after `limit` seconds in all (the regular loop takes over from there).
    """
    js = nc.jetstream(timeout=5)
    await ensure_consumer(nc, durable, filters)
    if not (await js.consumer_info(STREAM, durable)).num_pending:
        return 0  # caught up already: no fetch waiting `idle` for nothing (a restart's common case)
    sub = await Pull(nc, STREAM, durable).start()
    stats = ConsumerStats()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    try:
        while loop.time() < deadline:
            try:
                msgs = await sub.fetch(batch, idle)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            await _process(msgs, handle, stats, event_head(filters))
    finally:
        await sub.unsubscribe()
    return stats.events


async def rewind_to_ack_floor(nc: Client, durable: str) -> int:
    """At a takeover: what the dead instance fetched but never acked is delivered again at
    once, in stream order, instead of after `ack_wait` and behind later events.

    Recreates the durable at its ack floor (same config, starting at the first unacked
    sequence). Events after the floor that were acked come again too; the store's processed
    ids skip them. Returns how many were pending (0: nothing done)."""
    js = nc.jetstream(timeout=5)
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return 0
    pending = info.num_ack_pending or 0
    if not pending:
        return 0
    config = info.config
    config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
    config.opt_start_seq = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
    config.opt_start_time = None
    await js.delete_consumer(STREAM, durable)
    await js.add_consumer(STREAM, config)
    log.info("consumer %s: %d events the previous instance held are delivered again from %d", durable,
             pending, config.opt_start_seq)
    return pending
