"""Delivery as Alertmanager's notify pipeline: stages of one small signature, run in sequence.

    route   routing.route           who hears of it                       pure, in logic.step
    render  render.notices          one keyed notice per person × contact pure, in logic.step
    dedup   DeliveryQueue.enqueue   the outbox key: a notice is queued once whatever comes again;
            DeliveryQueue.claim     hands out only due rows not sent yet, marked "sending"
    retry   send_stage, retry_stage the send, its outcome (channels/outcome.py) judged here, in
                                    one place: sent / retry after a backoff / give up
    record  record_stage            committed as soon as that send is answered

The last three run per claimed notice, concurrently across notices: `Stage = Attempt →
Attempt`, composed by `sequence`. An `Attempt` is one try at one notice (or digest): what was
sent, its outcome, the verdict, and for a digest the notices it carried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from watchboard.services.notify.channels.outcome import SendResult, exception_outcome
from watchboard.services.notify.settings import Delivery, seconds
from watchboard.services.notify.templates import Outgoing

Sender = Callable[[Outgoing], Awaitable[SendResult]]

NOT_SENT = SendResult(False, True, "")  # before the send stage has run


class Attempt(NamedTuple):
    """One try at sending one notice, as it goes through the stages (and is reported after)."""

    message: Outgoing
    attempts: int  # this try's number, 1 for the first
    now: datetime
    result: SendResult = NOT_SENT
    status: str = "sending"  # after the retry stage: sent | pending (will retry) | failed (final)
    retry_at: datetime | None = None  # pending: when it falls due again
    members: tuple[Outgoing, ...] = ()  # a digest's merged notices (each one incident's notice)

    @property
    def final(self) -> bool:
        return self.status != "pending"

    @property
    def notices(self) -> list[Outgoing]:
        """The notices this attempt settles: the digest's members, or the message itself."""
        return list(self.members) or [self.message]


Stage = Callable[[Attempt], Awaitable[Attempt]]


def sequence(*stages: Stage) -> Stage:
    """The stages one after the other on the same attempt."""
    async def run(attempt: Attempt) -> Attempt:
        for stage in stages:
            attempt = await stage(attempt)
        return attempt
    return run


def backoff(delivery: Delivery, attempts: int, rng: random.Random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: exponential, capped, ± jitter."""
    base = seconds(delivery.backoff_initial) * delivery.backoff_factor ** max(attempts - 1, 0)
    base = min(base, seconds(delivery.backoff_max))
    return max(0.0, base * (1 + rng.uniform(-delivery.jitter, delivery.jitter)))


def judge(attempt: Attempt, delivery: Delivery, rng: random.Random) -> Attempt:
    """The verdict on an answered send: sent, retry after a backoff while attempts are left,
    or give up (a final outcome, or the last attempt) with a reason that says so."""
    result = attempt.result
    if result.ok:
        return attempt._replace(status="sent")
    if result.retryable and attempt.attempts < delivery.max_attempts:
        wait = timedelta(seconds=backoff(delivery, attempt.attempts, rng))
        return attempt._replace(status="pending", retry_at=attempt.now + wait)
    if result.retryable:
        result = result._replace(reason=f"{result.reason} (gave up after {attempt.attempts} attempts)")
    return attempt._replace(status="failed", result=result)


def send_stage(send: Sender, limit: asyncio.Semaphore) -> Stage:
    """Send through the channels, at most `limit` at a time; a channel that raises fails only
    its own notice, classified like any send error (a bug there must not stop the batch)."""
    async def stage(attempt: Attempt) -> Attempt:
        m = attempt.message
        async with limit:
            try:
                result = await send(m)
            except Exception as exc:
                result = exception_outcome(exc, target=f"{m.contact} for {m.person_id}")
        return attempt._replace(result=result)
    return stage


def retry_stage(delivery: Delivery, rng: random.Random) -> Stage:
    async def stage(attempt: Attempt) -> Attempt:
        return judge(attempt, delivery, rng)
    return stage


def record_stage(record: Callable[[Attempt], Awaitable[Attempt]]) -> Stage:
    """Write the verdict (the queue's `record`): a crash after it never repeats this send."""
    return record
