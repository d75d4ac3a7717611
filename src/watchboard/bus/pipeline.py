"""Publishing many messages to JetStream at once and awaiting their acks together.

nats-py's `js.publish` is a request — a task, a future, a timer and an inbox token read from
`os.urandom` for every message — and `publish_async` costs about as much. A consumer batch's
effects, an outbox's rows and a batch of views are published here instead:

- **one subscription per connection for every ack** (`_INBOX.<nuid>.<n>`, `n` a counter): no
  syscall, task or timer per message; the messages of one call share one future and one
  bounded wait, and each gets its own answer (an `Ack`, or the error the server gave);
- **atomic batches** (ADR-50, nats-server 2.12+, the stream's `allow_atomic`): `ATOMIC_MIN`
  messages or more for one stream go in chunks of at most `MAX_BATCH`, each stored whole or not
  at all and — nats-server 2.15+ with `sync_interval: always` — written to disk with one sync,
  where single publishes cost one sync each (on this 2-core machine ~4,000/s per stream, and a
  quarter of that when the disk is shared). Chunks go one after the other, so stream order is
  the order given. A chunk the server refuses — one of its `Nats-Msg-Id`s is already stored (a
  redelivered batch), one message is refused, the stream has no `allow_atomic` — is sent again
  message by message, so duplicates are dropped and a refusal names its message, as before; a
  stream without `allow_atomic` is not asked again (`watchboard setup` turns it on). Below
  `ATOMIC_MIN` single publishes are quicker (an atomic commit costs ~3 ms here, a publish 0.3).

A timeout leaves the messages' fate unknown (stored or not): the callers publish again with the
same ids, which the stream's duplicate window drops.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Sequence
from typing import NamedTuple

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError

from watchboard.bus.errors import map_nats_error

log = logging.getLogger("watchboard.bus")

ATOMIC_MIN = 12  # from here on one atomic commit is quicker than the single publishes
MAX_BATCH = 1000  # the server's limit of messages per atomic batch
ATOMIC_DISABLED = 10174  # "atomic publish is disabled" (the stream has no allow_atomic)


class Out(NamedTuple):
    """One message to publish: its subject, body and `Nats-Msg-Id` ("" for none: a KV put)."""

    subject: str
    data: bytes
    msg_id: str = ""


class Ack(msgspec.Struct, frozen=True):
    """The stream's answer to one message (`seq` its sequence; `duplicate`: already stored)."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    batch: str = ""  # the atomic batch it committed (its last message's answer only)


