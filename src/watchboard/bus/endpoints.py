"""Request/reply endpoints on the NATS service API (`$SRV.PING/INFO/STATS` for free).

A handler is `async (payload: dict, raw: bytes) -> dict`; the wrapper turns it into the
reply shape of DESIGN.md §4.2:

    {"ok": true, ...}
    {"ok": false, "error": {"code": "invalid|not_found|conflict|forbidden|unavailable",
                            "field": "…", "message": "…", "message_zh": "…"}}

(`message` in English, `message_zh` its Chinese twin, for the Chinese CLI and board.)

Our typed errors become error replies (never nats.py's generic "500" with a repr), and an
unexpected exception becomes `unavailable` pointing to the log, where its traceback is
(a reply never names a Python type, nor echoes the request).
Requests are handled concurrently (bounded), because a handler waits for a stream ack and
one slow request must not hold the next.

Ready means ready (issue 13): `start` only answers `$SRV.PING` with `"status": "loading"` in its
metadata (a plain subscription, no endpoint); the endpoints a service adds while it loads its
state and catches up are registered by `open`, with the service API itself, once the runtime says
it is ready. Until then a request finds no responder here (another, ready instance of the
service answers it if there is one), and the board and `watchboard up` say who is still loading.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import PING_RESPONSE_TYPE, Service

from watchboard import __version__
from watchboard.bus.errors import BusError
from watchboard.bus.trust import Caller, Trust
from watchboard.domain.commands import Command, decode_command
from watchboard.domain.errors import DomainError, Invalid

log = logging.getLogger("watchboard.bus")

Handler = Callable[[dict[str, Any], bytes], Awaitable[dict[str, Any]]]
C = TypeVar("C", bound=Command)
RawHandler = Callable[[bytes], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Call:
    """A request as a handler that needs more than its body sees it: its headers and, roles on,
    the person the server proved sent it (None with roles off)."""

    data: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    caller: Caller | None = None


CallHandler = Callable[[Call], Awaitable[dict[str, Any]]]


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def error_reply(code: str, message: str, field: str | None = None, message_zh: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if field:
        err["field"] = field
    err["message_zh"] = message_zh or message
    return {"ok": False, "error": err}


def _encode(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, ensure_ascii=False, default=str).encode()


# A reply never names a Python type: what JSON calls the value instead.
_JSON_WORDS: dict[type, str] = {list: "a list", str: "a string", int: "a number", float: "a number",
                                bool: "true or false", type(None): "null"}


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a DomainError naming `body`."""
    from watchboard.domain.errors import Invalid

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("body", f"body is not UTF-8 text (byte {exc.start})",
                      zh=f"请求内容不是 UTF-8 文本（第 {exc.start} 字节）") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid("body", f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                      zh=f"请求内容不是合法的 JSON（第 {exc.lineno} 行第 {exc.colno} 列有误）") from exc
    if not isinstance(value, dict):
        raise Invalid("body", f"body must be a JSON object, got {_JSON_WORDS.get(type(value), 'something else')}",
                      zh="请求内容须为一个 JSON 对象（{…}）")
    return value


