"""notify wired to a real nats-server: a grade II incident reaches a real local webhook,
an acknowledgement stops escalation, and the notices show in the KV."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client

from tests.support import eventually, kv_get, request, running, start_webhook
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify


def notify_toml(url: str) -> str:
    """The default notify.toml with the duty officers and the leaders on a local webhook."""
    from watchboard.config import defaults_dir

    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    hook = f'{{ channel = "webhook", url = "{url}", format = "json" }}'
    for who, name in (("p-li", "李值班"), ("p-wang", "王值班")):
        person = f'id = "{who}"\nname = "{name}"\nroles = ["duty_officer"]\ncontacts = [{{ channel = "board" }}'
        assert person in text
        text = text.replace(person, f"{person}, {hook}")
    text = text.replace('name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [{ channel = "board" }]',
                        'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [' +
                        hook.replace('"json"', '"wecom"') + ']')
    text = text.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"')
    return text.replace('backoff_initial = "10s"', 'backoff_initial = "1s"')


async def test_grade_ii_reaches_webhook_and_ack_is_recorded(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """A grade II report → notices POSTed to a local webhook with Idempotency-Key; ack stops escalation."""
    url, received, runner = await start_webhook()
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(notify_toml(url), encoding="utf-8")
    source = ConfigSource(config)
    try:
        async with running(build_intake(source), nats_server.url, tmp_path / "intake"), \
                running(build_grading(source), nats_server.url, tmp_path / "grading"), \
                running(build_notify(source), nats_server.url, tmp_path / "notify", tick=0.2):
            reply = await request(nc, "wb.intake.submit", {"title": "视频：城管执法推搡摊贩", "platform": "douyin",
                                                           "metrics": {"reposts": 300}, "region": "城关镇"})
            incident = reply["incident_id"]
            await eventually(lambda: _async(len(received) >= 2), timeout=15, what="webhook deliveries")
            keys = [k for k, _ in received]
            assert all(keys) and len(set(keys)) == len(keys)

            async def sent_view():
                view = await kv_get(nc, f"{incident}.notices")
                return view if view and any(n["status"] == "sent" for n in view["notices"]) else None

            view = await eventually(sent_view, timeout=10, what="notices view")
            assert "g-leaders" in {n["to"] for n in view["notices"]}
            ack = await request(nc, "wb.cmd.ack", {"incident_id": incident, "actor": "p-li"})
            assert ack["ok"] and ack["acknowledged_by"] == "p-li"
            again = await request(nc, "wb.cmd.ack", {"incident_id": incident, "actor": "duty"})
            assert again["error"]["code"] == "conflict"
            missing = await request(nc, "wb.cmd.ack", {"incident_id": "NOPE", "actor": "duty"})
            assert missing["error"]["code"] == "not_found"

            async def acked():
                v = await kv_get(nc, f"{incident}.notices")
                return v if v and v["acknowledged_by"] == "p-li" else None

            await eventually(acked, what="acknowledged_by in KV")
            assert any("城管" in json.dumps(body, ensure_ascii=False) for _, body in received)
    finally:
        await runner.cleanup()


async def _async(value: object) -> object:
    return value


async def test_plan_003_major_negative_reaches_wangxuan_and_wangjing_and_a_flag_the_police(
        nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """Under plan-003 (seed 003 四(三)) a grade II negative incident reaches 网宣 and 网警 on the
    shipped board-only config; a rumour flag on it reaches legal_referral (seed 003 三(四))."""
    from watchboard.bus.jetstream import EventPublisher
    from watchboard.bus.subjects import Subjects
    from watchboard.config import defaults_dir
    from watchboard.domain.events import IncidentFlagged

    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text((defaults_dir() / "notify.toml").read_text(encoding="utf-8")
                                        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'),
                                        encoding="utf-8")
    source = ConfigSource(config, profile="plan-003")

    async def sent_to(incident: str, cause: str, people: set[str]) -> dict | None:
        view = await kv_get(nc, f"{incident}.notices")
        if not view:
            return None
        reached = {n["to"] for n in view["notices"] if n["cause"] == cause and n["status"] == "sent"}
        return view if people <= reached else None

    async with running(build_intake(source), nats_server.url, tmp_path / "intake", source=source), \
            running(build_grading(source), nats_server.url, tmp_path / "grading", source=source), \
            running(build_notify(source), nats_server.url, tmp_path / "notify", source=source, tick=0.2):
        reply = await request(nc, "wb.intake.submit", {"title": "网传某镇自来水厂排污致居民中毒", "platform": "weibo",
                                                       "metrics": {"reposts": 300}, "sentiment": "negative"})
        incident = reply["incident_id"]
        grade = await eventually(lambda: kv_get(nc, f"{incident}.grade"), timeout=10, what="graded")
        assert grade["grade"] == "II"
        view = await eventually(lambda: sent_to(incident, "incident.graded", {"p-wangxuan", "p-police"}),
                                timeout=15, what="网宣 and 网警 notices on the board")
        graded_to = {n["to"] for n in view["notices"] if n["cause"] == "incident.graded"}
        assert {"p-wangxuan", "p-police", "liaison-police", "p-propaganda", "g-leaders"} <= graded_to
        assert all(n["status"] != "failed" for n in view["notices"])  # board only: nothing can fail

        await EventPublisher(nc, Subjects()).publish(IncidentFlagged(
            id=f"{incident}-flag", incident_id=incident, at=datetime.now(UTC), actor="p-li", kind="rumour",
            reason="水厂检测合格，帖文系编造"))
        view = await eventually(lambda: sent_to(incident, "incident.flagged", {"p-police", "liaison-police"}),
                                timeout=15, what="the flag's notices to legal_referral")
        flagged_to = {n["to"] for n in view["notices"] if n["cause"] == "incident.flagged"}
        assert flagged_to == {"p-police", "liaison-police"}


async def test_queued_notices_go_out_at_once_not_a_tick_later(nats_server: NatsServer, nc: Client,
                                                              tmp_path: Path) -> None:
    """With the fallback tick stretched to 20 s, a grade II incident still reaches the webhook
    within seconds (a batch that queues notices wakes delivery), and each delivery's
    `notice.sent` reaches the stream through the outbox."""
    from watchboard.bus.jetstream import EventPublisher
    from watchboard.bus.subjects import Subjects
    from watchboard.domain.events import IncidentGraded, IncidentReported, Mention, NoticeSent, decode_event

    url, received, runner = await start_webhook()
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(notify_toml(url), encoding="utf-8")
    source = ConfigSource(config)
    sent: dict[str, NoticeSent] = {}

    async def on_sent(msg) -> None:  # type: ignore[no-untyped-def]
        event = decode_event(msg.data)
        if isinstance(event, NoticeSent):
            sent[event.key] = event

    sub = await nc.subscribe(Subjects().event("notify", "*", "notice.sent"), cb=on_sent)
    try:
        async with running(build_notify(source), nats_server.url, tmp_path / "notify", source=source, tick=40):
            await asyncio.sleep(0.3)  # the delivery loop's first round is behind it: now it waits 20 s
            now = datetime.now(UTC)
            reported = IncidentReported(id="R-WAKE", incident_id="INC-WAKE", at=now, actor="intake",
                                        title="网传某地停水", mention=Mention(platform="weibo"))
            graded = IncidentGraded(id="G-WAKE", incident_id="INC-WAKE", at=now, actor="grading", grade="II",
                                    previous=None, reasons=["r"], source="rules")
            t0 = time.monotonic()
            await EventPublisher(nc, Subjects()).publish_all([reported, graded])
            await eventually(lambda: _async(len(received) >= 2 or None), timeout=8, what="webhook deliveries")
            assert time.monotonic() - t0 < 8
            await eventually(lambda: _async({k for k, _ in received} <= set(sent) or None), timeout=8,
                             what="notice.sent of each webhook delivery")
            assert {sent[k].channel for k, _ in received} <= {"webhook", "webhook:wecom"}
    finally:
        await sub.unsubscribe()
        await runner.cleanup()


async def test_notify_is_delivered_only_the_deadlines_events_it_acts_on(nc: Client) -> None:
    """The durable's filters (`input_filters`) on a real server: of deadlines' events only those
    in `logic.HANDLED` come (a sweep's too, whose incident is `_`); intake's and grading's all."""
    from nats.js import api

    from watchboard.bus.subjects import STREAM, Subjects
    from watchboard.services.notify.service import input_filters

    js = nc.jetstream(timeout=5)
    await js.add_stream(api.StreamConfig(name=STREAM, subjects=["wb.ev.>"], storage=api.StorageType.FILE))
    wanted = ["wb.ev.deadlines.I1.clock.breached", "wb.ev.deadlines.I1.clock.warning",
              "wb.ev.deadlines.I1.unit.reminded", "wb.ev.deadlines.I1.unit.flagged",
              "wb.ev.deadlines._.sweep.missed", "wb.ev.intake.I1.incident.reported",
              "wb.ev.intake.I1.mention.added", "wb.ev.grading.I1.incident.graded"]
    unwanted = ["wb.ev.deadlines.I1.clock.started", "wb.ev.deadlines.I1.clock.met",
                "wb.ev.deadlines.I1.clock.cancelled", "wb.ev.deadlines._.sweep.recorded",
                "wb.ev.notify.I1.notice.sent"]
    for subject in wanted + unwanted:
        await js.publish(subject, b"{}")
    sub = await js.pull_subscribe("", "probe", stream=STREAM, config=api.ConsumerConfig(
        filter_subjects=input_filters(Subjects()), ack_policy=api.AckPolicy.NONE))
    got = [m.subject for m in await sub.fetch(len(wanted) + len(unwanted), timeout=1)]
    assert sorted(got) == sorted(wanted)
