"""Bench: a burst of graded incidents → notices at a loopback webhook (issue 5).

    python -m bench.notify [--via nats|queue] [--incidents 1000] [--fail-rate 0.05]
                           [--sync always|2m] [--scenarios normal,rate-limited,kill]

`--via nats` (the default) runs it end to end as in production: its own nats-server, the
notify service as its own process (`python -m watchboard.cli serve notify`) with the default
notify.toml whose duty officers and leaders are pointed at a local aiohttp receiver, and a
burst of `IncidentReported` + `IncidentGraded` (grade II: duty officer and leaders at once)
published to JetStream. Scenarios, each on a fresh server, data folder and receiver:

- normal: `[delivery] rate_limit = 0` (digests off), so every incident's notice is a request;
- rate-limited: the default `rate_limit = 5`, its window shortened (`--rate-window`, default
  10s instead of 5m so the bench ends): the burst becomes 5 notices + one digest per recipient;
- kill: as normal, with `kill -9` of notify once half the notices are in, then a restart.

The receiver answers 500 to `--fail-rate` of requests (retries are part of the drain) and
counts distinct `Idempotency-Key`s delivered and duplicate keys (a key accepted again). A
duplicate is only legitimate after a kill between a send and its record; it carries the same
key, so a receiver can drop it. Prints JSON.

`--via queue` drives the notifier and its delivery queue (`services/notify/queue.py`)
in-process (no NATS), consumer batches of 100, every event delivered twice (a redelivery);
best of `--repeat`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nats
from aiohttp import web
from nats.aio.client import Client

from watchboard.bus.consumer import Delivered
from watchboard.bus.feed import ping_services
from watchboard.bus.jetstream import EventPublisher, ensure_stream
from watchboard.bus.server import NatsServer, die_with_parent, find_nats_server
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource, defaults_dir, load_watchboard
from watchboard.domain.events import (
    Event,
    IncidentGraded,
    IncidentReported,
    Mention,
    NoticeSent,
    decode_event,
    effect_id,
    new_ulid,
)
from watchboard.services.notify import roster, routing
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
    load_notify,
)


def digest_or_notice(body: bytes) -> str:
    """A generic JSON body says its cause; a WeCom robot's text starts with the digest subject
    of the default templates ("【汇总】" / "[Digest]")."""
    try:
        data = json.loads(body)
    except ValueError:
        return "notice"
    if not isinstance(data, dict):
        return "notice"
    if "cause" in data:
        return "digest" if data["cause"] == "digest" else "notice"
    text = json.dumps(data, ensure_ascii=False)
    return "digest" if "【汇总】" in text or "[Digest]" in text else "notice"


class Receiver:
    def __init__(self, fail_rate: float, seed: int) -> None:
        self.fail_rate = fail_rate
        self.rng = random.Random(seed)
        self.accepted: Counter[str] = Counter()
        self.requests = 0
        self.refused = 0
        self.first_seen: dict[str, float] = {}  # key → perf_counter of its first 2xx
        self.causes: Counter[str] = Counter()  # distinct deliveries: "digest" or "notice"

    async def serve(self) -> tuple[web.AppRunner, str]:
        """Listen on 127.0.0.1, a free port; returns the runner (to clean up) and the hook URL."""
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, f"http://127.0.0.1:{port}/hook"

    @property
    def duplicate_keys(self) -> int:
        return sum(n - 1 for n in self.accepted.values() if n > 1)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        key = request.headers["Idempotency-Key"]
        if self.rng.random() < self.fail_rate:
            self.refused += 1
            return web.json_response({"error": "try later"}, status=500)
        self.accepted[key] += 1
        if key not in self.first_seen:
            self.first_seen[key] = time.perf_counter()
            self.causes[digest_or_notice(body)] += 1
        return web.json_response({"ok": True, "errcode": 0})  # errcode: what a WeCom robot answers


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


async def queue_run_once(incidents: int, fail_rate: float, seed: int) -> dict[str, float | int]:
    rec = Receiver(fail_rate, seed)
    runner, url = await rec.serve()
    cfg = config(url)
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
            delivered = [Delivered(ev, "", n, 1) for n, ev in enumerate(events + events, start=1)]  # twice each
            for start in range(0, len(delivered), 100):  # consumer batches, as the service gets them
                queued += len((await notifier.handle_batch(delivered[start:start + 100], now)).queued)
            t_enqueued = time.perf_counter()
            rounds = 0
            while True:
                now = datetime.now(UTC)
                await notifier.deliver_due(now)
                rounds += 1
                counts = await notifier.queue.counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                due = await notifier.queue.next_due()
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


# --- end to end through NATS -----------------------------------------------------------------


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:  # the default file changed under us: say so rather than bench the wrong thing
        raise SystemExit(f"bench: default notify.toml has no {old!r} to rewrite")
    return text.replace(old, new)


def notify_toml(url: str, *, rate_limit: bool, rate_window: str) -> str:
    """The default notify.toml, duty officers and leaders on the local webhook (as the
    integration test does), ack links on a free port, retries after 1s; rate limit off
    unless asked for (then with a short window)."""
    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    hook = f'{{ channel = "webhook", url = "{url}", format = "json" }}'
    for who, name in (("p-li", "李值班"), ("p-wang", "王值班")):
        person = f'id = "{who}"\nname = "{name}"\nroles = ["duty_officer"]\ncontacts = [{{ channel = "board" }}'
        text = _replace(text, person, f"{person}, {hook}")
    text = _replace(text, 'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [{ channel = "board" }]',
                    'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [' +
                    hook.replace('"json"', '"wecom"') + ']')
    text = _replace(text, 'listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"')
    text = _replace(text, 'backoff_initial = "10s"', 'backoff_initial = "1s"')
    if rate_limit:
        return _replace(text, 'rate_window = "5m"', f'rate_window = "{rate_window}"')
    return _replace(text, "rate_limit = 5\n", "rate_limit = 0\n")


def webhook_contacts(config_dir: Path) -> int:
    """Webhook contacts one grade II `incident.graded` reaches now (24-hour duty on), by
    notify's own routing: the notices each incident must produce at the receiver."""
    source = ConfigSource(config_dir)
    cfg = load_notify(source)
    duty = roster.on_duty(cfg.roster, datetime.now(UTC), major_open=True)
    # The burst's IncidentGraded events carry the default sentiment, negative.
    found = routing.route(cfg, "incident.graded", "II", unit=None, on_duty=duty, profile=source.profile_name(),
                          sentiment="negative")
    return sum(1 for r in found.recipients for c in (cfg.person(r.person_id) or Person(id="", name="")).contacts
               if c.channel == "webhook")


