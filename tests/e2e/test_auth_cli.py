"""`watchboard auth` and the CLI against a roles-on server, as a person types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from watchboard.bus.server import NatsServer

WATCHBOARD = [sys.executable, "-m", "watchboard.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([*WATCHBOARD, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WATCHBOARD_DATA": "/nonexistent-watchboard-data", **(env or {})})


def test_auth_folder_people_and_refusals(tmp_path: Path) -> None:
    """init, add-person, a duplicate name, list, a client refused without credentials and a wall
    refused a command, revoke; each said in people's words."""
    auth = tmp_path / "auth"
    done = run("auth", "init", "--out", str(auth), "--operator", "值班员", "--lang", "en")
    assert done.returncode == 0, done.stderr
    assert "include \"auth.conf\"" in done.stdout and "值班员, monitor, wall" in done.stdout
    again = run("auth", "init", "--out", str(auth))
    assert again.returncode == 2 and "already holds an auth folder" in again.stderr
    added = run("auth", "add-person", "张三", "--role", "wall", "--dir", str(auth), "--lang", "en")
    assert added.returncode == 0 and "added 张三 (wall)" in added.stdout, added.stderr
    assert "takes effect once nats-server reloads" in added.stdout  # no server of `up` beside this folder
    twice = run("auth", "add-person", "张三", "--role", "operator", "--dir", str(auth))
    assert twice.returncode == 2 and "already in" in twice.stderr
    bad = run("auth", "add-person", "a/b", "--role", "operator", "--dir", str(auth))
    assert bad.returncode == 2 and "slashes" in bad.stderr
    listed = run("auth", "list", "--dir", str(auth)).stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["值班员", "operator"], ["monitor", "monitor"],
                                                         ["wall", "wall"], ["张三", "wall"]]

    server = NatsServer(tmp_path / "nats", port=0, include=auth / "auth.conf")
    server.start()
    try:
        server.wait_ready(timeout=15)
        setup = run("setup", "--nats", server.url, "--creds", str(auth / "admin.nk"), "--lang", "en")
        assert setup.returncode == 0 and "stream WATCHBOARD, bucket wb-board and evidence bucket wb-evidence are ready" in setup.stdout
        anonymous = run("ls", "--nats", server.url)
        assert anonymous.returncode == 3 and ("拒绝" in anonymous.stderr or "断开" in anonymous.stderr)
        wall = run("note", "01X", "hello", "--nats", server.url, "--creds", str(auth / "张三.nk"), "--lang", "en")
        assert wall.returncode == 1
        assert "the NATS server refused to carry wb.cmd.note for this identity" in wall.stderr, wall.stderr
        listing = run("ls", "--json", "--nats", server.url, "--creds", str(auth / "张三.nk"))
        assert listing.returncode == 0 and json.loads(listing.stdout) == [], listing.stderr  # the wall reads
        revoked = run("auth", "revoke", "张三", "--dir", str(auth), "--pid-file", str(server.pid_file), "--lang", "en")
        assert revoked.returncode == 0 and "reloaded its config" in revoked.stdout, revoked.stdout
        gone = run("ls", "--nats", server.url, "--creds", str(auth / "张三.nk"))
        assert gone.returncode == 2 and "no such credentials file" in gone.stderr
    finally:
        server.stop()
    (auth / "identities.json").rename(tmp_path / "moved.json")
    serve = run("serve", "intake", "--nats", "nats://127.0.0.1:1", "--creds", str(auth / "intake.nk"),
                "--data", str(tmp_path / "intake"))
    assert serve.returncode == 2 and "identities.json: not found" in serve.stderr
