"""The delivery queue: idempotent enqueue, retries with backoff, crash recovery, rate-limit digests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchboard.services.notify.channels.outcome import SENT, SendResult
from watchboard.services.notify.delivery import backoff
from watchboard.services.notify.queue import DeliveryQueue
from watchboard.services.notify.settings import Delivery
from watchboard.services.notify.templates import Outgoing

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
FAST = Delivery(max_attempts=3, backoff_initial="1s", backoff_max="4s", jitter=0.0, rate_limit=0)


def msg(n: int, person: str = "p-li", contact: str = "webhook", incident: str = "INC") -> Outgoing:
    return Outgoing(key=f"K{n:04d}-{person}", incident_id=incident, event_id=f"EV{n}", cause="clock.warning",
                    person_id=person, person_name=person, contact=contact, subject=f"s{n}", body="b")


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler catches it."""


class Recorder:
    """A sender that answers from a script and records every key it was asked to send."""

    def __init__(self, script: list[SendResult] | None = None) -> None:
        self.script = list(script or [])
        self.keys: list[str] = []

    async def __call__(self, m: Outgoing) -> SendResult:
        self.keys.append(m.key)
        return self.script.pop(0) if self.script else SENT


@pytest.fixture
async def box(tmp_path: Path):
    b = await DeliveryQueue.open(tmp_path / "n.sqlite", FAST, rng=random.Random(1))
    yield b
    await b.close()


async def test_enqueue_is_idempotent(box: DeliveryQueue) -> None:
    """Enqueuing the same key twice (a redelivered event) queues one notice."""
    assert await box.enqueue([msg(1), msg(2)], T0) == ["K0001-p-li", "K0002-p-li"]
    assert await box.enqueue([msg(1), msg(2), msg(3)], T0) == ["K0003-p-li"]
    assert await box.counts() == {"pending": 3}


async def test_sent_is_not_sent_again(box: DeliveryQueue) -> None:
    """After "sent", re-enqueuing and delivering again sends nothing."""
    send = Recorder()
    await box.enqueue([msg(1)], T0)
    assert [d.status for d in await box.deliver_due(T0, send)] == ["sent"]
    await box.enqueue([msg(1)], T0)
    assert await box.deliver_due(T0 + timedelta(hours=1), send) == []
    assert send.keys == ["K0001-p-li"]


async def test_retry_with_backoff_then_success(box: DeliveryQueue) -> None:
    """A retryable failure is retried after the backoff, with the same key, then sent."""
    send = Recorder([SendResult(False, True, "HTTP 500")])
    await box.enqueue([msg(1)], T0)
    first = await box.deliver_due(T0, send)
    assert [(d.status, d.attempts, d.final) for d in first] == [("pending", 1, False)]
    assert await box.deliver_due(T0 + timedelta(seconds=0.5), send) == []  # not due yet
    assert await box.next_due() == T0 + timedelta(seconds=1)
    second = await box.deliver_due(T0 + timedelta(seconds=1), send)
    assert [(d.status, d.attempts) for d in second] == [("sent", 2)]
    assert send.keys == ["K0001-p-li", "K0001-p-li"]


async def test_gives_up_after_max_attempts(box: DeliveryQueue) -> None:
    """Retryable failures stop at max_attempts, recorded as failed with the reason."""
    send = Recorder([SendResult(False, True, "webhook x: HTTP 503")] * 5)
    await box.enqueue([msg(1)], T0)
    now = T0
    results = []
    for _ in range(5):
        results += await box.deliver_due(now, send)
        now += timedelta(seconds=10)
    assert [d.status for d in results] == ["pending", "pending", "failed"]
    assert "HTTP 503" in results[-1].result.reason and "gave up after 3 attempts" in results[-1].result.reason
    (row,) = await box.rows("INC")
    assert row.status == "failed" and "HTTP 503" in row.last_error


async def test_final_failure_is_not_retried(box: DeliveryQueue) -> None:
    """A final failure (4xx, login refused) is recorded at once and never retried."""
    send = Recorder([SendResult(False, False, "SMTP login refused: 535")])
    await box.enqueue([msg(1)], T0)
    (d,) = await box.deliver_due(T0, send)
    assert (d.status, d.final) == ("failed", True)
    assert await box.deliver_due(T0 + timedelta(hours=1), send) == []


