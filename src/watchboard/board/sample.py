"""A realistic in-memory feed so the board can be seen without NATS.

    python -m watchboard.board.sample [--wall] [--lang en] [--count N] [--hostile]

The same builders make the items for the board's tests and `bench/board.py`: they produce
exactly what `watchboard.bus.feed.watch_board()` yields (KV values encoded by `encode_view`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from watchboard.bus.feed_types import Connection, FeedItem, KVChange, ServiceHealth, SnapshotDone
from watchboard.domain.report import Metrics
from watchboard.domain.views import (
    CALENDAR_KEY,
    SUPERVISION_KEY,
    CalendarView,
    ClocksView,
    ClockView,
    CoreView,
    EvidenceFileView,
    GradeView,
    MeetingView,
    MentionView,
    NoteView,
    NoticesView,
    NoticeView,
    SlipView,
    StatementStepView,
    StatementView,
    SupervisionDayView,
    SweepView,
    TaskView,
    encode_view,
    kv_key,
)

TITLES = [
    ("网传仲山镇中学食堂使用过期食材，家长聚集校门口", "education", "food_drug", "I"),
    ("城东化工厂夜间排放刺鼻气体，居民拍视频投诉", "environment", "environment", "II"),
    ("高速收费站事故视频在抖音传播，称救援迟缓", "transport", "transport", "II"),
    ("某小区拆迁补偿不公，业主微博维权帖转发过百", "resources", "land_demolition", "II"),
    ("县医院急诊排队四小时，患者家属发帖质疑", "health", "public_health", "III"),
    ("暴雨后安置点物资短缺的说法在微信群流传", "emergency", "disaster_relief", "III"),
    ("城管执法视频被剪辑传播，网友质疑暴力执法", "city_management", "law_enforcement", "III"),
    ("网传河西镇自来水发黄，居民担心水质", "hexi", "public_health", "III"),
    ("论坛网友反映公交线路调整后通勤不便", "transport", "transport", "IV"),
    ("家长询问秋季入学划片政策", "education", "education", "IV"),
    ("有网友称菜市场电子秤缺斤短两", "market", "food_drug", "IV"),
    ("小区垃圾清运不及时，业主在12345留言", "city_management", "environment", "IV"),
    ("疑似虚假招聘信息冒用县人社局名义", None, "other", "IV"),
    ("建筑工地夜间施工噪音扰民，连续三晚", "environment", "production_safety", "IV"),
    ("网传某景区门票涨价，游客吐槽", "office", "other", "IV"),
]
PLATFORMS = ["weibo", "douyin", "wechat", "forum", "news", "toutiao", "hotline"]
HOSTILE_TITLE = ("[bold red]x[/] \x1b]52;c;aGVsbG8=\x07 \x1b[31mRED\x1b[0m \u202eevil\u202c "
                 + "长" * 40 + "A" * 10_000)
REPORT_CLOCKS = {"I": timedelta(hours=2), "II": timedelta(hours=4)}
# The reasons grading gives, in both languages (IncidentGraded.reasons and reasons_en).
REASONS = {
    "I": (["突发事件，严重影响社会稳定 → I 特别重大"], ["sudden emergency, serious risk to stability → I Especially major"]),
    "II": (["微博转发 160 ≥ 100 → II 重大"], ["reposts 160 ≥ 100 → II Major"]),
    "III": (["负面，3 个平台 ≥ 2 → III 较大"], ["negative on 3 platforms ≥ 2 → III Large"]),
    "IV": (["论坛发帖，无主流媒体 → IV 一般"], ["forum post, no mainstream media → IV General"]),
}


@functools.cache
def _units() -> dict[str, Any]:
    """The sample county of the default units.toml (the board's tests and pictures use it)."""
    from watchboard.config.units import load_units

    return {u.id: u for u in load_units().units}


def grade_value(grade: str, owner: str | None, *, updated_at: datetime, flags: list[str] | None = None,
                assisting: list[str] | None = None,
                grade_labels: dict[str, dict[str, str]] | None = None) -> GradeView:
    unit = _units().get(owner or "")
    zh, en = REASONS.get(grade, ([], []))
    return GradeView(grade=grade, reasons=list(zh), reasons_en=list(en), owner=owner,
                     owner_name=unit.name if unit else "", owner_name_en=unit.name_en if unit else "",
                     owner_reason="按领域：属该单位主管" if owner else "",
                     owner_reason_en="by topic: in this unit's remit" if owner else "",
                     assisting=list(assisting or []), flags=list(flags or []), updated_at=updated_at,
                     grade_labels=dict(grade_labels or {}))


def incident_items(incident_id: str, *, title: str, grade: str | None, owner: str | None,
                   reported_at: datetime, now: datetime, stage: str = "reported",
                   acked_by: str | None = None, topic: str | None = None,
                   clocks: list[ClockView] | None = None, platform: str = "weibo",
                   mentions: int = 1, summary: str = "", region: str = "仲山镇",
                   provisional: bool = False, posted_before: timedelta | None = None,
                   flags: list[str] | None = None, assisting: list[str] | None = None,
                   slips: list[SlipView] | None = None, notice_channel: str = "email",
                   grade_labels: dict[str, dict[str, str]] | None = None,
                   follow: Follow | None = None) -> list[KVChange]:
    """The four KV values of one incident, as the services would write them.

    `posted_before`: the post appeared that long before it was reported (first mention's
    `posted_at`; its observation 30 minutes after the post, or at the report when sooner).
    `follow`: its statements, evidence files, tasks (with their clocks), meetings and
    supervision records."""
    follow = follow or Follow()
    posted = reported_at - posted_before if posted_before is not None else None
    observed = min(reported_at, posted + timedelta(minutes=30)) if posted is not None else None
    mention_list = [MentionView(
        platform=PLATFORMS[(i + len(platform)) % len(PLATFORMS)] if i else platform,
        url=f"https://example.com/{incident_id[-6:]}/{i}",
        observed_at=observed if i == 0 and observed else reported_at + timedelta(minutes=7 * i),
        posted_at=posted if i == 0 else None, title=title if i == 0 else "",
        metrics=Metrics(reposts=37 * (i + 1) * mentions, comments=11 * (i + 2), likes=5 * i,
                        views=1200 * (i + 3)),
        media_level="city" if platform == "news" else "none") for i in range(min(mentions, 5))]
    core = CoreView(id=incident_id, title=title, summary=summary, stage=stage,
                    reported_at=reported_at, region=region, topic=topic, platforms=[platform],
                    mention_count=mentions, mentions=mention_list,
                    notes=[NoteView(at=reported_at + timedelta(minutes=20), actor="monitor-01",
                                    text="已截图留存证据")] if mentions > 1 else [],
                    closed_at=now if stage == "closed" else None, updated_at=now,
                    posted_at=posted, observed_at=observed, statements=follow.statements,
                    evidence_files=follow.evidence_files, tasks=follow.tasks, meetings=follow.meetings,
                    supervisions=follow.supervisions)
    out = [KVChange(kv_key(incident_id, "core"), encode_view(core))]
    if grade:
        gv = grade_value(grade, owner, updated_at=reported_at + timedelta(minutes=1), flags=flags,
                         assisting=assisting, grade_labels=grade_labels)
        out.append(KVChange(kv_key(incident_id, "grade"), encode_view(gv)))
    if clocks is None and grade:
        start = posted or reported_at
        due = start + REPORT_CLOCKS.get(grade, timedelta(hours=24))
        clocks = [
            ClockView(name="report_up", due_at=due, basis="calendar",
                      status="running" if due > now else "breached", start_at=start,
                      counted_from="posted" if posted else "reported", on_arrival=due <= reported_at),
            ClockView(name="first_response", due_at=reported_at + timedelta(hours=3),
                      basis="working", status="running" if reported_at + timedelta(hours=3) > now
                      else "breached", provisional=provisional, start_at=reported_at,
                      counted_from="reported", extendable=True),
            ClockView(name="statement", due_at=reported_at + timedelta(hours=24), basis="calendar",
                      status="running", start_at=reported_at, counted_from="reported"),
        ]
    if clocks or follow.task_clocks:
        slip_list = list(slips or [])
        out.append(KVChange(kv_key(incident_id, "clocks"), encode_view(ClocksView(
            clocks=clocks or [], updated_at=now, slips=slip_list, reminders=sum(x.count for x in slip_list),
            flagged=any(x.flagged for x in slip_list), tasks=follow.task_clocks,
            supervised_at=max((n.at for n in follow.supervisions), default=None)))))
    notices = NoticesView(
        notices=[NoticeView(to="p-li", channel=notice_channel, status="sent", cause="incident.graded",
                            at=reported_at + timedelta(minutes=2))],
        acknowledged_by=acked_by,
        acknowledged_at=reported_at + timedelta(minutes=9) if acked_by else None)
    out.append(KVChange(kv_key(incident_id, "notices"), encode_view(notices)))
    return out


@dataclass(frozen=True)
class Follow:
    """An incident's follow-through, as intake (record) and deadlines (task clocks) keep it."""

    statements: list[StatementView] = field(default_factory=list)
    evidence_files: list[EvidenceFileView] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)
    task_clocks: list[ClockView] = field(default_factory=list)
    meetings: list[MeetingView] = field(default_factory=list)
    supervisions: list[NoteView] = field(default_factory=list)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _task(task_id: str, unit: str, text: str, added: datetime, due: datetime, *, source: str = "",
          meeting: str = "", fed_back: datetime | None = None, feedback: str = "",
          clock_status: str | None = None) -> tuple[TaskView, ClockView]:
    task = TaskView(id=task_id, unit=unit, text=text, due="2wd", due_at=due, source=source, meeting_id=meeting,
                    added_by="p-li", added_at=added, status="fed_back" if fed_back else "open",
                    feedback=feedback, fed_back_by="liaison-" + unit if fed_back else None, fed_back_at=fed_back)
    status = clock_status or ("met" if fed_back else "running")
    clock = ClockView(name=f"task:{task_id}", due_at=due, basis="working", status=status, start_at=added,
                      met_at=fed_back, met_by=task.fed_back_by, unit=unit)
    return task, clock


