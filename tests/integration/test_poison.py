"""No input can stop a service (issue 12, the poison pills), on real nats-servers:

- a command whose actor, note or reason is ~1 MiB is refused at its decode, naming the field,
  without echoing it; every service keeps serving;
- on a bus that takes little (a small max_payload), a command whose event would not fit is
  refused naming the event type's limit, and a view that outgrows one message is summarised,
  so the incident's later close still reaches the board;
- an incident whose `<id>.core` grows past 1 MiB (20 evidence items × 2,000 characters per
  report, 50 mentions, 50 notes, all within limits) stays on the board and its close shows;
- effects the stream refuses go to deadlines' dead letters with a `service.fault` each, and
  the commands behind them still answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from nats.aio.client import Client
from nats.js import api

from tests.support import eventually, kv_get, request, running
from watchboard.bus.jetstream import EventPublisher
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

MIB = 1024 * 1024


def _notify_config(tmp_path: Path) -> ConfigSource:
    from watchboard.config import defaults_dir

    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    (config / "notify.toml").write_text(text.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'),
                                        encoding="utf-8")
    return ConfigSource(config)


@pytest.fixture
async def everything(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[ConfigSource]:
    source = _notify_config(tmp_path)
    async with running(build_intake(source), nats_server.url, tmp_path / "intake"), \
            running(build_grading(source), nats_server.url, tmp_path / "grading"), \
            running(build_deadlines(source), nats_server.url, tmp_path / "deadlines", tick=0.2), \
            running(build_notify(source), nats_server.url, tmp_path / "notify", tick=0.2):
        yield source


def _assert_refused(reply: dict, field: str, huge: str) -> None:
    assert reply["ok"] is False and reply["error"]["code"] == "invalid", reply
    assert reply["error"]["field"] == field
    text = json.dumps(reply, ensure_ascii=False)
    assert len(text) < 600, "a reply never echoes what it refuses"
    assert huge[:200] not in text


HUGE = "字" * 340_000  # about 1 MiB in UTF-8, under the request's max_payload


@pytest.mark.parametrize(("subject", "body", "field"), [
    ("wb.cmd.stage", {"incident_id": "X", "stage": "handling", "actor": "a" * 1_040_000}, "actor"),
    ("wb.cmd.note", {"incident_id": "X", "text": HUGE, "actor": "li"}, "text"),
    ("wb.cmd.close", {"incident_id": "X", "summary": HUGE, "actor": "li"}, "summary"),
    ("wb.cmd.statement_draft", {"incident_id": "X", "text": HUGE, "actor": "li"}, "text"),
    ("wb.cmd.regrade", {"incident_id": "X", "grade": "I", "reason": HUGE, "actor": "li"}, "reason"),
    ("wb.cmd.flag", {"incident_id": "X", "kind": "rumour", "reason": "r" * 1_040_000, "actor": "li"}, "reason"),
    ("wb.cmd.done", {"incident_id": "X", "clock": "report_up", "note": HUGE, "actor": "li"}, "note"),
    ("wb.cmd.extend", {"incident_id": "X", "clock": "formal_reply", "reason": HUGE, "actor": "li"}, "reason"),
    ("wb.cmd.sweep", {"note": HUGE, "actor": "li"}, "note"),
    ("wb.cmd.ack", {"incident_id": "X", "actor": "a" * 1_040_000}, "actor"),
])
async def test_a_1_mib_field_is_refused_by_every_service(everything: ConfigSource, nc: Client, subject: str,
                                                         body: dict, field: str) -> None:
    huge = next(v for v in body.values() if isinstance(v, str) and len(v) > 100_000)
    _assert_refused(await request(nc, subject, body, timeout=10), field, huge)
    # The service is unharmed: a report still becomes an incident graded, clocked and noticed.
    reply = await request(nc, "wb.intake.submit", {"title": f"网传某校食堂{uuid.uuid4().hex[:6]}", "platform": "weibo",
                                                   "metrics": {"reposts": 300}})
    incident = reply["incident_id"]
    for part in ("core", "grade", "clocks", "notices"):
        await eventually(lambda p=part: kv_get(nc, f"{incident}.{p}"), timeout=15, what=f"{incident}.{part}")


async def test_a_report_of_about_1_mib_is_refused_naming_the_limit(everything: ConfigSource, nc: Client) -> None:
    huge = "报" * 340_000
    reply = await request(nc, "wb.intake.submit", {"title": "t", "platform": "weibo", "reporter": huge}, timeout=10)
    assert reply["error"]["field"] == "body" and "at most 262,144" in reply["error"]["message"]
    assert huge[:100] not in json.dumps(reply, ensure_ascii=False)


# --- a bus that takes little ------------------------------------------------------------------


@pytest.fixture
def small_server(tmp_path: Path) -> NatsServer:
    server = NatsServer(tmp_path / "nats-small", port=0, extra_config="max_payload: 6KB\n")
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield server  # type: ignore[misc]
    finally:
        server.stop()


async def test_on_a_small_bus_too_large_commands_are_refused_and_views_summarised(small_server: NatsServer,
                                                                                 tmp_path: Path) -> None:
    import nats

    nc = await asyncio.wait_for(nats.connect(small_server.url), 5)
    source = ConfigSource()
    try:
        async with running(build_intake(source), small_server.url, tmp_path / "intake"), \
                running(build_grading(source), small_server.url, tmp_path / "grading"), \
                running(build_deadlines(source), small_server.url, tmp_path / "deadlines", tick=0.2):
            reply = await request(nc, "wb.intake.submit", {"title": "网传某地噪声扰民", "platform": "weibo",
                                                           "metrics": {"reposts": 300}})
            incident = reply["incident_id"]
            await eventually(lambda: kv_get(nc, f"{incident}.clocks"), timeout=15, what="clocks")
            # Requests that reach intake (under 6 kB) but whose events would not fit with their headers.
            statement = "通" * 1_950
            refused = await request(nc, "wb.cmd.statement_draft", {"incident_id": incident, "text": statement,
                                                                   "actor": "li"})
            assert refused["error"]["field"] == "text" and "statement.drafted" in refused["error"]["message"]
            assert "5,120 bytes" in refused["error"]["message"] and statement[:50] not in refused["error"]["message"]
            refused = await request(nc, "wb.cmd.done", {"incident_id": incident, "clock": "report_up",
                                                        "note": "报" * 1_900, "actor": "li"})
            assert (refused["error"]["code"], refused["error"]["field"]) == ("invalid", "note")
            assert "clock.met" in refused["error"]["message"]
            refused = await request(nc, "wb.cmd.regrade", {"incident_id": incident, "grade": "I",
                                                           "reason": "研" * 1_900, "actor": "li"})
            assert refused["error"]["field"] == "reason" and "incident.graded" in refused["error"]["message"]
            # Notes that fit one by one, but not together in `<id>.core`.
            for i in range(4):
                ok = await request(nc, "wb.cmd.note", {"incident_id": incident, "text": f"{i}" + "记" * 1_200,
                                                       "actor": "li"})
                assert ok["ok"], ok

            async def summarised() -> dict | None:
                view = await kv_get(nc, f"{incident}.core")
                return view if view and view.get("summarised") and len(view["notes"]) == 4 else None

            view = await eventually(summarised, timeout=10, what="the core summarised")
            assert view["title"] == "网传某地噪声扰民" and all(len(n["text"]) <= 300 for n in view["notes"])
            closed = await request(nc, "wb.cmd.close", {"incident_id": incident, "summary": "已处置", "actor": "li"})
            assert closed["ok"], closed

            async def shows_closed() -> dict | None:
                view = await kv_get(nc, f"{incident}.core")
                return view if view and view["stage"] == "closed" else None

            await eventually(shows_closed, timeout=10, what="the close on the board")
            # And the services behind it kept up: the close cancelled the clocks.
            async def cancelled() -> dict | None:
                view = await kv_get(nc, f"{incident}.clocks")
                return view if view and all(c["status"] != "running" for c in view["clocks"]) else None

            await eventually(cancelled, timeout=10, what="clocks cancelled by the close")
    finally:
        await nc.close()


async def test_an_incident_past_1_mib_stays_on_the_board(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """50 reports of 20 evidence items × 2,000 characters, long titles and links, then 50 notes
    of 2,000 characters: every one within its limits; the record outgrows 1 MiB."""
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        first = await request(nc, "wb.intake.submit", {"title": "网传某地" * 100, "platform": "weibo",
                                                       "url": "https://weibo.example/0"})
        incident = first["incident_id"]
        for i in range(1, 50):
            evidence = [f"{i}-{k}:" + "证" * 1_990 for k in range(20)]
            reply = await request(nc, "wb.intake.submit", {
                "incident_id": incident, "title": "标题" * 250, "platform": "weibo", "evidence": evidence,
                "url": f"https://weibo.example/{i}/" + "p" * 1_900}, timeout=10)
            assert reply["ok"], reply
        for i in range(50):
            assert (await request(nc, "wb.cmd.note", {"incident_id": incident, "text": f"{i}" + "记" * 1_990,
                                                      "actor": "li"}))["ok"]

        async def summarised() -> dict | None:
            view = await kv_get(nc, f"{incident}.core")
            done = view and view["notes"] and view["notes"][-1]["text"].startswith("49")
            return view if done and view.get("summarised") and view["mention_count"] == 50 else None

        view = await eventually(summarised, timeout=20, what="the core summarised past 1 MiB")
        assert len(view["evidence"]) == 100 and len(view["notes"]) == 50  # texts cut, items kept
        closed = await request(nc, "wb.cmd.close", {"incident_id": incident, "summary": "已处置", "actor": "li"})
        assert closed["ok"]

        async def shows_closed() -> dict | None:
            view = await kv_get(nc, f"{incident}.core")
            return view if view and view["stage"] == "closed" else None

        await eventually(shows_closed, timeout=10, what="the close on the board")


# --- effects the stream refuses --------------------------------------------------------------


async def test_effects_the_stream_refuses_go_aside_and_commands_still_answer(nats_server: NatsServer, nc: Client,
                                                                            tmp_path: Path) -> None:
    subjects = Subjects()
    pub = EventPublisher(nc, subjects)
    async with running(build_deadlines(ConfigSource()), nats_server.url, tmp_path / "deadlines", tick=0.2):
        at = ev.utcnow()
        await pub.publish(ev.IncidentReported(id="P1-r", incident_id="P1", at=at, actor="m", title="网传",
                                              mention=ev.Mention(platform="weibo")))
        js = nc.jetstream(timeout=5)
        info = await js.stream_info(STREAM)
        info.config.max_msg_size = 430  # with its headers a clock.started is ~460 bytes, a fault ~400
        await js.update_stream(info.config)
        await pub.publish_all([
            ev.IncidentAssigned(id="P1-a", incident_id="P1", at=at, actor="g", owner="education", previous=None,
                                reason="r", source="rules"),
            ev.IncidentGraded(id="P1-g", incident_id="P1", at=at, actor="g", grade="II", previous=None,
                              reasons=["t"], source="rules")])

        async def faults() -> list[dict] | None:
            sub = await js.pull_subscribe("wb.ev.deadlines._.service.fault", stream=STREAM,
                                          config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
            try:
                msgs = await sub.fetch(50, timeout=1)
            except Exception:
                return None
            finally:
                await sub.unsubscribe()
            found = [json.loads(m.data) for m in msgs]
            return found if len(found) >= 5 else None

        found = await eventually(faults, timeout=15, what="five faults")
        assert {f["subject"] for f in found} == {"wb.ev.deadlines.P1.clock.started"}
        assert all("the stream refused it" in f["reason"] for f in found)
        # Not stuck: the next command's effect is stored behind them.
        sweep = await request(nc, "wb.cmd.sweep", {"actor": "li"})
        assert sweep["ok"], sweep
    async with aiosqlite.connect(tmp_path / "deadlines" / "deadlines.sqlite") as db:
        async with db.execute("SELECT COUNT(*) FROM dead_letters") as cur:
            assert (await cur.fetchone())[0] == 5
        async with db.execute("SELECT COUNT(*) FROM outbox") as cur:
            assert (await cur.fetchone())[0] == 0
