"""Pull requests to a durable consumer that come back as soon as something arrived.

nats-py's `fetch(batch, timeout)` sends a `no_wait` request first and, when that finds the
consumer empty (or reads a status left over from an earlier request), a plain request with
`expires`. The server holds a plain request until the batch is full or it expires, and
nats-py waits with it: an event that arrives while that request is out is handed over only
when the fetch's timeout ends. In `bench.e2e` that was one report in twenty or so with its
clocks or first notice ~0.7 s late (its graded event waited out deadlines' fetch of 1 s) on an
idle system, where the others took ~20 ms.

Every request here is `no_wait` with `expires` (nats-server 2.9+): the server waits up to
`expires` for the first message, then delivers what is there and ends the request at once
(404), so a fetch returns within a few milliseconds of the first event. Each request has its
own reply subject under one subscription: a status ends only the request it answers, so a
late 404 or 408 of an earlier request cannot end the current one early or late. Messages that
come for an earlier request (the client stopped waiting for it first) are real deliveries:
the next fetch hands them over.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

log = logging.getLogger("watchboard.bus")

GRACE = 1.0  # seconds past `expires` the client still waits for the server's own end of a request
_ENDED = ("404", "408")  # no messages (any more) / the request expired


class Pull:
    """Fetches from one durable consumer of `stream` (see the module docstring)."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.durable = durable
        self.prefix = nc.new_inbox()
        self.tokens = itertools.count(1)
        self.queue: asyncio.Queue[Msg] = asyncio.Queue()
        self.sub: Subscription | None = None

    async def start(self) -> Pull:
        async def received(msg: Msg) -> None:
            self.queue.put_nowait(msg)

        self.sub = await self.nc.subscribe(f"{self.prefix}.*", cb=received)
        return self

    async def unsubscribe(self) -> None:
        if self.sub is not None:
            sub, self.sub = self.sub, None
            await sub.unsubscribe()

    async def fetch(self, batch: int, wait: float) -> list[Msg]:
        """Up to `batch` messages: those there now, or the first to arrive within `wait` seconds
        and what came with it. Raises `nats.errors.TimeoutError` when none came; `NotFoundError`
        when the consumer is gone (the caller creates it again)."""
        if self.sub is None:
            await self.start()
        reply = f"{self.prefix}.{next(self.tokens)}"
        request = {"batch": batch, "expires": max(1, int(wait * 1e9)), "no_wait": True}
        await self.nc.publish(self.next_subject, json.dumps(request).encode(), reply=reply)
        msgs: list[Msg] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait + GRACE
        while len(msgs) < batch:
            try:
                msg = self.queue.get_nowait()  # what has come already: no wait (no task) per message
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    msg = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
            status = msg.headers.get("Status") if msg.headers else None
            if status is None:
                msgs.append(msg)  # a delivery (of this request or an earlier one)
                if self.queue.empty() and msg.metadata.num_pending == 0:
                    break  # nothing more behind it: the server's 404 follows, no need to wait for it
                continue
            if msg.subject != reply or status == "100":
                continue  # an earlier request's end, or a heartbeat
            if status in _ENDED:
                break
            description = msg.headers.get("Description", "") if msg.headers else ""
            if status == "409" and "deleted" in description.lower():
                raise NotFoundError(code=404, description=f"consumer {self.durable}: {description}")
            if status == "503":
                raise nats.errors.NoRespondersError
            log.debug("pull %s: %s %s", self.durable, status, description)
            break  # 409 leadership change, max waiting, …: this request is over; the next is sent
        if not msgs:
            raise nats.errors.TimeoutError
        return msgs
