"""Bench: the weekly circular (督查通报) over a stream of 100,000 events.

    python -m bench.reports [--events 100000] [--seed 47] [--cli]

Generates a week's worth of incidents (2026-W47, with incidents from the ten days before it
still open) — reports, grades, owners, clocks started, met, breached and met late, reminder
slips and units flagged, mentions, notices, acknowledgements, stage changes, closings — until
there are `--events` events, publishes them in time order to a nats-server it starts itself,
then measures, in this process:

- `replay`: `replay_window` over direct gets (look-back 60 days, as the command);
- `build`: the fold, every figure, the document with its two charts;
- `render.<format>`: md, html, docx and json from the built report;

each with its wall time and the peak RSS of the process during that step (the kernel's
high-water mark, reset before each step through /proc/self/clear_refs). With `--cli`, it also
runs `watchboard report weekly --format F -o FILE` once per format as a child process and
reports its wall time and peak RSS (from wait4). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

import nats

from watchboard.bus.jetstream import ensure_stream
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource, WatchboardConfig
from watchboard.domain import events as ev
from watchboard.domain.events import OWNER, encode_event, event_type
from watchboard.domain.report import Metrics

ZONE = ZoneInfo("Asia/Shanghai")
WEEK_START = datetime(2026, 11, 16, tzinfo=ZONE)
UNITS = ["education", "health", "market", "emergency", "transport", "environment", "resources",
         "city_management", "police", "zhongshan", "chengguan", "hexi", "shiqiao"]
CLOCKS = {"I": ["report_up", "first_response", "statement", "formal_reply", "final"],
          "II": ["report_up", "first_response", "statement", "formal_reply", "final"],
          "III": ["first_response", "formal_reply", "final"], "IV": ["first_response", "formal_reply", "final"]}
PEOPLE = ["p-li", "p-wang", "p-zhang", "p-zhao", "p-office"]


def vm(key: str) -> float:
    """VmRSS or VmHWM of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[ev.Event] = []
        self.n = 0

    def add(self, cls: type[ev.Event], incident: str, at: datetime, actor: str, **fields: object) -> None:
        self.n += 1
        self.events.append(cls(id=f"B{self.n:08d}", incident_id=incident, at=at, actor=actor, **fields))  # type: ignore[arg-type]

    def incident(self, i: int) -> None:
        rng, inc = self.rng, f"01BENCH{i:019d}"
        at = WEEK_START - timedelta(days=10) + timedelta(seconds=rng.uniform(0, 17 * 86400))
        grade = rng.choices(["I", "II", "III", "IV"], [2, 15, 33, 50])[0]
        owner = rng.choice(UNITS)
        title = f"舆情{i}：" + rng.choice(["食堂", "公交", "拆迁", "污染", "医院", "补课", "城管"]) + "问题"
        mention = ev.Mention(platform=rng.choice(["weibo", "douyin", "wechat", "news", "forum"]), title=title,
                             url=f"https://example.org/{i}", metrics=Metrics(reposts=rng.randint(0, 400)),
                             media_level=rng.choice(["none", "none", "none", "city"]))
        self.add(ev.IncidentReported, inc, at, "monitor-01", title=title, mention=mention)
        self.add(ev.IncidentGraded, inc, at, "grading", grade=grade, previous=None, reasons=["规则"], source="rules",
                 reasons_en=["rules"])
        self.add(ev.IncidentAssigned, inc, at, "grading", owner=owner, previous=None, reason="rules", source="rules")
        for person in ("g-leaders", rng.choice(PEOPLE)):
            self.add(ev.NoticeSent, inc, at + timedelta(minutes=1), "notify", to=person, channel="board",
                     cause="incident.graded")
        if rng.random() < 0.5:
            who = rng.choice(PEOPLE)
            self.add(ev.IncidentAcknowledged, inc, at + timedelta(minutes=rng.randint(2, 90)), who, by=who,
                     via="board")
        for k in range(rng.randint(0, 6)):
            m = ev.Mention(platform="weibo", title=title, url=f"https://example.org/{i}/{k}",
                           metrics=Metrics(reposts=rng.randint(0, 300), comments=rng.randint(0, 50)))
            self.add(ev.MentionAdded, inc, at + timedelta(hours=rng.uniform(0.5, 72)), "monitor-02", mention=m)
        self.add(ev.StageChanged, inc, at + timedelta(minutes=30), rng.choice(PEOPLE), stage="handling",
                 previous="reported")
        closed = at + timedelta(days=rng.uniform(1, 12)) if rng.random() < 0.4 else None
        for name in CLOCKS[grade]:
            self.clock(inc, name, at, owner, closed)
        if closed is not None:
            self.add(ev.IncidentClosed, inc, closed, rng.choice(PEOPLE), summary="已妥善处置")

    def clock(self, inc: str, name: str, at: datetime, owner: str, closed: datetime | None) -> None:
        rng = self.rng
        due = at + timedelta(hours=rng.uniform(2, 120))
        self.add(ev.ClockStarted, inc, at, "deadlines", clock=name, due_at=due, basis="working", start_at=at,
                 counted_from="observed")
        fate = rng.random()
        end = closed or datetime.max.replace(tzinfo=ZONE)
        if fate < 0.6:
            met = at + (due - at) * rng.uniform(0.1, 0.95)
            if met < end:
                self.add(ev.ClockMet, inc, met, rng.choice(PEOPLE), clock=name, note="已办", due_at=due)
                return
        elif fate < 0.85 and due < end:
            self.add(ev.ClockBreached, inc, due, "deadlines", clock=name, due_at=due)
            late = due + timedelta(hours=rng.uniform(1, 96)) if rng.random() < 0.5 else None
            for count in range(1, 4):
                slip = due + timedelta(days=count - 1)
                if slip >= end or (late is not None and slip >= late):
                    break
                self.add(ev.UnitReminded, inc, slip, "deadlines", unit=owner, clock=name, count=count)
                if count == 3:
                    self.add(ev.UnitFlagged, inc, slip, "deadlines", unit=owner, clock=name, count=3)
            if late is not None and late < end:
                self.add(ev.ClockMet, inc, late, rng.choice(PEOPLE), clock=name, note="已办", due_at=due, late=True)
            return
        if closed is not None:
            self.add(ev.ClockCancelled, inc, closed, "deadlines", clock=name, reason="incident closed")


