"""Board bench: 10,000 open incidents from feed items, then 200 changes/s for 5 s.

    python -m bench.board [--incidents 10000] [--rate 200] [--seconds 5] [--size 200x50]

Prints JSON: time from start (the app is launched) to a complete board with all 10,000
incidents drawn, time from the first snapshot item and from `SnapshotDone` to a complete board, per-frame latency (change emitted → the screen has redrawn with it)
while changes stream in, the cost of one full redraw, and memory (RSS). The board runs
headless through Textual's pilot; the feed is the board's real input contract.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import resource
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from zoneinfo import ZoneInfo

from watchboard.board.app import BoardApp
from watchboard.board.sample import many_items
from watchboard.board.widgets.incident_table import IncidentTable
from watchboard.bus.feed_types import Connection, FeedItem, KVChange, SnapshotDone
from watchboard.domain.views import ClocksView, ClockView, GradeView, encode_view, kv_key


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(n: int, rate: int, seconds: float, size: tuple[int, int]) -> dict[str, object]:
    now = datetime.now(UTC)
    t_build = time.perf_counter()
    items = many_items(n, now)
    build_s = time.perf_counter() - t_build
    marks: dict[str, float] = {}
    emitted: list[float] = []  # emission times not yet on screen
    latencies: list[float] = []
    streaming = asyncio.Event()
    done_streaming = asyncio.Event()
    rng = random.Random(3)
    ids = [f"01JBENCH{i:018d}" for i in range(n)]

    async def feed() -> AsyncIterator[FeedItem]:
        yield Connection(state="connected", at=now)
        marks["first_item"] = time.perf_counter()
        for item in items:
            yield item
        marks["snapshot_done"] = time.perf_counter()
        yield SnapshotDone(count=len(items))
        await streaming.wait()
        interval = 1 / rate
        start = time.perf_counter()
        for k in range(int(rate * seconds)):
            target = start + k * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            incident = rng.choice(ids)
            if k % 2:
                value = encode_view(GradeView(grade=rng.choice(["I", "II", "III", "IV"]),
                                              owner=f"unit-{rng.randint(0, 19):02d}"))
                key = kv_key(incident, "grade")
            else:
                value = encode_view(ClocksView(clocks=[ClockView(
                    name="report_up", due_at=now + timedelta(minutes=rng.randint(-60, 600)),
                    basis="calendar", status="running")]))
                key = kv_key(incident, "clocks")
            emitted.append(time.perf_counter())
            yield KVChange(key, value)
        marks["stream_end"] = time.perf_counter()
        done_streaming.set()
        await asyncio.Event().wait()

    marks["start"] = time.perf_counter()
    app = BoardApp(feed, None, lang="zh", zone=ZoneInfo("Asia/Shanghai"), actor="bench")
    frame_costs: list[float] = []
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        original = screen.refresh_board  # type: ignore[attr-defined]

        def timed_refresh() -> None:
            t0 = time.perf_counter()
            original()
            t1 = time.perf_counter()
            frame_costs.append(t1 - t0)
            if emitted:
                latencies.extend(t1 - e for e in emitted)
                emitted.clear()

        screen.refresh_board = timed_refresh  # type: ignore[attr-defined]
        table = screen.query_one(IncidentTable)
        while not (app.snapshot_loaded and len(table.rows) == n):  # noqa: ASYNC110 - polling the UI is the measurement
            await asyncio.sleep(0.005)
        await pilot.pause()  # the screen has processed the redraw
        marks["complete"] = time.perf_counter()
        rss_after_snapshot = rss_mb()
        frame_costs.clear()
        streaming.set()
        await asyncio.wait_for(done_streaming.wait(), seconds * 4 + 10)
        await asyncio.sleep(0.5)
        await pilot.pause()
        visible = [table.render_line(y).text for y in range(3)]
    lat_ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return round(lat_ms[min(len(lat_ms) - 1, int(p * len(lat_ms)))], 1) if lat_ms else 0.0

    return {
        "incidents": n, "kv_items": len(items), "size": f"{size[0]}x{size[1]}",
        "build_items_s": round(build_s, 3),
        "start_to_complete_s": round(marks["complete"] - marks["start"], 3),
        "first_item_to_complete_s": round(marks["complete"] - marks["first_item"], 3),
        "snapshot_done_to_complete_s": round(marks["complete"] - marks["snapshot_done"], 3),
        "stream": {"rate_per_s": rate, "seconds": seconds, "changes": len(latencies),
                   "achieved_rate_per_s": round(len(latencies) / (marks["stream_end"] - marks["complete"]), 1)
                   if latencies else 0,
                   "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
                                  "max": round(lat_ms[-1], 1) if lat_ms else 0.0},
                   "frames": len(frame_costs),
                   "frame_cost_ms": {"median": round(statistics.median(frame_costs) * 1000, 1),
                                     "max": round(max(frame_costs) * 1000, 1)} if frame_costs else {}},
        "rss_mb": {"after_snapshot": round(rss_after_snapshot, 1), "end": round(rss_mb(), 1)},
        "first_rows": visible[1:3],
        "versions": {"python": platform.python_version(), "textual": version("textual"),
                     "msgspec": version("msgspec")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", default="200x50")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    print(json.dumps(asyncio.run(run(args.incidents, args.rate, args.seconds, (w, h))),
                     ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