def burst(incidents: int, label: str) -> list[Event]:
    now = datetime.now(UTC)
    events: list[Event] = []
    for i in range(incidents):
        inc = new_ulid()
        reported = IncidentReported(id=new_ulid(), incident_id=inc, at=now, actor="bench",
                                    title=f"网传事件 {label}-{i}", mention=Mention(platform="weibo"))
        events.append(reported)
        events.append(IncidentGraded(id=effect_id(reported.id, "graded"), incident_id=inc, at=now, actor="bench",
                                     grade="II", previous=None, reasons=["bench"], source="rules",
                                     causation_id=reported.id))
    return events


class NotifyProcess:
    """`python -m watchboard.cli serve notify …` as its own process, as in production."""

    def __init__(self, url: str, config_dir: Path, data_dir: Path, log: Path) -> None:
        self.argv = [sys.executable, "-m", "watchboard.cli", "serve", "notify", "--nats", url,
                     "--config", str(config_dir), "--data", str(data_dir)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    async def wait_answering(self, nc: Client, timeout: float = 30.0) -> float:
        """Seconds until it answers `$SRV.PING`."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"bench: notify exited ({self.proc.returncode}):\n{self.tail()}")
            if (await ping_services(nc, 0.25)).services.get("notify"):
                return time.perf_counter() - t0
        raise SystemExit(f"bench: notify did not answer $SRV.PING within {timeout:.0f}s:\n{self.tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()  # SIGTERM: the service stops its loops and closes its database
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""


def queue_summary(db: Path) -> dict[str, Any]:
    """What notify's delivery queue says once it is stopped: rows by channel and status, and how many
    incident notices (not digests) reached the webhook, directly or inside a sent digest."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        by: dict[str, dict[str, int]] = {}
        for contact, status, n in con.execute("SELECT contact, status, COUNT(*) FROM notices GROUP BY 1, 2"):
            by.setdefault(contact.partition(":")[0], {})[status] = n
        settled = con.execute(
            "SELECT COUNT(*) FROM notices n LEFT JOIN notices d ON d.key = n.digest_key "
            "WHERE n.contact LIKE 'webhook%' AND n.cause != 'digest' "
            "AND (n.status = 'sent' OR (n.status = 'merged' AND d.status = 'sent'))").fetchone()[0]
        digests = con.execute("SELECT COUNT(*) FROM notices WHERE cause = 'digest'").fetchone()[0]
    finally:
        con.close()
    return {"rows": by, "webhook_incident_notices_delivered": settled, "digests": digests}


async def nats_scenario(args: argparse.Namespace, name: str, seed: int) -> dict[str, Any]:
    rate_limited, kill = name == "rate-limited", name == "kill"
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-bench-notify-{name}-"))
    server = NatsServer(tmp / "nats", port=0, sync_interval=args.sync)
    server.start()
    await server.wait_ready_async()
    rec = Receiver(args.fail_rate, seed)
    runner, url = await rec.serve()
    config_dir, data_dir = tmp / "config", tmp / "data"
    config_dir.mkdir()
    (config_dir / "notify.toml").write_text(
        notify_toml(url, rate_limit=rate_limited, rate_window=args.rate_window), encoding="utf-8")
    per_incident = webhook_contacts(config_dir)
    notify = NotifyProcess(server.url, config_dir, data_dir, tmp / "notify.log")
    nc = await nats.connect(server.url, connect_timeout=5, max_reconnect_attempts=5)
    out: dict[str, Any] = {}
    try:
        await ensure_stream(nc.jetstream(timeout=10), load_watchboard())
        notify.start()
        out["notify_ready_seconds"] = round(await notify.wait_answering(nc), 2)
        events = burst(args.incidents, name)
        # notify's own word that a webhook notice went out: one `notice.sent` per incident
        # notice, also for each one a digest carried. The rate-limited run ends on these.
        sent_at: dict[str, float] = {}

        async def on_sent(msg: Any) -> None:
            event = decode_event(msg.data)
            if isinstance(event, NoticeSent) and event.channel.startswith("webhook") and event.cause != "digest":
                sent_at.setdefault(event.key, time.perf_counter())

        sub = await nc.subscribe(Subjects().event("notify", "*", "notice.sent"), cb=on_sent)
        notices = per_incident * args.incidents
        # At the receiver: one request per notice, except when digests merge them.
        expected = 0 if rate_limited else notices
        publisher = EventPublisher(nc, Subjects(), timeout=30)
        t0 = time.perf_counter()
        for i in range(0, len(events), 500):  # pipelined, bounded in flight
            await publisher.publish_all(events[i:i + 500])
        t_published = time.perf_counter()
        deadline = t0 + args.timeout
        killed_at = restart_s = None

        def done() -> bool:
            return len(rec.first_seen) >= expected and len(sent_at) >= notices

        while not done() and time.perf_counter() < deadline:
            if kill and killed_at is None and len(rec.first_seen) >= expected // 2:
                killed_at = len(rec.first_seen)
                notify.kill9()
                tk = time.perf_counter()
                notify.start()
                await notify.wait_answering(nc)
                restart_s = time.perf_counter() - tk
            await asyncio.sleep(0.01 if kill and killed_at is None else 0.05)
        complete = done()
        t_last = max([*rec.first_seen.values(), *sent_at.values(), t0])
        drain = (t_last if complete else time.perf_counter()) - t0
        await asyncio.sleep(args.settle)  # anything late (a stray duplicate or digest) is counted too
        await sub.unsubscribe()
        digests = rec.causes.get("digest", 0)
        out.update({
            "events_published": len(events), "publish_seconds": round(t_published - t0, 3),
            "webhook_notices_per_incident": per_incident, "expected_notices": notices,
            "notice_sent_events": len(sent_at), "delivered_distinct": len(rec.first_seen),
            "of_which_digests": digests, "duplicate_keys": rec.duplicate_keys,
            "requests": rec.requests, "refused_500": rec.refused, "complete": complete,
            "drain_seconds": round(drain, 3), "notices_per_second": round(len(sent_at) / drain, 1),
            # When each distinct notice first reached the receiver, from the first publish: the
            # drain's tail is retries (5 % answered 500, backoff from 1 s); these show the bulk.
            "delivered_after_seconds": quantiles([t - t0 for t in rec.first_seen.values()]),
        })
        if kill:
            out["killed_after_delivered"] = killed_at
            out["restart_to_ping_seconds"] = round(restart_s, 2) if restart_s is not None else None
    finally:
        out["notify_exit"] = notify.stop()
        await nc.close()
        await runner.cleanup()
        server.stop()
    if (data_dir / "notify.sqlite").exists():
        out["queue"] = queue_summary(data_dir / "notify.sqlite")
    if not out.get("complete"):
        out["notify_log_tail"] = notify.tail()
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "last": round(ordered[-1], 3)}


