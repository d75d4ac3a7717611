"""`watchboard up --standby --cluster 3` as a person tries it: three nodes, two instances of each
service (roles on), `watchboard status` naming who is active; the active grading process killed
and a node killed, reports still taken and graded; a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_up import wait_for

WATCHBOARD = [sys.executable, "-m", "watchboard.cli"]
ROOT = Path(__file__).resolve().parents[2]


def test_up_standby_on_a_local_cluster(tmp_path: Path) -> None:
    data = tmp_path / "data"
    err = tmp_path / "up.err"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err, "wb") as out:
        up = subprocess.Popen([*WATCHBOARD, "up", "--no-board", "--standby", "--cluster", "3", "--port", "0",
                               "--config", str(ROOT / "config" / "cluster"), "--data", str(data)],
                              stdout=out, stderr=subprocess.STDOUT, env=env)
    cli_env = {**env, "WATCHBOARD_DATA": str(data)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*WATCHBOARD, *args, "--nats", url], capture_output=True, text=True, timeout=60,
                              env=cli_env)

    try:
        url = wait_for(lambda: (m := re.search(r"nats-server ready on (nats://\S+)", err.read_text())) and m.group(1),
                       40, "the cluster")
        assert url.count("nats://") == 3

        def instances() -> list[dict]:
            run = cli("status", "--json")
            return json.loads(run.stdout)["instances"] if run.returncode == 0 else []

        def roles() -> dict[str, str] | None:
            found = {i["instance"]: i["role"] for i in instances()}
            return found if len(found) == 8 else None

        seen = wait_for(roles, 90, "two instances of every service")
        for service in ("intake", "grading", "deadlines", "notify"):
            assert sorted(seen[f"{service}-{k}"] for k in (1, 2)) == ["active", "standby"], seen
        assert "在岗" in cli("status", "--lang", "zh").stdout

        first = cli("submit", "--title", "集群 备用 一", "--platform", "weibo", "--json")
        assert first.returncode == 0, first.stderr
        # Kill -9 the active grading process; `up` starts it again, as a standby.
        active = next(k for k in (1, 2) if seen[f"grading-{k}"] == "active")
        label = "grading" if active == 1 else "grading.2"
        pid = int(re.findall(rf"{re.escape(label)}: started \(pid (\d+)\)", err.read_text())[-1])
        was = {i["id"] for i in instances() if i["service"] == "grading" and i["role"] == "active"}
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # The standby takes over — or the killed one, started again by `up`, if it is quicker.
        wait_for(lambda: [i for i in instances() if i["service"] == "grading" and i["role"] == "active"
                          and i["id"] not in was], 15, "another grading instance active")
        # Within 5 s plus a CLI start per poll when the host is idle; the bound is the wait's (15 s),
        # since a loaded CI host stretches both.
        print(f"grading active again {time.monotonic() - killed:.1f}s after the kill")
        # And one node of the three.
        os.kill(int((data / "nats-1" / "nats-server.pid").read_text().strip()), signal.SIGKILL)
        # The node's clients move to the others and its streams elect new leaders meanwhile: a
        # report refused "unavailable" then is sent again, as a monitor's tool does (bounded).
        killed = time.monotonic()
        second = wait_for(lambda: (r := cli("submit", "--title", "集群 备用 二", "--platform", "weibo",
                                            "--json")).returncode == 0 and r, 60, "the second report taken")
        print(f"a report taken {time.monotonic() - killed:.1f}s after the node was killed")
        assert json.loads(second.stdout)["ok"]

        def graded() -> list[dict] | None:
            run = cli("ls", "--json")
            rows = json.loads(run.stdout) if run.returncode == 0 else []
            return rows if len([r for r in rows if r.get("grade")]) >= 2 else None

        wait_for(graded, 60, "both reports graded")
        wait_for(lambda: re.search(r"grading(\.2)?: restarted", err.read_text()), 30, "the killed one restarted")
    except BaseException:
        for log in sorted((data / "logs").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}")
        raise
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
            code = -9
    text = err.read_text()
    assert code == 0, text[-3000:]
    assert "services stopped" in text and "nats-server stopped" in text
