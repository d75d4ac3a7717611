"""State rebuilt from the stream (issue 12): a service whose store is new — missing, moved aside
by `watchboard serve NAME --rebuild`, or left half-rebuilt by a crash — replays the stream into
it before it serves.

The replay reads the service's own events and its inputs up to the last sequence stored when
it began (`Plan.last_seq`), in stream order, through an ephemeral consumer (nothing acked, gone
when done). What each service does with them is its own (services/<name>/rebuild.py), on one
principle, because replaying inputs through `step` recomputes effects that are already in the
stream, and JetStream drops a re-published id only within its duplicate window:

- its own events restore what it decided (grades, clocks, slips, notices sent, acks);
- inputs the old store had handled (at or below its durable consumer's ack floor) restore only
  what it knew (features, moments, owner, memo): their effects are never made again;
- inputs above the ack floor (never handled, or handled but not acked) go through `step` as the
  consumer would; of their effects, those whose ids the replay met among its own events are
  dropped, the others are committed to the outbox;
- every input read is recorded as processed, so the durable consumer skips it afterwards.

All of it is committed in ONE transaction with the removal of the store's `rebuild_pending`
mark (store/sqlite.py sets it on a new store): a crash mid-rebuild leaves an empty store that
is rebuilt again on the next start. Progress goes to the log every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import NotFoundError

from watchboard.bus.consumer import Delivered
from watchboard.bus.subjects import STREAM
from watchboard.domain.events import Event, decode_event, encode_event
from watchboard.store.sqlite import rebuilt

if TYPE_CHECKING:
    from watchboard.bus.runtime import Runtime
    from watchboard.store.outbox import Outbox
    from watchboard.store.states import StateTable

log = logging.getLogger("watchboard.rebuild")

FETCH = 1_000  # messages per fetch
PROGRESS_EVERY = 3.0  # seconds between progress lines


class RebuildError(Exception):
    """The stream could not be read to the end: the service stops (exit 1) with this one line,
    and the store stays marked, so the next start rebuilds it again."""


@dataclass
class Plan:
    """How far to replay and what the old store had handled."""

    last_seq: int  # the stream's last sequence when the rebuild began: replayed up to here
    floor: int  # the durable consumer's ack floor: inputs at or below it were handled
    own: str  # the subject prefix of the service's own events (`wb.ev.grading.`)


@dataclass
class Tally:
    read: int = 0
    own: int = 0
    known: int = 0  # inputs at or below the floor: knowledge only
    stepped: int = 0  # inputs above it: through `step`
    skipped: int = 0  # unknown types or unreadable bodies
    seconds: float = 0.0
    incidents: int = 0
    effects: int = 0  # effects committed to the outbox (not in the stream)
    dropped: int = 0  # effects found in the stream: not published again


@dataclass
class Effects:
    """Effects of stepped inputs, kept until the replay is over: an effect whose id the replay
    meets among the service's own events (later in the stream than its cause) is dropped."""

    pending: dict[str, Event] = field(default_factory=dict)
    dropped: int = 0

    def add(self, effects: Sequence[Event]) -> None:
        for e in effects:
            self.pending.setdefault(e.id, e)

    def seen(self, event_id: str) -> None:
        if self.pending.pop(event_id, None) is not None:
            self.dropped += 1

    def left(self) -> list[Event]:
        return list(self.pending.values())


async def plan(nc: Client, durable: str | None, own: str) -> Plan:
    """The stream's last sequence and the durable consumer's ack floor (0 without a consumer:
    every input goes through `step`, as a new consumer would take them)."""
    js = nc.jetstream(timeout=5)
    try:
        info = await asyncio.wait_for(js.stream_info(STREAM), 6)
        last = info.state.last_seq if info.state.messages else 0
    except NotFoundError:
        last = 0
    floor = 0
    if durable:
        try:
            consumer = await asyncio.wait_for(js.consumer_info(STREAM, durable), 6)
            floor = consumer.ack_floor.stream_seq if consumer.ack_floor else 0
        except NotFoundError:
            floor = 0
    return Plan(last_seq=last, floor=min(floor, last), own=own)


Handle = Callable[[Sequence[Delivered]], Awaitable[None] | None]


