"""The follow-through verbs as a user types them, against real services on a real server:
statements, evidence, tasks, meetings and supervision, in Chinese and in English."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from nats.aio.client import Client

from tests.e2e.test_cli import LOCAL, ULID, cli
from tests.support import eventually, kv_get, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake

TASK_ID = r"T[0-9A-HJKMNP-TV-Z]{16}"


def config(tmp_path: Path) -> Path:
    """The shipped config, but evidence files of at most 4 KiB."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "intake.toml").write_text("[evidence]\nmax_bytes = 4096\n", encoding="utf-8")
    return folder


async def test_follow_through_from_the_shell(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    url = nats_server.url
    folder = config(tmp_path)
    source = ConfigSource(folder)
    shot = tmp_path / "post.png"
    shot.write_bytes(b"\x89PNG" + bytes(range(200)) * 10)
    sha = hashlib.sha256(shot.read_bytes()).hexdigest()
    base = ("--nats", url, "--config", str(folder))
    async with running(build_intake(source), url, tmp_path / "intake", source=source), \
            running(build_grading(source), url, tmp_path / "grading", source=source), \
            running(build_deadlines(source), url, tmp_path / "deadlines", source=source):
        # submit --evidence: a file is kept (stdout stays the bare id), a text stays a text.
        code, out, err = await cli("submit", *base, "--title", "网传某中学食堂使用过期食材", "--platform", "weibo",
                                   "--region", "仲山镇", "--reposts", "150", "--evidence", str(shot),
                                   "--evidence", "https://archive.example/1", "--reporter", "monitor-01")
        assert code == 0, err
        assert re.fullmatch(rf"{ULID}\n", out), out
        incident = out.strip()
        assert f"已固定证据 post.png（2 KB，SHA-256 {sha[:12]}）" in err, err

        async def core(ok: object) -> dict:
            async def check() -> dict | None:
                view = await kv_get(nc, f"{incident}.core")
                return view if view is not None and ok(view) else None  # type: ignore[operator]
            return await eventually(check, timeout=20, what="the record")

        record = await core(lambda v: v["evidence_files"])
        assert record["evidence"] == ["https://archive.example/1"]
        assert [(f["name"], f["sha256"], f["added_by"]) for f in record["evidence_files"]] == [
            ("post.png", sha, "monitor-01")]

        # Over the limit: refused before anything is sent, naming the limit and where it is set.
        video = tmp_path / "clip.mp4"
        video.write_bytes(bytes(5000))
        code, out, err = await cli("evidence", "add", incident, str(video), *base)
        assert code == 2 and "[size]" in err and "clip.mp4 大小为 4.9 KB，证据文件不得超过 4 KB" in err, err
        assert "evidence.max_bytes" in err
        code, out, err = await cli("evidence", "ls", incident, "--json", *base)
        assert code == 0 and [f["name"] for f in json.loads(out)] == ["post.png"]

        # Out again, checked; then the object is altered in the bucket and refused.
        target = tmp_path / "out" / "copy.png"
        target.parent.mkdir()
        code, out, err = await cli("evidence", "get", incident, "post.png", "-o", str(target), *base)
        assert code == 0 and target.read_bytes() == shot.read_bytes() and "SHA-256 校验一致" in err, err
        code, _, err = await cli("evidence", "get", incident, "post.png", "-o", str(target), *base)
        assert code == 2 and "已存在" in err  # never overwritten
        store = await nc.jetstream().object_store("wb-evidence")
        await store.put(sha, b"a different picture")
        altered = tmp_path / "out" / "altered.png"
        code, _, err = await cli("evidence", "get", incident, "post.png", "-o", str(altered), *base, "--lang", "en")
        assert code == 1 and "refused to give out post.png" in err and "no longer matches" in err, err
        assert not altered.exists() and sorted(p.name for p in target.parent.iterdir()) == ["copy.png"]

        # A statement: publishing before approval is forbidden; an approver approves; then it goes out.
        draft = tmp_path / "statement.txt"
        draft.write_text("关于网传某中学食堂使用过期食材的情况通报\r\n经核查……\r\n", encoding="utf-8")
        code, out, err = await cli("statement", "draft", incident, "--file", str(draft), "--actor", "李值班", *base)
        assert code == 0 and re.fullmatch(rf"通稿第 1 稿已提交审核（摘要 [0-9a-f]{{12}}）（李值班，{LOCAL}）\n", out), (out, err)
        publish = ("statement", "publish", incident, "--url", "https://weibo.com/gov/1", "--channel", "官方微博",
                   "--actor", "李值班", *base)
        code, _, err = await cli(*publish)
        assert code == 1 and "错误（无权）[statement]：第 1 稿尚未审核同意" in err, err
        code, _, err = await cli("statement", "approve", incident, "--actor", "李值班", *base)
        assert code == 1 and "（无权）[actor]" in err and "陈主任（`p-chen`）" in err, err
        code, out, err = await cli("statement", "approve", incident, "--actor", "陈主任", *base)
        assert code == 0 and out.startswith(f"已审核同意 {incident} 的通稿第 1 稿"), err
        other = tmp_path / "other.txt"
        other.write_text("另一个文本", encoding="utf-8")
        code, _, err = await cli(*publish, "--file", str(other))
        assert code == 1 and "[sha256]" in err
        code, out, err = await cli(*publish, "--file", str(draft), "--lang", "en")
        assert code == 0 and re.fullmatch(
            rf"statement version 1 of {incident} published on 官方微博: https://weibo.com/gov/1 \(李值班, {LOCAL}\)\n",
            out), (out, err)
        code, _, err = await cli("done", incident, "statement", "--note", "x", *base)
        assert code == 1 and "（冲突）[clock]" in err and "statement publish" in err, err

        # A task from a leader's instruction, listed, fed back.
        code, out, err = await cli("task", "add", incident, "--unit", "health", "--text", "核实食材来源并书面反馈",
                                   "--due", "2wd", "--from", "县委书记批示", "--actor", "王主任", *base)
        assert code == 0, err
        m = re.fullmatch(rf"已交办 (\S+)：任务 ({TASK_ID})，(\d{{4}}-\d{{2}}-\d{{2}} 17:30) 前反馈（王主任，{LOCAL}）\n", out)
        assert m, out
        task = m.group(2)

        async def task_listed() -> list | None:
            c, o, _ = await cli("task", "ls", "--open", "--json", *base)
            rows = json.loads(o) if c == 0 else []
            return rows if rows and rows[0]["clock"] == "running" else None

        rows = await eventually(task_listed, timeout=20, what="the task's clock")
        assert [(r["id"], r["incident_id"], r["unit"], r["source"]) for r in rows] == [
            (task, incident, "health", "县委书记批示")]
        code, out, _ = await cli("task", "ls", *base)
        assert code == 0 and task in out and "待反馈" in out
        code, out, err = await cli("task", "feedback", task, "--text", "已核实，供应商停业整顿", "--actor", "卫健委 赵", *base)
        assert code == 0 and out.startswith(f"已记录任务 {task} 的反馈"), err

        async def fed_back() -> str | None:
            c, o, _ = await cli("task", "ls", "--open", *base)
            return o if c == 0 and "没有符合条件的任务" in o else None

        await eventually(fed_back, timeout=20, what="no open task")

        # A meeting and the task it hands out; the daily supervision.
        minutes = tmp_path / "minutes.txt"
        minutes.write_text("一、通报情况；二、议定由市场监管局约谈供货商。", encoding="utf-8")
        code, out, err = await cli("meeting", "add", "--kind", "会商", "--incidents", incident, "--attendees",
                                   "王主任,赵科长", "--minutes", str(minutes), "--task", "market,1wd,约谈供货商",
                                   "--actor", "办公室", *base)
        assert code == 0, err
        assert re.match(rf"已记录会商 M[0-9A-HJKMNP-TV-Z]{{16}}（1 起舆情）\n  交办 \S+：任务 {TASK_ID}，", out), out
        code, out, err = await cli("supervise", incident, "--note", "电话督办卫健委赵科长", "--actor", "办公室", *base)
        assert code == 0 and out.startswith(f"已记录对 {incident} 的督办"), err
        code, _, err = await cli("supervise", *base)
        assert code == 2 and "--today" in err
        code, out, err = await cli("supervise", "--today", "--json", *base)
        assert code == 0, err
        today = json.loads(out)
        assert incident not in today["unsupervised"]

        # show: the sections, and --json lists it all.
        async def shown() -> dict | None:
            c, o, _ = await cli("show", incident, "--json", *base)
            data = json.loads(o) if c == 0 else {}
            return data if len(data.get("tasks", [])) == 2 and data.get("supervisions") else None

        data = await eventually(shown, timeout=20, what="show --json with the follow-through")
        assert [s["state"] for s in data["statements"]] == ["published"]
        assert data["statement_state"] == "published" and data["evidence"][0]["name"] == "post.png"
        assert {t["status"] for t in data["tasks"]} == {"fed_back", "open"} and data["meetings"][0]["kind"] == "会商"
        types = {t["type"] for t in data["timeline"]}
        assert {"statement.published", "evidence.added", "task.fed_back", "meeting.held", "incident.supervised"} <= types
        code, out, _ = await cli("show", incident, *base)
        assert code == 0 and all(word in out for word in ("通稿", "已发布", "固定证据", "交办任务", "会商", "督办"))
        code, out, _ = await cli("show", incident, *base, "--lang", "en")
        assert code == 0 and all(word in out for word in ("Statements", "published", "Evidence", "Tasks", "Supervision"))