def sample_follow(now: datetime) -> dict[int, Follow]:
    """The follow-through of three sample incidents (by index): the first has all of it — a
    statement sent back then redrafted and awaiting approval, two evidence files, a meeting
    that handed out one of its two tasks, a supervision today; the second a published
    statement; the fifth an overdue task beside an open one."""
    v1, v2 = "关于仲山镇中学食堂问题的情况通报（初稿）", "关于仲山镇中学食堂问题的情况通报：经调查，涉事批次食材已封存送检。"
    statements = [
        StatementView(version=1, state="rejected", sha256=_digest(v1), drafted_by="p-li", drafted_at=now - timedelta(minutes=80),
                      rejected_reason="请补充检测结果", history=[
                          StatementStepView(at=now - timedelta(minutes=80), actor="p-li", action="drafted", sha256=_digest(v1)),
                          StatementStepView(at=now - timedelta(minutes=60), actor="p-chen", action="rejected",
                                            sha256=_digest(v1), detail="请补充检测结果")]),
        StatementView(version=2, state="drafted", sha256=_digest(v2), text=v2, drafted_by="p-li",
                      drafted_at=now - timedelta(minutes=20), history=[
                          StatementStepView(at=now - timedelta(minutes=20), actor="p-li", action="drafted", sha256=_digest(v2))]),
    ]
    evidence = [
        EvidenceFileView(name="现场截图.png", sha256=_digest("png"), size=1_258_291, media_type="image/png",
                         object=_digest("png"), added_by="monitor-01", added_at=now - timedelta(minutes=85)),
        EvidenceFileView(name="原帖网页.mhtml", sha256=_digest("mhtml"), size=348_160, media_type="message/rfc822",
                         object=_digest("mhtml"), added_by="monitor-01", added_at=now - timedelta(minutes=84)),
    ]
    t1, c1 = _task("T1SAMPLE000000001", "market", "封存涉事批次食材并送检，书面反馈检测结果", now - timedelta(minutes=50),
                   now + timedelta(hours=2, minutes=5), source="县委书记批示", meeting="M1SAMPLE000000001")
    t2, c2 = _task("T1SAMPLE000000002", "education", "约谈学校负责人，说明食堂管理情况", now - timedelta(minutes=50),
                   now + timedelta(hours=6), meeting="M1SAMPLE000000001", fed_back=now - timedelta(minutes=10),
                   feedback="已约谈校长，食堂停业整顿")
    meeting = MeetingView(id="M1SAMPLE000000001", kind="会商", attendees=["王主任", "赵科长"], held_at=now - timedelta(minutes=55),
                          recorded_by="p-li", tasks=[t1.id, t2.id], minutes="研判认为需尽快发布权威信息，并由市场监管局牵头核查。")
    t3, c3 = _task("T5SAMPLE000000003", "health", "核实急诊排队时长并书面反馈", now - timedelta(days=3),
                   now - timedelta(hours=5), clock_status="breached")
    t4, c4 = _task("T5SAMPLE000000004", "health", "公布急诊分诊安排", now - timedelta(hours=2), now + timedelta(days=2))
    published = "县医院关于急诊就诊秩序的说明"
    return {
        0: Follow(statements=statements, evidence_files=evidence, tasks=[t1, t2], task_clocks=[c1, c2],
                  meetings=[meeting], supervisions=[NoteView(at=now - timedelta(minutes=30), actor="p-li",
                                                            text="电话督办市场监管局：送检结果明日上午反馈")]),
        1: Follow(statements=[StatementView(
            version=1, state="published", sha256=_digest(published), text=published, drafted_by="p-wang",
            drafted_at=now - timedelta(hours=3), approved_by="p-chen", approved_at=now - timedelta(hours=2),
            url="https://weibo.com/example/1", channel="官方微博", published_at=now - timedelta(hours=1),
            history=[StatementStepView(at=now - timedelta(hours=3), actor="p-wang", action="drafted", sha256=_digest(published)),
                     StatementStepView(at=now - timedelta(hours=2), actor="p-chen", action="approved", sha256=_digest(published)),
                     StatementStepView(at=now - timedelta(hours=1), actor="p-wang", action="published",
                                       sha256=_digest(published), detail="官方微博", url="https://weibo.com/example/1")])]),
        4: Follow(tasks=[t3, t4], task_clocks=[c3, c4]),
    }


