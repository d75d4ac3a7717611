"""Bench: the deadlines service holding many running clocks.

    python -m bench.deadlines [--clocks 100000] [--overdue 0.1] [--live 0.1] [--window 20]

Seeds the service's SQLite with `--clocks` running clocks (5 per incident, owned by a unit),
as if the service had been running and was then stopped: a share `--overdue` fell due while
it was down (up to an hour ago), the rest fall due days later. Then it starts the service
in-process against a nats-server it starts itself and reports memory (RSS of this process
before and after load), the restart catch-up time until ready (open, load, heap rebuild,
publishing every overdue breach with its reminder and flags, by phase).

Live phase, once ready: `--live-rate` new incidents a second for `--window` seconds arrive
through the consumer (incident.reported + incident.graded, grade IV with a 30 s
`first_response` clock in the bench's deadlines.toml), their due times spread over the
window, while the 100,000 clocks sit in the heap. Reports how late those breaches fire
(p50/p99/max seconds after due). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import nats

from watchboard.bus.jetstream import EventPublisher
from watchboard.bus.runtime import ServiceContext, run_service
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.domain.clocks import CORE_CLOCKS
from watchboard.services.deadlines.logic import ClockState, IncidentState, encode_state, entries_for
from watchboard.services.deadlines.probe import RecordingProbe
from watchboard.services.deadlines.service import DeadlinesService, build
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import PROCESSED_SCHEMA
from watchboard.store.states import StateTable


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


BENCH_DEADLINES = '[grades.IV]\nfirst_response = "30s"\n'
LIVE_CLOCK = timedelta(seconds=30)


def seed(path: Path, clocks: int, overdue: float, now: datetime, rng: random.Random) -> dict[str, int]:
    """Write the incidents' states straight into deadlines.sqlite (the service's own format)."""
    per = len(CORE_CLOCKS)
    incidents = clocks // per
    counts = {"overdue": 0, "later": 0}
    db = sqlite3.connect(path)
    db.executescript(PROCESSED_SCHEMA + StateTable.schema("incidents") + Outbox.schema()
                     + "CREATE TABLE IF NOT EXISTS dirty_views (id TEXT PRIMARY KEY) WITHOUT ROWID;")
    rows = []
    for i in range(incidents):
        cs = []
        for name in CORE_CLOCKS:
            r = rng.random()
            if r < overdue:
                due, kind = now - timedelta(seconds=rng.uniform(1, 3600)), "overdue"
            else:
                due, kind = now + timedelta(days=rng.uniform(1, 14)), "later"
            counts[kind] += 1
            cs.append(ClockState(name=name, due_at=due, basis="calendar", started_at=now - timedelta(hours=2)))
        st = IncidentState(id=f"B{i:07d}", learned_at=now - timedelta(hours=2), grade="II", owner="education",
                           clocks=sorted(cs, key=lambda c: c.due_at), updated_at=now)
        rows.append((st.id, encode_state(st)))
    db.executemany("INSERT INTO incidents(id, state) VALUES (?, ?)", rows)
    db.commit()
    db.close()
    return counts


async def feed_live(url: str, rate: float, window: float, rng: random.Random) -> int:
    """Publish grade IV incidents whose 30 s clock falls due spread over the next `window` s."""
    nc = await nats.connect(url)
    pub = EventPublisher(nc, Subjects())
    count = int(rate * window)
    start = datetime.now(UTC) + timedelta(seconds=2)
    events: list[ev.Event] = []
    for i in range(count):
        learned = start + timedelta(seconds=rng.uniform(0, window)) - LIVE_CLOCK
        iid = f"L{i:07d}"
        events.append(ev.IncidentReported(id=f"{iid}-r", incident_id=iid, at=learned, actor="bench", title="t",
                                          mention=ev.Mention(platform="weibo")))
        events.append(ev.IncidentGraded(id=f"{iid}-g", incident_id=iid, at=learned, actor="grading", grade="IV",
                                        previous=None, reasons=[], source="rules"))
    for i in range(0, len(events), 500):
        await pub.publish_all(events[i:i + 500])
    await nc.close()
    await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() + window))
    return count


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="wb-bench-deadlines-") as tmp:
        root = Path(tmp)
        server = NatsServer(root / "nats", port=0, sync_interval=args.sync_interval)
        server.start()
        try:
            await server.wait_ready_async()
            data = root / "deadlines"
            data.mkdir()
            now = datetime.now(UTC)
            t = time.perf_counter()
            counts = seed(data / "deadlines.sqlite", args.clocks, args.overdue, now, rng)
            config = root / "config"
            config.mkdir()
            (config / "deadlines.toml").write_text(BENCH_DEADLINES, encoding="utf-8")
            seed_s = time.perf_counter() - t
            gc.collect()
            rss_before = rss_mb()

            probe = RecordingProbe()
            svc: DeadlinesService = build(ConfigSource(config_dir=config), probe)
            stop, ready = asyncio.Event(), asyncio.Event()
            ctx = ServiceContext(nats_url=server.url, data_dir=data, source=ConfigSource(config_dir=config),
                                 settle_gc=True)  # as `watchboard serve` runs it
            started = time.perf_counter()
            task = asyncio.create_task(run_service(svc, ctx, stop, ready))
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
            restart_s = time.perf_counter() - started
            catch_up_breaches = len(probe.lateness)
            rss_ready = rss_mb()
            assert svc.running is not None
            running = svc.running

            # Heap rebuild alone, measured apart (pure; same code as start()).
            t = time.perf_counter()
            entries = [e for st in running.states.items.values() for e in entries_for(st, running.rules)]
            rebuild_s = time.perf_counter() - t
            del entries

            # Live phase: new incidents through the consumer, due over the window.
            live_count = await feed_live(server.url, args.live_rate, args.window, rng)
            await asyncio.sleep(5)
            live = probe.lateness[catch_up_breaches:]
            rss_after = rss_mb()
            stop.set()
            await asyncio.wait_for(task, 30)
            return {
                "bench": "deadlines",
                "clocks": args.clocks,
                "incidents": args.clocks // len(CORE_CLOCKS),
                "seeded": counts,
                "seed_s": round(seed_s, 2),
                "restart_catch_up_s": round(restart_s, 2),
                "heap_rebuild_s": round(rebuild_s, 2),
                "heap_entries": len(running.timer),
                "catch_up_breaches": catch_up_breaches,
                "catch_up_breaches_per_s": round(catch_up_breaches / restart_s) if restart_s else None,
                "live_breaches": len(live),
                "live_breaches_expected": live_count,
                "live_rate_per_s": args.live_rate,
                "start_phases_s": probe.timings,
                "lateness_s": {"p50": round(pct(live, 0.50), 3), "p99": round(pct(live, 0.99), 3),
                               "max": round(max(live), 3) if live else None,
                               "mean": round(statistics.fmean(live), 3) if live else None},
                "rss_mb": {"before_start": round(rss_before, 1), "ready": round(rss_ready, 1),
                           "after_live": round(rss_after, 1), "service_delta": round(rss_ready - rss_before, 1)},
                "events_published": running.outbox.published,
                "sync_interval": args.sync_interval,
                "versions": {"python": platform.python_version(), "nats-py": version("nats-py"),
                             "msgspec": version("msgspec"), "aiosqlite": version("aiosqlite")},
            }
        finally:
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clocks", type=int, default=100_000)
    p.add_argument("--overdue", type=float, default=0.1, help="share of clocks that fell due while down")
    p.add_argument("--live-rate", type=float, default=50.0, help="live breaches per second")
    p.add_argument("--window", type=float, default=20.0, help="seconds of the live phase")
    p.add_argument("--sync-interval", default="always", help="nats-server jetstream sync_interval")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
