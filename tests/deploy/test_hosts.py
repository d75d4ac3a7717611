"""docs/deploy.md, followed on this machine: the hosts as network namespaces, the page's
commands run on each (tests/deploy/hosts.py), then the site checked — a report graded and on
the wall, the stream's backup and restore, the hostile clients refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.hosts import HOSTS, PAGE, blocks

REPO = Path(__file__).resolve().parents[2]


def test_the_page_marks_a_block_for_every_host() -> None:
    """Every host of the page's table has blocks the try runs; the backup and restore are there."""
    found = blocks(PAGE.read_text(encoding="utf-8"))
    assert {h for b in found for h in b.hosts} == set(HOSTS)
    assert [b.file for b in found if b.file] == ["/etc/nats/nats-server.conf", "/etc/systemd/system/nats-server.service",
                                                 "/etc/watchboard/watchboard.env"]
    restore = [b for b in found if b.section.startswith("Backup and restore")]
    assert len(restore) == 2 and "tar -C /var/lib/nats -czf" in restore[0].text and "-xzf" in restore[1].text


def netns_permitted() -> str | None:
    """Why `ip netns` cannot be used here, or None."""
    if os.geteuid() != 0:
        return "not root: `ip netns add` needs root (CI runs as root)"
    probe = f"wbt-probe-{os.getpid()}"
    run = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if run.returncode != 0:
        return f"`ip netns add` is not permitted here: {run.stderr.strip() or run.returncode}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.mark.timeout(900)
def test_hosts_set_up_from_the_page(tmp_path: Path) -> None:
    why = netns_permitted()
    if why is not None:
        pytest.skip(why)
    run = subprocess.run([sys.executable, "-m", "tests.deploy.hosts", "--work", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=840)
    assert run.returncode == 0 and "ALL HOSTS UP AND CHECKED" in run.stdout, (run.stdout + run.stderr)[-6000:]
    assert "refused, as it must be: a client whose certificate another CA signed" in run.stdout