def nats_server_version() -> str:
    text = subprocess.run([str(find_nats_server()), "--version"], capture_output=True, text=True, timeout=10).stdout
    return text.strip()


def run_nats(args: argparse.Namespace) -> dict[str, Any]:
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - {"normal", "rate-limited", "kill"}
    if unknown:
        raise SystemExit(f"bench: unknown scenario(s) {', '.join(sorted(unknown))}; "
                         "known: normal, rate-limited, kill")
    runs = {}
    for seed, name in enumerate(scenarios):
        t = time.perf_counter()
        runs[name] = asyncio.run(nats_scenario(args, name, seed))
        runs[name]["wall_seconds"] = round(time.perf_counter() - t, 1)
    return {
        "bench": "notify.nats_webhook_burst", "incidents": args.incidents, "fail_rate": args.fail_rate,
        "sync_interval": args.sync,
        "rate_limit": {"normal": "off ([delivery] rate_limit = 0)", "kill": "off ([delivery] rate_limit = 0)",
                       "rate-limited": f"default rate_limit = 5, rate_window shortened to {args.rate_window}"},
        "runs": runs,
        "versions": {"python": platform.python_version(), "nats-server": nats_server_version(),
                     "nats-py": version("nats-py"), "aiohttp": version("aiohttp"),
                     "aiosqlite": version("aiosqlite"), "msgspec": version("msgspec"),
                     "watchboard": version("watchboard")},
    }


