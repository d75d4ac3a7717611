"""The `watchboard` command as a user types it, against real services on a real server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from nats.aio.client import Client

from tests.support import eventually, kv_get, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

SHOW_KEYS = {"id", "title", "grade", "grade_reasons", "grade_source", "sentiment", "owner", "stage",
             "acknowledged_by", "mentions", "clocks", "reminders", "flagged", "flags", "notices", "timeline"}


async def cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchboard.cli", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out.decode(), err.decode()


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
        json.dumps({"title": "县道公交停运", "platform": "kuaishou", "region": "青石乡"}, ensure_ascii=False),
    ]
    jsonl = tmp_path / "reports.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with running(build_intake(ConfigSource()), url, tmp_path / "intake"), \
            running(build_grading(ConfigSource()), url, tmp_path / "grading"):
        code, out, _ = await cli("submit", "--nats", url, "--file", str(jsonl))
        assert code == 1  # some lines were rejected
        assert "6 reports" in out and "2 accepted, 1 merged, 3 rejected" in out
        assert "line 3: title:" in out and "line 4: body:" in out and "line 5: platform:" in out

        code, out, err = await cli("submit", "--nats", url, "--title", "x", "--platform", "weibo", "--reposts", "-3")
        assert code == 1 and "[metrics.reposts]" in err

        async def listed():
            c, o, _ = await cli("ls", "--json", "--nats", url)
            rows = json.loads(o) if c == 0 else []
            return rows if len(rows) == 2 and all(r["grade"] for r in rows) else None

        rows = await eventually(listed, timeout=20, what="two graded incidents")
        canteen = next(r for r in rows if "食堂" in r["title"])
        assert canteen["grade"] == "II" and "mentions" not in canteen

        code, out, _ = await cli("show", canteen["id"], "--json", "--nats", url)
        shown = json.loads(out)
        assert SHOW_KEYS <= set(shown)
        assert len(shown["mentions"]) == 2 and shown["mentions"][0]["metrics"]["reposts"] == 150
        assert [t["type"] for t in shown["timeline"]][:1] == ["incident.reported"]
        assert {"incident.graded", "incident.assigned", "mention.added"} <= {t["type"] for t in shown["timeline"]}

        code, out, err = await cli("stage", canteen["id"], "handling", "--note", "已核实", "--actor", "wang",
                                   "--nats", url)
        assert code == 0, err
        code, _, err = await cli("regrade", canteen["id"], "I", "--reason", "研判升级", "--nats", url)
        assert code == 0, err
        code, _, err = await cli("regrade", canteen["id"], "V", "--reason", "x", "--nats", url)
        assert code == 2  # argparse refuses a grade that does not exist
        code, _, err = await cli("close", "01NOSUCHINCIDENT", "--summary", "x", "--nats", url)
        assert code == 1 and "not_found" in err

        # flag / unflag: the reply printed as JSON, show --json lists the flags, a repeat is a conflict.
        code, out, err = await cli("flag", canteen["id"], "rumour", "--reason", "经核实为谣言", "--actor", "wang",
                                   "--nats", url)
        assert code == 0, err
        assert json.loads(out)["flags"] == ["rumour"]
        code, _, err = await cli("flag", canteen["id"], "rumour", "--reason", "again", "--nats", url)
        assert code == 1 and "error (conflict) [kind]" in err
        code, _, err = await cli("flag", canteen["id"], "gossip", "--reason", "x", "--nats", url)
        assert code == 2  # argparse refuses a kind that does not exist

        async def flagged_in_show():
            c, o, _ = await cli("show", canteen["id"], "--json", "--nats", url)
            data = json.loads(o) if c == 0 else {}
            return data if data.get("flags") == ["rumour"] else None

        shown = await eventually(flagged_in_show, timeout=20, what="flags in show --json")
        flagged = [(t["actor"], t["text"]) for t in shown["timeline"] if t["type"] == "incident.flagged"]
        assert flagged == [("wang", "flagged rumour: 经核实为谣言")]
        code, out, err = await cli("unflag", canteen["id"], "rumour", "--reason", "撤回", "--nats", url)
        assert code == 0 and json.loads(out)["flags"] == [], err

        async def regraded():
            g = await kv_get(nc, f"{canteen['id']}.grade")
            return g if g and g["grade"] == "I" and g["source"] == "person" else None

        await eventually(regraded, what="regrade visible")
        code, out, _ = await cli("show", canteen["id"], "--nats", url)
        assert code == 0 and "食堂" in out and "timeline" in out

    code, _, err = await cli("ls", "--nats", "nats://127.0.0.1:1")
    assert code == 3 and "Is the system running" in err
