"""Connect to NATS with reconnect for ever and a visible connection state.

A service or board that starts before NATS waits for it (retrying, logging once per
attempt interval) instead of failing; once connected, nats-py reconnects by itself and
we only report the state changes through `on_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import nats
from nats.aio.client import Client

from watchboard.bus.credentials import Credentials
from watchboard.bus.feed_types import Connection

log = logging.getLogger("watchboard.bus")

StateCallback = Callable[[Connection], None]


class ConnectionWatch:
    """Holds the latest connection state and tells listeners when it changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.state = Connection(state="connecting", at=datetime.now(UTC), url=url)
        self._listeners: list[StateCallback] = []
        self.changed = asyncio.Event()

    def listen(self, callback: StateCallback) -> None:
        self._listeners.append(callback)
        callback(self.state)

    def set(self, state: str, error: str = "") -> None:
        self.state = Connection(state=state, at=datetime.now(UTC), url=self.url, error=error)  # type: ignore[arg-type]
        self.changed.set()
        for callback in list(self._listeners):
            try:
                callback(self.state)
            except Exception:  # a listener's bug must not break the connection
                log.exception("connection listener failed")


def _redact(url: str) -> str:
    """nats://user:secret@host → nats://user:***@host, for logs and the board."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    cred, host = rest.rsplit("@", 1)
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class Refused(ConnectionError):
    """The server answered but would not let us in: `kind` is "credentials" or "tls"."""

    def __init__(self, kind: str, url: str, detail: str) -> None:
        super().__init__(f"NATS at {url} refused us ({kind}): {REFUSALS[kind]} [{detail}]")
        self.kind, self.url, self.detail = kind, url, detail


REFUSALS = {
    "credentials": "no key, or an unknown or revoked one: give a person's credentials with --creds FILE "
                   "or $WATCHBOARD_CREDS",
    "tls": "the server needs TLS with certificates of the site's CA: put ca.crt and this identity's "
           ".crt/.key beside the credentials, or give --tls-ca",
    # The server may close the socket before its -ERR is read: it took the connection, then
    # dropped it while we logged in, which means the key or the certificate.
    "reset": "the server closed the connection as we logged in: it refused the credentials "
             "(--creds) or the certificate (--tls-ca, the .crt beside the credentials)",
}


def refusal(reason: str) -> str | None:
    """Which refusal `reason` (a connection error's text) is, if the server refused us."""
    text = reason.lower()
    if "authorization violation" in text or "authentication" in text:
        return "credentials"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "tls"
    if "connection reset" in text or "unexpected eof" in text:
        return "reset"
    return None


async def connect(
    url: str,
    name: str,
    *,
    watch: ConnectionWatch | None = None,
    retry_for: float | None = None,
    retry_every: float = 1.0,
    creds: Credentials | None = None,
) -> Client:
    """Connect to `url` (comma-separated for a cluster), waiting for the server if needed.

    `retry_for` bounds the wait in seconds (None: wait for ever, as services do); a refusal
    (credentials, certificate) within it raises `Refused` saying what to do. `creds`: the
    identity's nkey seed and TLS files (None: anonymous, for a server with roles off).
    """
    watch = watch or ConnectionWatch(_redact(url))
    servers = [u.strip() for u in url.split(",") if u.strip()]
    options = creds.options() if creds is not None else {}

    async def disconnected() -> None:
        watch.set("disconnected")

    async def reconnected() -> None:
        watch.set("connected")

    async def closed() -> None:
        watch.set("closed")

    refused_now = asyncio.Event()

    async def error(exc: Exception) -> None:
        # nats-py calls this for every failed reconnect attempt; state, not a traceback.
        if watch.state.state != "connected":
            watch.set("reconnecting", error=str(exc) or exc.__class__.__name__)
            if refusal(watch.state.error):
                refused_now.set()  # nats-py would try the same refused key again and again

    loop = asyncio.get_running_loop()
    deadline = None if retry_for is None else loop.time() + retry_for
    attempt = 0
    while True:
        attempt += 1
        refused_now.clear()
        try:
            # nats-py retries an unreachable server for ever inside connect() when reconnects are
            # unlimited, so each attempt is bounded here and the loop decides what happens next.
            nc = await _first_of(refused_now, nats.connect(
                servers=servers,
                name=name,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                ping_interval=5,
                max_outstanding_pings=3,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                closed_cb=closed,
                error_cb=error,
                **options,
            ), timeout=2 * len(servers) + 1)
            watch.set("connected")
            return nc
        except Exception as exc:  # nats-py raises several kinds; all mean "not yet"
            # The error callback saw the real cause (refused, unreachable…); a timeout says less.
            reason = watch.state.error or str(exc) or exc.__class__.__name__
            watch.set("reconnecting", error=reason)
            refused = refusal(reason)
            if deadline is not None and loop.time() + retry_every > deadline:
                if refused:
                    raise Refused(refused, _redact(url), reason) from exc
                raise ConnectionError(f"cannot reach NATS at {_redact(url)}: {reason}") from exc
            if attempt == 1 or attempt % 30 == 0:
                # A refusal may end with a reload of the server (a key added): keep trying, say why.
                log.warning("waiting for NATS at %s (%s)", _redact(url),
                            f"{REFUSALS[refused]}: {reason}" if refused else reason)
            await asyncio.sleep(retry_every)


async def _first_of(refused: asyncio.Event, connecting: Awaitable[Client], timeout: float) -> Client:
    """The connection, unless the server refuses us first or `timeout` passes (then raise)."""
    task = asyncio.ensure_future(connecting)
    waiter = asyncio.ensure_future(refused.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        raise ConnectionError("refused" if waiter in done else "timed out")
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
