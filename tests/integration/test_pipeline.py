"""The publishing pipeline (bus/pipeline.py) on a real nats-server: acks awaited together, atomic
batches from ATOMIC_MIN messages, and each message's own answer whenever a batch is refused."""

from __future__ import annotations

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import BadRequestError

from watchboard.bus.errors import NoResponders
from watchboard.bus.jetstream import KV_STREAM, ensure_board_bucket, ensure_stream, stream_config
from watchboard.bus.pipeline import ATOMIC_MIN, Ack, Out, Pipeline
from watchboard.bus.subjects import STREAM
from watchboard.config import WatchboardConfig
from watchboard.domain.views import KV_BUCKET


async def stream(nc: Client, name: str, *, atomic: bool = True, max_msg_size: int | None = None) -> None:
    await nc.jetstream(timeout=5).add_stream(api.StreamConfig(
        name=name, subjects=[f"{name.lower()}.>"], storage=api.StorageType.FILE, duplicate_window=60,
        allow_atomic=atomic, max_msg_size=max_msg_size))


def msgs(prefix: str, n: int, subject: str = "p.x") -> list[Out]:
    return [Out(f"{subject}.{i % 3}", f"{prefix}{i}".encode(), f"{prefix}{i}") for i in range(n)]


async def stored(nc: Client, name: str) -> list[bytes]:
    js = nc.jetstream(timeout=5)
    info = await js.stream_info(name)
    return [(await js.get_msg(name, seq)).data or b"" for seq in range(1, info.state.last_seq + 1)]


async def test_a_group_from_atomic_min_is_one_atomic_batch_in_order(nc: Client) -> None:
    await stream(nc, "P")
    pipe = Pipeline(nc)
    acks = await pipe.publish_all(msgs("a", ATOMIC_MIN + 5), "P")
    assert pipe.batches == 1
    assert [a.seq for a in acks] == list(range(1, ATOMIC_MIN + 6))
    assert await stored(nc, "P") == [f"a{i}".encode() for i in range(ATOMIC_MIN + 5)]


async def test_fewer_than_atomic_min_go_one_by_one(nc: Client) -> None:
    await stream(nc, "P")
    pipe = Pipeline(nc)
    acks = await pipe.publish_all(msgs("s", ATOMIC_MIN - 1), "P")
    assert pipe.batches == 0
    assert [a.seq for a in acks] == list(range(1, ATOMIC_MIN))


