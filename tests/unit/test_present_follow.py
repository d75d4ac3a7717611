"""`show --json` and the timeline for the follow-through: statements, evidence, tasks (with their
clocks), meetings and supervision; times in Beijing time, each language wholly itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from watchboard.domain import events as ev
from watchboard.domain import incident
from watchboard.domain.present import describe, show_json, summary_json
from watchboard.domain.views import ClocksView, ClockView, IncidentView, SlipView

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SHA = "ab" * 32
TASK = "T7K3M0000000000AA"


def e(cls: type[ev.Event], minutes: int, **kw: object) -> ev.Event:
    return cls(id=f"E{minutes}", incident_id="I1", at=T0 + timedelta(minutes=minutes), actor="李值班", **kw)  # type: ignore[call-arg]


EVENTS: list[ev.Event] = [
    ev.IncidentReported(id="E0", incident_id="I1", at=T0, actor="m", title="食堂过期食材", mention=ev.Mention(platform="weibo")),
    e(ev.StatementDrafted, 1, version=1, text="情况通报", sha256=SHA),
    e(ev.StatementApproved, 2, version=1, sha256=SHA, note="同意"),
    e(ev.StatementPublished, 3, version=1, sha256=SHA, url="https://weibo.com/gov/1", channel="官方微博"),
    e(ev.EvidenceAdded, 4, name="截图.png", sha256=SHA, size=52_428_800, media_type="image/png", object=SHA),
    e(ev.MeetingHeld, 5, meeting_id="M1", kind="会商", incidents=["I1"], attendees=["王主任", "赵科长"], tasks=[TASK]),
    e(ev.TaskAdded, 6, task_id=TASK, unit="health", text="核实并反馈", due="2h", due_at=T0 + timedelta(hours=2),
      basis="calendar", source="县委书记批示", meeting_id="M1"),
    e(ev.TaskFedBack, 200, task_id=TASK, unit="health", text="已核实"),
    e(ev.IncidentSupervised, 30, note="电话督办卫健委"),
]
UNITS = {"health": "县卫健委"}


def view() -> IncidentView:
    core = incident.fold(EVENTS)
    task_clock = ClockView(name=f"task:{TASK}", due_at=T0 + timedelta(hours=2), basis="calendar", status="breached",
                           met_at=T0 + timedelta(minutes=200), met_by="赵", unit="health")
    clocks = ClocksView(tasks=[task_clock], slips=[SlipView(unit="health", clock=f"task:{TASK}", count=2)],
                        supervised_at=T0 + timedelta(minutes=30))
    return IncidentView(id="I1", core=core, clocks=clocks)


def test_show_json_lists_the_follow_through() -> None:
    data = show_json(view(), EVENTS, lang="zh", units=UNITS)
    statement = data["statements"][0]
    assert (statement["version"], statement["state"], statement["approved_by"], statement["url"]) == (
        1, "published", "李值班", "https://weibo.com/gov/1")
    assert [h["action"] for h in statement["history"]] == ["drafted", "approved", "published"]
    assert statement["published_at"] == "2026-11-23T09:03:00+08:00"
    assert data["evidence"] == [{"name": "截图.png", "sha256": SHA, "size": 52_428_800, "media_type": "image/png",
                                 "bucket": "wb-evidence", "object": SHA, "added_by": "李值班",
                                 "added_at": "2026-11-23T09:04:00+08:00"}]
    task = data["tasks"][0]
    assert (task["id"], task["unit"], task["status"], task["clock"], task["late"], task["slips"], task["meeting_id"]) == (
        TASK, "health", "fed_back", "breached", True, 2, "M1")
    assert task["due_at"] == "2026-11-23T11:00:00+08:00" and task["feedback"] == "已核实"
    assert data["meetings"][0]["attendees"] == ["王主任", "赵科长"] and data["meetings"][0]["tasks"] == [TASK]
    assert data["supervisions"] == [{"at": "2026-11-23T09:30:00+08:00", "actor": "李值班", "note": "电话督办卫健委"}]
    summary = summary_json(view())
    assert (summary["statement_state"], summary["tasks_open"], summary["supervised_at"]) == (
        "published", 0, "2026-11-23T09:30:00+08:00")


def test_show_json_of_an_incident_without_follow_through() -> None:
    bare = IncidentView(id="I1", core=incident.fold(EVENTS[:1]))
    data = show_json(bare)
    assert [data[k] for k in ("statements", "evidence", "tasks", "meetings", "supervisions")] == [[], [], [], [], []]
    assert (data["statement_state"], data["tasks_open"], data["supervised_at"]) == (None, 0, None)


# Ids, links, digests and file names are what people typed or the system made: not words.
TOKENS = re.compile(r"https?://\S+|T7K3M0000000000AA|[0-9a-f]{12}|\.png|M1|SHA-256|MB|I/II")


@pytest.mark.parametrize("event", EVENTS[1:], ids=lambda x: ev.event_type(x))
def test_timeline_texts_are_wholly_one_language(event: ev.Event) -> None:
    zh = describe(event, "zh", units=UNITS)
    en = describe(event, "en", units=UNITS)
    assert not re.search(r"[A-Za-z]", TOKENS.sub("", zh)), zh
    assert not re.search(r"[\u4e00-\u9fff（）：，、]", _without_values(en, event)), en
    assert "11-23" in zh or ev.event_type(event) not in ("task.added", "meeting.held")


def _without_values(text: str, event: ev.Event) -> str:
    """English text minus the Chinese values people gave (names, notes, channels)."""
    for value in ("情况通报", "同意", "官方微博", "截图", "王主任", "赵科长", "县卫健委", "县委书记批示", "核实并反馈",
                  "已核实", "电话督办卫健委", "李值班", "会商"):
        text = text.replace(value, "")
    return text


@pytest.mark.parametrize(("event", "lang", "text"), [
    (EVENTS[1], "zh", f"通稿第 1 稿待审核（摘要 {SHA[:12]}）"),
    (EVENTS[2], "en", "statement version 1 approved by 李值班: 同意"),
    (EVENTS[3], "zh", "通稿第 1 稿已发布（官方微博）：https://weibo.com/gov/1"),
    (EVENTS[4], "en", f"evidence kept: 截图.png (50 MB, SHA-256 {SHA[:12]})"),
    (EVENTS[6], "zh", f"交办 县卫健委（县委书记批示）：核实并反馈，11-23 11:00 前反馈（任务 {TASK}）"),
    (EVENTS[6], "en", f"task {TASK} handed to 县卫健委 (县委书记批示): 核实并反馈; feedback due 11-23 11:00"),
    (EVENTS[8], "zh", "督办：电话督办卫健委"),
])
def test_timeline_texts(event: ev.Event, lang: str, text: str) -> None:
    assert describe(event, lang, units=UNITS) == text  # type: ignore[arg-type]


def test_a_task_clock_is_named_as_a_task() -> None:
    breached = ev.ClockBreached(id="b", incident_id="I1", at=T0, actor="deadlines", clock=f"task:{TASK}",
                                due_at=T0, unit="health")
    assert describe(breached, "zh").startswith(f"时限 任务 {TASK} 已超时")
    assert describe(breached, "en").startswith(f"clock task {TASK} breached")
