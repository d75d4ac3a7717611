"""The notifier shell over SQLite: a consumer batch in one transaction, ignored events without a
lookup, events handed to the outbox inside the transaction that decides them, answered sends
recorded together, and a notify.sqlite of the old layout moved into the state table."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import msgspec
import pytest

from watchboard.bus.consumer import Delivered
from watchboard.domain.events import (
    NO_INCIDENT,
    ClockStarted,
    Event,
    IncidentGraded,
    IncidentReported,
    Mention,
    SweepMissed,
)
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.channels.outcome import SENT, SendResult
from watchboard.services.notify.model import IncidentMemo
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.queue import SCHEMA as QUEUE_SCHEMA
from watchboard.services.notify.queue import DeliveryQueue
from watchboard.services.notify.settings import Delivery, load_notify
from watchboard.services.notify.templates import Outgoing

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
M = timedelta(minutes=1)
CFG = load_notify()


def d(event: Event, seq: int = 1) -> Delivered:
    return Delivered(event, "wb.ev.x", seq, 1)


def reported(inc: str) -> IncidentReported:
    return IncidentReported(id=f"R-{inc}", incident_id=inc, at=T0, actor="intake", title=f"事件 {inc}",
                            mention=Mention(platform="weibo"))


def graded(inc: str, grade: str = "II") -> IncidentGraded:
    return IncidentGraded(id=f"G-{inc}-{grade}", incident_id=inc, at=T0, actor="grading", grade=grade,
                          previous=None, reasons=["r"], source="rules")


def started(inc: str) -> ClockStarted:
    return ClockStarted(id=f"S-{inc}", incident_id=inc, at=T0, actor="deadlines", clock="first_response",
                        due_at=T0 + 30 * M, basis="working")


async def rows(db: aiosqlite.Connection, sql: str) -> list[tuple]:
    async with db.execute(sql) as cur:
        return [tuple(r) async for r in cur]


@pytest.fixture
async def notifier(tmp_path: Path):
    n = await Notifier.open(CFG, tmp_path)
    yield n
    await n.close()


async def test_a_batch_is_one_transaction(notifier: Notifier) -> None:
    """Memos, notices and processed ids of a batch are committed together; a clock.started
    in it is not even recorded as processed."""
    batch = [d(reported("INC1"), 1), d(graded("INC1"), 2), d(started("INC1"), 3), d(graded("INC2", "III"), 4)]
    handled = await notifier.handle_batch(batch, T0)
    assert handled.incidents == ["INC1", "INC2"] and handled.queued
    assert sorted(await rows(notifier.db, "SELECT event_id FROM processed")) == [("G-INC1-II",), ("G-INC2-III",),
                                                                                 ("R-INC1",)]
    assert sorted(await rows(notifier.db, "SELECT id FROM incidents")) == [("INC1",), ("INC2",)]
    assert (await notifier.queue.counts())["pending"] == len(handled.queued)
    again = await notifier.handle_batch(batch, T0 + M)  # redelivered whole
    assert again.queued == [] and again.incidents == []


async def test_a_failed_batch_leaves_memory_and_disk_unchanged(notifier: Notifier) -> None:
    """Queuing the notices fails mid-batch: no memo, no notice, no processed id stays, and the
    redelivered batch then does all of it."""
    await notifier.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON notices "
                              "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
    await notifier.db.commit()
    batch = [d(reported("INC1"), 1), d(graded("INC1"), 2)]
    with pytest.raises(aiosqlite.IntegrityError, match="disk full"):
        await notifier.handle_batch(batch, T0)
    assert notifier.states.items == {} and notifier.majors == set() and notifier.escalating == set()
    for table in ("processed", "incidents", "notices"):
        assert await rows(notifier.db, f"SELECT * FROM {table}") == []
    await notifier.db.execute("DROP TRIGGER refuse")
    await notifier.db.commit()
    handled = await notifier.handle_batch(batch, T0)
    assert handled.queued and notifier.memo("INC1").grade == "II" and notifier.escalating == {"INC1"}


async def test_views_of_several_incidents_read_together_match_one_by_one(notifier: Notifier) -> None:
    """The publishing loop reads the views it puts in one query: the same views."""
    await notifier.handle_batch([d(reported(i), n) for n, i in enumerate(("A", "B", "C"))]
                                + [d(graded("A"), 9), d(graded("C", "IV"), 10)], T0)
    views = await notifier.notices_views(iter(["A", "B", "C", "NONE"]), T0 + M)
    assert views == {i: await notifier.notices_view(i, T0 + M) for i in ("A", "B", "C", "NONE")}
    assert len(views["A"].notices) > 0 and views["B"].notices == []


async def test_ignored_events_need_no_database(notifier: Notifier) -> None:
    """A batch of only events notify does not act on returns before any lookup."""
    await notifier.db.close()  # any query would now raise
    handled = await notifier.handle_batch([d(started("INC1"), 1), d(started("INC2"), 2)], T0)
    assert handled == ([], [], [])
    notifier.db = await aiosqlite.connect(":memory:")  # for the fixture's close


async def test_a_grade_ii_in_the_batch_switches_later_events_to_24_hour_duty(notifier: Notifier) -> None:
    """Saturday noon: nobody's ordinary shift; once a grade II of the same batch is open, the
    major rota's duty officer is who a sweep miss reaches (the roster follows the batch)."""
    sat_noon = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)

    def missed(n: int) -> SweepMissed:
        return SweepMissed(id=f"M{n}", incident_id=NO_INCIDENT, at=sat_noon, actor="deadlines", window="12:00")

    handled = await notifier.handle_batch([d(missed(1), 1), d(graded("INC1"), 2), d(missed(2), 3)], sat_noon)
    by_cause = {(m.event_id, m.person_id) for m in handled.queued if m.cause == "sweep.missed"}
    assert ("M1", "p-li") not in by_cause and ("M2", "p-li") in by_cause


