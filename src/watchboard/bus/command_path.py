"""One path for every operator command: decode → lock → begin → decide → put → finish → after.

A service wires each command in one line:

    await path.serve(rt, Regrade, command_regrade)

`serve` registers the endpoint `wb.cmd.<verb>` on the NATS service API; with roles on the
endpoint first refuses (`forbidden`) a request that did not come from a person through the
server's import, and writes that person as `actor` (`watchboard.bus.trust`); a request is decoded
with the command's typed decoder (`Invalid` naming the field on any problem), then, under the
service's decision lock, its pure decider runs on the current state:

    decide(state | None, command, Ctx(now, request_id)) -> (new state | None, effects)

The service supplies how a change is made durable (`finish`, inside the lock: e.g. publish
the effects and views and commit; or commit with an outbox) and what waits outside it
(`after`: e.g. flush the outbox, confirm a publish), and how a reply is built from the
effects. Errors the decider raises (`Invalid`, `NotFound`, `Conflict`) become error replies
in `Endpoints`; nothing has been written then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from watchboard.bus.endpoints import Endpoints, ok
from watchboard.domain.commands import Command, Ctx
from watchboard.domain.errors import Invalid
from watchboard.domain.events import Event, new_ulid

S = TypeVar("S")
C = TypeVar("C", bound=Command)
T = TypeVar("T")


class Tx(Protocol[S]):
    def get(self, key: str) -> S | None: ...
    def put(self, key: str, state: S) -> None: ...


Decider = Callable[[S | None, C, Ctx], tuple[S | None, list[Event]]]
Reply = Callable[[Command, list[Event]], dict[str, Any]]


def event_reply(command: Command, effects: list[Event]) -> dict[str, Any]:
    """The default reply: the incident, the id and time of the event that records the command."""
    fields: dict[str, Any] = {"event_id": effects[-1].id, "at": effects[-1].at.isoformat()} if effects else {}
    incident = getattr(command, "incident_id", None)
    return ok(**({"incident_id": incident} if incident is not None else {}), **fields)


@dataclass
class CommandPath(Generic[S, T]):
    """A service's command path: its lock, how a change begins, is made durable and confirmed."""

    lock: asyncio.Lock
    begin: Callable[[], Tx[S]]
    finish: Callable[[Tx[S], list[Event]], Awaitable[T]]
    after: Callable[[T], Awaitable[None]] | None
    now: Callable[[], Any]

    async def run(self, command: C, decide: Decider[S, C], key: str | None = None) -> list[Event]:
        """Decide `command` on the current state of `key` (default: its incident) and make it durable."""
        if not command.actor.strip():
            raise Invalid("actor", "`actor` is required: say who does this (--actor NAME)",
                          zh="未填写操作人：请用 `--actor 姓名` 注明由谁办理")
        now = self.now()
        ctx = Ctx(now=now, request_id=new_ulid(now))
        key = key if key is not None else getattr(command, "incident_id", "")
        async with self.lock:
            tx = self.begin()
            ensure = getattr(tx, "ensure", None)
            if ensure is not None:  # a long-closed incident is read back from disk when named
                await ensure(key)
            new, effects = decide(tx.get(key), command, ctx)
            if new is not None:
                tx.put(key, new)
            done = await self.finish(tx, effects)
        if self.after is not None:
            await self.after(done)
        return effects

    async def serve(self, endpoints: Endpoints, subject: str, type_: type[C], decide: Decider[S, C],
                    reply: Reply = event_reply) -> None:
        """Register `wb.cmd.<verb>` for `type_`, answered through `decide`."""

        async def handle(command: C) -> dict[str, Any]:
            return reply(command, await self.run(command, decide))

        await endpoints.command(type_, subject, handle)