def supervision_day(now: datetime, items: list[KVChange]) -> SupervisionDayView:
    """`sys.supervision` as deadlines would write it for the sample: the open I/II incidents of
    today and those without a supervision record today (none owed on a rest day)."""
    from watchboard.domain.calendar import WorkCalendar
    from watchboard.domain.supervision import Watched, owed_on
    from watchboard.domain.views import decode_view, split_key

    cal = WorkCalendar()
    views: dict[str, dict[str, Any]] = {}
    for item in items:
        parts = split_key(item.key)
        if parts is not None and item.value is not None:
            views.setdefault(parts[0], {})[parts[1]] = decode_view(parts[1], item.value)
    watched = [Watched(id=i, grade=v["grade"].grade if "grade" in v else None,
                       open=v["core"].stage != "closed" if "core" in v else True,
                       supervised_at=max((n.at for n in v["core"].supervisions), default=None) if "core" in v else None)
               for i, v in views.items()]
    return owed_on(cal.local(now).date(), watched, cal, now)


def sample_items(now: datetime, *, hostile: bool = False) -> list[KVChange]:
    """About fifteen incidents of every grade, some overdue, some unacknowledged; the first
    shows every fact the detail screen has (a post older than its report, flags, slips)."""
    rng = random.Random(7)
    items: list[KVChange] = []
    follows = sample_follow(now)
    for i, (title, owner, topic, grade) in enumerate(TITLES):
        reported = now - timedelta(minutes=rng.randint(15, 60 * 20))
        extra: dict[str, Any] = {}
        if i == 0:
            reported = now - timedelta(minutes=95)  # grade I: report-up counted from the post
            extra = {"posted_before": timedelta(minutes=10), "flags": ["rumour"],
                     "assisting": ["market", "zhongshan"]}
        if i == 1:  # the post was five hours old when reported: its 4 h report-up was late on arrival
            extra = {"posted_before": timedelta(hours=5)}
        if i == 4:
            extra = {"slips": [SlipView(unit="health", clock="first_response", count=3, flagged=True,
                                        last_at=reported + timedelta(hours=4))]}
        items += incident_items(
            f"01JSAMPLE{i:017d}", title=title, grade=grade, owner=owner, topic=topic,
            reported_at=reported, now=now, platform=PLATFORMS[i % len(PLATFORMS)],
            stage=["reported", "assessing", "handling", "following"][i % 4],
            acked_by="zhang.wei" if i % 3 else None, mentions=1 + (i * 7) % 13,
            summary="监测员发现多平台转发，评论以质疑为主。" if i < 4 else "",
            provisional=i in (4, 13), notice_channel="board" if grade in ("I", "II") else "email",  # working-day clocks past the calendar's known end
            follow=follows.get(i), **extra)
    items += incident_items("01JSAMPLECLOSED00000000001", title="已结案：路灯不亮", grade="IV",
                            owner="city_management", reported_at=now - timedelta(hours=30), now=now,
                            stage="closed")
    if hostile:
        items += incident_items("01JSAMPLEHOSTILE000000001", title=HOSTILE_TITLE, grade="III",
                                owner="[red]evil[/]", reported_at=now - timedelta(minutes=5), now=now)
    items.append(KVChange(SUPERVISION_KEY, encode_view(supervision_day(now, items))))
    items.append(KVChange(CALENDAR_KEY, encode_view(CalendarView(
        covered_until=date(now.year, 12, 31),
        warning_zh=f"尚未录入 {now.year + 1} 年节假日安排，请按国务院办公厅通知补入 calendar.toml",
        warning_en=f"add {now.year + 1} from the State Council notice to calendar.toml"))))
    items.append(KVChange("sys.sweep", encode_view(SweepView(
        last_at=now - timedelta(hours=2, minutes=10), last_by="monitor-01"))))
    return items