async def test_events_go_to_the_outbox_inside_the_deciding_transaction(tmp_path: Path) -> None:
    """Escalation, acknowledgement and notice.sent events reach `effects` while the writer lock
    of the transaction that records them is held (its commit follows); if adding them fails,
    nothing of the decision stays."""
    seen: list[tuple[str, bool]] = []
    fail = {"ack": True}

    class Board:
        async def send(self, message: Outgoing, contact: object) -> SendResult:
            return SENT

        async def close(self) -> None: ...

    n = await Notifier.open(CFG, tmp_path, channels=Channels(CFG, overrides={"board": Board()}))

    async def effects(events: list[Event]) -> None:
        for e in events:
            seen.append((type(e).__name__, n.lock.locked()))
            if type(e).__name__ == "IncidentAcknowledged" and fail["ack"]:
                raise RuntimeError("outbox full (simulated)")

    n.effects = effects
    try:
        await n.handle_batch([d(reported("INC1"), 1), d(graded("INC1"), 2)], T0)
        attempts = await n.deliver_due(T0)
        assert attempts and all(a.status == "sent" for a in attempts)
        (tier,) = await n.escalate_due(T0 + 16 * M)
        with pytest.raises(RuntimeError, match="outbox full"):
            await n.acknowledge("INC1", "p-li", T0 + 17 * M)
        assert n.memo("INC1").acked_by is None and "INC1" in n.escalating
        fail["ack"] = False
        assert await n.acknowledge("INC1", "p-li", T0 + 18 * M) is not None
        kinds = [k for k, _ in seen]
        assert kinds.count("NoticeSent") == len(attempts) and "NoticeEscalated" in kinds
        assert kinds.count("IncidentAcknowledged") == 2 and all(held for _, held in seen)
        assert tier.tier == 1 and n.memo("INC1").acked_by == "p-li" and n.escalating == set()
    finally:
        await n.close()


