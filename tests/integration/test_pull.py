"""Pull requests (bus/pull.py) on a real nats-server: a fetch hands over the first event as soon
as it arrives, not when its wait ends; an earlier request's end does not end a later one; a
consumer that is gone is said so."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import NotFoundError

from watchboard.bus.pull import Pull

WAIT = 20.0  # far beyond what any answer here needs: reaching it is the failure


async def setup(nc: Client) -> None:
    js = nc.jetstream(timeout=5)
    await js.add_stream(api.StreamConfig(name="Q", subjects=["q.>"]))
    await js.add_consumer("Q", api.ConsumerConfig(durable_name="d", ack_policy=api.AckPolicy.EXPLICIT))


async def test_a_fetch_returns_with_the_first_event_not_at_its_wait(nc: Client) -> None:
    """nats-py's fetch held an event that arrived during its second, plain request until the
    fetch's timeout; here the fetch ends with the event, long before `WAIT`."""
    await setup(nc)
    pull = await Pull(nc, "Q", "d").start()
    js = nc.jetstream(timeout=5)

    async def later() -> None:
        await asyncio.sleep(0.3)
        await js.publish("q.a", b"one")

    publisher = asyncio.create_task(later())
    loop = asyncio.get_running_loop()
    began = loop.time()
    msgs = await asyncio.wait_for(pull.fetch(256, WAIT), WAIT + 5)
    took = loop.time() - began
    await publisher
    assert [m.data for m in msgs] == [b"one"]
    assert took < WAIT / 2  # it came back with the event, not with the request's expiry
    await msgs[0].ack()
    await pull.unsubscribe()


async def test_what_is_there_comes_at_once_up_to_the_batch(nc: Client) -> None:
    await setup(nc)
    js = nc.jetstream(timeout=5)
    for i in range(5):
        await js.publish("q.a", str(i).encode())
    pull = await Pull(nc, "Q", "d").start()
    first = await asyncio.wait_for(pull.fetch(3, WAIT), WAIT + 5)
    second = await asyncio.wait_for(pull.fetch(3, WAIT), WAIT + 5)
    assert [m.data for m in first] == [b"0", b"1", b"2"]
    assert [m.data for m in second] == [b"3", b"4"]
    for m in first + second:
        await m.ack()
    with pytest.raises(nats.errors.TimeoutError):  # nothing more: the wait runs out, said so
        await asyncio.wait_for(pull.fetch(3, 0.3), 5)
    await pull.unsubscribe()


async def test_an_earlier_requests_end_does_not_end_the_next_fetch(nc: Client) -> None:
    """A request the client stopped waiting for still ends on the server (408) later; that
    answer names its own request and the fetch running then goes on waiting for its event."""
    await setup(nc)
    pull = await Pull(nc, "Q", "d").start()
    # The first request expires on the server after 0.5 s; the client gave up on it at once.
    await nc.publish(pull.next_subject, b'{"batch": 10, "expires": 500000000, "no_wait": true}',
                     reply=f"{pull.prefix}.0")
    js = nc.jetstream(timeout=5)

    async def later() -> None:
        await asyncio.sleep(1.0)  # after the stale request's 408 reached the queue
        await js.publish("q.a", b"late")

    publisher = asyncio.create_task(later())
    msgs = await asyncio.wait_for(pull.fetch(10, WAIT), WAIT + 5)
    await publisher
    assert [m.data for m in msgs] == [b"late"]
    await pull.unsubscribe()


async def test_a_consumer_that_is_gone_is_not_found(nc: Client) -> None:
    await setup(nc)
    pull = await Pull(nc, "Q", "d").start()
    fetching = asyncio.create_task(pull.fetch(10, WAIT))
    await asyncio.sleep(0.3)
    await nc.jetstream(timeout=5).delete_consumer("Q", "d")
    with pytest.raises(NotFoundError):
        await asyncio.wait_for(fetching, WAIT + 5)
    await pull.unsubscribe()
