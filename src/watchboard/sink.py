"""`watchboard webhook-sink`: a local webhook receiver that prints each notice it gets.

For trying notify without a chat-group robot: run the sink, point a contact's webhook at
it (`examples/local-webhook/notify.toml` does), and watch notices arrive. `--fail-first N`
answers the first N requests with HTTP 500, so notify's retries show; a notice seen twice
(same Idempotency-Key) is marked as a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

from aiohttp import web

from watchboard.domain.sanitize import clean_line


def _summary(body: Any) -> str:
    """The readable part of a JSON, WeCom, DingTalk or Feishu body."""
    if not isinstance(body, dict):
        return str(body)
    for path in (("text", "content"), ("markdown", "content"), ("markdown", "text"), ("content", "text"),
                 ("subject",), ("title",), ("text",)):
        value: Any = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return json.dumps(body, ensure_ascii=False)


def make_app(fail_first: int = 0, out=sys.stdout) -> web.Application:
    seen: dict[str, int] = {}
    state = {"requests": 0}

    async def receive(request: web.Request) -> web.Response:
        state["requests"] += 1
        key = request.headers.get("Idempotency-Key", "")
        try:
            body = await request.json()
        except ValueError:
            body = await request.text()
        if state["requests"] <= fail_first:
            print(f"{time.strftime('%H:%M:%S')}  500 (failing on purpose, {state['requests']}/{fail_first})",
                  file=out, flush=True)
            return web.json_response({"errcode": 500, "errmsg": "sink failing on purpose"}, status=500)
        seen[key] = seen.get(key, 0) + 1
        dup = "  DUPLICATE" if key and seen[key] > 1 else ""
        text = clean_line(_summary(body), 160)
        print(f"{time.strftime('%H:%M:%S')}  {request.path:8} {text}{dup}", file=out, flush=True)
        return web.json_response({"errcode": 0, "errmsg": "ok", "code": 0})

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


def run_sink(host: str, port: int, fail_first: int) -> int:
    async def main() -> None:
        runner = web.AppRunner(make_app(fail_first), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            print(f"watchboard webhook-sink: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            raise SystemExit(1) from exc
        print(f"webhook sink listening on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    return 0