async def test_answers_that_arrive_together_share_one_commit(tmp_path: Path) -> None:
    """Twenty sends answered at the same moment are recorded, each with its outcome, in fewer
    commits than sends."""
    queue = await DeliveryQueue.open(tmp_path / "q.sqlite", Delivery(max_attempts=2, rate_limit=0, jitter=0.0),
                                     rng=random.Random(0))
    commits = 0
    real_commit = queue.db.commit

    async def counted() -> None:
        nonlocal commits
        commits += 1
        await real_commit()

    queue.db.commit = counted  # type: ignore[method-assign]
    gate = asyncio.Event()

    async def send(m: Outgoing) -> SendResult:
        await gate.wait()
        return SENT if int(m.key[1:]) % 2 else SendResult(False, True, "HTTP 503")

    msgs = [Outgoing(key=f"K{i:02d}", incident_id="INC", event_id=f"E{i}", cause="clock.warning", person_id="p",
                     person_name="p", contact="webhook", subject="s", body="b") for i in range(20)]
    try:
        await queue.enqueue(msgs, T0)
        delivering = asyncio.create_task(queue.deliver_due(T0, send))
        await asyncio.sleep(0.05)
        before = commits
        gate.set()
        attempts = await asyncio.wait_for(delivering, 10)
        assert sorted(a.status for a in attempts) == ["pending"] * 10 + ["sent"] * 10
        assert 1 <= commits - before < 20
        assert await queue.counts() == {"pending": 10, "sent": 10}
    finally:
        await queue.close()


async def test_old_layout_moves_into_the_state_table(tmp_path: Path) -> None:
    """A notify.sqlite with the one-column-per-field incidents table (and queued notices)
    opens with every incident in the state table; escalation goes on from the tiers done."""
    async with aiosqlite.connect(tmp_path / "notify.sqlite") as db:
        await db.execute("CREATE TABLE incidents (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', grade TEXT, "
                         "owner TEXT, major_since REAL, acked_by TEXT, acked_at REAL, closed INTEGER NOT NULL "
                         "DEFAULT 0, tiers_done TEXT NOT NULL DEFAULT '[]', sentiment TEXT) WITHOUT ROWID")
        await db.executemany("INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?)", [
            ("MAJOR", "网传重大事件", "I", "education", T0.timestamp(), None, None, 0, "[1]", "negative"),
            ("ACKED", "已确认事件", "II", None, T0.timestamp(), "p-li", (T0 + M).timestamp(), 0, "[]", None),
            ("SHUT", "已关闭事件", "III", None, None, None, None, 1, "[]", "neutral")])
        await db.executescript(QUEUE_SCHEMA)  # the queue's table is as it was
        await db.execute("INSERT INTO notices(key, incident_id, event_id, cause, person_id, contact, payload, "
                         "status, next_attempt_at, created_at) VALUES ('K1', 'MAJOR', 'E1', 'incident.graded', "
                         "'p-li', 'board', ?, 'pending', 0, 0)", (msgspec.json.encode(
                             Outgoing(key="K1", incident_id="MAJOR", event_id="E1", cause="incident.graded",
                                      person_id="p-li", person_name="李", contact="board", subject="s", body="b")),))
        await db.commit()
    n = await Notifier.open(CFG, tmp_path)
    try:
        assert n.memo("MAJOR") == IncidentMemo(id="MAJOR", title="网传重大事件", grade="I", owner="education",
                                               sentiment="negative", major_since=T0, tiers_done=frozenset({1}))
        assert (n.memo("ACKED").acked_by, n.memo("ACKED").acked_at) == ("p-li", T0 + M)
        assert n.memo("SHUT").closed and n.escalating == {"MAJOR"} and n.majors == {"MAJOR", "ACKED"}
        assert [e.tier for e in await n.escalate_due(T0 + 40 * M)] == [2]
        assert [r.key for r in await n.queue.rows("MAJOR")][:1] == ["K1"]
    finally:
        await n.close()
    n = await Notifier.open(CFG, tmp_path)  # opened again: nothing left to move
    try:
        assert n.memo("MAJOR").tiers_done == {1, 2}
        columns = await rows(n.db, "SELECT name FROM pragma_table_info('incidents')")
        assert columns == [("id",), ("state",), ("closed_at",)]  # when it closed (issue 13)
        stamped = await rows(n.db, "SELECT id FROM incidents WHERE closed_at IS NOT NULL")
        assert stamped == [("SHUT",)]
    finally:
        await n.close()
