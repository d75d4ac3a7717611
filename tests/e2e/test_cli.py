"""The `watchboard` command as a user types it, against real services on a real server."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

from nats.aio.client import Client

from tests.support import eventually, kv_get, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

SHOW_KEYS = {"id", "title", "grade", "grade_reasons", "grade_source", "sentiment", "owner", "stage",
             "acknowledged_by", "mentions", "clocks", "reminders", "flagged", "flags", "notices", "timeline"}
# A time people read: month-day hour:minute in Beijing time, e.g. 11-27 16:14 (the year only
# where it is not this year's).
LOCAL = r"(\d{4}-)?\d{2}-\d{2} \d{2}:\d{2}"
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"


async def cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchboard.cli", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def notify_config(tmp_path: Path) -> ConfigSource:
    """notify with the local-webhook example (no mail server on a test machine), its ack server on a free port."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "notify.toml").write_text(
        (Path(__file__).parents[2] / "examples" / "local-webhook" / "notify.toml").read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'), encoding="utf-8")
    return ConfigSource(config)


async def test_submit_file_ls_show_and_commands(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """JSONL import with bad lines, `ls --json`, `show --json` (§4.4), and operator commands."""
    url = nats_server.url
    lines = [
        json.dumps({"title": "网传某镇中学食堂使用过期食材", "platform": "weibo", "region": "仲山镇",
                    "url": "https://weibo.com/1/a", "metrics": {"reposts": 150}}, ensure_ascii=False),
        json.dumps({"title": "网传某镇中学食堂使用过期食材", "platform": "douyin", "region": "仲山镇",
                    "url": "https://weibo.com/1/a"}, ensure_ascii=False),
        '{"title": "", "platform": "weibo"}',
        "not json at all",
        json.dumps({"title": "城管执法视频", "platform": "myspace"}),
        json.dumps({"title": "县道公交停运", "platform": "kuaishou", "region": "石桥乡"}, ensure_ascii=False),
    ]
    jsonl = tmp_path / "reports.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with running(build_intake(ConfigSource()), url, tmp_path / "intake"), \
            running(build_grading(ConfigSource()), url, tmp_path / "grading"):
        code, out, _ = await cli("submit", "--nats", url, "--file", str(jsonl), "--lang", "en")
        assert code == 1  # some lines were rejected
        assert "6 reports" in out and "2 accepted, 1 merged, 3 rejected" in out
        assert "line 3: rejected title:" in out and "line 4: rejected body:" in out
        assert "line 5: rejected platform:" in out
        new = re.findall(rf"line (\d+): new ({ULID})", out)
        merged = re.findall(rf"line (\d+): merged into ({ULID}) \(by URL\)", out)
        assert [n for n, _ in new] == ["1", "6"] and merged == [("2", new[0][1])]

        code, out, err = await cli("submit", "--nats", url, "--title", "x", "--platform", "weibo", "--reposts", "-3")
        assert code == 1 and err.startswith("错误（无效）[metrics.reposts]：转发数不能小于 0"), err

        async def listed():
            c, o, _ = await cli("ls", "--json", "--nats", url)
            rows = json.loads(o) if c == 0 else []
            return rows if len(rows) == 2 and all(r["grade"] for r in rows) else None

        rows = await eventually(listed, timeout=20, what="two graded incidents")
        canteen = next(r for r in rows if "食堂" in r["title"])
        assert canteen["grade"] == "II" and "mentions" not in canteen
        assert canteen["reported_at"].endswith("+08:00")  # JSON keeps ISO 8601, in the configured zone

        code, out, _ = await cli("show", canteen["id"], "--json", "--nats", url)
        shown = json.loads(out)
        assert SHOW_KEYS <= set(shown)
        assert len(shown["mentions"]) == 2 and shown["mentions"][0]["metrics"]["reposts"] == 150
        assert [t["type"] for t in shown["timeline"]][:1] == ["incident.reported"]
        assert {"incident.graded", "incident.assigned", "mention.added"} <= {t["type"] for t in shown["timeline"]}
        assert all(t["at"].endswith("+08:00") for t in shown["timeline"])
        assert shown["timeline"][0]["text"] == "接报：微博（仲山镇）"  # texts in the configured language
        code, out, _ = await cli("show", canteen["id"], "--json", "--nats", url, "--lang", "en")
        assert json.loads(out)["timeline"][0]["text"] == "reported on Weibo (仲山镇)"

        code, out, err = await cli("stage", canteen["id"], "handling", "--note", "已核实", "--actor", "wang",
                                   "--nats", url)
        assert code == 0, err
        assert re.fullmatch(rf"{canteen['id']} 的阶段改为 处置中（wang，{LOCAL}）\n", out), out
        code, out, err = await cli("regrade", canteen["id"], "I", "--reason", "研判升级", "--nats", url,
                                   "--lang", "en", "--actor", "li")
        assert code == 0, err
        assert re.fullmatch(rf"regraded {canteen['id']} to I \(li, {LOCAL}\)\n", out), out
        code, out, err = await cli("note", canteen["id"], "已联系学校", "--json", "--nats", url)
        assert code == 0 and json.loads(out)["ok"] is True and json.loads(out)["at"].endswith("+00:00")
        code, _, err = await cli("regrade", canteen["id"], "V", "--reason", "x", "--nats", url)
        assert code == 2  # argparse refuses a grade that does not exist
        code, _, err = await cli("close", "01NOSUCHINCIDENT", "--summary", "x", "--nats", url)
        assert code == 1 and err.startswith("错误（未找到）[incident_id]：未找到该舆情"), err

        # flag / unflag: the reply printed as JSON, show --json lists the flags, a repeat is a conflict.
        code, out, err = await cli("flag", canteen["id"], "rumour", "--reason", "经核实为谣言", "--actor", "wang",
                                   "--nats", url)
        assert code == 0 and re.fullmatch(rf"已将 {canteen['id']} 标记为谣言\(现有标记：谣言\)（wang，{LOCAL}）\n", out), out
        code, _, err = await cli("flag", canteen["id"], "rumour", "--reason", "again", "--nats", url)
        assert code == 1 and "错误（冲突）[kind]：该舆情已标记为谣言" in err, err
        code, _, err = await cli("flag", canteen["id"], "gossip", "--reason", "x", "--nats", url)
        assert code == 2  # argparse refuses a kind that does not exist

        async def flagged_in_show():
            c, o, _ = await cli("show", canteen["id"], "--json", "--nats", url)
            data = json.loads(o) if c == 0 else {}
            return data if data.get("flags") == ["rumour"] else None

        shown = await eventually(flagged_in_show, timeout=20, what="flags in show --json")
        flagged = [(t["actor"], t["text"]) for t in shown["timeline"] if t["type"] == "incident.flagged"]
        assert flagged == [("wang", "标记为谣言：经核实为谣言")]
        code, out, err = await cli("unflag", canteen["id"], "rumour", "--reason", "撤回", "--json", "--nats", url)
        assert code == 0 and json.loads(out)["flags"] == [], err

        async def regraded():
            g = await kv_get(nc, f"{canteen['id']}.grade")
            return g if g and g["grade"] == "I" and g["source"] == "person" else None

        await eventually(regraded, what="regrade visible")
        code, out, _ = await cli("show", canteen["id"], "--nats", url)
        assert code == 0 and "食堂" in out and "经过" in out and "接报：微博（仲山镇）" in out
        assert "T0" not in out and "+00:00" not in out  # no ISO times where people read
        code, out, _ = await cli("show", canteen["id"], "--nats", url, "--lang", "en")
        assert "timeline" in out and "reported on Weibo" in out

        # Unknown unit hint and region: accepted, with a warning that says what happens instead.
        code, out, err = await cli("submit", "--nats", url, "--title", "某地出现异味", "--platform", "weibo",
                                   "--unit-hint", "水务局", "--region", "火星镇")
        assert code == 0 and re.fullmatch(rf"{ULID}\n", out)
        assert "unit_hint“水务局”不是 units.toml 中的单位" in err and "地区“火星镇”不属于" in err

        # Close: an empty summary is refused before anything is sent; a note afterwards is kept, with a warning.
        code, _, err = await cli("close", canteen["id"], "--summary", "  ", "--nats", url)
        assert code == 2 and "结案须写明总结" in err
        code, out, err = await cli("close", canteen["id"], "--summary", "已澄清", "--nats", url, "--actor", "wang")
        assert code == 0 and out.startswith(f"已结案 {canteen['id']}（wang，"), (out, err)
        code, out, err = await cli("note", canteen["id"], "复盘：回应及时", "--nats", url, "--lang", "en")
        assert code == 0 and "note added to" in out
        assert re.search(rf"warning: {canteen['id']} was closed at {LOCAL}", err), err

        # A 1 MB title names the field and the limit, instead of the bus's MaxPayloadError.
        big = tmp_path / "big.json"
        big.write_text(json.dumps({"title": "长" * 1_000_000, "platform": "weibo"}, ensure_ascii=False),
                       encoding="utf-8")
        code, out, err = await cli("submit", "--nats", url, "--file", str(big), "--lang", "en")
        assert code == 1 and "line 1: rejected title: title is 1,000,000 characters; at most 500" in out
        code, out, err = await cli("submit", "--nats", url, "--title", "长" * 30_000, "--platform", "weibo",
                                   "--lang", "en")  # an argument can be at most 128 KiB
        assert code == 1 and "[title]" in err and "title is 30,000 characters; at most 500" in err
        code, _, err = await cli("note", canteen["id"], "x" * 100_000, "--nats", url, "--lang", "en")
        assert code == 2 and "[text]" in err and "at most 2,000" in err

        code, out, _ = await cli("ls", "--nats", url, "--lang", "en")
        assert code == 0 and "next due" in out and "Shiqiao Township" in out  # unit names, not ids

    # No system at all: said at once, with what to run.
    started = time.monotonic()
    code, _, err = await cli("ls", "--nats", "nats://127.0.0.1:1", "--lang", "en")
    assert code == 3 and "no watchboard system at nats://127.0.0.1:1 — start one with `watchboard up`" in err
    # Said, not retried: the connection retries for ever once up, so a CLI that did not give up
    # would hang here until `cli`'s 60 s. Not a timing (3.5 s failed once in a full run on two
    # cores, where starting Python alone can take seconds).
    assert time.monotonic() - started < 20


async def test_ack_and_release_in_peoples_words(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """ack prints who and when in Beijing time; releasing a grade says what happens to its clocks."""
    url = nats_server.url
    source = notify_config(tmp_path)
    async with running(build_intake(source), url, tmp_path / "intake"), \
            running(build_grading(source), url, tmp_path / "grading"), \
            running(build_deadlines(source), url, tmp_path / "deadlines"), \
            running(build_notify(source), url, tmp_path / "notify"):
        code, out, err = await cli("submit", "--nats", url, "--title", "县道公交停运 学生上学难", "--platform", "kuaishou",
                                   "--region", "石桥乡", "--topic", "transport", "--reposts", "20")
        assert code == 0, err
        incident = out.strip()

        async def clocks():
            value = await kv_get(nc, f"{incident}.clocks")
            return value if value and value["clocks"] else None

        await eventually(clocks, timeout=20, what="clocks started")
        code, out, _ = await cli("ls", "--nats", url)
        assert code == 0 and re.search(rf"首次回应 {LOCAL}", out), out  # the due time is never cut
        code, out, err = await cli("regrade", incident, "II", "--reason", "转发上升", "--nats", url, "--actor", "li")
        assert code == 0, err

        async def clocks_of_two():
            value = await kv_get(nc, f"{incident}.clocks")
            names = {c["name"] for c in value["clocks"] if c["status"] == "running"} if value else set()
            return value if "report_up" in names else None

        await eventually(clocks_of_two, timeout=20, what="grade II clocks")
        code, out, err = await cli("regrade", incident, "release", "--reason", "交还规则", "--nats", url,
                                   "--actor", "li")
        assert code == 0, err
        assert out.startswith(f"已交还规则定级：{incident} 现为 IV 级（li，"), out
        assert "IV 级不设的时限 上报、权威发布 将取消，并记录原因" in out
        assert "共有的时限 首次回应、正式答复、最终时限 保持原截止时间" in out

        async def notified():
            value = await kv_get(nc, f"{incident}.notices")
            return value if value else None

        await eventually(notified, timeout=20, what="notify knows the incident")
        code, out, err = await cli("ack", incident, "--nats", url, "--actor", "张三")
        assert code == 0, err
        assert re.fullmatch(rf"已签收 {incident}（张三，{LOCAL}）\n", out), out
        code, out, err = await cli("done", incident, "report_up", "--nats", url)
        assert code == 2 and "须用 --note 说明" in err


async def test_demo_is_fed_once(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """`watchboard demo` feeds the scenario; a second run finds it there and says so; --again feeds it anyway."""
    url = nats_server.url
    async with running(build_intake(ConfigSource()), url, tmp_path / "intake"), \
            running(build_grading(ConfigSource()), url, tmp_path / "grading"):
        code, out, err = await cli("demo", "--speed", "100", "--nats", url, "--lang", "en")
        assert code == 0, err
        assert "demo: 20 reports sent, 0 refused" in out and len(re.findall(rf"new +{ULID}", out)) == 13

        async def in_kv():
            c, o, _ = await cli("ls", "--json", "--nats", url)
            return c == 0 and len(json.loads(o)) == 13

        await eventually(in_kv, timeout=20, what="the demo's incidents on the board")
        code, out, err = await cli("demo", "--speed", "100", "--nats", url)
        assert code == 0 and out == "" and "演示数据已在" in err and "watchboard up --fresh --demo" in err
        code, out, err = await cli("demo", "--speed", "100", "--nats", url, "--again", "--lang", "en")
        assert code == 0 and "demo: 20 reports sent" in out
        assert re.findall(rf"new +{ULID}", out) == []  # every report merged into the incidents it made