def run_queue(args: argparse.Namespace) -> dict[str, Any]:
    runs = [asyncio.run(queue_run_once(args.incidents, args.fail_rate, seed)) for seed in range(args.repeat)]
    best = min(runs, key=lambda r: r["drain_seconds"])
    return {
        "bench": "notify.queue_webhook_burst", "incidents": args.incidents, "fail_rate": args.fail_rate,
        "repeat": args.repeat, "best": best, "duplicates_any_run": sum(int(r["duplicates"]) for r in runs),
        "versions": {"python": platform.python_version(), "aiohttp": version("aiohttp"),
                     "aiosqlite": version("aiosqlite"), "msgspec": version("msgspec")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--via", choices=("nats", "queue"), default="nats")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--fail-rate", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3, help="queue mode: runs, best shown")
    parser.add_argument("--sync", default="always", help="nats-server jetstream sync_interval (always, 2m…)")
    parser.add_argument("--scenarios", default="normal,rate-limited,kill",
                        help="nats mode: comma-separated of normal, rate-limited, kill")
    parser.add_argument("--rate-window", default="10s", help="rate-limited scenario: rate_window (default 5m)")
    parser.add_argument("--timeout", type=float, default=60.0, help="nats mode: bound on each drain (s)")
    parser.add_argument("--settle", type=float, default=1.0, help="nats mode: watch for late duplicates (s)")
    args = parser.parse_args()
    print(json.dumps(run_nats(args) if args.via == "nats" else run_queue(args), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