def many_items(n: int, now: datetime, seed: int = 1) -> list[KVChange]:
    """`n` incidents (for the bench): every grade, twenty owners, ages over two days."""
    rng = random.Random(seed)
    owners = [f"unit-{k:02d}" for k in range(20)] + ["education", "environment", "transport"]
    items: list[KVChange] = []
    for i in range(n):
        grade = rng.choices(["I", "II", "III", "IV"], weights=[1, 4, 15, 80])[0]
        title, *_ = TITLES[i % len(TITLES)]
        items += incident_items(
            f"01JBENCH{i:018d}", title=f"{title} #{i}", grade=grade, owner=rng.choice(owners),
            reported_at=now - timedelta(minutes=rng.randint(1, 60 * 48)), now=now,
            acked_by="duty" if rng.random() < 0.5 else None, mentions=rng.randint(1, 9))
    return items


async def scripted(items: Iterable[FeedItem], *, then_wait: bool = True) -> AsyncIterator[FeedItem]:
    """Yield the items, then (by default) stay open like a live feed that has gone quiet."""
    for item in items:
        yield item
    if then_wait:
        await asyncio.Event().wait()


def live_feed(lang_now: datetime, *, hostile: bool = False) -> AsyncIterator[FeedItem]:
    """The sample as a live feed: snapshot, then a new grade I after 8 s and a breach after 15 s."""

    async def gen() -> AsyncIterator[FeedItem]:
        now = datetime.now(UTC)
        yield Connection(state="connected", at=now, url="nats://sample")
        items = sample_items(now, hostile=hostile)
        for item in items:
            yield item
        yield SnapshotDone(count=len(items))
        health = {"intake": True, "grading": True, "deadlines": True, "notify": True}
        yield ServiceHealth(services=dict(health), at=now)
        await asyncio.sleep(8)
        now = datetime.now(UTC)
        for item in incident_items("01JSAMPLENEW0000000000001", title="突发：城南桥梁垮塌视频在网上快速传播",
                                   grade="I", owner="emergency", reported_at=now, now=now,
                                   platform="douyin", mentions=3):
            yield item
        await asyncio.sleep(7)
        health["notify"] = False
        yield ServiceHealth(services=dict(health), at=datetime.now(UTC))
        await asyncio.Event().wait()

    return gen()


async def sample_send(verb: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A stand-in command sender: refuses an empty reason, accepts the rest."""
    await asyncio.sleep(0.05)
    if verb in ("regrade", "assign", "extend") and not payload.get("reason"):
        return {"ok": False, "error": {"code": "invalid", "field": "reason",
                                       "message": "a reason is required", "message_zh": "须写明理由"}}
    return {"ok": True}


def main(argv: list[str] | None = None) -> None:
    from watchboard.board.app import BoardApp

    parser = argparse.ArgumentParser(description="The board on a sample feed (no NATS).")
    parser.add_argument("--wall", action="store_true")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    parser.add_argument("--hostile", action="store_true", help="add an incident with a hostile title")
    parser.add_argument("--tz", default="Asia/Shanghai")
    args = parser.parse_args(argv)
    from watchboard.board.launch import board_config
    from watchboard.config import ConfigSource

    BoardApp(lambda: live_feed(datetime.now(UTC), hostile=args.hostile),
             None if args.wall else sample_send, lang=args.lang, wall=args.wall,
             zone=ZoneInfo(args.tz), **board_config(ConfigSource())).run()


if __name__ == "__main__":
    main()