def generate(total: int, seed: int) -> list[ev.Event]:
    gen = Gen(random.Random(seed))
    i = 0
    while len(gen.events) < total:
        gen.incident(i)
        i += 1
    events = sorted(gen.events[:total], key=lambda e: e.at)
    return events


async def publish(url: str, events: list[ev.Event], window: int = 2000) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    await ensure_stream(js, WatchboardConfig())
    subjects = Subjects()
    started = time.perf_counter()
    for i in range(0, len(events), window):
        futures = [await js.publish_async(subjects.event(OWNER[event_type(e)], e.incident_id, event_type(e)),
                                          encode_event(e), headers={"Nats-Msg-Id": e.id}, wait_stall=30)
                   for e in events[i:i + window]]
        await asyncio.wait_for(asyncio.gather(*futures), 60)
    took = time.perf_counter() - started
    await nc.close()
    return took


async def measure(url: str, now: datetime) -> dict[str, object]:
    from watchboard.reports import period as periods
    from watchboard.reports.build import build, load_setting
    from watchboard.reports.replay import replay_window

    setting = load_setting(ConfigSource())
    period = periods.weekly(2026, 47, now, ZONE)
    nc = await nats.connect(url)
    out: dict[str, object] = {"rss_start_mb": round(vm("VmRSS"), 1)}
    reset_peak()
    started = time.perf_counter()
    replayed = await replay_window(nc, Subjects(), period.start - timedelta(days=60), period.as_of, timeout=600)
    out["replay"] = {"seconds": round(time.perf_counter() - started, 2), "events": len(replayed.events),
                     "events_per_s": round(len(replayed.events) / max(replayed.seconds, 1e-9)),
                     "peak_rss_mb": round(vm("VmHWM"), 1)}
    await nc.close()
    reset_peak()
    started = time.perf_counter()
    report = build("weekly", replayed.events, period, setting, "zh", now=now)
    out["build"] = {"seconds": round(time.perf_counter() - started, 2), "incidents": len(report.history.incidents),
                    "peak_rss_mb": round(vm("VmHWM"), 1)}
    renders = {}
    for fmt in ("md", "html", "docx", "json"):
        reset_peak()
        started = time.perf_counter()
        data = report.render(fmt)
        renders[fmt] = {"seconds": round(time.perf_counter() - started, 3), "bytes": len(data),
                        "peak_rss_mb": round(vm("VmHWM"), 1)}
    out["render"] = renders
    sup = report.figures["supervision"]
    out["figures"] = {"new_incidents": report.figures["trend"].total, "clocks_due": sup.total.due,
                      "on_time_pct": sup.total.on_time_pct, "slips": sup.slips, "units_named": len(sup.flagged)}
    return out


PEAK = "bench-peak-rss-mb="


def child(argv: list[str]) -> int:
    """`python -m bench.reports --child ARGS…`: the watchboard command with ARGS, then its own
    peak RSS on stderr. VmHWM belongs to the process image after exec; the rusage of a child
    would also count the pages it shared with this large bench process when forked."""
    from watchboard.cli import main as watchboard

    code = watchboard(argv)
    print(f"{PEAK}{vm('VmHWM'):.1f}", file=sys.stderr)
    return code


def cli_run(url: str, fmt: str, folder: Path) -> dict[str, object]:
    """The command a user types, as a child process: wall time and its own peak RSS."""
    target = folder / f"w47.{fmt}"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.reports", "--child", "report", "weekly", "--week", "2026-W47",
                           "--format", fmt, "-o", str(target), "--nats", url],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900, check=False)
    took = time.perf_counter() - started
    err = proc.stderr.decode()
    peak = next((float(line[len(PEAK):]) for line in err.splitlines() if line.startswith(PEAK)), float("nan"))
    return {"seconds": round(took, 2), "peak_rss_mb": peak, "exit": proc.returncode,
            "bytes": target.stat().st_size if target.exists() else 0,
            **({"stderr": err[-300:]} if proc.returncode else {})}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=47)
    parser.add_argument("--cli", action="store_true", help="also time `watchboard report weekly` per format")
    args = parser.parse_args()
    if not 1_000 <= args.events <= 2_000_000:
        parser.error("--events: 1,000 to 2,000,000")
    now = datetime.now(ZONE)
    started = time.perf_counter()
    events = generate(args.events, args.seed)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="wb-bench-reports-") as tmp:
        server = NatsServer(Path(tmp) / "nats", port=0, sync_interval="2m")
        server.start()
        try:
            server.wait_ready(timeout=15)
            published = asyncio.run(publish(server.url, events))
            result = asyncio.run(measure(server.url, now))
            if args.cli:
                result["cli"] = {fmt: cli_run(server.url, fmt, Path(tmp)) for fmt in ("md", "html", "docx", "json")}
        finally:
            server.stop()
    print(json.dumps({
        "events": len(events), "generate_s": round(generated, 2), "publish_s": round(published, 2), **result,
        "machine": {"python": platform.python_version(), "nats_py": version("nats-py"),
                    "cpus": os.cpu_count(), "platform": platform.platform()},
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
