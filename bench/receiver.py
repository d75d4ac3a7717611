"""A local webhook receiver for the benches, as its own process (so it does not share the
load generator's event loop): it answers every POST 200 and remembers, per `Idempotency-Key`,
the first time it arrived (`time.monotonic()`, one clock for every process on this machine)
and the incident the JSON body names.

    python -m bench.receiver            # prints `port N` on stdout once listening
    GET  /count                         # {"distinct": n, "requests": n} (cheap, to poll)
    GET  /stats                         # {"first": {key: [incident_id, t]}, "requests": n, "duplicates": n}

The bench reads `/stats` at the end; nothing is written to disk.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

from aiohttp import web


class Receiver:
    def __init__(self) -> None:
        self.first: dict[str, tuple[str, float]] = {}  # key → (incident_id, monotonic time)
        self.accepted: Counter[str] = Counter()
        self.requests = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.monotonic()
        self.requests += 1
        key = request.headers.get("Idempotency-Key", "")
        self.accepted[key] += 1
        if key not in self.first:
            try:
                incident = str(json.loads(body).get("incident_id", ""))
            except (ValueError, AttributeError):
                incident = ""
            self.first[key] = (incident, now)
        return web.json_response({"ok": True, "errcode": 0})

    async def count(self, _: web.Request) -> web.Response:
        return web.json_response({"distinct": len(self.first), "requests": self.requests})

    async def stats(self, _: web.Request) -> web.Response:
        return web.json_response({"first": self.first, "requests": self.requests,
                                  "duplicates": sum(n - 1 for n in self.accepted.values() if n > 1)})


async def main() -> None:
    rec = Receiver()
    app = web.Application(client_max_size=4 << 20)
    app.router.add_post("/hook", rec.hook)
    app.router.add_get("/stats", rec.stats)
    app.router.add_get("/count", rec.count)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    try:
        await asyncio.Event().wait()  # until terminated
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