async def test_crash_between_sending_and_sent_resends_same_key(tmp_path: Path) -> None:
    """A row left "sending" by a crash is sent again, with the same key, after reopening."""
    path = tmp_path / "crash.sqlite"
    box = await DeliveryQueue.open(path, FAST)
    await box.enqueue([msg(7)], T0)

    async def crash(m: Outgoing) -> SendResult:
        raise Crash  # the process dies mid-send: nothing after "sending" is recorded

    with pytest.raises(Crash):
        await box.deliver_due(T0, crash)
    await box.close()

    reopened = await DeliveryQueue.open(path, FAST)
    try:
        assert await reopened.counts() == {"pending": 1}
        send = Recorder()
        (d,) = await reopened.deliver_due(T0 + timedelta(seconds=5), send)
        assert send.keys == ["K0007-p-li"] and d.status == "sent" and d.attempts == 2
    finally:
        await reopened.close()


async def test_channel_exception_is_a_final_failure_with_reason(box: DeliveryQueue) -> None:
    """A bug in a channel fails that notice with the exception named, not the batch."""
    async def broken(m: Outgoing) -> SendResult:
        if m.key.startswith("K0001"):
            raise RuntimeError("boom")
        return SENT

    await box.enqueue([msg(1), msg(2)], T0)
    results = {d.message.key: d for d in await box.deliver_due(T0, broken)}
    assert results["K0001-p-li"].status == "failed" and "RuntimeError: boom" in results["K0001-p-li"].result.reason
    assert results["K0002-p-li"].status == "sent"


@pytest.mark.parametrize(("attempts", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (9, 4.0)])
def test_backoff_exponential_capped(attempts: int, expected: float) -> None:
    """Backoff doubles from the initial value and stops at the cap."""
    assert backoff(FAST, attempts, random.Random(0)) == expected


def test_backoff_jitter_within_bounds() -> None:
    """Jitter stays within ± the configured fraction and varies."""
    d = Delivery(backoff_initial="10s", jitter=0.2)
    rng = random.Random(3)
    values = {backoff(d, 1, rng) for _ in range(50)}
    assert all(8.0 <= v <= 12.0 for v in values) and len(values) > 10


def digest_of(members: list[Outgoing]) -> Outgoing:
    return Outgoing(key="D-" + "+".join(m.key[:5] for m in members), incident_id="_", event_id="D",
                    cause="digest", person_id=members[0].person_id, person_name="x",
                    contact=members[0].contact, subject="digest", body="", items=[m.subject for m in members])


async def test_rate_limit_merges_burst_into_one_digest(tmp_path: Path) -> None:
    """Past N notices to one person in W seconds, the rest go out as one digest at the window end."""
    d = Delivery(max_attempts=3, backoff_initial="1s", jitter=0.0, rate_limit=2, rate_window="60s")
    box = await DeliveryQueue.open(tmp_path / "r.sqlite", d, digest=digest_of)
    try:
        send = Recorder()
        await box.enqueue([msg(i) for i in range(1, 6)] + [msg(9, person="p-wang")], T0)
        first = await box.deliver_due(T0, send)
        assert sorted(x.message.key for x in first) == ["K0001-p-li", "K0002-p-li", "K0009-p-wang"]
        assert await box.deliver_due(T0 + timedelta(seconds=30), send) == []
        assert await box.next_due() == T0 + timedelta(seconds=60)
        (dig,) = await box.deliver_due(T0 + timedelta(seconds=60), send)
        assert dig.message.cause == "digest" and dig.status == "sent"
        assert [m.key for m in dig.members] == ["K0003-p-li", "K0004-p-li", "K0005-p-li"]
        assert dig.message.items == ["s3", "s4", "s5"]
        rows = {r.key: r for r in await box.rows("INC")}
        assert rows["K0004-p-li"].status == "sent" and rows["K0004-p-li"].digest_key == dig.message.key
        assert len(send.keys) == 4
    finally:
        await box.close()


async def test_board_channel_is_not_rate_limited(tmp_path: Path) -> None:
    """The board is the alert panel: every notice shows, no digest."""
    d = Delivery(rate_limit=1, rate_window="60s")
    box = await DeliveryQueue.open(tmp_path / "b.sqlite", d, digest=digest_of)
    try:
        await box.enqueue([msg(i, contact="board") for i in range(1, 5)], T0)
        assert len(await box.deliver_due(T0, Recorder())) == 4
    finally:
        await box.close()


# --- low priority (routes with priority = "low": plans 000/001/004's III/IV to the leaders) ---

LOW = Delivery(max_attempts=3, backoff_initial="1s", jitter=0.0, rate_limit=0, low_priority_window="120s")


def low(n: int, person: str = "g-leaders", contact: str = "webhook:wecom") -> Outgoing:
    m = msg(n, person=person, contact=contact)
    m.priority = "low"
    return m


