"""Read the events a report needs from the stream `WATCHBOARD` — the only part of the reports
that touches NATS. Every wait is bounded; nothing is acknowledged or kept on the server (ordered
consumers are ephemeral, in memory, and go away when we leave).

A period's report reads the stream from the first event whose own time (`at`) is at or after
the period's start minus the look-back, found by a binary search over sequence numbers (the
events' `at`, not the server's storage time, is what the reports count: the two agree on a
live system, and the search stays right for a stream copied or restored elsewhere). It stops at
the last event stored when it began, or at the first event more than a day past the period.
An incident that the window shows only in part (its report is older than the look-back) then
gets its earlier events read too, so its grade, owner and clocks are whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import NotFoundError

from watchboard.bus.subjects import STREAM, Subjects
from watchboard.domain.events import NO_INCIDENT, Event, IncidentReported, decode_event

Progress = Callable[[int, int], None]  # (events read, events expected)
STOP_MARGIN = timedelta(days=1)  # events stamped this long after the period end the replay
COMPLETE_BATCH = 100  # incidents per consumer when reading earlier histories
MAX_COMPLETE = 5_000  # incidents whose earlier history one report reads at most


class ReplayError(Exception):
    """The stream could not be read in time, or not at all: said so a person can act."""


class _At(msgspec.Struct):
    at: datetime


_at_decoder = msgspec.json.Decoder(_At)


@dataclass
class Replayed:
    events: list[Event] = field(default_factory=list)
    window: int = 0  # events read from the window
    earlier: int = 0  # events read for incidents the window held only in part
    completed: int = 0  # such incidents
    incomplete: int = 0  # such incidents beyond MAX_COMPLETE, left in part
    start_seq: int = 0
    last_seq: int = 0
    unknown: int = 0  # event types this version does not know, skipped
    broken: int = 0  # known types with a body this version cannot read, skipped
    seconds: float = 0.0


async def _stream_state(nc: Client) -> api.StreamState:
    js = nc.jetstream(timeout=5)
    try:
        info = await asyncio.wait_for(js.stream_info(STREAM), 6)
    except NotFoundError:
        raise ReplayError(f"the stream {STREAM} does not exist: has watchboard ever run on this server?") from None
    except (TimeoutError, nats.errors.TimeoutError):
        raise ReplayError(f"no answer about the stream {STREAM} within 6 s: is NATS with JetStream running?") from None
    return info.state


async def _first_at_or_after(nc: Client, seq: int, subject: str) -> tuple[int, datetime] | None:
    """The sequence and `at` of the first event at or after `seq`; None past the end."""
    jsm = nc.jetstream(timeout=5)
    try:
        msg = await asyncio.wait_for(jsm.get_msg(STREAM, seq=seq, subject=subject, next=True), 6)
    except NotFoundError:
        return None
    except (TimeoutError, nats.errors.TimeoutError):
        raise ReplayError("the stream did not answer within 6 s while looking for the period's start") from None
    try:
        at = _at_decoder.decode(msg.data or b"{}").at
    except msgspec.DecodeError:
        return msg.seq or seq, datetime.max.replace(tzinfo=UTC)  # unreadable: counts as late
    return msg.seq or seq, at


async def find_start(nc: Client, subjects: Subjects, since: datetime, first: int, last: int) -> int:
    """The first sequence whose event is stamped at or after `since` (last + 1 if none): a binary
    search, so the cost is about 17 requests for 100,000 events whatever the window."""
    lo, hi = first, last + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = await _first_at_or_after(nc, mid, subjects.events)
        if found is None or found[1] >= since:
            hi = mid
        else:
            lo = found[0] + 1
    return lo


def _decode(data: bytes, out: Replayed) -> Event | None:
    try:
        event = decode_event(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        out.broken += 1
        return None
    if event is None:
        out.unknown += 1
    return event


class _Reader:
    """The messages of one ordered consumer, taken in its callback (about twice as fast as a
    `next_msg` per message, which arms a timer each time); the waiting side bounds the time."""

    def __init__(self, out: Replayed, last_seq: int, stop: Callable[[int, Event | None], bool]) -> None:
        self.out, self.last_seq, self.stop = out, last_seq, stop
        self.events: list[Event] = []
        self.read = 0
        self.finished = asyncio.Event()
        self.last_activity = asyncio.get_running_loop().time()

    async def on_msg(self, msg: Msg) -> None:
        if self.finished.is_set():
            return
        self.read += 1
        self.last_activity = asyncio.get_running_loop().time()
        meta = msg.metadata
        seq = meta.sequence.stream
        event = _decode(msg.data, self.out)
        if self.stop(seq, event):
            self.finished.set()
            return
        if event is not None:
            self.events.append(event)
        if seq >= self.last_seq or meta.num_pending == 0:
            self.finished.set()


async def _read(nc: Client, subject: str, config: api.ConsumerConfig, *, last_seq: int, out: Replayed,
                deadline: float, idle: float, stop: Callable[[int, Event | None], bool],
                progress: Progress | None = None, expected: int = 0, fatal_idle: bool = True) -> list[Event]:
    """Read through an ordered consumer until `stop`, the last sequence, or nothing pending."""
    js = nc.jetstream(timeout=5)
    loop = asyncio.get_running_loop()
    reader = _Reader(out, last_seq, stop)
    try:
        sub = await asyncio.wait_for(js.subscribe(subject, stream=STREAM, ordered_consumer=True, config=config,
                                                  idle_heartbeat=2.0, cb=reader.on_msg), 10)
    except (TimeoutError, nats.errors.TimeoutError):
        raise ReplayError("could not open a reader on the stream within 10 s") from None
    try:
        while not reader.finished.is_set():
            now = loop.time()
            if now >= deadline:
                raise ReplayError(f"the replay did not finish in time ({reader.read:,} events read); "
                                  "give --timeout more seconds")
            if now - reader.last_activity >= idle:
                if not fatal_idle:
                    break
                raise ReplayError(f"no event arrived for {idle:.0f} s after {reader.read:,} events: "
                                  "is the NATS server overloaded or gone?")
            try:
                await asyncio.wait_for(reader.finished.wait(), min(0.25, deadline - now))
            except TimeoutError:
                pass
            if progress is not None:
                progress(reader.read, expected)
    finally:
        reader.finished.set()  # the callback ignores what still comes
        try:
            await asyncio.wait_for(sub.unsubscribe(), 5)
        except Exception:  # leaving: the ephemeral consumer goes away on its own
            pass
    if progress is not None:
        progress(reader.read, expected)
    return reader.events


async def replay_window(nc: Client, subjects: Subjects, since: datetime, until: datetime, *,
                        timeout: float = 300.0, idle: float = 15.0, progress: Progress | None = None) -> Replayed:
    """The events from `since` (the period's start minus the look-back) to just after `until`,
    with the earlier events of incidents the window holds only in part. Stream order."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    out = Replayed()
    state = await _stream_state(nc)
    out.last_seq = state.last_seq
    if state.messages == 0:
        out.seconds = time.monotonic() - started
        return out
    out.start_seq = await find_start(nc, subjects, since, state.first_seq, state.last_seq)
    if out.start_seq > state.last_seq:
        out.seconds = time.monotonic() - started
        return out
    stop_at = until + STOP_MARGIN
    config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=out.start_seq)
    window = await _read(nc, subjects.events, config, last_seq=state.last_seq, out=out, deadline=deadline, idle=idle,
                         stop=lambda _seq, e: e is not None and e.at > stop_at, progress=progress,
                         expected=state.last_seq - out.start_seq + 1)
    out.window = len(window)
    earlier = await _complete(nc, subjects, window, out, deadline=deadline, idle=idle)
    out.events = earlier + window
    out.seconds = time.monotonic() - started
    return out