async def test_more_than_one_chunk_keeps_order(nc: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("watchboard.bus.pipeline.MAX_BATCH", 20)
    await stream(nc, "P")
    pipe = Pipeline(nc)
    await pipe.publish_all(msgs("c", 50), "P")  # 20 + 20 atomic, then 10 one by one
    assert pipe.batches == 2
    assert await stored(nc, "P") == [f"c{i}".encode() for i in range(50)]


async def test_a_redelivered_batch_is_refused_whole_then_sent_one_by_one_as_duplicates(nc: Client) -> None:
    await stream(nc, "P")
    pipe = Pipeline(nc)
    first = msgs("d", ATOMIC_MIN + 2)
    await pipe.publish_all(first[:3], "P")  # some of the batch already stored (a crash after a partial publish)
    acks = await pipe.publish_all(first, "P")
    assert [a.duplicate for a in acks] == [True] * 3 + [False] * (len(first) - 3)
    assert await stored(nc, "P") == [f"d{i}".encode() for i in range(len(first))]


async def test_a_stream_without_allow_atomic_is_asked_once_then_one_by_one(nc: Client) -> None:
    await stream(nc, "P", atomic=False)
    pipe = Pipeline(nc)
    await pipe.publish_all(msgs("n", ATOMIC_MIN), "P")
    assert pipe.no_atomic == {"P"} and pipe.batches == 0
    await pipe.publish_all(msgs("m", ATOMIC_MIN), "P")
    assert len(await stored(nc, "P")) == 2 * ATOMIC_MIN


async def test_one_refused_message_is_named_and_the_rest_are_stored(nc: Client) -> None:
    await stream(nc, "P", max_msg_size=100)
    pipe = Pipeline(nc)
    group = msgs("r", ATOMIC_MIN + 1)
    group[4] = Out("p.x.big", b"x" * 500, "big")
    results = await pipe.publish_many(group, "P")
    assert isinstance(results[4], BadRequestError)
    assert all(isinstance(r, Ack) for i, r in enumerate(results) if i != 4)
    assert len(await stored(nc, "P")) == len(group) - 1


async def test_no_stream_is_no_responders_for_each_and_publish_all_raises_it_mapped(nc: Client) -> None:
    pipe = Pipeline(nc)
    results = await pipe.publish_many(msgs("x", 2, subject="nowhere"), "NONE")
    assert all(isinstance(r, nats.errors.NoRespondersError) for r in results)
    with pytest.raises(NoResponders):
        await pipe.publish_all(msgs("y", 1, subject="nowhere"), "NONE")
    assert not pipe.waiting  # nothing left waiting for an answer


async def test_unanswered_messages_time_out_within_the_bound(nc: Client) -> None:
    await nc.subscribe("silent.>")  # someone listens, nobody answers: no 503, no ack
    pipe = Pipeline(nc, timeout=0.3)
    results = await pipe.publish_many(msgs("t", 3, subject="silent"), "NONE")
    assert all(isinstance(r, nats.errors.TimeoutError) for r in results)
    assert not pipe.waiting


async def test_a_committed_batch_published_again_is_all_duplicates(nc: Client) -> None:
    """A batch whose commit answer was lost is published again with the same ids (the callers'
    retry): the stream holds each message once."""
    await stream(nc, "P")
    pipe = Pipeline(nc)
    group = msgs("k", ATOMIC_MIN + 3)
    await pipe.publish_all(group, "P")
    again = await pipe.publish_all(group, "P")
    assert pipe.batches == 1  # the second was refused whole (ids already stored), then one by one
    assert all(a.duplicate for a in again)
    assert await stored(nc, "P") == [f"k{i}".encode() for i in range(len(group))]


async def test_after_a_chunk_of_unknown_fate_the_rest_is_not_sent(nc: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("watchboard.bus.pipeline.MAX_BATCH", 3)
    heard: list[str] = []

    async def listen(msg: object) -> None:
        heard.append(msg.subject)  # type: ignore[attr-defined]

    await nc.subscribe("silent.>", cb=listen)  # nobody answers: each message times out
    pipe = Pipeline(nc, timeout=0.3)
    results = await pipe.publish_many(msgs("u", ATOMIC_MIN + 2, subject="silent"), "NONE")  # chunks of 3
    await nc.flush()
    assert len(results) == ATOMIC_MIN + 2 and all(isinstance(r, nats.errors.TimeoutError) for r in results)
    assert len(heard) == 3  # the first chunk only
    assert not pipe.waiting


async def test_a_server_that_ignores_batch_headers_gets_every_message_again_one_by_one(nc: Client) -> None:
    """Before nats-server 2.12 the batch headers mean nothing: each message is stored alone and
    only the last (which has a reply) is answered, without `batch`. Played here by a responder
    answering as such a server's JetStream would, on the real server."""
    seen: list[bytes] = []

    async def old_jetstream(msg: object) -> None:
        seen.append(msg.data)  # type: ignore[attr-defined]
        if msg.reply:  # type: ignore[attr-defined]
            await msg.respond(f'{{"stream":"OLD","seq":{len(seen)}}}'.encode())  # type: ignore[attr-defined]

    await nc.subscribe("old.>", cb=old_jetstream)
    pipe = Pipeline(nc)
    group = msgs("o", ATOMIC_MIN, subject="old")
    acks = await pipe.publish_all(group, "OLD")
    assert pipe.batches == 0 and pipe.no_atomic == {"OLD"}
    assert len(acks) == ATOMIC_MIN and len(seen) == 2 * ATOMIC_MIN  # the batch, then each with its own ack
    await pipe.publish_all(msgs("p", ATOMIC_MIN, subject="old"), "OLD")
    assert len(seen) == 3 * ATOMIC_MIN  # not asked to batch again


async def test_setup_turns_atomic_batches_on_for_a_stream_and_bucket_made_before(nc: Client) -> None:
    cfg = WatchboardConfig()
    js = nc.jetstream(timeout=5)
    old = stream_config(cfg)
    old.allow_atomic = False
    await js.add_stream(old)
    await js.create_key_value(bucket=KV_BUCKET, history=1, storage=api.StorageType.FILE)  # no direct, no atomic
    await ensure_stream(js, cfg)
    await ensure_board_bucket(js, cfg)
    for name in (STREAM, KV_STREAM):
        info = await js.stream_info(name)
        assert info.config.allow_atomic and info.config.allow_direct, name
    pipe = Pipeline(nc)
    await pipe.publish_all([Out(f"$KV.{KV_BUCKET}.k{i}", b"{}") for i in range(ATOMIC_MIN)], KV_STREAM)
    assert pipe.batches == 1
