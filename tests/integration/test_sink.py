"""`watchboard webhook-sink`: fails the first N requests on purpose, prints notices, marks duplicates."""

from __future__ import annotations

import io

from aiohttp import ClientSession, web

from watchboard.sink import make_app


async def test_sink_fails_first_then_prints_and_marks_duplicates() -> None:
    """The first request gets 500; then each notice is printed once, a repeated key as DUPLICATE."""
    out = io.StringIO()
    runner = web.AppRunner(make_app(fail_first=1, out=out))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hook"
    body = {"msgtype": "text", "text": {"content": "【II级舆情】\x1b]0;x\x07 食堂"}}
    try:
        async with ClientSession() as http:
            statuses = []
            for _ in range(3):
                async with http.post(url, json=body, headers={"Idempotency-Key": "k1"}) as resp:
                    statuses.append(resp.status)
    finally:
        await runner.cleanup()
    assert statuses == [500, 200, 200]
    lines = out.getvalue().splitlines()
    assert "failing on purpose" in lines[0]
    assert "【II级舆情】" in lines[1] and "\x1b" not in lines[1] and "DUPLICATE" not in lines[1]
    assert lines[2].endswith("DUPLICATE")
