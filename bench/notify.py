"""Bench: a burst of graded-incident notices through notify's outbox to a loopback webhook.

    python -m bench.notify [--incidents 1000] [--fail-rate 0.05] [--repeat 3]

Each incident is graded II, routed to one webhook recipient, and every event is handled
twice (a redelivery), so the figures show both the drain time and that redelivery and
retries never produce a duplicate at the receiver. The receiver answers 500 to a fraction
of first attempts, so retries with backoff are part of the drain. Prints JSON; best of N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from aiohttp import web

from watchboard.domain.events import IncidentGraded, IncidentReported, Mention, new_ulid
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.settings import (
    Contact,
    Delivery,
    Escalation,
    NotifyConfig,
    Person,
    Route,
    TemplatePair,
)


class Receiver:
    def __init__(self, fail_rate: float, seed: int) -> None:
        self.fail_rate = fail_rate
        self.rng = random.Random(seed)
        self.accepted: Counter[str] = Counter()
        self.requests = 0
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        key = request.headers["Idempotency-Key"]
        if self.rng.random() < self.fail_rate:
            self.refused += 1
            return web.json_response({"error": "try later"}, status=500)
        self.accepted[key] += 1
        return web.json_response({"ok": True})


def config(url: str) -> NotifyConfig:
    pair = TemplatePair(subject="[{grade}] {title}", body="{person}: {title} ({grade}), owner {owner}")
    templates = {lang: {"incident.graded": pair, "digest": pair} for lang in ("zh", "en")}
    return NotifyConfig(
        people=[Person(id="g-leaders", name="leaders", roles=["leader_group"],
                       contacts=[Contact(channel="webhook", url=url, format="json")])],
        routes=[Route(event="incident.graded", grades=["I", "II"], roles=["leader_group"])],
        escalation=Escalation(tiers=[]),
        delivery=Delivery(max_attempts=10, backoff_initial="0.02s", backoff_max="0.2s", jitter=0.2,
                          rate_limit=0, batch=500, timeout="5s"),
        templates=templates,
    )


async def run_once(incidents: int, fail_rate: float, seed: int) -> dict[str, float | int]:
    rec = Receiver(fail_rate, seed)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cfg = config(f"http://127.0.0.1:{port}/hook")
    with tempfile.TemporaryDirectory() as tmp:
        notifier = await Notifier.open(cfg, Path(tmp), channels=Channels(cfg), rng=random.Random(seed))
        try:
            now = datetime.now(UTC)
            events = []
            for i in range(incidents):
                inc = new_ulid()
                events.append(IncidentReported(id=new_ulid(), incident_id=inc, at=now, actor="bench",
                                               title=f"网传事件 {i}", mention=Mention(platform="weibo")))
                events.append(IncidentGraded(id=new_ulid(), incident_id=inc, at=now, actor="bench", grade="II",
                                             previous=None, reasons=["bench"], source="rules"))
            t0 = time.perf_counter()
            queued = 0
            for n, ev in enumerate(events + events, start=1):  # every event delivered twice
                queued += len((await notifier.handle(ev, now, commit=False)).queued)
                if n % 100 == 0:  # one commit per consumer batch, as the service does
                    await notifier.commit()
            await notifier.commit()
            t_enqueued = time.perf_counter()
            rounds = 0
            while True:
                now = datetime.now(UTC)
                await notifier.deliver_due(now)
                rounds += 1
                counts = await notifier.outbox.counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                due = await notifier.outbox.next_due()
                if due is not None and due > now:
                    await asyncio.sleep(min((due - now).total_seconds(), 0.2))
            t_done = time.perf_counter()
        finally:
            await notifier.close()
            await runner.cleanup()
    duplicates = sum(n - 1 for n in rec.accepted.values() if n > 1)
    return {
        "notices": queued, "enqueue_seconds": round(t_enqueued - t0, 4),
        "drain_seconds": round(t_done - t_enqueued, 4),
        "notices_per_second": round(queued / max(t_done - t_enqueued, 1e-9), 1),
        "requests": rec.requests, "refused_500": rec.refused, "delivered": len(rec.accepted),
        "duplicates": duplicates, "rounds": rounds, "sent": counts.get("sent", 0), "failed": counts.get("failed", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--fail-rate", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [asyncio.run(run_once(args.incidents, args.fail_rate, seed)) for seed in range(args.repeat)]
    best = min(runs, key=lambda r: r["drain_seconds"])
    print(json.dumps({
        "bench": "notify.outbox_webhook_burst", "incidents": args.incidents, "fail_rate": args.fail_rate,
        "repeat": args.repeat, "best": best, "duplicates_any_run": sum(int(r["duplicates"]) for r in runs),
        "versions": {"python": platform.python_version(), "aiohttp": version("aiohttp"),
                     "aiosqlite": version("aiosqlite"), "msgspec": version("msgspec")},
    }, indent=2))


if __name__ == "__main__":
    main()
