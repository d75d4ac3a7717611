"""Escalation of unacknowledged grade I/II incidents, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchboard.domain.events import (
    ClockWarning,
    IncidentAssigned,
    IncidentClosed,
    IncidentGraded,
    IncidentReported,
    Mention,
)
from watchboard.services.notify.escalation import due_tiers, next_due_at
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.render import notice_key
from watchboard.services.notify.settings import Escalation, Tier, load_notify

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
POLICY = Escalation(grades=["I", "II"], tiers=[Tier(after="15m", roles=["duty_officer"]),
                                               Tier(after="30m", roles=["leader_group"]),
                                               Tier(after="60m", roles=["upper_level"])])
M = timedelta(minutes=1)


@pytest.mark.parametrize(("minutes", "acked", "done", "expected"), [
    (0, False, set(), []),
    (14, False, set(), []),
    (15, False, set(), [1]),
    (29, False, {1}, []),
    (30, False, {1}, [2]),
    (45, False, set(), [1, 2]),  # the service was down: both tiers fall due at once
    (60, False, {1, 2}, [3]),
    (600, False, {1, 2, 3}, []),
    (600, True, set(), []),  # an acknowledgement stops every tier
])
def test_due_tiers(minutes: int, acked: bool, done: set[int], expected: list[int]) -> None:
    """Tiers fall due at their offset from `since`, once, and never after an ack."""
    assert due_tiers(POLICY, since=T0, now=T0 + minutes * M, acknowledged=acked, done=done) == expected


@pytest.mark.parametrize(("done", "acked", "expected"), [
    (set(), False, T0 + 15 * M), ({1}, False, T0 + 30 * M), ({1, 2, 3}, False, None), (set(), True, None),
])
def test_next_due_at(done: set[int], acked: bool, expected: datetime | None) -> None:
    """The timer wakes for the next tier not yet sent."""
    assert next_due_at(POLICY, since=T0, acknowledged=acked, done=done) == expected


def reported(inc: str) -> IncidentReported:
    return IncidentReported(id=f"R-{inc}", incident_id=inc, at=T0, actor="intake", title="网传某镇中学食堂使用过期食材",
                            mention=Mention(platform="weibo"))


def graded(inc: str, grade: str, at: datetime = T0, eid: str = "") -> IncidentGraded:
    return IncidentGraded(id=eid or f"G-{inc}-{grade}", incident_id=inc, at=at, actor="grading", grade=grade,
                          previous=None, reasons=["r"], source="rules")


@pytest.fixture
async def notifier(tmp_path: Path):
    n = await Notifier.open(load_notify(), tmp_path)
    yield n
    await n.close()


async def test_escalation_tier_by_tier_until_acknowledged(notifier: Notifier) -> None:
    """Grade I escalates at 15 and 30 min; an ack then stops tier 3."""
    await notifier.handle(reported("INC1"), T0)
    await notifier.handle(graded("INC1", "I"), T0)
    assert await notifier.escalate_due(T0 + 14 * M) == []
    (e1,) = await notifier.escalate_due(T0 + 15 * M)
    assert (e1.tier, e1.to) == (1, ["p-li", "p-office"])  # duty officer (Monday day shift) + office
    assert await notifier.escalate_due(T0 + 16 * M) == []
    (e2,) = await notifier.escalate_due(T0 + 31 * M)
    assert (e2.tier, e2.to) == (2, ["g-leaders"])
    ack = await notifier.acknowledge("INC1", "p-li", T0 + 40 * M, via="link")
    assert ack is not None and ack.by == "p-li"
    assert await notifier.acknowledge("INC1", "p-wang", T0 + 41 * M) is None  # once
    assert await notifier.escalate_due(T0 + 120 * M) == []
    view = await notifier.notices_view("INC1", T0 + 120 * M)
    assert view.acknowledged_by == "p-li" and view.escalation_tier == 2


async def test_escalation_ids_are_deterministic(tmp_path: Path) -> None:
    """The same tier of the same incident yields the same event id (safe to republish)."""
    ids = []
    for sub in ("a", "b"):
        n = await Notifier.open(load_notify(), tmp_path / sub)
        await n.handle(graded("INC1", "II"), T0)
        ids.append([e.id for e in await n.escalate_due(T0 + 20 * M)])
        await n.close()
    assert ids[0] == ids[1] and len(ids[0]) == 1


async def test_closed_or_downgraded_incident_does_not_escalate(notifier: Notifier) -> None:
    """Closing, or a grade below II, stops escalation."""
    await notifier.handle(graded("INC1", "I"), T0)
    await notifier.handle(IncidentClosed(id="C1", incident_id="INC1", at=T0, actor="intake"), T0 + M)
    await notifier.handle(graded("INC2", "II"), T0)
    await notifier.handle(graded("INC2", "III", eid="G-INC2-down"), T0 + M)
    assert await notifier.escalate_due(T0 + 120 * M) == []


async def test_handle_routes_and_is_idempotent(tmp_path: Path) -> None:
    """Grade I (plan-000) queues duty officer, leaders and upper level; the same event again
    queues nothing."""
    notifier = await Notifier.open(load_notify(), tmp_path, profile="plan-000")
    try:
        await _routes_and_is_idempotent(notifier)
    finally:
        await notifier.close()


async def _routes_and_is_idempotent(notifier: Notifier) -> None:
    await notifier.handle(reported("INC1"), T0)
    first = await notifier.handle(graded("INC1", "I"), T0)
    people = sorted({m.person_id for m in first.queued})
    assert people == ["g-leaders", "p-li", "p-propaganda"]
    assert {m.key for m in first.queued} >= {notice_key("G-INC1-I", "p-li", "board")}
    assert all(m.ack_url.startswith("http://127.0.0.1:8765/ack/") for m in first.queued)
    assert first.incidents == ["INC1"]
    again = await notifier.handle(graded("INC1", "I"), T0 + M)
    assert again.queued == []
    view = await notifier.notices_view("INC1", T0)
    assert len(view.notices) == len(first.queued) and {n.status for n in view.notices} == {"pending"}


async def test_major_incident_switches_roster_to_24h_duty(notifier: Notifier) -> None:
    """Saturday 22:00: nobody on the ordinary rota; with a grade II open, the night duty is."""
    sat_night = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # 22:00 Shanghai
    assert notifier.on_duty(sat_night) == ["p-wang"]  # the evening shift runs every day
    sat_noon = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    assert notifier.on_duty(sat_noon) == ["p-office"]  # fallback
    await notifier.handle(graded("INC1", "II"), sat_noon)
    assert notifier.on_duty(sat_noon) == ["p-li"]  # 24-hour duty: major day shift
    await notifier.handle(IncidentClosed(id="C1", incident_id="INC1", at=sat_noon, actor="intake"), sat_noon)
    assert notifier.on_duty(sat_noon) == ["p-office"]


async def test_clock_warning_goes_to_owner_liaison(notifier: Notifier) -> None:
    """A slipping clock reaches the owning unit's liaison with the due time in local time."""
    await notifier.handle(reported("INC1"), T0)
    await notifier.handle(IncidentAssigned(id="A1", incident_id="INC1", at=T0, actor="grading",
                                           owner="education", previous=None, reason="topic", source="rules"), T0)
    h = await notifier.handle(ClockWarning(id="W1", incident_id="INC1", at=T0, actor="deadlines",
                                           clock="first_response", due_at=T0 + 30 * M, point="80%"), T0)
    assert {m.person_id for m in h.queued} == {"p-zhang"}
    assert h.queued[0].values["due_at"] == "2026-11-23 10:30"
    assert h.queued[0].values["title"] == "网传某镇中学食堂使用过期食材"
