"""The Notifier under each plan's routes: flags to the police, seed 003's 网宣/网警 notice,
low-priority notices to the leaders, the roster on the working calendar. No NATS: events in,
queued notices out (the integration test runs the same over a real nats-server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest
from msgspec.structs import replace

from watchboard.config.calendar import load_calendar
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.events import (
    IncidentAssigned,
    IncidentFlagged,
    IncidentGraded,
    IncidentReported,
    IncidentUnflagged,
    Mention,
)
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.render import MAX_REASON_CHARS
from watchboard.services.notify.settings import NotifyConfig, load_notify
from watchboard.services.notify.templates import render

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
CFG = load_notify()


def reported(inc: str = "INC1") -> IncidentReported:
    return IncidentReported(id=f"R-{inc}", incident_id=inc, at=T0, actor="intake", title="网传某镇自来水有毒",
                            mention=Mention(platform="weibo"))


def graded(grade: str, sentiment: str = "negative", inc: str = "INC1") -> IncidentGraded:
    return IncidentGraded(id=f"G-{inc}-{grade}-{sentiment}", incident_id=inc, at=T0, actor="grading",
                          grade=grade, previous=None, reasons=["r"], source="rules", sentiment=sentiment)


def flagged(kind: str = "rumour", reason: str = "水厂检测合格，帖文系编造") -> IncidentFlagged:
    return IncidentFlagged(id=f"F-{kind}", incident_id="INC1", at=T0, actor="p-li", kind=kind, reason=reason)


async def opened(tmp_path: Path, profile: str, cfg: NotifyConfig = CFG) -> Notifier:
    return await Notifier.open(cfg, tmp_path, profile=profile, calendar=WorkCalendar(load_calendar()))


@pytest.mark.parametrize(("profile", "people"), [
    pytest.param("default", ["liaison-police", "p-police"], id="default: seed 003 三(四)"),
    pytest.param("plan-000", ["liaison-police", "p-police"], id="plan-000: seed 000 预案3 四(三)五"),
    pytest.param("plan-001", [], id="plan-001: seed 001 names no police referral"),
    pytest.param("plan-003", ["liaison-police", "p-police"], id="plan-003: seed 003 三(四)"),
    pytest.param("plan-004", ["liaison-police", "p-police"], id="plan-004: seed 004 第六篇 (三)5"),
])
async def test_flag_reaches_the_police_where_the_plan_refers_rumours(tmp_path: Path, profile: str,
                                                                     people: list[str]) -> None:
    """incident.flagged goes to legal_referral (网警 and the police unit's liaison)."""
    n = await opened(tmp_path, profile)
    try:
        await n.handle(reported(), T0)
        await n.handle(graded("III"), T0)
        h = await n.handle(flagged(), T0)
        assert sorted({m.person_id for m in h.queued}) == people
        assert all(m.cause == "incident.flagged" for m in h.queued)
    finally:
        await n.close()


async def test_flag_notice_says_what_was_flagged_and_why(tmp_path: Path) -> None:
    """The police read the incident, the kind of flag in their language, and the reason."""
    english = replace(CFG, people=[replace(p, lang="en") if p.id == "p-police" else p for p in CFG.people])
    n = await opened(tmp_path, "plan-004", english)
    try:
        await n.handle(reported(), T0)
        await n.handle(IncidentAssigned(id="A1", incident_id="INC1", at=T0, actor="grading", owner="health",
                                        previous=None, reason="topic", source="rules"), T0)
        h = await n.handle(flagged("rumour"), T0)
        by = {m.person_id: render(m) for m in h.queued}
        subject, body = by["liaison-police"]
        assert "报请公安机关" in subject and "网传某镇自来水有毒" in subject
        assert "谣言" in body and "水厂检测合格，帖文系编造" in body
        subject, body = by["p-police"]
        assert subject.startswith("[Referred to the police]")
        assert "flagged as a rumour" in body and "水厂检测合格" in body
        h = await n.handle(flagged("illegal", "x" * 5000), T0)
        zh = next(m for m in h.queued if m.person_id == "liaison-police")
        assert zh.values["kind"] == "涉嫌违法违规信息" and len(zh.values["reason"]) == MAX_REASON_CHARS
        back = await n.handle(IncidentUnflagged(id="U1", incident_id="INC1", at=T0, actor="p-li", kind="rumour",
                                                reason="经核实属实"), T0)
        body = render(next(m for m in back.queued if m.person_id == "liaison-police"))[1]
        assert "“谣言”标记已撤销" in body and "经核实属实" in body
    finally:
        await n.close()


@pytest.mark.parametrize(("profile", "grade", "sentiment", "people"), [
    pytest.param("plan-003", "II", "negative",
                 ["g-leaders", "liaison-police", "p-li", "p-police", "p-propaganda", "p-wangxuan"],
                 id="plan-003 II neg: seed 003 四(三) 网宣 网警"),
    pytest.param("plan-003", "II", "positive", ["g-leaders", "p-li"], id="plan-003 II pos: 负面 only"),
    pytest.param("plan-000", "II", "negative", ["g-leaders", "p-li"], id="plan-000 II: no 网宣/网警 rule"),
])
async def test_seed_003_major_negative_reaches_wangxuan_and_wangjing(tmp_path: Path, profile: str, grade: str,
                                                                   sentiment: str, people: list[str]) -> None:
    """The sentiment grading gives the incident decides seed 003's notice."""
    n = await opened(tmp_path, profile)
    try:
        await n.handle(reported(), T0)
        h = await n.handle(graded(grade, sentiment), T0)
        assert sorted({m.person_id for m in h.queued}) == people
    finally:
        await n.close()


@pytest.mark.parametrize(("profile", "grade", "expected"), [
    pytest.param("plan-004", "IV", {"g-leaders": "low"}, id="plan-004 IV: seed 004 第七篇 第五条, low"),
    pytest.param("plan-001", "III", {"g-leaders": "low"}, id="plan-001 III: seed 001 机关预案 四.1(2), low"),
    pytest.param("plan-004", "II", {"g-leaders": "normal", "p-li": "normal", "p-propaganda": "normal"},
                 id="plan-004 II: at once"),
    pytest.param("plan-003", "IV", {}, id="plan-003 IV: nobody"),
])
async def test_low_priority_notices_carry_their_priority(tmp_path: Path, profile: str, grade: str,
                                                         expected: dict[str, str]) -> None:
    """The outbox holds what the route marks low; the incident does not escalate for it."""
    n = await opened(tmp_path, profile)
    try:
        await n.handle(reported(), T0)
        h = await n.handle(graded(grade), T0)
        assert {m.person_id: m.priority for m in h.queued} == expected
        if grade in ("III", "IV"):
            assert await n.escalate_due(T0 + timedelta(hours=5)) == []
    finally:
        await n.close()


async def test_sentiment_is_remembered_across_a_restart(tmp_path: Path) -> None:
    """The sentiment grading said is kept with the incident (for routes that name sentiments)."""
    n = await opened(tmp_path, "plan-003")
    await n.handle(graded("II", "positive"), T0)
    await n.close()
    n = await opened(tmp_path, "plan-003")
    try:
        assert n.memo("INC1").sentiment == "positive"
    finally:
        await n.close()


async def test_database_from_before_sentiments_is_upgraded(tmp_path: Path) -> None:
    """A notify.sqlite made by the previous release gains the column and keeps its rows."""
    async with aiosqlite.connect(tmp_path / "notify.sqlite") as db:
        await db.execute("CREATE TABLE incidents (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', grade TEXT, "
                         "owner TEXT, major_since REAL, acked_by TEXT, acked_at REAL, closed INTEGER NOT NULL "
                         "DEFAULT 0, tiers_done TEXT NOT NULL DEFAULT '[]') WITHOUT ROWID")
        await db.execute("INSERT INTO incidents(id, title, grade) VALUES ('OLD', '旧事件', 'III')")
        await db.commit()
    n = await opened(tmp_path, "default")
    try:
        old = n.memo("OLD")
        assert (old.title, old.grade, old.sentiment) == ("旧事件", "III", None)
        await n.handle(graded("II"), T0)
        assert n.memo("INC1").sentiment == "negative"
    finally:
        await n.close()


@pytest.mark.parametrize(("local", "expected"), [
    ("2026-02-14 10:00", ["p-li"]),  # Sat, make-up working day (调休)
    ("2026-09-20 10:00", ["p-li"]),  # Sun, make-up working day
    ("2026-10-01 10:00", ["p-office"]),  # Thu, 国庆 holiday
])
async def test_notifier_roster_uses_the_working_calendar(tmp_path: Path, local: str, expected: list[str]) -> None:
    """The duty officer a notice goes to follows the working calendar."""
    n = await opened(tmp_path, "default")
    try:
        at = datetime.fromisoformat(local + "+08:00")
        assert n.on_duty(at) == expected
    finally:
        await n.close()
