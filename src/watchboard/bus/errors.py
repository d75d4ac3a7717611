"""Bus errors: nats-py's exceptions translated into ours at one boundary.

    BusError
    ├── Unavailable        the server or a responder cannot be reached (retry later)
    │   ├── NotConnected   no connection right now (reconnecting)
    │   ├── BusTimeout     a request or publish ack did not come back in time
    │   └── NoResponders   nobody listens on the subject (the service is down)
    ├── NotPermitted       roles on: the server refused this identity's publish (its role)
    └── StreamError        JetStream refused (wrong config, limits, stream missing)

`map_nats_error` picks the most specific match and chains the cause; a test fails when
an error of nats-py is left unmapped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import nats.errors
import nats.js.errors

T = TypeVar("T")


class BusError(Exception):
    code = "unavailable"
    retryable = True


class Unavailable(BusError):
    pass


class NotConnected(Unavailable):
    pass


class BusTimeout(Unavailable):
    pass


class NoResponders(Unavailable):
    pass


class StreamError(BusError):
    retryable = False


class NotPermitted(BusError):
    """The server refused to carry a publish of ours: this identity's role may not send there."""

    code = "forbidden"
    retryable = False

    def __init__(self, subject: str) -> None:
        super().__init__(f"the NATS server refused to carry {subject} for this identity: its role may not send it")
        self.subject = subject


def _violation(nc: Any, subject: str, before: object) -> bool:
    err = nc.last_error
    # nats-py lower-cases the server's "Permissions Violation for Publish to \"subject\"".
    return err is not None and err is not before and f'publish to "{subject.lower()}"' in str(err).lower()


async def unless_refused(nc: Any, subject: str, work: Awaitable[T]) -> T:
    """`work` (a request on `subject`), unless the server says we may not publish there.

    A publish the server refuses gets no reply: without this the caller would wait its whole
    timeout and then say "no reply". nats-py keeps the server's -ERR as `last_error`."""
    before = nc.last_error
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.05)
            if not task.done() and _violation(nc, subject, before):
                raise NotPermitted(subject)
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            # Its exception (the connection closing under it) is nobody's to report.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())


# Order matters: the first match wins, so subclasses come before their bases.
_MAP: list[tuple[type[BaseException], type[BusError]]] = [
    (nats.js.errors.NoStreamResponseError, NoResponders),
    (nats.js.errors.ServiceUnavailableError, Unavailable),
    (nats.js.errors.APIError, StreamError),
    (nats.errors.NoRespondersError, NoResponders),
    (nats.errors.TimeoutError, BusTimeout),
    (asyncio.TimeoutError, BusTimeout),
    (TimeoutError, BusTimeout),
    (nats.errors.ConnectionClosedError, NotConnected),
    (nats.errors.ConnectionReconnectingError, NotConnected),
    (nats.errors.ConnectionDrainingError, NotConnected),
    (nats.errors.StaleConnectionError, NotConnected),
    (nats.errors.OutboundBufferLimitError, NotConnected),
    (nats.errors.NoServersError, NotConnected),
    (ConnectionError, NotConnected),
    (OSError, NotConnected),
    (nats.errors.Error, Unavailable),
]


def map_nats_error(exc: BaseException) -> BusError:
    if isinstance(exc, BusError):
        return exc
    for source, target in _MAP:
        if isinstance(exc, source):
            mapped = target(f"{target.__name__}: {exc.__class__.__name__}: {exc}".rstrip(": "))
            mapped.__cause__ = exc
            return mapped
    raise TypeError(f"unmapped error {exc!r}") from exc
