"""The plans' clocks end to end on a real nats-server: a report's post time flows from intake
through grading to deadlines, a stage change meets nothing, a grade a person raises later
starts report_up from the rise, and a clock past due on arrival sends no slip (seed 002 三.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nats.aio.client import Client

from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


async def test_post_time_flows_through_and_only_acts_meet_clocks(nats_server: NatsServer, nc: Client,
                                                                 tmp_path: Path) -> None:
    """plan-002: a Saturday-evening post reported Monday is late on arrival for the 3 h first
    response (no slip); a stage meets nothing; a person's regrade to II days later starts the
    2 h report from the rise; done meets it."""
    clock = FakeClock(MONDAY_9.astimezone(UTC))
    src = ConfigSource(profile="plan-002")
    url = nats_server.url
    async with running(build_intake(src), url, tmp_path / "intake", source=src, now=clock), \
            running(build_grading(src), url, tmp_path / "grading", source=src, now=clock), \
            running(build_deadlines(src), url, tmp_path / "deadlines", source=src, now=clock, tick=0.05):
        reply = await request(nc, "wb.intake.submit", {
            "title": "家长反映学校食堂饭菜变质", "platform": "forum", "region": "仲山镇", "topic": "education",
            "posted_at": "2026-11-21T20:00:00+08:00", "observed_at": "2026-11-23T08:40:00+08:00"})
        assert reply["ok"] is True, reply
        incident = reply["incident_id"]

        async def clocks(**status: str) -> dict:
            async def check() -> dict | None:
                view = await kv_get(nc, f"{incident}.clocks")
                if not view:
                    return None
                got = {c["name"]: c["status"] for c in view["clocks"]}
                return view if all(got.get(k) == v for k, v in status.items()) else None
            return await eventually(check, what=f"clocks {status}")

        view = await clocks(first_response="breached", simple_answer="breached", final="running")
        by_name = {c["name"]: c for c in view["clocks"]}
        assert by_name["first_response"]["on_arrival"] and by_name["first_response"]["counted_from"] == "posted"
        assert datetime.fromisoformat(by_name["final"]["due_at"]) == local("2026-11-27 17:30")  # 5wd from Sat
        assert view["reminders"] == 0 and view["slips"] == []
        core = await kv_get(nc, f"{incident}.core")
        assert core is not None and datetime.fromisoformat(core["posted_at"]) == local("2026-11-21 20:00")

        # A stage change meets nothing.
        r = await request(nc, "wb.cmd.stage", {"incident_id": incident, "stage": "following", "actor": "li"})
        assert r["ok"] is True, r
        clock.advance(seconds=1)
        await eventually(lambda: _stage_is(nc, incident, "following"), what="stage following")
        view = await clocks(final="running")
        assert {c["status"] for c in view["clocks"]} == {"breached", "running"}

        # Two days later a person raises it to II: the 2 h report counts from the rise.
        rise = local("2026-11-25 10:00")
        clock.set(rise.astimezone(UTC))
        r = await request(nc, "wb.cmd.regrade", {"incident_id": incident, "grade": "II", "reason": "媒体转载",
                                                 "actor": "li"})
        assert r["ok"] is True, r
        view = await clocks(report_up="running")
        due = {c["name"]: datetime.fromisoformat(c["due_at"]) for c in view["clocks"]}
        assert due["report_up"] == local("2026-11-25 12:00")  # from observation 11-23 08:40 it would be long past
        r = await request(nc, "wb.cmd.done", {"incident_id": incident, "clock": "report_up", "actor": "li"})
        assert r["ok"] is False and r["error"]["field"] == "note"
        r = await request(nc, "wb.cmd.done", {"incident_id": incident, "clock": "report_up", "actor": "li",
                                              "note": "电话报告校长"})
        assert r["ok"] is True, r
        await clocks(report_up="met")

        # The late-on-arrival tasks got their first slip one working day after they arrived
        # (Tuesday 17:30), not at the breach.
        view = await eventually(lambda: _with_slips(nc, incident, 2), what="first slips after a whole period")
        assert sorted((s["clock"], s["count"], s["last_at"]) for s in view["slips"]) == [
            ("first_response", 1, "2026-11-25T02:00:00Z"), ("simple_answer", 1, "2026-11-25T02:00:00Z")]
        history = await load_history(nc, Subjects(), incident)
        assert not any(isinstance(e, ev.ClockMet) and e.clock != "report_up" for e in history)


async def _stage_is(nc: Client, incident: str, stage: str) -> bool:
    core = await kv_get(nc, f"{incident}.core")
    return bool(core and core["stage"] == stage)


async def _with_slips(nc: Client, incident: str, n: int) -> dict | None:
    view = await kv_get(nc, f"{incident}.clocks")
    return view if view and view["reminders"] >= n else None
