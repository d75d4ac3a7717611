"""Read the events a report needs from the stream `WATCHBOARD` — the only part of the reports
that touches NATS. Every wait is bounded; nothing is created or kept on the server.

It reads with the stream's direct-get API only (batched `next_by_subj` pages, as the board's
reader does, `watchboard.bus.reader`): with roles on (docs/architecture.md, "Trust") that is
what notify — which sends the daily and weekly reports on schedule — and the operators' and
leaders' accounts may use; no JetStream consumer is needed.

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
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from watchboard.bus.errors import BusError, NotPermitted, unless_refused
from watchboard.bus.reader import Stored
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.domain.events import NO_INCIDENT, Event, IncidentReported, decode_event

Progress = Callable[[int, int], None]  # (events read, events expected)
STOP_MARGIN = timedelta(days=1)  # events stamped this long after the period end the replay
PAGE = 1000  # events per direct-get page (about 1 ms each on a 2-core machine)
MAX_COMPLETE = 5_000  # incidents whose earlier history one report reads at most
REQUEST_TIMEOUT = 6.0
DIRECT = f"$JS.API.DIRECT.GET.{STREAM}"


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


def _refused(exc: BaseException) -> ReplayError:
    """A direct get that failed, in words a person can act on."""
    if isinstance(exc, NotPermitted):
        return ReplayError(f"this account may not read the stream {STREAM} (roles: only operators, approvers, "
                           "leaders and the notify service may); use such credentials (--creds)")
    if isinstance(exc, nats.errors.NoRespondersError):
        return ReplayError(f"the stream {STREAM} does not answer: has watchboard ever run on this server "
                           "(or may this account not read it)?")
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        return ReplayError(f"the stream {STREAM} did not answer within {REQUEST_TIMEOUT:.0f} s: "
                           "is NATS with JetStream running?")
    return ReplayError(f"reading the stream {STREAM} failed: {exc}")


async def _get(nc: Client, body: dict[str, object]) -> Stored | None:
    """One message by a direct get (`seq` + `next_by_subj`, or `last_by_subj`); None if none."""
    try:
        msg = await unless_refused(nc, DIRECT, nc.request(DIRECT, json.dumps(body).encode(),
                                                          timeout=REQUEST_TIMEOUT))
    except (BusError, nats.errors.Error, TimeoutError) as exc:
        raise _refused(exc) from None
    headers = dict(msg.headers or {})
    status = headers.get("Status", "")
    if status == "404":
        return None
    if status:
        raise ReplayError(f"direct get on {STREAM}: {status} {headers.get('Description', '')}".strip())
    return Stored(headers.get("Nats-Subject", ""), int(headers.get("Nats-Sequence", "0") or 0), headers, msg.data)


class _Pager:
    """Direct-get pages on one inbox: each message taken in the subscription's callback (a wait
    per message, as `bus.reader.page` does it, costs about twice the time over 100,000 events);
    the page ends with the server's `204` (what remains in `Nats-Num-Pending`) or `404`."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.inbox = nc.new_inbox()
        self.sub: Any = None
        self.got: list[Stored] = []
        self.pending = 0
        self.problem = ""
        self.done = asyncio.Event()

    async def __aenter__(self) -> _Pager:
        self.sub = await self.nc.subscribe(self.inbox, cb=self._on_msg)
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await asyncio.wait_for(self.sub.unsubscribe(), 5)
        except Exception:  # leaving: nothing is left on the server
            pass

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get("Status", "") if headers else ""
        if not status:
            assert headers is not None
            self.got.append(Stored(headers.get("Nats-Subject", ""), int(headers.get("Nats-Sequence", "0") or 0),
                                   headers, msg.data))
            return
        if status == "204":
            self.pending = int(headers.get("Nats-Num-Pending", "0") or 0) if headers else 0
        elif status != "404":
            self.problem = f"{status} {headers.get('Description', '') if headers else ''}".strip()
        self.done.set()

    async def page(self, subject: str, seq: int, deadline: float) -> tuple[list[Stored], int]:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise ReplayError("the replay did not finish in time; give --timeout more seconds")
        self.got, self.pending, self.problem = [], 0, ""
        self.done.clear()
        body = json.dumps({"next_by_subj": subject, "seq": seq, "batch": PAGE}).encode()
        try:
            await unless_refused(self.nc, DIRECT, self._ask(body, min(left, 15.0)))
        except (BusError, nats.errors.Error) as exc:
            raise _refused(exc) from None
        except TimeoutError:
            raise ReplayError(f"the stream {STREAM} stopped answering after {len(self.got):,} events of a page: "
                              "is the NATS server overloaded or gone?") from None
        if self.problem.startswith("503"):
            raise _refused(nats.errors.NoRespondersError())
        if self.problem:
            raise ReplayError(f"direct get on {STREAM}: {self.problem}")
        return self.got, self.pending

    async def _ask(self, body: bytes, timeout: float) -> None:
        await self.nc.publish(DIRECT, body, reply=self.inbox)
        await asyncio.wait_for(self.done.wait(), timeout)


