"""notify wired to a real nats-server: a grade II incident reaches a real local webhook,
an acknowledgement stops escalation, and the notices show in the KV."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from nats.aio.client import Client

from tests.support import eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify


def notify_toml(url: str) -> str:
    """The default notify.toml with the duty officers and the leaders on a local webhook."""
    from watchboard.config import defaults_dir

    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    hook = f'{{ channel = "webhook", url = "{url}", format = "json" }}'
    for who in ("duty-li", "duty-wang"):
        text = text.replace(f'{{ channel = "email", address = "{who}@example.gov.cn" }}', hook)
    text = text.replace('name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [{ channel = "board" }]',
                        'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [' +
                        hook.replace('"json"', '"wecom"') + ']')
    text = text.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"')
    return text.replace('backoff_initial = "10s"', 'backoff_initial = "1s"')


async def test_grade_ii_reaches_webhook_and_ack_is_recorded(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    """A grade II report → notices POSTed to a local webhook with Idempotency-Key; ack stops escalation."""
    received: list[tuple[str, dict]] = []

    async def hook(request_: web.Request) -> web.Response:
        received.append((request_.headers.get("Idempotency-Key", ""), await request_.json()))
        return web.json_response({"errcode": 0})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(notify_toml(f"http://127.0.0.1:{port}/hook"), encoding="utf-8")
    source = ConfigSource(config)
    try:
        async with running(build_intake(source), nats_server.url, tmp_path / "intake"), \
                running(build_grading(source), nats_server.url, tmp_path / "grading"), \
                running(build_notify(source), nats_server.url, tmp_path / "notify", tick=0.2):
            reply = await request(nc, "wb.intake.submit", {"title": "视频：城管执法推搡摊贩", "platform": "douyin",
                                                           "metrics": {"reposts": 300}, "region": "城关镇"})
            incident = reply["incident_id"]
            await eventually(lambda: _async(len(received) >= 2), timeout=15, what="webhook deliveries")
            keys = [k for k, _ in received]
            assert all(keys) and len(set(keys)) == len(keys)

            async def sent_view():
                view = await kv_get(nc, f"{incident}.notices")
                return view if view and any(n["status"] == "sent" for n in view["notices"]) else None

            view = await eventually(sent_view, timeout=10, what="notices view")
            assert "g-leaders" in {n["to"] for n in view["notices"]}
            ack = await request(nc, "wb.cmd.ack", {"incident_id": incident, "actor": "p-li"})
            assert ack["ok"] and ack["acknowledged_by"] == "p-li"
            again = await request(nc, "wb.cmd.ack", {"incident_id": incident, "actor": "duty"})
            assert again["error"]["code"] == "conflict"
            missing = await request(nc, "wb.cmd.ack", {"incident_id": "NOPE", "actor": "duty"})
            assert missing["error"]["code"] == "not_found"

            async def acked():
                v = await kv_get(nc, f"{incident}.notices")
                return v if v and v["acknowledged_by"] == "p-li" else None

            await eventually(acked, what="acknowledged_by in KV")
            assert any("城管" in json.dumps(body, ensure_ascii=False) for _, body in received)
    finally:
        await runner.cleanup()


async def _async(value: object) -> object:
    return value
