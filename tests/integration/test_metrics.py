"""Prometheus metrics and `watchboard status` on running services (real NATS): each service's
endpoint is scraped over HTTP, and its figures move once reports are submitted; `status`
prints each instance's role, health, lag and where its metrics are."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from nats.aio.client import Client

from tests.integration.test_notify_service import notify_toml
from tests.support import eventually, request, running
from watchboard.bus.health import instance_health
from watchboard.bus.server import NatsServer
from watchboard.bus.standby import service_instances
from watchboard.config import ConfigSource
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? (\S+)$")


async def scrape(url: str) -> dict[str, float]:
    """`name{labels}` → value, from one GET of the endpoint."""
    async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    out = {}
    for line in text.splitlines():
        if (m := SAMPLE.match(line)) and not line.startswith("#"):
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def report(n: int) -> dict:
    return {"title": f"网传某小区停水第{n}天", "platform": "weibo", "url": f"https://weibo.example/m/{n}",
            "metrics": {"reposts": 300}, "region": "城关镇"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "watchboard.toml").write_text('[metrics]\nlisten = "127.0.0.1:0"\n', encoding="utf-8")
    (folder / "notify.toml").write_text(notify_toml("http://127.0.0.1:9/hook"), encoding="utf-8")
    return folder


async def test_each_service_serves_metrics_that_move(nats_server: NatsServer, nc: Client, tmp_path: Path,
                                                     config: Path) -> None:
    source = ConfigSource(config)
    async with running(build_intake(source), nats_server.url, tmp_path / "intake", source=source), \
            running(build_grading(source), nats_server.url, tmp_path / "grading", source=source), \
            running(build_deadlines(source), nats_server.url, tmp_path / "deadlines", source=source, tick=0.2), \
            running(build_notify(source), nats_server.url, tmp_path / "notify", source=source, tick=0.2):
        found = {i.service: i for i in await service_instances(nc)}
        urls = {name: found[name].metrics for name in ("intake", "grading", "deadlines", "notify")}
        ports = {re.search(r":(\d+)/metrics$", u).group(1) for u in urls.values()}  # type: ignore[union-attr]
        assert len(ports) == 4, urls  # port 0: four services on one host, four ports
        before = {name: await scrape(url) for name, url in urls.items()}
        assert before["grading"].get('watchboard_events_handled_total{consumer="grading"}', 0) == 0
        assert before["grading"]['watchboard_active'] == 1
        assert before["grading"]['watchboard_info{instance="",service="grading",version="0.1.0"}'] == 1

        for n in range(3):
            assert (await request(nc, "wb.intake.submit", report(n)))["ok"]

        async def moved() -> dict[str, dict[str, float]] | None:
            now = {name: await scrape(url) for name, url in urls.items()}
            graded = now["grading"].get('watchboard_events_handled_total{consumer="grading"}', 0)
            clocks = now["deadlines"].get("watchboard_clocks_running", 0)
            queued = sum(v for k, v in now["notify"].items() if k.startswith("watchboard_notices{"))
            recorded = now["intake"].get('watchboard_events_handled_total{consumer="intake-record"}', 0)
            return now if graded >= 3 and clocks >= 3 and queued >= 3 and recorded >= 3 else None

        now = await eventually(moved, timeout=20, interval=0.3, what="the metrics moving")
        assert now["grading"]['watchboard_handler_seconds_count{consumer="grading"}'] >= 1
        assert now["grading"]['watchboard_consumer_lag{consumer="grading"}'] == 0
        assert now["grading"]["watchboard_outbox_depth"] == 0 and now["grading"]["watchboard_dead_letters"] == 0
        assert now["deadlines"]['watchboard_events_handled_total{consumer="deadlines"}'] >= 6  # reported + graded
        assert "watchboard_outbox_depth" not in now["intake"] and "watchboard_clocks_running" not in now["intake"]

        # The same figures on the service API: health and lag per instance.
        healths = await instance_health(nc)
        by_service = {h.service: h.data for h in healths.values()}
        assert by_service["grading"]["health"] == "ok" and by_service["grading"]["lag"] == 0
        assert by_service["grading"]["consumers"]["grading"]["events"] >= 3

        # And `watchboard status` prints them (roles off: anonymous, like the CLI on loopback).
        run = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "watchboard.cli", "status", "--nats", nats_server.url, "--lang", "en"],
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        lines = {line.split()[0]: line for line in run.stdout.splitlines()[1:] if line.strip()}
        for name in ("intake", "grading", "deadlines", "notify"):
            assert "only instance" in lines[name] and " ok " in f"{lines[name]} " and urls[name] in lines[name], lines
        run = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "watchboard.cli", "status", "--nats", nats_server.url, "--json"],
            capture_output=True, text=True, timeout=60)
        rows = {r["service"]: r for r in json.loads(run.stdout)["instances"]}
        assert rows["notify"]["health"]["notices"] and rows["deadlines"]["health"]["clocks_running"] >= 3


async def test_a_taken_port_falls_back_to_a_free_one(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """Two instances given one fixed port on one host: the second serves on another and says so."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "watchboard.toml").write_text(f'[metrics]\ngrading = "127.0.0.1:{port}"\n', encoding="utf-8")
    source = ConfigSource(folder)
    async with running(build_grading(source), nats_server.url, tmp_path / "g1", source=source), \
            running(build_grading(source), nats_server.url, tmp_path / "g2", source=source):
        urls = sorted(i.metrics for i in await service_instances(nc) if i.service == "grading")
        assert len(urls) == 2 and f"http://127.0.0.1:{port}/metrics" in urls and len(set(urls)) == 2
        for url in urls:
            assert (await scrape(url))["watchboard_active"] == 1


async def test_off_unless_configured(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    async with running(build_grading(ConfigSource()), nats_server.url, tmp_path / "g"):
        (grading,) = [i for i in await service_instances(nc) if i.service == "grading"]
        assert grading.metrics == ""
        # health is on the service API all the same
        assert {h.service: h.data for h in (await instance_health(nc)).values()}["grading"]["health"] == "ok"