async def _bounds(nc: Client, subject: str) -> tuple[int, int] | None:
    """The first and last sequence of the events on `subject`; None when there is none."""
    last = await _get(nc, {"last_by_subj": subject})
    if last is None:
        return None
    first = await _get(nc, {"seq": 1, "next_by_subj": subject})
    return (first.seq if first else last.seq), last.seq


async def _first_at_or_after(nc: Client, seq: int, subject: str) -> tuple[int, datetime] | None:
    """The sequence and `at` of the first event at or after `seq`; None past the end."""
    found = await _get(nc, {"seq": seq, "next_by_subj": subject})
    if found is None:
        return None
    try:
        at = _at_decoder.decode(found.data or b"{}").at
    except msgspec.DecodeError:
        return found.seq or seq, datetime.max.replace(tzinfo=UTC)  # unreadable: counts as late
    return found.seq or seq, at


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


async def _read(nc: Client, subject: str, *, start_seq: int, last_seq: int, out: Replayed, deadline: float,
                stop: Callable[[int, Event | None], bool], progress: Progress | None = None,
                expected: int = 0) -> list[tuple[int, Event]]:
    """(sequence, event) on `subject` from `start_seq`, page by page, until `stop`, past
    `last_seq`, or the end."""
    events: list[tuple[int, Event]] = []
    read, seq = 0, start_seq
    async with _Pager(nc) as pager:
        while True:
            stored, pending = await pager.page(subject, seq, deadline)
            for msg in stored:
                if msg.seq > last_seq:
                    return events
                read += 1
                event = _decode(msg.data, out)
                if stop(msg.seq, event):
                    return events
                if event is not None:
                    events.append((msg.seq, event))
            if progress is not None:
                progress(read, expected)
            if not stored or pending <= 0:
                return events
            seq = stored[-1].seq + 1


async def replay_window(nc: Client, subjects: Subjects, since: datetime, until: datetime, *,
                        timeout: float = 300.0, idle: float = 15.0, progress: Progress | None = None) -> Replayed:
    """The events from `since` (the period's start minus the look-back) to just after `until`,
    with the earlier events of incidents the window holds only in part. Stream order. (`idle`:
    kept for callers; each page's wait is bounded by the time left, at most 15 s.)"""
    started = time.monotonic()
    deadline = asyncio.get_running_loop().time() + timeout
    out = Replayed()
    bounds = await _bounds(nc, subjects.events)
    if bounds is None:
        out.seconds = time.monotonic() - started
        return out
    first, out.last_seq = bounds
    out.start_seq = await find_start(nc, subjects, since, first, out.last_seq)
    if out.start_seq > out.last_seq:
        out.seconds = time.monotonic() - started
        return out
    stop_at = until + STOP_MARGIN
    window = await _read(nc, subjects.events, start_seq=out.start_seq, last_seq=out.last_seq, out=out,
                         deadline=deadline, stop=lambda _seq, e: e is not None and e.at > stop_at,
                         progress=progress, expected=out.last_seq - out.start_seq + 1)
    out.window = len(window)
    earlier = await _complete(nc, subjects, [e for _, e in window], out, deadline=deadline)
    out.events = earlier + [e for _, e in window]
    out.seconds = time.monotonic() - started
    return out


def partial_incidents(events: list[Event]) -> list[str]:
    """Incidents with events in `events` but not their report: the window holds them in part."""
    reported = {e.incident_id for e in events if isinstance(e, IncidentReported)}
    seen = dict.fromkeys(e.incident_id for e in events if e.incident_id != NO_INCIDENT)
    return [i for i in seen if i not in reported]


async def _complete(nc: Client, subjects: Subjects, window: list[Event], out: Replayed, *,
                    deadline: float) -> list[Event]:
    """The events before the window of incidents the window holds in part, read incident by
    incident (their subjects), stopping at the window's first sequence."""
    partial = partial_incidents(window)
    out.incomplete = max(0, len(partial) - MAX_COMPLETE)
    partial = partial[:MAX_COMPLETE]
    earlier: list[tuple[int, Event]] = []
    for incident in partial:
        earlier += await _read(nc, subjects.of_incident(incident), start_seq=1, last_seq=out.start_seq - 1,
                               out=out, deadline=deadline, stop=lambda _seq, _e: False)
    earlier.sort(key=lambda pair: pair[0])  # stream order across incidents
    out.completed, out.earlier = len(partial), len(earlier)
    return [e for _, e in earlier]


async def replay_incident(nc: Client, subjects: Subjects, incident_id: str, *, timeout: float = 120.0,
                          idle: float = 15.0, progress: Progress | None = None) -> Replayed:
    """Every event of one incident, from the start of the stream (its review)."""
    started = time.monotonic()
    out = Replayed()
    subject = subjects.of_incident(incident_id)
    bounds = await _bounds(nc, subject)
    if bounds is None:
        out.seconds = time.monotonic() - started
        return out
    out.start_seq, out.last_seq = bounds
    read = await _read(nc, subject, start_seq=out.start_seq, last_seq=out.last_seq, out=out,
                       deadline=asyncio.get_running_loop().time() + timeout, stop=lambda _seq, _e: False,
                       progress=progress)
    out.events = [e for _, e in read]
    out.window = len(out.events)
    out.seconds = time.monotonic() - started
    return out