@pytest.fixture
async def lowbox(tmp_path: Path):
    b = await DeliveryQueue.open(tmp_path / "low.sqlite", LOW, digest=digest_of)
    yield b
    await b.close()


async def test_low_notice_waits_for_its_window_then_goes_alone(lowbox: DeliveryQueue) -> None:
    """A low notice never goes out the moment it happens; alone at the window's end, as itself."""
    send = Recorder()
    await lowbox.enqueue([low(1)], T0)
    assert await lowbox.deliver_due(T0, send) == []
    assert await lowbox.counts() == {"held": 1}
    assert await lowbox.next_due() == T0 + timedelta(seconds=120)
    assert await lowbox.deliver_due(T0 + timedelta(seconds=119), send) == []
    (d,) = await lowbox.deliver_due(T0 + timedelta(seconds=120), send)  # released and sent, not held again
    assert (d.message.key, d.message.cause, d.status) == ("K0001-g-leaders", "clock.warning", "sent")
    assert send.keys == ["K0001-g-leaders"]


async def test_low_notices_in_one_window_become_one_digest(lowbox: DeliveryQueue) -> None:
    """Low notices to one recipient within the window join the first one's digest."""
    send = Recorder()
    await lowbox.enqueue([low(1)], T0)
    await lowbox.deliver_due(T0, send)
    await lowbox.enqueue([low(2)], T0 + timedelta(seconds=60))
    await lowbox.deliver_due(T0 + timedelta(seconds=60), send)
    await lowbox.enqueue([low(3)], T0 + timedelta(seconds=130))  # after the window: a new one
    (dig,) = await lowbox.deliver_due(T0 + timedelta(seconds=130), send)
    assert dig.message.cause == "digest" and [m.key for m in dig.members] == ["K0001-g-leaders", "K0002-g-leaders"]
    assert send.keys == [dig.message.key]
    assert await lowbox.next_due() == T0 + timedelta(seconds=250)  # the third's own window


async def test_low_notice_on_the_board_shows_at_once(lowbox: DeliveryQueue) -> None:
    """The board is not a push: a low notice shows there at once."""
    await lowbox.enqueue([low(1, contact="board")], T0)
    assert [d.status for d in await lowbox.deliver_due(T0, Recorder())] == ["sent"]


async def test_low_notice_does_not_hold_back_a_normal_one(lowbox: DeliveryQueue) -> None:
    """A normal notice to the same recipient goes at once while a low one waits."""
    send = Recorder()
    await lowbox.enqueue([low(1), msg(2, person="g-leaders", contact="webhook:wecom")], T0)
    assert [d.message.key for d in await lowbox.deliver_due(T0, send)] == ["K0002-g-leaders"]
    assert await lowbox.counts() == {"held": 1, "sent": 1}


async def test_low_notices_are_gathered_per_recipient(lowbox: DeliveryQueue) -> None:
    """Two recipients' low notices are two digests (or single notices), never one."""
    send = Recorder()
    await lowbox.enqueue([low(1), low(2), low(3, person="p-office"), low(4, person="g-leaders", contact="email")], T0)
    assert await lowbox.deliver_due(T0, send) == []
    out = await lowbox.deliver_due(T0 + timedelta(seconds=120), send)
    got = sorted((d.message.person_id, d.message.contact, d.message.cause, len(d.notices)) for d in out)
    assert got == [("g-leaders", "email", "clock.warning", 1), ("g-leaders", "webhook:wecom", "digest", 2),
                   ("p-office", "webhook:wecom", "clock.warning", 1)]


async def test_low_notice_joins_a_rate_limit_digest_already_gathering(tmp_path: Path) -> None:
    """A recipient already rate-limited gets the low notice in the digest on its way."""
    d = Delivery(max_attempts=3, backoff_initial="1s", jitter=0.0, rate_limit=1, rate_window="60s",
                 low_priority_window="600s")
    box = await DeliveryQueue.open(tmp_path / "rl.sqlite", d, digest=digest_of)
    try:
        send = Recorder()
        await box.enqueue([msg(1), msg(2)], T0)  # the second is held by the rate limit until T0+60
        await box.deliver_due(T0, send)
        await box.enqueue([low(3, person="p-li", contact="webhook")], T0 + timedelta(seconds=10))
        await box.deliver_due(T0 + timedelta(seconds=10), send)
        (dig,) = await box.deliver_due(T0 + timedelta(seconds=60), send)
        assert [m.key for m in dig.members] == ["K0002-p-li", "K0003-p-li"]
    finally:
        await box.close()
