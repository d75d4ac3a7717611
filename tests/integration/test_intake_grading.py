"""intake and grading on a real nats-server: reports become graded, owned incidents in the KV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.support import eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

CANTEEN = {
    "title": "网传某镇中学食堂使用过期食材", "summary": "有网友发帖称仲山镇中学食堂使用过期食材",
    "platform": "weibo", "url": "https://weibo.com/1234/abc", "region": "仲山镇", "topic": "food_drug",
    "observed_at": "2026-11-22T08:30:00+08:00", "metrics": {"reposts": 20, "comments": 40, "likes": 10, "views": 2000},
}


async def submit(nc: Client, report: dict) -> dict:
    return await request(nc, "wb.intake.submit", report)


async def grade_of(nc: Client, incident_id: str, at_least: str | None = None):
    async def check():
        g = await kv_get(nc, f"{incident_id}.grade")
        if g and (at_least is None or g["grade"] == at_least):
            return g
        return None

    return await eventually(check, timeout=10, what=f"grade of {incident_id}")


async def test_submit_is_graded_and_owned_on_the_kv(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """A report becomes an incident with a grade, reasons and an owner in the bucket."""
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"), \
            running(build_grading(ConfigSource()), nats_server.url, tmp_path / "grading"):
        reply = await submit(nc, CANTEEN)
        assert reply["ok"] is True and reply["merged"] is False
        incident = reply["incident_id"]
        grade = await grade_of(nc, incident)
        assert grade["grade"] in ("III", "IV") and grade["reasons"]
        assert grade["owner"]
        core = await eventually(lambda: kv_get(nc, f"{incident}.core"), what="core")
        assert core["title"] == CANTEEN["title"] and core["mention_count"] == 1

        # The same URL again with more reposts: a mention, and the grade rises to II.
        again = dict(CANTEEN, metrics={"reposts": 150, "comments": 90, "likes": 40, "views": 90000})
        reply2 = await submit(nc, again)
        assert reply2 == {"ok": True, "incident_id": incident, "merged": True, "merged_by": "url"}
        risen = await grade_of(nc, incident, at_least="II")
        assert any("150" in r for r in risen["reasons"])

        # A person regrades; the rules cannot lower or override it; release hands it back.
        r = await request(nc, "wb.cmd.regrade", {"incident_id": incident, "grade": "I", "reason": "研判", "actor": "li"})
        assert r["ok"] and r["grade"] == "I"
        assert (await grade_of(nc, incident, at_least="I"))["source"] == "person"
        bad = await request(nc, "wb.cmd.regrade", {"incident_id": incident, "grade": "V", "reason": "x", "actor": "li"})
        assert bad["error"]["code"] == "invalid" and bad["error"]["field"] == "grade"
        missing = await request(nc, "wb.cmd.assign", {"incident_id": "01NOPE", "owner": "education", "reason": "x", "actor": "li"})
        assert missing["error"]["code"] == "not_found"


async def test_stage_note_close_commands(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """Operator commands change the record; closing twice is a conflict."""
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        incident = (await submit(nc, CANTEEN))["incident_id"]
        assert (await request(nc, "wb.cmd.stage", {"incident_id": incident, "stage": "handling", "actor": "wang"}))["ok"]
        assert (await request(nc, "wb.cmd.note", {"incident_id": incident, "text": "已联系学校", "actor": "wang"}))["ok"]
        closed = await request(nc, "wb.cmd.close", {"incident_id": incident, "summary": "已澄清", "actor": "wang"})
        assert closed["ok"]
        twice = await request(nc, "wb.cmd.close", {"incident_id": incident, "summary": "", "actor": "wang"})
        assert twice["error"]["code"] == "conflict"

        async def closed_core():
            core = await kv_get(nc, f"{incident}.core")
            return core if core and core["stage"] == "closed" else None

        core = await eventually(closed_core, what="closed core")
        assert core["notes"][0]["text"] == "已联系学校" and core["close_summary"] == "已澄清"


BAD_REPORTS = [
    (b"\xff\xfe", "body"),
    (b"not json", "body"),
    (b"[1, 2]", "body"),
    (b'"a string"', "body"),
    (b"null", "body"),
    (b"{}", "title"),
    (b'{"title": "x"}', "platform"),
    (b'{"title": "", "platform": "weibo"}', "title"),
    (b'{"title": "   ", "platform": "weibo"}', "title"),
    (('{"title": "' + "长" * 501 + '", "platform": "weibo"}').encode(), "title"),
    (('{"title": "t", "summary": "' + "x" * 5001 + '", "platform": "weibo"}').encode(), "summary"),
    (b'{"title": "t", "platform": "myspace"}', "platform"),
    (b'{"title": "t", "platform": "weibo", "topic": "sports"}', "topic"),
    (b'{"title": "t", "platform": "weibo", "media_level": "galactic"}', "media_level"),
    (b'{"title": "t", "platform": "weibo", "sentiment": "angry"}', "sentiment"),
    (b'{"title": "t", "platform": "weibo", "metrics": {"reposts": -1}}', "metrics.reposts"),
    (b'{"title": "t", "platform": "weibo", "metrics": {"reposts": "many"}}', "metrics.reposts"),
    (b'{"title": "t", "platform": "weibo", "metrics": {"shares": 3}}', "metrics.shares"),
    (b'{"title": "t", "platform": "weibo", "observed_at": "yesterday"}', "observed_at"),
    (b'{"title": "t", "platform": "weibo", "observed_at": "2026-11-22T08:30:00"}', "observed_at"),
    (b'{"title": "t", "platform": "weibo", "url": "javascript:alert(1)"}', "url"),
    (b'{"title": "t", "platform": "weibo", "url": "ftp://x.org/a"}', "url"),
    (b'{"title": "t", "platform": "weibo", "cross_region": "yes"}', "cross_region"),
    (b'{"title": "t", "platform": "weibo", "evidence": "one"}', "evidence"),
    (b'{"title": "t", "platform": "weibo", "titel": "typo"}', "titel"),
    (b'{"title": 5, "platform": "weibo"}', "title"),
    (b'{"title": "t", "platform": "weibo", "incident_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ"}', "incident_id"),
]


@pytest.mark.parametrize(("body", "field"), BAD_REPORTS)
async def test_bad_reports_get_an_error_naming_the_field(nats_server: NatsServer, nc: Client, tmp_path: Path,
                                                         body: bytes, field: str) -> None:
    """Each kind of bad report is refused over NATS with the field named; nothing is stored."""
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"):
        reply = await request(nc, "wb.intake.submit", body)
        assert reply["ok"] is False, reply
        assert reply["error"]["field"] == field, reply
        assert reply["error"]["code"] in ("invalid", "not_found")
        assert reply["error"]["message"]
        info = await nc.jetstream().stream_info("WATCHBOARD")
        assert info.state.messages == 0


async def last_event(nc: Client, subject: str) -> dict:
    """The last event the stream holds on `subject` (fails if there is none)."""
    msg = await nc.jetstream().get_last_msg("WATCHBOARD", subject)
    return json.loads(msg.data)


async def test_flag_and_unflag_over_nats(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """Seed 004 第六篇 具体方法 5 (rumours to the police): flag → incident.flagged in the stream with the
    actor, <id>.grade lists the flag; a repeat is a conflict; unflag → incident.unflagged, flag gone."""
    async with running(build_intake(ConfigSource()), nats_server.url, tmp_path / "intake"), \
            running(build_grading(ConfigSource()), nats_server.url, tmp_path / "grading"):
        incident = (await submit(nc, CANTEEN))["incident_id"]
        await grade_of(nc, incident)

        reply = await request(nc, "wb.cmd.flag", {"incident_id": incident, "kind": "rumour",
                                                  "reason": "经公安核实为谣言", "actor": "wang"})
        assert reply["ok"] is True and reply["flags"] == ["rumour"] and reply["kind"] == "rumour"
        event = await last_event(nc, f"wb.ev.grading.{incident}.incident.flagged")
        assert (event["type"], event["kind"], event["reason"], event["actor"], event["id"]) == (
            "incident.flagged", "rumour", "经公安核实为谣言", "wang", reply["event_id"])

        async def flags_are(expected: list[str]):
            async def check():
                g = await kv_get(nc, f"{incident}.grade")
                return g if g and g["flags"] == expected else None
            return await eventually(check, timeout=10, what=f"flags {expected}")

        view = await flags_are(["rumour"])
        assert view["grade"] and view["reasons"] and view["reasons_en"]  # the grade is still there

        again = await request(nc, "wb.cmd.flag", {"incident_id": incident, "kind": "rumour", "reason": "x",
                                                  "actor": "wang"})
        assert (again["ok"], again["error"]["code"], again["error"]["field"]) == (False, "conflict", "kind")
        for body, code, field in [
            ({"incident_id": incident, "kind": "gossip", "reason": "x", "actor": "wang"}, "invalid", "kind"),
            ({"incident_id": incident, "kind": "illegal", "actor": "wang"}, "invalid", "reason"),
            ({"incident_id": incident, "kind": "illegal", "reason": "长" * 2001, "actor": "wang"}, "invalid", "reason"),
            ({"incident_id": "01NOPE", "kind": "illegal", "reason": "x", "actor": "wang"}, "not_found", "incident_id"),
            ({"incident_id": incident, "kind": "illegal", "reason": "x", "actor": "wang"} | {"kind": 3}, "invalid", "kind"),
        ]:
            bad = await request(nc, "wb.cmd.flag", body)
            assert (bad["ok"], bad["error"]["code"], bad["error"]["field"]) == (False, code, field), body

        off = await request(nc, "wb.cmd.unflag", {"incident_id": incident, "kind": "rumour",
                                                  "reason": "撤回:并非谣言", "actor": "li"})
        assert off["ok"] is True and off["flags"] == []
        event = await last_event(nc, f"wb.ev.grading.{incident}.incident.unflagged")
        assert (event["kind"], event["reason"], event["actor"]) == ("rumour", "撤回:并非谣言", "li")
        await flags_are([])
        twice = await request(nc, "wb.cmd.unflag", {"incident_id": incident, "kind": "rumour", "reason": "x",
                                                    "actor": "li"})
        assert (twice["error"]["code"], twice["error"]["field"]) == ("conflict", "kind")
