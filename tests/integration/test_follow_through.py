"""Follow-through on a real nats-server with a controlled clock: statements and their approval,
the statement clock, evidence in the Object Store, tasks as clocks, meetings, supervision."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from nats.aio.client import Client

from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.domain.evidence import CHUNK
from watchboard.domain.statements import statement_digest
from watchboard.evidence_store import EvidenceError, fetch_verified, upload_file
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

SH = ZoneInfo("Asia/Shanghai")
SUBJECTS = Subjects()
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def report(n: int, reposts: int = 150) -> dict:
    """A weibo post with 150 reposts: grade II under the default profile."""
    return {"title": f"网传某镇中学食堂使用过期食材{n}号", "platform": "weibo", "region": "仲山镇",
            "url": f"https://weibo.com/1234/{n}", "topic": "food_drug", "metrics": {"reposts": reposts},
            "observed_at": MONDAY_9.isoformat()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_9.astimezone(UTC))


def config(tmp_path: Path, **files: str) -> ConfigSource:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return ConfigSource(folder)


@pytest.fixture
async def system(nats_server: NatsServer, tmp_path: Path, clock: FakeClock) -> AsyncIterator[ConfigSource]:
    """intake, grading and deadlines on one clock; reminder slips every hour, evidence up to 4 KiB."""
    source = config(tmp_path, deadlines='remind_every = "1h"\n', intake="[evidence]\nmax_bytes = 4096\n")
    url = nats_server.url
    async with running(build_intake(source), url, tmp_path / "intake", source=source, now=clock), \
            running(build_grading(source), url, tmp_path / "grading", source=source, now=clock), \
            running(build_deadlines(source), url, tmp_path / "deadlines", source=source, now=clock, tick=0.05):
        yield source


async def new_incident(nc: Client, n: int, grade: str | None = "II") -> str:
    reply = await request(nc, "wb.intake.submit", report(n))
    assert reply["ok"], reply
    incident = reply["incident_id"]
    if grade:
        await clocks(nc, incident, lambda v: len(v["clocks"]) == 5)
    return incident


async def clocks(nc: Client, incident: str, ok: object) -> dict:
    async def check() -> dict | None:
        view = await kv_get(nc, f"{incident}.clocks")
        return view if view is not None and ok(view) else None  # type: ignore[operator]

    return await eventually(check, timeout=10, what=f"clocks of {incident}")


async def core(nc: Client, incident: str, ok: object) -> dict:
    async def check() -> dict | None:
        view = await kv_get(nc, f"{incident}.core")
        return view if view is not None and ok(view) else None  # type: ignore[operator]

    return await eventually(check, timeout=10, what=f"core of {incident}")


def clock_of(view: dict, name: str, part: str = "clocks") -> dict:
    return next(c for c in view[part] if c["name"] == name)


async def events_of(nc: Client, incident: str, kind: str) -> list[ev.Event]:
    return [e for e in await load_history(nc, SUBJECTS, incident) if ev.event_type(e) == kind]


def cmd(verb: str) -> str:
    return SUBJECTS.command(verb)


# --- statements -------------------------------------------------------------------------------


async def test_statement_approval_rules_and_the_statement_clock(system: ConfigSource, nc: Client,
                                                                clock: FakeClock) -> None:
    """Publishing is refused without approval and after a change; only an approver approves; the
    statement clock is met only by publishing the approved text, and `done` is refused."""
    incident = await new_incident(nc, 1)
    text_1, text_2 = "关于网传食堂问题的情况通报：经核查……", "关于网传食堂问题的情况通报（修改）：经核查……"
    drafted = await request(nc, cmd("statement_draft"), {"incident_id": incident, "text": text_1, "actor": "李值班"})
    assert drafted["ok"] and (drafted["version"], drafted["sha256"]) == (1, statement_digest(text_1))

    publish = {"incident_id": incident, "url": "https://weibo.com/gov/9", "channel": "官方微博", "actor": "李值班"}
    refused = await request(nc, cmd("statement_publish"), publish)
    assert refused["error"]["code"] == "forbidden" and "version 1 is not approved" in refused["error"]["message"]

    approve = {"incident_id": incident, "sha256": drafted["sha256"], "actor": "p-li"}
    refused = await request(nc, cmd("statement_approve"), approve)
    assert (refused["error"]["code"], refused["error"]["field"]) == ("forbidden", "actor")
    approved = await request(nc, cmd("statement_approve"), approve | {"actor": "陈主任"})
    assert approved["ok"] and approved["version"] == 1

    # A change after the approval: a new version, and publishing is refused until it is approved.
    assert (await request(nc, cmd("statement_draft"), {"incident_id": incident, "text": text_2, "actor": "李值班"}))["ok"]
    refused = await request(nc, cmd("statement_publish"), publish)
    assert refused["error"]["code"] == "forbidden" and "changed since its approval" in refused["error"]["message"]

    done = await request(nc, cmd("done"), {"incident_id": incident, "clock": "statement", "note": "已发布", "actor": "li"})
    assert (done["error"]["code"], done["error"]["field"]) == ("conflict", "clock")
    assert "watchboard statement publish" in done["error"]["message"]

    assert (await request(nc, cmd("statement_approve"), {"incident_id": incident, "actor": "g-leaders"}))["ok"]
    clock.set(local("2026-11-23 15:00").astimezone(UTC))
    published = await request(nc, cmd("statement_publish"), publish)
    assert published["ok"] and published["version"] == 2

    view = await clocks(nc, incident, lambda v: clock_of(v, "statement")["status"] == "met")
    assert clock_of(view, "statement")["met_by"] == "李值班"
    record = await core(nc, incident, lambda v: v["statements"][-1]["state"] == "published")
    assert [(s["version"], s["state"]) for s in record["statements"]] == [(1, "approved"), (2, "published")]
    assert [h["action"] for h in record["statements"][-1]["history"]] == ["drafted", "approved", "published"]
    kinds = [ev.event_type(e) for e in await load_history(nc, SUBJECTS, incident) if ev.OWNER[ev.event_type(e)] == "intake"]
    assert [k for k in kinds if k.startswith("statement.")] == [
        "statement.drafted", "statement.approved", "statement.drafted", "statement.approved", "statement.published"]


async def test_a_statement_published_after_its_due_time_meets_the_clock_late(system: ConfigSource, nc: Client,
                                                                            clock: FakeClock) -> None:
    incident = await new_incident(nc, 2)
    text = "情况通报：……"
    await request(nc, cmd("statement_draft"), {"incident_id": incident, "text": text, "actor": "li"})
    await request(nc, cmd("statement_approve"), {"incident_id": incident, "actor": "p-chen"})
    clock.set(local("2026-11-24 11:00").astimezone(UTC))  # due Tuesday 09:00 (24 h after grading)
    await clocks(nc, incident, lambda v: clock_of(v, "statement")["status"] == "breached")
    reply = await request(nc, cmd("statement_publish"),
                          {"incident_id": incident, "url": "https://gov.cn/n/1", "channel": "政府网站", "actor": "li"})
    assert reply["ok"]
    view = await clocks(nc, incident, lambda v: clock_of(v, "statement")["met_at"] is not None)
    statement = clock_of(view, "statement")
    assert statement["status"] == "breached"  # met late: the breach stands
    assert datetime.fromisoformat(statement["met_at"]) == local("2026-11-24 11:00")
    met = await eventually(lambda: events_of(nc, incident, "clock.met"), what="clock.met")
    assert [(e.clock, e.late) for e in met] == [("statement", True)] and "met late by 2h" in met[0].note


# --- evidence ---------------------------------------------------------------------------------


async def test_evidence_round_trip_tampering_and_size(system: ConfigSource, nc: Client, tmp_path: Path) -> None:
    """A file goes to intake in chunks, into the bucket under its digest, and comes out the same
    by direct get; an object altered in the bucket is refused on the way out and when recorded;
    a file over evidence.max_bytes is refused when the upload begins and when recorded."""
    incident = await new_incident(nc, 3, grade=None)
    shot = tmp_path / "post.png"
    data = bytes(range(256)) * 12  # 3,072 bytes
    shot.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    assert await upload_file(nc, SUBJECTS, incident, shot, sha, len(data), "image/png") is True
    assert await upload_file(nc, SUBJECTS, incident, shot, sha, len(data), "image/png") is False  # stored once
    add = {"incident_id": incident, "name": "post.png", "sha256": sha, "size": len(data), "media_type": "image/png",
           "actor": "monitor-01"}
    reply = await request(nc, cmd("evidence_add"), add)
    assert reply["ok"] and (reply["name"], reply["size"]) == ("post.png", len(data))
    record = await core(nc, incident, lambda v: v["evidence_files"])
    kept = record["evidence_files"][0]
    assert (kept["sha256"], kept["size"], kept["media_type"], kept["added_by"]) == (sha, len(data), "image/png",
                                                                                    "monitor-01")
    out = io.BytesIO()
    await fetch_verified(nc, kept["object"], sha, len(data), out)
    assert out.getvalue() == data

    # Someone replaces the object in the bucket directly.
    store = await nc.jetstream().object_store("wb-evidence")
    await store.put(sha, b"not the screenshot")
    with pytest.raises(EvidenceError) as info:
        await fetch_verified(nc, kept["object"], sha, len(data), io.BytesIO())
    assert info.value.code == "conflict" and "no longer matches" in info.value.message
    again = await request(nc, cmd("evidence_add"), add | {"name": "copy.png"})
    assert (again["error"]["code"], again["error"]["field"]) == ("conflict", "sha256")

    big = bytes(5000)
    big_sha = hashlib.sha256(big).hexdigest()
    (tmp_path / "video.mp4").write_bytes(big)
    with pytest.raises(EvidenceError) as info:
        await upload_file(nc, SUBJECTS, incident, tmp_path / "video.mp4", big_sha, 5000, "video/mp4")
    assert (info.value.code, info.value.field) == ("invalid", "size") and "at most 4 KB" in info.value.message
    too_big = await request(nc, cmd("evidence_add"), add | {"name": "video.mp4", "sha256": big_sha, "size": 5000})
    assert (too_big["error"]["code"], too_big["error"]["field"]) == ("invalid", "size")
    assert "at most 4 KB" in too_big["error"]["message"]
    # Claiming less than the object holds does not get it past the limit (put in the bucket
    # around intake, as only a service's account could).
    await store.put(big_sha, big)
    lying = await request(nc, cmd("evidence_add"), add | {"name": "video.mp4", "sha256": big_sha, "size": 3000})
    assert (lying["error"]["code"], lying["error"]["field"]) == ("invalid", "size")
    missing = await request(nc, cmd("evidence_add"), add | {"name": "x.png", "sha256": "0" * 64, "size": 10})
    assert (missing["error"]["code"], missing["error"]["field"]) == ("not_found", "object")


async def chunk(nc: Client, sha: str, offset: int, data: bytes) -> dict:
    msg = await nc.request(SUBJECTS.evidence("chunk"), data, timeout=5,
                           headers={"Wb-Upload": sha, "Wb-Offset": str(offset)})
    return json.loads(msg.data)


async def test_an_upload_is_bounded_checked_and_resumes_where_it_stopped(nats_server: NatsServer, nc: Client,
                                                                          tmp_path: Path) -> None:
    """Chunks over 128 KiB, gaps, chunks of no upload and a whole that is not the file declared
    are refused naming the field; an upload broken off resumes from what intake holds, across
    a restart of intake, and the progress it reports starts there."""
    video = tmp_path / "clip.mp4"
    data = bytes(range(256)) * 2600  # 665,600 bytes: five full chunks and a part
    video.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        incident = (await request(nc, "wb.intake.submit", report(7)))["incident_id"]
        begin = {"incident_id": incident, "name": "clip.mp4", "sha256": sha, "size": len(data),
                 "media_type": "video/mp4"}
        nobody = await request(nc, SUBJECTS.evidence("begin"), begin | {"incident_id": "01NOSUCH"})
        assert (nobody["error"]["code"], nobody["error"]["field"]) == ("not_found", "incident_id")
        assert (await chunk(nc, sha, 0, data[:CHUNK]))["error"]["field"] == "upload"  # not begun
        started = await request(nc, SUBJECTS.evidence("begin"), begin)
        assert (started["offset"], started["chunk"]) == (0, CHUNK)
        too_big = await chunk(nc, sha, 0, data[:CHUNK + 1])
        assert (too_big["error"]["code"], too_big["error"]["field"]) == ("invalid", "chunk")
        assert (await chunk(nc, sha, 0, data[:CHUNK]))["offset"] == CHUNK
        assert (await chunk(nc, sha, 0, data[:CHUNK]))["offset"] == CHUNK  # a retry changes nothing
        gap = await chunk(nc, sha, 3 * CHUNK, data[3 * CHUNK:4 * CHUNK])
        assert (gap["error"]["code"], gap["error"]["field"]) == ("conflict", "offset")
        early = await request(nc, SUBJECTS.evidence("end"), {"sha256": sha})
        assert (early["error"]["code"], early["error"]["field"]) == ("conflict", "size")
    # intake restarts with the first chunk held: the upload carries on from there.
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        seen: list[int] = []
        assert await upload_file(nc, SUBJECTS, incident, video, sha, len(data), "video/mp4", seen.append) is True
        assert seen[0] == 2 * CHUNK and seen == sorted(seen) and seen[-1] == len(data)
        out = io.BytesIO()
        await fetch_verified(nc, sha, sha, len(data), out)
        assert out.getvalue() == data
        assert list((tmp_path / "intake" / "uploads").iterdir()) == []  # the spool is gone once stored

        # All of it sent, but not the file declared: refused and discarded.
        liar = bytes(1000)
        claimed = hashlib.sha256(b"something else").hexdigest()
        begun = await request(nc, SUBJECTS.evidence("begin"), begin | {"sha256": claimed, "size": len(liar)})
        assert begun["offset"] == 0
        assert (await chunk(nc, claimed, 0, liar))["offset"] == len(liar)
        lie = await request(nc, SUBJECTS.evidence("end"), {"sha256": claimed})
        assert (lie["error"]["code"], lie["error"]["field"]) == ("conflict", "sha256")
        assert list((tmp_path / "intake" / "uploads").iterdir()) == []


# --- tasks ------------------------------------------------------------------------------------


async def test_a_task_is_warned_breached_reminded_flagged_and_met_by_feedback(system: ConfigSource, nc: Client,
                                                                              clock: FakeClock) -> None:
    """A leader's instruction to 卫健委, due in 2 h: warnings, the breach with a slip to that unit,
    a slip every hour, the third flags it; the feedback meets it late."""
    incident = await new_incident(nc, 4)
    added = await request(nc, cmd("task_add"), {"incident_id": incident, "unit": "health", "text": "核实食材来源并反馈",
                                                "due": "2h", "source": "县委书记批示", "actor": "王主任"})
    assert added["ok"] and datetime.fromisoformat(added["due_at"]) == local("2026-11-23 11:00")
    task = added["task_id"]
    name = f"task:{task}"
    view = await clocks(nc, incident, lambda v: v["tasks"])
    assert (clock_of(view, name, "tasks")["status"], clock_of(view, name, "tasks")["unit"]) == ("running", "health")
    assert name not in [c["name"] for c in view["clocks"]]

    clock.set(local("2026-11-23 10:40").astimezone(UTC))
    warned = await eventually(lambda: events_of(nc, incident, "clock.warning"), what="task warnings")
    assert {(e.clock, e.unit) for e in warned} == {(name, "health")}
    for n, at in enumerate(("11:01", "12:01", "13:01"), 1):
        clock.set(local(f"2026-11-23 {at}").astimezone(UTC))
        await clocks(nc, incident, lambda v, n=n: any(s["clock"] == name and s["count"] == n for s in v["slips"]))
    slips = await events_of(nc, incident, "unit.reminded")
    assert [(e.unit, e.clock, e.count) for e in slips if e.clock == name] == [(("health", name, 1)), ("health", name, 2),
                                                                               ("health", name, 3)]
    flagged = await events_of(nc, incident, "unit.flagged")
    assert [(e.unit, e.clock, e.count) for e in flagged if e.clock == name] == [("health", name, 3)]

    fed = await request(nc, cmd("task_feedback"), {"task_id": task, "text": "已核实，涉事供应商已停业整顿", "actor": "卫健委 赵"})
    assert fed["ok"] and fed["incident_id"] == incident
    view = await clocks(nc, incident, lambda v: clock_of(v, name, "tasks")["met_at"] is not None)
    assert clock_of(view, name, "tasks")["status"] == "breached"  # fed back late
    record = await core(nc, incident, lambda v: v["tasks"][0]["status"] == "fed_back")
    assert record["tasks"][0]["feedback"] == "已核实，涉事供应商已停业整顿"
    twice = await request(nc, cmd("task_feedback"), {"task_id": task, "text": "再次", "actor": "x"})
    assert twice["error"]["code"] == "conflict"
    unknown = await request(nc, cmd("task_feedback"), {"task_id": "T404", "text": "x", "actor": "x"})
    assert (unknown["error"]["code"], unknown["error"]["field"]) == ("not_found", "task_id")


async def test_a_meeting_hands_out_tasks_on_two_incidents(system: ConfigSource, nc: Client, clock: FakeClock) -> None:
    a, b = await new_incident(nc, 5, grade=None), await new_incident(nc, 6, grade=None)
    reply = await request(nc, cmd("meeting_add"), {
        "kind": "联席会议", "incidents": [a, b], "attendees": ["王主任", "赵科长"], "minutes": "一、……", "actor": "办公室",
        "tasks": [{"incident_id": a, "unit": "education", "text": "发布说明", "due": "1wd"},
                  {"incident_id": b, "unit": "market", "text": "约谈商家", "due": "2wd"}]})
    assert reply["ok"] and reply["meeting_id"].startswith("M") and len(reply["tasks"]) == 2
    for incident, unit in ((a, "education"), (b, "market")):
        record = await core(nc, incident, lambda v: v["meetings"] and v["tasks"])
        assert record["meetings"][0]["id"] == reply["meeting_id"] and record["meetings"][0]["incidents"] == [a, b]
        assert [(t["unit"], t["meeting_id"]) for t in record["tasks"]] == [(unit, reply["meeting_id"])]
        await clocks(nc, incident, lambda v: len(v["tasks"]) == 1)
    fed = await request(nc, cmd("task_feedback"), {"task_id": reply["tasks"][0]["task_id"], "text": "已发布",
                                                   "actor": "教育局"})
    assert fed["ok"]
    view = await clocks(nc, a, lambda v: v["tasks"][0]["status"] == "met")
    assert view["tasks"][0]["met_by"] == "教育局"


# --- supervision ------------------------------------------------------------------------------


async def test_not_supervised_today_on_the_working_calendar(system: ConfigSource, nc: Client,
                                                            clock: FakeClock) -> None:
    """sys.supervision lists the open I/II incidents with no supervision today; a supervision
    takes one off; the next working day both are owed again; a Saturday owes nothing."""
    a, b = await new_incident(nc, 7), await new_incident(nc, 8)

    async def today(ok: object) -> dict:
        async def check() -> dict | None:
            view = await kv_get(nc, "sys.supervision")
            return view if view is not None and ok(view) else None  # type: ignore[operator]

        return await eventually(check, timeout=10, what="sys.supervision")

    view = await today(lambda v: set(v["unsupervised"]) == {a, b})
    assert view["day"] == "2026-11-23" and view["working_day"] is True and set(view["due"]) == {a, b}
    reply = await request(nc, cmd("supervise"), {"incident_id": a, "note": "电话督办教育局王科长：正在核查", "actor": "办公室"})
    assert reply["ok"]
    await today(lambda v: v["unsupervised"] == [b])
    record = await core(nc, a, lambda v: v["supervisions"])
    assert record["supervisions"][0]["text"] == "电话督办教育局王科长：正在核查"
    supervised = await events_of(nc, a, "incident.supervised")
    assert [e.note for e in supervised] == ["电话督办教育局王科长：正在核查"]

    clock.set(local("2026-11-28 10:00").astimezone(UTC))  # Saturday
    await today(lambda v: v["day"] == "2026-11-28" and v["working_day"] is False and v["unsupervised"] == [])
    clock.set(local("2026-11-30 09:00").astimezone(UTC))  # Monday
    await today(lambda v: v["day"] == "2026-11-30" and set(v["unsupervised"]) == {a, b})
    closed = await request(nc, cmd("close"), {"incident_id": b, "summary": "已处置完毕", "actor": "办公室"})
    assert closed["ok"]
    await today(lambda v: v["due"] == [a] and v["unsupervised"] == [a])