class _Reply(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    batch: str = ""
    count: int = 0
    error: dict[str, object] | None = None


_reply = msgspec.json.Decoder(_Reply)
Result = Ack | BaseException


class _Group:
    """The messages of one call: how many answers are still owed, and the one future."""

    __slots__ = ("done", "left", "results")

    def __init__(self, size: int) -> None:
        self.left = size
        self.results: list[Result | None] = [None] * size
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answer(self, index: int, result: Result) -> None:
        if self.results[index] is None:
            self.results[index] = result
            self.left -= 1
        if self.left <= 0 and not self.done.done():
            self.done.set_result(None)


def _answer(msg: Msg) -> _Reply | BaseException:
    if msg.headers and msg.headers.get("Status") == "503":
        return nats.errors.NoRespondersError()
    try:
        reply = _reply.decode(msg.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return APIError(description=f"unreadable publish ack: {exc}")
    if reply.error is not None:
        err = reply.error
        try:
            APIError.from_error(dict(err))  # raises the error's own class (BadRequestError, …)
        except APIError as exc:
            return exc
        except TypeError:  # a field this nats-py does not know
            pass
        return APIError(code=err.get("code"), err_code=err.get("err_code"),  # type: ignore[arg-type]
                        description=str(err.get("description", "")))
    return reply


def _unknown(result: Result) -> bool:
    """A failure that says nothing of whether the message was stored (not the server's answer)."""
    return isinstance(result, BaseException) and not isinstance(result, APIError)


class Pipeline:
    """Publishes on one connection; `start()` subscribes the ack inbox (once)."""

    def __init__(self, nc: Client, timeout: float = 5.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self.prefix = ""
        self.tokens = itertools.count(1)
        self.waiting: dict[str, tuple[_Group, int]] = {}
        self.no_atomic: set[str] = set()  # streams that refused atomic batches
        self.batches = 0  # atomic batches committed (for benches and tests)
        self._starting: asyncio.Lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._starting:
            if self.prefix:
                return
            prefix = self.nc.new_inbox() + "."
            # The ack subscription must never drop an answer: the default pending limits are
            # far above any group, and a slow consumer would only cost a timeout.
            await self.nc.subscribe(prefix + "*", cb=self._on_reply)
            self.prefix = prefix

    async def _on_reply(self, msg: Msg) -> None:
        entry = self.waiting.pop(msg.subject[len(self.prefix):], None)
        if entry is None:  # a late answer to a group that timed out
            return
        group, index = entry
        answer = _answer(msg)
        group.answer(index, answer if isinstance(answer, BaseException)
                     else Ack(answer.stream, answer.seq, answer.duplicate, answer.batch))

    # --- the calls ----------------------------------------------------------------------------

    async def publish_all(self, msgs: Sequence[Out], stream: str, timeout: float | None = None) -> list[Ack]:
        """Publish `msgs` in order; every one stored (or a duplicate), or the first failure raised
        (mapped: `BusTimeout`, `StreamError`, …)."""
        results = await self.publish_many(msgs, stream, timeout)
        for result in results:
            if isinstance(result, BaseException):
                raise map_nats_error(result) from result
        return results  # type: ignore[return-value]

    async def publish_many(self, msgs: Sequence[Out], stream: str, timeout: float | None = None) -> list[Result]:
        """Publish `msgs` in order and return each one's answer: an `Ack`, or the error (a
        timeout, the server's refusal). Never raises for one message's failure."""
        if not msgs:
            return []
        if len(msgs) < ATOMIC_MIN or stream in self.no_atomic:
            return await (await self.send(msgs, timeout)).wait()
        results: list[Result] = []
        for at in range(0, len(msgs), MAX_BATCH):
            chunk = msgs[at:at + MAX_BATCH]
            done = await self._atomic(chunk, stream, timeout) if len(chunk) >= ATOMIC_MIN else None
            results.extend(done if done is not None else await (await self.send(chunk, timeout)).wait())
            unknown = next((r for r in results if _unknown(r)), None)
            if unknown is not None and at + MAX_BATCH < len(msgs):
                # A chunk whose fate is unknown (a timeout, the connection gone): the chunks behind
                # it are not sent, so a retry cannot store them before it (stream order).
                results.extend([unknown] * (len(msgs) - len(results)))
                break
        return results

    async def send(self, msgs: Sequence[Out], timeout: float | None = None) -> Sent:
        """Put `msgs` on the wire now, each with its own ack, and return what `wait()`s for their
        answers (within the timeout; unanswered ones: `TimeoutError`). For callers that send
        under a lock and wait outside it."""
        await self.start()
        group = _Group(len(msgs))
        tokens: list[str] = []
        for index, m in enumerate(msgs):
            token = str(next(self.tokens))
            self.waiting[token] = (group, index)
            tokens.append(token)
            try:
                await self.nc.publish(m.subject, m.data, reply=self.prefix + token,
                                      headers={"Nats-Msg-Id": m.msg_id} if m.msg_id else None)
            except Exception as exc:  # too large, connection closed: this one is answered now
                self.waiting.pop(token, None)
                group.answer(index, exc)
        return Sent(self, group, tokens, (timeout or self.timeout) + len(msgs) / 2000)

    async def _atomic(self, chunk: Sequence[Out], stream: str, timeout: float | None) -> list[Result] | None:
        """One atomic batch: every message's ack, or None when the server refused it whole
        (the caller sends it message by message). A timeout is every message's answer."""
        await self.start()
        batch = f"{self.prefix.rsplit('.', 2)[-2]}-{next(self.tokens)}"  # unique, at most 64 characters
        token = str(next(self.tokens))
        group = _Group(1)
        self.waiting[token] = (group, 0)
        last = len(chunk) - 1
        try:
            for seq, m in enumerate(chunk):
                headers = {"Nats-Batch-Id": batch, "Nats-Batch-Sequence": str(seq + 1)}
                if m.msg_id:
                    headers["Nats-Msg-Id"] = m.msg_id
                if seq == last:
                    headers["Nats-Batch-Commit"] = "1"
                await self.nc.publish(m.subject, m.data, reply=self.prefix + token if seq == last else "",
                                      headers=headers)
        except Exception as exc:  # nothing committed: a message too large, the connection gone
            self.waiting.pop(token, None)
            log.debug("atomic batch of %d not sent (%s); message by message", len(chunk), exc)
            return None
        answer = (await Sent(self, group, [token], (timeout or self.timeout) + len(chunk) / 2000).wait())[0]
        if isinstance(answer, APIError):
            if answer.err_code == ATOMIC_DISABLED:
                self.no_atomic.add(stream)
                log.info("stream %s takes no atomic batches (allow_atomic off: `watchboard setup` turns it "
                         "on); publishing message by message", stream)
            return None  # refused whole: nothing stored; each message gets its own answer next
        if isinstance(answer, BaseException):
            return [answer] * len(chunk)  # a timeout or a lost connection: fate unknown, try again
        if answer.batch != batch:
            # A server before 2.12 ignores the batch headers and stored each message alone,
            # answering only the last: the others' fate is unknown to us, so every message is
            # sent again with its own ack (their ids drop the copies) and no batch again.
            self.no_atomic.add(stream)
            log.info("the server takes no atomic batches (nats-server 2.12+ does); publishing message by message")
            return None
        self.batches += 1
        first = answer.seq - len(chunk) + 1
        return [Ack(answer.stream, first + i) for i in range(len(chunk))]


class Sent:
    """Messages on the wire whose answers are awaited together (`wait`), bounded from the send."""

    __slots__ = ("deadline", "group", "pipeline", "tokens")

    def __init__(self, pipeline: Pipeline, group: _Group, tokens: list[str], timeout: float) -> None:
        self.pipeline, self.group, self.tokens = pipeline, group, tokens
        self.deadline = asyncio.get_running_loop().time() + timeout

    async def wait(self) -> list[Result]:
        group = self.group
        try:
            if not group.done.done():
                await asyncio.wait_for(group.done, max(0.0, self.deadline - asyncio.get_running_loop().time()))
        except TimeoutError:
            pass  # the unanswered ones are timeouts (below)
        finally:  # also when cancelled: no answer is waited for any more
            waiting = self.pipeline.waiting
            for index, token in enumerate(self.tokens):
                if waiting.pop(token, None) is not None:
                    group.answer(index, nats.errors.TimeoutError())
        return [r if r is not None else nats.errors.TimeoutError() for r in group.results]


_pipelines: weakref.WeakKeyDictionary[Client, Pipeline] = weakref.WeakKeyDictionary()


def pipeline_of(nc: Client, timeout: float = 5.0) -> Pipeline:
    """The connection's one pipeline (one ack subscription per connection, whoever publishes)."""
    found = _pipelines.get(nc)
    if found is None:
        found = _pipelines[nc] = Pipeline(nc, timeout)
    return found
