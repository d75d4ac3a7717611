"""The follow-through under `watchboard up`, roles on, as people type it: a monitor submits a
report with a screenshot, the operator drafts a statement, an approver person approves it (the
operator may not), the operator publishes it, keeps and fetches evidence, hands out a task and
records its feedback, and reads today's supervision — each through a person's account, which
has no JetStream, and each recorded under the person the server authenticated."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.e2e.test_up import wait_for

WATCHBOARD = [sys.executable, "-m", "watchboard.cli"]
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"


def test_follow_through_under_up_with_roles_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    err = tmp_path / "up.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err, "wb") as out:
        up = subprocess.Popen([*WATCHBOARD, "up", "--no-board", "--port", "0", "--data", str(data)],
                              stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_for(lambda: (m := re.search(r"nats-server ready on (nats://\S+)", err.read_text())) and m.group(1),
                       30, "the server")
        wait_for(lambda: "intake: answering" in err.read_text() and "deadlines: answering" in err.read_text(),
                 60, "intake and deadlines")
        # The CLI finds the operator's credentials in up's data folder; others pass --creds.
        cli_env = {**env, "WATCHBOARD_DATA": str(data)}
        auth = data / "auth"
        operator = next(p["name"] for p in json.loads((auth / "identities.json").read_text())["people"]
                        if p["role"] == "operator")

        def wb(*args: str, creds: Path | None = None) -> subprocess.CompletedProcess[str]:
            extra = ["--creds", str(creds)] if creds is not None else []
            return subprocess.run([*WATCHBOARD, *args, "--nats", url, "--lang", "en", *extra], capture_output=True,
                                  text=True, timeout=60, env=cli_env)

        # A monitor submits with a screenshot: it may keep evidence, though it may not read the board.
        shot = tmp_path / "post.png"
        shot.write_bytes(b"\x89PNG" + bytes(range(256)) * 700)  # 179,204 bytes: two chunks
        sha = hashlib.sha256(shot.read_bytes()).hexdigest()
        run = wb("submit", "--title", "网传某中学食堂使用过期食材", "--platform", "weibo", "--region", "仲山镇",
                 "--reposts", "150", "--evidence", str(shot), creds=auth / "monitor.nk")
        assert run.returncode == 0 and re.fullmatch(rf"{ULID}\n", run.stdout), (run.stdout, run.stderr)
        incident = run.stdout.strip()
        assert f"kept as evidence: post.png (175 KB, SHA-256 {sha[:12]})" in run.stderr, run.stderr
        assert wb("ls", creds=auth / "monitor.nk").returncode != 0  # and still cannot read the board

        # A statement: the operator drafts; only an approver person approves; then it goes out.
        run = wb("statement", "draft", incident, "--text", "关于网传某中学食堂使用过期食材的情况通报。经核查……",
                 "--actor", "县委书记")
        assert run.returncode == 0 and f"({operator}, " in run.stdout, (run.stdout, run.stderr)  # the proven person
        run = wb("statement", "approve", incident)
        assert run.returncode == 1 and "(forbidden) [actor]" in run.stderr, run.stderr
        added = subprocess.run([*WATCHBOARD, "auth", "add-person", "陈主任", "--role", "approver", "--dir", str(auth),
                                "--lang", "en"], capture_output=True, text=True, timeout=60, env=cli_env)
        assert added.returncode == 0 and "reloaded" in added.stdout, added.stdout + added.stderr
        approver = auth / "陈主任.nk"

        def approve() -> subprocess.CompletedProcess[str] | None:
            run = wb("statement", "approve", incident, creds=approver)
            return run if run.returncode == 0 else None  # the reload takes a moment

        run = wait_for(approve, 30, "the approver's approval")
        assert run.stdout.startswith(f"approved statement version 1 of {incident}") and "(陈主任, " in run.stdout
        run = wb("statement", "publish", incident, "--url", "https://weibo.com/gov/1", "--channel", "官方微博")
        assert run.returncode == 0 and "published on 官方微博" in run.stdout, run.stderr

        # Evidence: the operator keeps another file and fetches the monitor's, digest checked.
        page = tmp_path / "page.html"
        page.write_text("<html>快照</html>", encoding="utf-8")
        run = wb("evidence", "add", incident, str(page))
        assert run.returncode == 0 and "kept as evidence: page.html" in run.stdout, run.stderr
        copy = tmp_path / "copy.png"
        run = wb("evidence", "get", incident, "post.png", "-o", str(copy))
        assert run.returncode == 0 and copy.read_bytes() == shot.read_bytes() and "SHA-256 checked" in run.stderr
        run = wb("evidence", "get", incident, "post.png", "-o", str(tmp_path / "x.png"), creds=auth / "wall.nk")
        assert run.returncode != 0 and not (tmp_path / "x.png").exists()  # a wall reads no evidence

        # A task handed out and fed back.
        run = wb("task", "add", incident, "--unit", "health", "--text", "核实食材来源并书面反馈", "--due", "2wd",
                 "--from", "县委书记批示")
        m = re.search(r"task (T[0-9A-Z]{16}) handed to", run.stdout)
        assert run.returncode == 0 and m, (run.stdout, run.stderr)
        run = wb("task", "feedback", m.group(1), "--text", "已核实，书面报告已报送")
        assert run.returncode == 0 and f"feedback on task {m.group(1)} recorded" in run.stdout, run.stderr

        # Today's supervision, read by direct get; then the incident supervised.
        def today() -> dict | None:
            run = wb("supervise", "--today", "--json")
            if run.returncode != 0:
                return None
            day = json.loads(run.stdout)
            return day if not day["working_day"] or incident in day["due"] else None  # graded II: owed

        day = wait_for(today, 30, "today's supervision")
        assert day["day"] == datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        if day["working_day"]:
            assert incident in day["unsupervised"]
        run = wb("supervise", incident, "--note", "已电话督办")
        assert run.returncode == 0 and f"supervision of {incident} recorded" in run.stdout, run.stderr
        if day["working_day"]:
            wait_for(lambda: incident not in json.loads(wb("supervise", "--today", "--json").stdout)["unsupervised"],
                     30, "the supervision seen")

        # The record names the people the server authenticated, whatever --actor said.
        def shown() -> dict | None:
            run = wb("show", incident, "--json")
            data = json.loads(run.stdout) if run.returncode == 0 else None
            return data if data and data.get("supervisions") and data.get("tasks") and \
                data["tasks"][0]["status"] == "fed_back" else None

        data = wait_for(shown, 30, "the record")
        statement = data["statements"][-1]
        assert (statement["state"], statement["drafted_by"], statement["approved_by"]) == (
            "published", operator, "陈主任")
        assert {(f["name"], f["added_by"]) for f in data["evidence"]} == {("post.png", "monitor"),
                                                                         ("page.html", operator)}
        assert data["supervisions"][-1]["actor"] == operator
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    assert code == 0, err.read_text()[-2000:]
    time.sleep(0.2)
