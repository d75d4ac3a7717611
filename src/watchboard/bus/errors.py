"""Bus errors: nats-py's exceptions translated into ours at one boundary.

    BusError
    ├── Unavailable        the server or a responder cannot be reached (retry later)
    │   ├── NotConnected   no connection right now (reconnecting)
    │   ├── BusTimeout     a request or publish ack did not come back in time
    │   └── NoResponders   nobody listens on the subject (the service is down)
    └── StreamError        JetStream refused (wrong config, limits, stream missing)

`map_nats_error` picks the most specific match and chains the cause; a test fails when
an error of nats-py is left unmapped.
"""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors


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
