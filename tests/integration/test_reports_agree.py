"""Every figure a report rebuilds from the stream agrees with what the services wrote to the
KV views, as `watchboard ls --json --all` prints them: intake, grading and deadlines run
in-process on a real nats-server with a controlled clock through two days of week 47."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from nats.aio.client import Client

from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource
from watchboard.reports import period as periods
from watchboard.reports.build import build, load_setting
from watchboard.reports.replay import replay_window
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=SH)  # week 47, a working Monday

REPORTS = [
    # (hours after Monday 09:00, report)
    (0, {"title": "网传某镇中学食堂使用过期食材", "platform": "weibo", "region": "仲山镇", "topic": "food_drug",
         "url": "https://weibo.com/1/canteen", "metrics": {"reposts": 150, "comments": 40}}),
    (1, {"title": "县道公交停运多日无人管", "platform": "kuaishou", "url": "https://kuaishou.com/v/bus"}),
    (2, {"title": "城关镇某餐馆食品变质", "platform": "weibo", "region": "城关镇", "topic": "food_drug",
         "url": "https://weibo.com/2/food", "metrics": {"reposts": 20}}),
    (24, {"title": "河西镇学校补课收费", "platform": "douyin", "region": "河西镇", "topic": "education",
          "url": "https://douyin.com/v/fee"}),
]


async def ls_all(url: str) -> list[dict]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "watchboard.cli", "ls", "--json", "--all",
                                                "--nats", url, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    rows: list[dict] = json.loads(out)
    return rows


async def test_report_figures_agree_with_ls_json_all(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_9.astimezone(UTC))
    url, src = nats_server.url, ConfigSource()
    ids: list[str] = []
    async with running(build_intake(src), url, tmp_path / "intake", now=clock, tick=0.05), \
            running(build_grading(src), url, tmp_path / "grading", now=clock, tick=0.05), \
            running(build_deadlines(src), url, tmp_path / "deadlines", now=clock, tick=0.05):
        for hours, report in REPORTS:
            clock.set((MONDAY_9 + timedelta(hours=hours)).astimezone(UTC))
            reply = await request(nc, "wb.intake.submit", report)
            assert reply["ok"], reply
            ids.append(reply["incident_id"])
            await eventually(lambda i=reply["incident_id"]: kv_get(nc, f"{i}.clocks"), timeout=15,
                             what="clocks of a new incident")
        canteen, bus, food, fee = ids
        clock.set((MONDAY_9 + timedelta(hours=24, minutes=30)).astimezone(UTC))  # Tuesday 09:30
        done = await request(nc, "wb.cmd.done", {"incident_id": canteen, "clock": "report_up", "actor": "p-li",
                                                  "note": "电话报告县委网信办"})
        assert done["ok"], done
        on_time = await request(nc, "wb.cmd.done", {"incident_id": fee, "clock": "first_response", "actor": "p-zhang",
                                                     "note": "已回应"})  # reported 09:00, due 12:00
        assert on_time["ok"], on_time
        assert (await request(nc, "wb.cmd.stage", {"incident_id": bus, "stage": "handling", "actor": "p-wang"}))["ok"]
        assert (await request(nc, "wb.cmd.assign", {"incident_id": food, "owner": "market", "reason": "食品",
                                                     "actor": "p-wang"}))["ok"]
        assert (await request(nc, "wb.cmd.close", {"incident_id": food, "summary": "已澄清", "actor": "p-wang"}))["ok"]
        # The follow-through: two tasks (the canteen's due Wednesday 17:30, so overdue by 18:00),
        # a statement drafted for the bus, the canteen supervised on Tuesday (not Wednesday).
        for incident, due in ((canteen, "1wd"), (fee, "3wd")):
            task = await request(nc, "wb.cmd.task_add", {"incident_id": incident, "unit": "health", "text": "核实并反馈",
                                                         "due": due, "actor": "p-li"})
            assert task["ok"], task
        assert (await request(nc, "wb.cmd.statement_draft", {"incident_id": bus, "text": "关于公交停运的说明",
                                                             "actor": "p-wang"}))["ok"]
        assert (await request(nc, "wb.cmd.supervise", {"incident_id": canteen, "note": "电话督办",
                                                       "actor": "p-li"}))["ok"]
        # Wednesday 18:00: the first responses left undone are breached, with reminder slips.
        clock.set(datetime(2026, 11, 18, 18, 0, tzinfo=SH).astimezone(UTC))

        async def settled() -> bool:
            views = [await kv_get(nc, f"{i}.clocks") for i in (canteen, bus, fee)]
            statuses = [next(c["status"] for c in v["clocks"] if c["name"] == "first_response") for v in views if v]
            core = await kv_get(nc, f"{food}.core")
            return statuses == ["breached", "breached", "met"] and bool(core) and core["stage"] == "closed"

        await eventually(settled, timeout=20, what="first responses breached or met")

        async def overdue_task() -> bool:
            view = await kv_get(nc, f"{canteen}.clocks")
            return bool(view) and [c["status"] for c in view["tasks"]] == ["breached"]

        await eventually(overdue_task, timeout=20, what="the canteen's task overdue")
        await asyncio.sleep(1.0)  # let the last reminders and views land
        rows = await ls_all(url)
        task_clocks = {i: (await kv_get(nc, f"{i}.clocks") or {}).get("tasks", []) for i in ids}
        owed = await kv_get(nc, "sys.supervision")
        now = clock()
        replayed = await replay_window(nc, Subjects(), MONDAY_9 - timedelta(days=60), now, timeout=60)

    setting = load_setting(src)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == set(ids)

    # Weekly: new incidents by grade, slips, clocks met and breached.
    weekly = build("weekly", replayed.events, periods.weekly(2026, 47, now, SH), setting, "zh", now=now)
    trend, sup = weekly.figures["trend"], weekly.figures["supervision"]
    grades = Counter(r["grade"] for r in rows)
    assert {g: n for g, n in trend.by_grade.items() if n} == dict(grades)
    assert sup.slips == sum(r["reminders"] for r in rows) > 0
    ls_clocks = [c for r in rows for c in r["clocks"]]
    assert sup.total.on_time == sum(c["status"] == "met" for c in ls_clocks) == 1
    assert sup.total.met_late + sup.total.breached + sup.total.on_arrival == \
        sum(c["status"] == "breached" for c in ls_clocks)
    assert {f.incident_id for f in sup.flagged} == {r["id"] for r in rows if r["flagged"]}
    incidents_by_owner = Counter(r["owner"] for r in rows)
    assert {u.unit: u.incidents for u in sup.units if u.incidents} == dict(incidents_by_owner)

    # Daily (Wednesday, up to now): still open by owner and stage, the clocks due.
    daily = build("daily", replayed.events, periods.daily(date(2026, 11, 18), now, SH), setting, "zh", now=now)
    opened = daily.figures["open_incidents"]
    ls_open = Counter((r["owner"], r["stage"]) for r in rows if r["stage"] != "closed")
    assert {(row.owner, s): n for row in opened.rows for s, n in row.stages.items() if n} == dict(ls_open)
    assert opened.total == sum(ls_open.values()) == 3
    start, horizon = daily.period.start, daily.period.end + timedelta(days=1)
    ls_due = sorted((r["id"], c["name"]) for r in rows if r["stage"] != "closed" for c in r["clocks"]
                    if c["status"] in ("running", "extended")
                    and start <= datetime.fromisoformat(c["due_at"]) < horizon)
    assert sorted((x.incident_id, x.clock) for x in daily.figures["clocks_due"].items) == ls_due

    # Each incident's clocks, one by one: the fold says what deadlines put in the bucket.
    for incident in ids:
        record = weekly.history.incidents[incident]
        assert {n: c.status for n, c in record.clocks.items()} == \
            {c["name"]: c["status"] for c in by_id[incident]["clocks"]}, incident
        assert record.grade == by_id[incident]["grade"] and record.owner == by_id[incident]["owner"]
        assert len(record.slips) == by_id[incident]["reminders"]

    # The follow-through (daily, Wednesday): open tasks, overdue ones, statements awaiting
    # approval, and the open I/II incidents not supervised that day, as the views say them.
    tasks, statements = daily.figures["tasks"], daily.figures["statements"]
    assert tasks.open == sum(r["tasks_open"] for r in rows) == 2
    assert tasks.overdue == sum(c["status"] == "breached" for cs in task_clocks.values() for c in cs) == 1
    assert [x.incident_id for x in statements.awaiting] == [r["id"] for r in rows if r["statement_state"] == "drafted"]
    supervision = daily.figures["supervision_owed"]
    assert owed is not None and owed["day"] == "2026-11-18"
    assert supervision.due == len(owed["due"]) and [x.id for x in supervision.unsupervised] == owed["unsupervised"]
    assert canteen in owed["unsupervised"]  # supervised on Tuesday, not on Wednesday
    # A task's clock is not among the plans' clocks the figures above compared.
    assert all(not name.startswith("task:") for r in weekly.history.incidents.values() for name in r.clocks)