def partial_incidents(events: list[Event]) -> list[str]:
    """Incidents with events in `events` but not their report: the window holds them in part."""
    reported = {e.incident_id for e in events if isinstance(e, IncidentReported)}
    seen = dict.fromkeys(e.incident_id for e in events if e.incident_id != NO_INCIDENT)
    return [i for i in seen if i not in reported]


async def _complete(nc: Client, subjects: Subjects, window: list[Event], out: Replayed, *, deadline: float,
                    idle: float) -> list[Event]:
    """The events before the window of incidents the window holds in part, read per batch of
    incidents through one ordered consumer each, stopping at the window's first sequence."""
    partial = partial_incidents(window)
    out.incomplete = max(0, len(partial) - MAX_COMPLETE)
    partial = partial[:MAX_COMPLETE]
    earlier: list[Event] = []
    for i in range(0, len(partial), COMPLETE_BATCH):
        batch = partial[i:i + COMPLETE_BATCH]
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL,
                                    filter_subjects=[subjects.of_incident(x) for x in batch])
        # Each incident of the batch has an event in the window, so the reader always meets
        # one at or past the window's start and stops there; a short idle wait covers the rest.
        earlier += await _read(nc, subjects.of_incident(batch[0]), config, last_seq=out.start_seq - 1, out=out,
                               deadline=deadline, idle=min(idle, 3.0), fatal_idle=False,
                               stop=lambda seq, _e: seq >= out.start_seq)
    out.completed, out.earlier = len(partial), len(earlier)
    return earlier


async def replay_incident(nc: Client, subjects: Subjects, incident_id: str, *, timeout: float = 120.0,
                          idle: float = 15.0, progress: Progress | None = None) -> Replayed:
    """Every event of one incident, from the start of the stream (its review)."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    out = Replayed()
    state = await _stream_state(nc)
    out.last_seq = state.last_seq
    subject = subjects.of_incident(incident_id)
    first = await _first_at_or_after(nc, state.first_seq or 1, subject) if state.messages else None
    if first is None:
        out.seconds = time.monotonic() - started
        return out
    out.start_seq = first[0]
    config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first[0])
    out.events = await _read(nc, subject, config, last_seq=state.last_seq, out=out, deadline=loop.time() + timeout,
                             idle=idle, stop=lambda _seq, _e: False, progress=progress)
    out.window = len(out.events)
    out.seconds = time.monotonic() - started
    return out
