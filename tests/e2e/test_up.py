"""`watchboard up` as a user runs it: embedded NATS, four service processes, the demo,
a child killed and restarted, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

WATCHBOARD = [sys.executable, "-m", "watchboard.cli"]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_up_demo_restart_and_clean_stop(tmp_path: Path) -> None:
    """up --no-board --demo grades the scenario live, restarts a killed service, stops cleanly."""
    err = tmp_path / "up.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err, "wb") as out:
        up = subprocess.Popen([*WATCHBOARD, "up", "--no-board", "--demo", "--demo-speed", "15", "--port", "0",
                               "--data", str(tmp_path / "data")], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_for(lambda: (m := re.search(r"nats-server ready on (nats://\S+)", err.read_text())) and m.group(1),
                       20, "the server")

        # Roles on: the CLI finds the operator's credentials in the data folder `up` uses.
        cli_env = {**env, "WATCHBOARD_DATA": str(tmp_path / "data")}

        def incidents() -> list[dict] | None:
            run = subprocess.run([*WATCHBOARD, "ls", "--json", "--nats", url], capture_output=True, text=True,
                                 timeout=30, env=cli_env)
            if run.returncode != 0:
                return None
            rows = json.loads(run.stdout)
            grades = {r["grade"] for r in rows}
            return rows if len(rows) >= 12 and {"I", "II"} <= grades else None

        rows = wait_for(incidents, 120, "the demo graded")  # generous: a loaded 2-core machine
        # Roles on: without credentials the server lets nobody in, and the CLI says so.
        anonymous = subprocess.run([*WATCHBOARD, "ls", "--nats", url, "--lang", "en"], capture_output=True, text=True,
                                   timeout=30, env={**env, "WATCHBOARD_DATA": str(tmp_path / "elsewhere")})
        assert anonymous.returncode == 3 and "refused" in anonymous.stderr, anonymous.stderr
        assert all(r["owner"] for r in rows)
        canteen = [r for r in rows if "食堂" in r["title"]]
        assert len(canteen) == 1, "the canteen story's mentions merge into one incident"
        text = err.read_text()
        for name in ("intake", "grading", "deadlines", "notify"):
            assert f"{name}: answering" in text

        # Kill one service hard: up reports it and starts it again.
        pid = int(re.search(r"grading: started \(pid (\d+)\)", text).group(1))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "grading: restarted" in err.read_text(), 30, "grading restarted")
        assert "grading: exited with code -9" in err.read_text()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    text = err.read_text()
    assert code == 0, text[-2000:]
    assert "services stopped" in text and "nats-server stopped" in text
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", text)]
    time.sleep(0.5)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), \
            f"child {pid} still running after up stopped"
