"""The board on a real nats-server with intake and grading running: a submitted incident
appears within a second or two, a hostile title renders literally, and an acknowledgement
typed on the board reaches notify."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.client import Client

from tests.board.support import settle, table_lines
from tests.support import eventually, kv_get, request, running
from watchboard.board.launch import make_app
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

HOSTILE = "[bold red]x[/] \x1b]0;pwned\x07 \x1b[31m红 \u202eevil 食堂"


async def wait_rows(pilot, app, needle: str, timeout: float = 10.0) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await settle(pilot, app)
        lines = table_lines(app)
        if any(needle in line for line in lines):
            return lines
        await asyncio.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared; rows: {table_lines(app)}")


async def test_submitted_incident_appears_live_and_hostile_title_is_literal(
        nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """Snapshot, then a live change; markup shown as text, escapes never reach the screen."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(
        (Path(__file__).parents[2] / "examples" / "local-webhook" / "notify.toml").read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'), encoding="utf-8")
    source = ConfigSource(config)
    async with running(build_intake(source), nats_server.url, tmp_path / "intake"), \
            running(build_grading(source), nats_server.url, tmp_path / "grading"), \
            running(build_notify(source), nats_server.url, tmp_path / "notify"):
        first = await request(nc, "wb.intake.submit", {"title": "路灯不亮 居民反映", "platform": "hotline"})
        await eventually(lambda: kv_get(nc, f"{first['incident_id']}.grade"), what="first graded")
        app, link = make_app(nats_server.url, source, lang="zh", wall=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_rows(pilot, app, "路灯不亮")
            reply = await request(nc, "wb.intake.submit", {"title": HOSTILE, "platform": "weibo",
                                                           "metrics": {"reposts": 500}})
            lines = await wait_rows(pilot, app, "[bold red]x[/]")
            row = next(line for line in lines if "[bold red]x[/]" in line)
            assert row.split()[0] == "II"
            for bad in ("\x1b", "\x07", "\u202e"):
                assert bad not in row
            assert "<U+202E>" in row or "evil" in row

            # Acknowledge from the board: the row with the hostile title is the first (grade II).
            await pilot.press("home", "a")
            await settle(pilot, app)
            await pilot.press("enter")  # confirm / submit the form if one opens

            async def acked():
                view = await kv_get(nc, f"{reply['incident_id']}.notices")
                return view if view and view.get("acknowledged_by") else None

            view = await eventually(acked, timeout=10, what="acknowledged from the board")
            assert view["acknowledged_by"]
        await link.close()