class Endpoints:
    """A service's request/reply endpoints, registered with the NATS service API."""

    def __init__(self, nc: Client, name: str, description: str, *, concurrency: int = 256,
                 trust: Trust | None = None, metadata: dict[str, str] | None = None,
                 health: Callable[[], dict[str, Any]] | None = None) -> None:
        self.nc = nc
        self.name = name
        self.description = description
        # Roles on: every request must come from a person the server authenticated, who is
        # then written into the body (`watchboard.bus.trust`) before any handler reads it.
        self.trust = trust
        self._service: Service | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: list[tuple[str, str, CallHandler]] = []  # added while loading
        self._loading: list[Subscription] = []
        self.loading_detail = "state"  # what it is loading: the PING reply says (state | catching up)
        self.metadata = metadata  # standby mode: {"role": "active", "instance": …} ($SRV.PING/INFO)
        self._handlers: dict[str, CallHandler] = {}  # subject → handler, for forwarded requests
        self._forwarded: Any = None
        # The instance's health (bus/health.py): the `data` of each endpoint in `$SRV.STATS`.
        self.health = health

    async def start(self) -> None:
        """Answer `$SRV.PING` as loading; the endpoints wait for `open`."""
        payload = {"type": PING_RESPONSE_TYPE, "name": self.name, "id": self.nc.new_inbox().rsplit(".", 1)[-1],
                   "version": __version__}

        async def ping(msg: Msg) -> None:
            if msg.reply:
                body = {**payload, "metadata": {**(self.metadata or {}), "status": "loading",
                                                "loading": self.loading_detail}}
                with contextlib.suppress(Exception):
                    await self.nc.publish(msg.reply, json.dumps(body).encode())

        for subject in ("$SRV.PING", f"$SRV.PING.{self.name}"):
            self._loading.append(await self.nc.subscribe(subject, cb=ping))

    @property
    def opened(self) -> bool:
        return self._service is not None

    async def open(self) -> None:
        """Ready: register the service and every endpoint added so far; stop answering as loading."""
        if self._service is not None:
            return
        for sub in self._loading:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._loading = []
        health = self.health
        self._service = await add_service(self.nc, name=self.name, version=__version__,
                                          description=self.description,
                                          metadata={**(self.metadata or {}), "status": "ready"},
                                          stats_handler=(lambda _endpoint: health()) if health else None)
        pending, self._pending = self._pending, []
        for name, subject, handler in pending:
            await self._register(name, subject, handler)

    async def add(self, name: str, subject: str, handler: Handler) -> None:
        await self.add_raw(name, subject, lambda raw: handler(parse_json_object(raw), raw))

    async def command(self, type_: type[C], subject: str, handler: Callable[[C], Awaitable[dict[str, Any]]]) -> None:
        """A typed command endpoint: the body is decoded as `type_` (`Invalid` naming the field)."""
        async def on_raw(raw: bytes) -> dict[str, Any]:
            command = decode_command(type_, raw)
            if not command.actor.strip():
                raise Invalid("actor", "`actor` is required: say who does this (--actor NAME)",
                              zh="未填写操作人：请用 `--actor 姓名` 注明由谁办理")
            return await handler(command)

        await self.add_raw(type_.verb, subject, on_raw)

    async def add_raw(self, name: str, subject: str, handler: RawHandler) -> None:
        await self.add_call(name, subject, lambda call: handler(call.data))

    async def add_call(self, name: str, subject: str, handler: CallHandler) -> None:
        """An endpoint whose handler gets the whole `Call` (headers, proven caller); registered
        at once when open, else by `open`."""
        if self._service is None:
            self._pending.append((name, subject, handler))
            return
        await self._register(name, subject, handler)

    async def _register(self, name: str, subject: str, handler: CallHandler) -> None:
        assert self._service is not None

        async def on_request(request: Request) -> None:
            await self._slots.acquire()
            task = asyncio.create_task(self._answer(request, handler))
            self._tasks.add(task)
            task.add_done_callback(self._done)

        await self._service.add_endpoint(name=name, subject=subject, handler=on_request,
                                         queue_group=self.name)
        self._handlers[subject] = handler

    async def accept_forwarded(self, prefix: str) -> None:
        """Standby mode: answer the requests a standby instance took and handed on to
        `<prefix>.<subject>` (watchboard.bus.standby). The standby checked the caller and
        wrote the person into the body already, and says who it was in a header; only the
        service's own users may publish there, so the request is taken as it comes."""
        from watchboard.bus.standby import forwarded_caller

        async def on_msg(msg: Any) -> None:
            subject = msg.subject[len(prefix) + 1:]
            handler = self._handlers.get(subject)
            headers = dict(msg.headers or {})

            async def answer() -> None:
                if handler is None and self._service is None:  # ready means ready: not before
                    reply = error_reply("unavailable", f"{self.name} is still loading ({self.loading_detail}); "
                                        "try again in a moment",
                                        message_zh=f"`{self.name}` 服务仍在加载，请稍后重试")
                elif handler is None:
                    reply = error_reply("unavailable", f"{self.name} does not answer {subject}",
                                        message_zh=f"`{self.name}` 服务不受理 {subject}")
                else:
                    caller = forwarded_caller(headers)
                    reply = await self._reply_for(subject, handler, Call(msg.data, headers, caller))
                    if caller is not None and reply.get("ok"):
                        reply.setdefault("actor", caller.name)
                try:
                    await msg.respond(_encode(reply))
                except Exception as exc:
                    log.debug("%s: could not reply to a forwarded %s: %s", self.name, subject, exc)

            await self._slots.acquire()
            task = asyncio.create_task(answer())
            self._tasks.add(task)
            task.add_done_callback(self._done)

        self._forwarded = await self.nc.subscribe(f"{prefix}.>", queue=self.name, cb=on_msg)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _answer(self, request: Request, handler: CallHandler) -> None:
        caller = None

        async def checked(call: Call) -> dict[str, Any]:
            nonlocal caller
            body = call.data
            if self.trust is not None:
                # nats.micro's Request keeps the message's reply subject only in its `_msg`.
                reply_to = getattr(getattr(request, "_msg", None), "reply", "") or ""
                caller = self.trust.caller(request.subject, request.headers, reply_to)
                body = self.trust.stamp(request.subject, body, caller)
            return await handler(Call(body, call.headers, caller))

        reply = await self._reply_for(request.subject, checked, Call(request.data, dict(request.headers or {})))
        if caller is not None and reply.get("ok"):
            reply.setdefault("actor", caller.name)  # who the record names, for the caller to show
        try:
            await request.respond(_encode(reply))
        except Exception as exc:  # the requester may be gone; nothing to do
            log.debug("%s: could not reply on %s: %s", self.name, request.subject, exc)

    async def _reply_for(self, subject: str, handler: CallHandler, call: Call) -> dict[str, Any]:
        """The handler's reply, or the error reply its failure makes."""
        try:
            return await handler(call)
        except DomainError as exc:
            return error_reply(exc.code, exc.message, exc.field, exc.message_zh)
        except BusError as exc:
            # The reply says what to do, never the exception's names (those go to the log).
            log.warning("%s: request on %s: %s", self.name, subject, exc)
            return error_reply("unavailable", "the bus did not confirm in time; check the incident (watchboard show) "
                               f"before trying again; the {self.name} log says more",
                               message_zh="总线未能及时确认；重试前请先查看该舆情（`watchboard show`），"
                               f"详见 `{self.name}` 服务日志")
        except Exception:
            log.exception("%s: request on %s failed", self.name, subject)
            return error_reply("unavailable", f"internal error; see the {self.name} log",
                               message_zh=f"服务内部出错，请查看 `{self.name}` 服务日志")

    async def stop(self) -> None:
        for sub in self._loading:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._loading = []
        if self._forwarded is not None:
            with contextlib.suppress(Exception):
                await self._forwarded.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._service is not None:
            try:
                await self._service.stop()
            except Exception:
                pass