async def replay(nc: Client, service: str, filters: Sequence[str], p: Plan, handle: Handle) -> Tally:
    """Feed every event on `filters` up to `p.last_seq` to `handle`, in stream order, in batches."""
    tally = Tally()
    started = time.monotonic()
    if p.last_seq == 0:
        return tally
    js = nc.jetstream(timeout=10)
    # One name per service, so that roles on can allow it (a permission matches whole tokens, not a
    # name's prefix); a consumer a crashed rebuild left (half read) goes first.
    name = rebuild_consumer(service)
    try:
        await asyncio.wait_for(js.delete_consumer(STREAM, name), 10)
    except NotFoundError:
        pass
    config = api.ConsumerConfig(name=name, deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.NONE,
                                inactive_threshold=120.0, max_waiting=8, **_filters(filters))
    info = await asyncio.wait_for(js.add_consumer(STREAM, config), 10)
    total = info.num_pending
    log.info("%s: rebuilding the store from the stream: up to %s events to read (to sequence %s; "
             "inputs handled up to %s)", service, f"{total:,}", f"{p.last_seq:,}", f"{p.floor:,}")
    sub = await js.pull_subscribe_bind(name, STREAM)
    shown = time.monotonic()
    try:
        while tally.read < total:
            try:
                msgs = await sub.fetch(min(FETCH, total - tally.read), timeout=10)
            except (TimeoutError, nats.errors.TimeoutError):
                raise RebuildError(f"the stream sent nothing for 10 s while rebuilding ({tally.read:,} of {total:,} "
                                   "events read); is NATS overloaded? start the service again to retry") from None
            batch: list[Delivered] = []
            done = False
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq > p.last_seq:
                    done = True
                    break
                tally.read += 1
                event = _decode(msg.data)
                if event is None:
                    tally.skipped += 1
                    continue
                batch.append(Delivered(event, msg.subject, seq, 1))
                if msg.subject.startswith(p.own):
                    tally.own += 1
                elif seq <= p.floor:
                    tally.known += 1
                else:
                    tally.stepped += 1
            if batch:
                result = handle(batch)
                if result is not None:
                    await result
            if time.monotonic() - shown >= PROGRESS_EVERY:
                shown = time.monotonic()
                log.info("%s: rebuilding: %s of %s events (%d%%)", service, f"{tally.read:,}", f"{total:,}",
                         100 * tally.read // max(total, 1))
            if done or (msgs and msgs[-1].metadata.num_pending == 0):
                break
    finally:
        try:
            await sub.unsubscribe()
            await js.delete_consumer(STREAM, name)
        except Exception:  # inactive_threshold removes it anyway
            pass
    tally.seconds = time.monotonic() - started
    return tally


def rebuild_consumer(service: str) -> str:
    """The name of the ephemeral consumer a service's rebuild reads the stream with."""
    return f"rebuild-{service}"


def _filters(filters: Sequence[str]) -> dict[str, object]:
    return {"filter_subjects": list(filters)} if len(filters) > 1 else {"filter_subject": filters[0]}


def _decode(data: bytes) -> Event | None:
    try:
        return decode_event(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def report(service: str, tally: Tally) -> None:
    log.info("%s: rebuilt from the stream in %.1f s: %s events (%s its own, %s inputs known, %s handled now, "
             "%s skipped); %s incidents; %s effects dropped as already stored, %s to publish", service,
             tally.seconds, f"{tally.read:,}", f"{tally.own:,}", f"{tally.known:,}", f"{tally.stepped:,}",
             f"{tally.skipped:,}", f"{tally.incidents:,}", f"{tally.dropped:,}", f"{tally.effects:,}")


def move_aside(path: Path, now: datetime | None = None) -> list[Path]:
    """`watchboard serve NAME --rebuild`: rename the store (and its -wal, -shm) to
    `<name>.before-rebuild-<UTC time>`, kept for a person to inspect; returns the new paths."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            target = Path(f"{path.with_suffix('')}.before-rebuild-{stamp}{path.suffix}{suffix}")
            source.rename(target)
            moved.append(target)
    return moved


# --- the shape grading and deadlines share: a state table keyed by incident ----------------------

S = TypeVar("S")
Learn = Callable[[S | None, Event], S | None]
Step = Callable[[S | None, Event, datetime], tuple[S | None, list[Event]]]


async def rebuild_states(rt: Runtime, table: StateTable[S], outbox: Outbox, *, durable: str,
                         inputs: Sequence[str], learn: Learn[S], restore: Learn[S], step: Step[S],
                         on_own: Callable[[Event], None] | None = None,
                         before_commit: Callable[[], Awaitable[None]] | None = None) -> Tally:
    """Replay into an empty state table (see the module docstring): own events through
    `restore`, inputs through `learn` (handled before) or `step` (not yet), every input
    recorded as processed; effects not met in the stream go to the outbox. One commit."""
    assert rt.nc is not None and rt.publisher is not None
    service = rt.name
    own = rt.subjects.from_service(service)
    p = await plan(rt.nc, durable, own.removesuffix(">"))
    tx = table.begin()
    effects = Effects()

    def one(d: Delivered) -> None:
        e, key = d.event, d.event.incident_id
        if d.subject.startswith(p.own):
            effects.seen(e.id)
            if on_own is not None:
                on_own(e)
            new = restore(tx.get(key), e)
        else:
            tx.done(e.id, d.stream_seq)
            if d.stream_seq <= p.floor:
                new = learn(tx.get(key), e)
            else:
                new, out = step(tx.get(key), e, rt.now())
                effects.add(out)
        if new is not None:
            tx.put(key, new)

    def handle(batch: Sequence[Delivered]) -> None:
        for d in batch:
            one(d)

    tally = await replay(rt.nc, service, [own, *inputs], p, handle)
    left = effects.left()
    publisher = rt.publisher
    await outbox.add((e.id, publisher.subject_of(e), encode_event(e)) for e in left)
    if before_commit is not None:
        await before_commit()
    await rebuilt(table.db)
    await tx.commit()
    tally.incidents, tally.effects, tally.dropped = len(tx.overlay), len(left), effects.dropped
    report(service, tally)
    return tally
