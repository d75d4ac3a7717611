"""The chaos suite: the whole system under kill -9, node losses and hostile input, then checked.

    python -m bench.chaos [--reports 5000] [--rate 25] [--kills 20] [--node-kills 2]
                          [--nodes 3] [--no-standby] [--seed N] [--data DIR] [--json]

What it runs, as `watchboard up --standby --cluster 3` does (roles on): three nats-server nodes
on loopback (`sync_interval: always`, everything R3), two instances of each service as their
own processes (`serve NAME --standby`), restarted with backoff when they die, clocks of
seconds (grade II: `report_up` after 3 s), notices to a local webhook receiver (no rate
limit, so every notice goes out alone), a reconcile round every 5 s.

What it does meanwhile: submits `--reports` distinct reports at `--rate` per second (a report
refused "unavailable" during a takeover or an election is sent again, as a monitor's tool
would — the same URL, so a second copy merges, never makes a second incident); kills -9 a
random service instance `--kills` times and a NATS node `--node-kills` times (the first time
the node leading the event stream; each node started again 5 s later); and sends the hostile
inputs: oversize fields, bad JSON, a body that is not an object, a ~1 MiB note and a huge actor
on a command, events forged with intake's credentials on grading's subject (the server must
refuse) and on intake's own subject with a grade in the body (the consumers must refuse).

What it checks, once everything has settled (bounded by `--settle`), from the stream itself
(tests/stream_truth.py folds it independently of the services):
- every accepted report in the stream once, graded once (one first grading per incident);
- every clock that fell due breached once;
- every notice recorded as sent reached the webhook, none under two keys (a repeat carries
  the same Idempotency-Key), no event stored twice;
- every KV view (`core`, `grade`, `clocks`, `notices`) equal to what the stream says.
It prints lost / duplicated / late / stale per effect, the refused-report count and each
hostile input's fate; exit 0 only when nothing is lost, duplicated or stale and every hostile
input was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from nats.aio.client import Client

from tests.stream_truth import shown, truth
from watchboard.auth.folder import AuthFolder
from watchboard.bus.connection import connect
from watchboard.bus.consumer import misplaced
from watchboard.bus.credentials import Credentials, resolve
from watchboard.bus.reader import kv_snapshot, scan
from watchboard.bus.server import NatsServer, local_cluster
from watchboard.bus.standby import service_instances
from watchboard.bus.subjects import STREAM
from watchboard.client import request
from watchboard.config import ConfigSource, defaults_dir
from watchboard.domain import events as ev
from watchboard.launcher import SERVICES, Child, Supervisor, _setup, service_children

PARTS = ("core", "grade", "clocks", "notices")
REPORT_UP = 3.0  # seconds: grade II's report_up clock in the chaos config
DUE_GRACE = 5.0  # a clock due longer ago than this must have breached by the time of a check

WATCHBOARD_TOML = """
subject_prefix = "wb"
timezone = "Asia/Shanghai"
profile = "default"

[stream]
replicas = {replicas}
sync_interval = "always"

[standby]
lease_ttl = "2s"

[recovery]
reconcile_every = "5s"
"""

DEADLINES_TOML = f"""
[grades.I]
report_up = "{REPORT_UP:.0f}s"
statement = "1h"
final = "2h"

[grades.II]
report_up = "{REPORT_UP:.0f}s"
statement = "1h"
final = "2h"
"""


@dataclass
class Options:
    reports: int = 5000
    rate: float = 25.0
    kills: int = 20
    node_kills: int = 2
    nodes: int = 3
    standby: bool = True
    seed: int | None = None
    data: Path | None = None
    settle: float = 180.0  # seconds, at most, for the system to settle after the last kill
    late_after: float = 30.0  # an effect later than this after its cause counts as late
    node_down: float = 5.0  # seconds a killed node stays down


@dataclass
class Run:
    """What the driver did and saw while the system ran."""

    accepted: dict[int, str] = field(default_factory=dict)  # report number → incident id
    refused: Counter[str] = field(default_factory=Counter)  # report refusals by code
    retries: int = 0
    hostile: list[dict[str, Any]] = field(default_factory=list)
    kills: list[dict[str, Any]] = field(default_factory=list)
    received: list[tuple[str, float]] = field(default_factory=list)  # (Idempotency-Key, time) at the webhook
    events: list[str] = field(default_factory=list)  # the driver's own log


def notify_toml(hook: str) -> str:
    """The default notify.toml, the duty officers and leaders on a local webhook, every notice
    sent alone (no rate limit), retries after 1 s, links on a free port."""
    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    entry = f'{{ channel = "webhook", url = "{hook}", format = "json" }}'
    for who, name in (("p-li", "李值班"), ("p-wang", "王值班")):
        person = f'id = "{who}"\nname = "{name}"\nroles = ["duty_officer"]\ncontacts = [{{ channel = "board" }}'
        text = text.replace(person, f"{person}, {entry}")
    text = text.replace('name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [{ channel = "board" }]',
                        'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [' + entry + ']')
    text = text.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"')
    text = text.replace("rate_limit = 5", "rate_limit = 0")
    return text.replace('backoff_initial = "10s"', 'backoff_initial = "1s"')


def write_config(folder: Path, hook: str, replicas: int) -> ConfigSource:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "watchboard.toml").write_text(WATCHBOARD_TOML.format(replicas=replicas), encoding="utf-8")
    (folder / "deadlines.toml").write_text(DEADLINES_TOML, encoding="utf-8")
    (folder / "notify.toml").write_text(notify_toml(hook), encoding="utf-8")
    return ConfigSource(folder)


def report_body(i: int, tag: str) -> bytes:
    # Distinct titles and URLs: every report is an incident of its own. Four in five are grade
    # II (a clock of seconds, notices at once), the rest grade IV.
    reposts = 300 if i % 5 else 5
    return json.dumps({"title": f"混沌 {tag} 第{i}号 {uuid.uuid4().hex[:12]}", "platform": "weibo",
                       "url": f"https://weibo.example/chaos/{tag}/{i}", "metrics": {"reposts": reposts},
                       "region": "城关镇"}, ensure_ascii=False).encode()


def creds(auth: AuthFolder, who: str) -> Credentials:
    found = resolve(auth.creds(who))
    assert found is not None
    return found


# --- the driver's three jobs ------------------------------------------------------------------


async def submit_all(nc: Client, opts: Options, run: Run, tag: str, t0: float) -> None:
    """Every report at its time; "unavailable" or no answer: the same report again (bounded)."""
    slots = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with slots:
            body = report_body(i, tag)
            deadline = time.monotonic() + 120
            while True:
                reply = await request(nc, "wb.intake.submit", body, timeout=10)
                if reply.get("ok"):
                    run.accepted[i] = str(reply["incident_id"])
                    return
                code = reply.get("error", {}).get("code", "?")
                if code != "unavailable" or time.monotonic() > deadline:
                    run.refused[code] += 1
                    return
                run.retries += 1
                await asyncio.sleep(1)

    tasks = []
    for i in range(opts.reports):
        delay = t0 + i / opts.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def hostile(op: Client, intake: Client, run: Run, victim: str) -> None:
    """The inputs a hostile tester sends; each must be refused, naming what is wrong."""
    big = "长" * 340_000  # ~1 MiB of UTF-8, just under the bus's 1 MiB limit with the rest of the body

    async def ask(what: str, subject: str, body: bytes, field_: str | None) -> None:
        reply = await request(op, subject, body, timeout=15)
        err = reply.get("error") or {}
        ok = not reply.get("ok") and err.get("code") == "invalid" and (field_ is None or err.get("field") == field_)
        run.hostile.append({"input": what, "refused": ok, "field": err.get("field"), "code": err.get("code")})
        if what.startswith("report"):
            run.refused[err.get("code", "accepted")] += 1

    await ask("report: title of 5,000 characters", "wb.intake.submit",
              json.dumps({"title": "长" * 5_000, "platform": "weibo"}, ensure_ascii=False).encode(), "title")
    await ask("report: bad JSON", "wb.intake.submit", b'{"title": "x", "platform": ', "body")
    await ask("report: a list, not an object", "wb.intake.submit", b"[1, 2, 3]", "body")
    await ask("report: url of 50,000 characters", "wb.intake.submit",
              json.dumps({"title": "x", "platform": "weibo", "url": "https://x.example/" + "a" * 50_000}).encode(),
              "url")
    await ask("command: a ~1 MiB note", "wb.cmd.note",
              json.dumps({"incident_id": victim, "note": big, "actor": "chaos"}, ensure_ascii=False).encode(), "note")
    # (roles on, `actor` is the person the server proved, whatever the body says: not an input)
    await ask("command: a regrade reason of 100,000 characters", "wb.cmd.regrade",
              json.dumps({"incident_id": victim, "grade": "I", "reason": "理" * 100_000, "actor": "chaos"},
                         ensure_ascii=False).encode(), "reason")
    # Forged events, with intake's own credentials: on grading's subject the server refuses the
    # publish; on intake's subject, a grade in the body, every consumer must refuse it.
    forged = ev.IncidentGraded(id=f"forged-{uuid.uuid4().hex}", incident_id=victim, at=datetime.now(UTC),
                               actor="grading", grade="I", previous=None, reasons=["伪造"], source="rules")
    data = ev.encode_event(forged)
    js = intake.jetstream(timeout=5)
    try:
        await js.publish(f"wb.ev.intake.{victim}.incident.graded", data, stream=STREAM)
        run.hostile.append({"input": "event: a grade in the body on intake's subject", "refused": None,
                            "code": "stored; the consumers must refuse it (checked with the views)"})
    except Exception as exc:
        run.hostile.append({"input": "event: a grade in the body on intake's subject", "refused": None,
                            "code": f"not stored ({exc.__class__.__name__})"})
    try:
        await js.publish(f"wb.ev.grading.{victim}.incident.graded", data, stream=STREAM)
        stored = True
    except Exception:
        stored = False
    run.hostile.append({"input": "event: a grade forged on grading's subject", "refused": not stored,
                        "code": "refused by the server" if not stored else "STORED"})

async def chaos(children: list[Child], nodes: list[NatsServer], admin: Client, opts: Options, run: Run,
                span: float, rng: random.Random) -> None:
    """`kills` service kills and `node_kills` node kills spread over `span` seconds."""
    plan = ["service"] * opts.kills
    for k in range(min(opts.node_kills, len(nodes) - 1 if len(nodes) > 1 else 0)):
        plan.insert(round((k + 1) * len(plan) / (opts.node_kills + 1)), "node")
    gap = span / (len(plan) + 1)
    restarts: list[asyncio.Task[None]] = []
    first_node = True
    for what in plan:
        await asyncio.sleep(gap)
        at = time.monotonic()
        if what == "service":
            alive = [c for c in children if c.process is not None and c.process.returncode is None]
            if not alive:
                continue
            child = rng.choice(alive)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
            run.kills.append({"at": round(at, 1), "killed": child.name, "pid": child.process.pid})  # type: ignore[union-attr]
        else:
            victim = None
            if first_node:  # the node leading the event stream: the worst one to lose
                with contextlib.suppress(Exception):
                    leader = (await admin.jetstream(timeout=5).stream_info(STREAM)).cluster.leader
                    victim = next((n for n in nodes if n.name == leader), None)
            first_node = False
            up = [n for n in nodes if n.process is not None and n.process.poll() is None]
            victim = victim if victim in up else (rng.choice(up) if up else None)
            if victim is None:
                continue
            await asyncio.to_thread(victim.kill)
            run.kills.append({"at": round(at, 1), "killed": victim.name})
            restarts.append(asyncio.create_task(restart_node(victim, opts.node_down, run)))
    await asyncio.gather(*restarts)


async def restart_node(node: NatsServer, after: float, run: Run) -> None:
    await asyncio.sleep(after)
    node.start()
    await asyncio.to_thread(node.wait_ready, 60)
    run.events.append(f"{node.name} started again")


# --- the checks ---------------------------------------------------------------------------------


@dataclass
class Effect:
    expected: int = 0
    done: int = 0
    lost: int = 0
    duplicated: int = 0
    late: int = 0
    stale: int = 0
    worst_delay_s: float = 0.0
    examples: list[str] = field(default_factory=list)


async def stream_events(nc: Client) -> tuple[list[tuple[str, ev.Event]], Counter[str]]:
    """Every event with its subject, in stream order, and how often each Nats-Msg-Id is stored."""
    stored = await scan(nc, STREAM, "wb.ev.>", timeout=300)
    out = []
    ids: Counter[str] = Counter()
    for s in stored:
        ids[s.headers.get("Nats-Msg-Id", "")] += 1
        e = ev.decode_event(s.data)
        if e is not None:
            out.append((s.subject, e))
    return out, ids


def seconds(a: datetime, b: datetime) -> float:
    return (a - b).total_seconds()


def check(events: list[tuple[str, ev.Event]], ids: Counter[str], views: dict[str, dict[str, Any]],
          run: Run, now: datetime, late_after: float) -> dict[str, Any]:
    """The figures per effect; pure (tests call it with made-up streams)."""
    honest = [e for subject, e in events if misplaced("wb.ev.", subject, e) is None]
    refused_in_stream = len(events) - len(honest)
    by_type: dict[str, list[Any]] = defaultdict(list)
    for e in honest:
        by_type[type(e).__name__].append(e)
    at_of = {e.id: e.at for e in honest}

    reports = Effect()
    accepted = set(run.accepted.values())
    reported = Counter(e.incident_id for e in by_type["IncidentReported"])
    reports.expected, reports.done = len(accepted), len(accepted & set(reported))
    reports.lost = len(accepted - set(reported))
    reports.duplicated = sum(1 for n in reported.values() if n > 1)
    reports.examples = sorted(accepted - set(reported))[:5]

    grades = Effect()
    first = defaultdict(list)
    for e in by_type["IncidentGraded"]:
        if e.previous is None:
            first[e.incident_id].append(e)
    reported_at = {e.incident_id: e.at for e in by_type["IncidentReported"]}
    grades.expected = len(reported)
    grades.done = sum(1 for i in reported if first.get(i))
    grades.lost = grades.expected - grades.done
    grades.duplicated = sum(1 for v in first.values() if len(v) > 1)
    for i, found in first.items():
        if i in reported_at:
            delay = seconds(found[0].at, reported_at[i])
            grades.worst_delay_s = max(grades.worst_delay_s, delay)
            grades.late += delay > late_after
    grades.examples = [i for i in reported if not first.get(i)][:5]

    clocks = Effect()
    started: dict[tuple[str, str], datetime] = {}
    settled: set[tuple[str, str]] = set()
    breached: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in honest:
        key = (e.incident_id, getattr(e, "clock", ""))
        if isinstance(e, ev.ClockStarted):
            started[key] = e.due_at
        elif isinstance(e, ev.ClockMet | ev.ClockCancelled) and key not in breached:
            settled.add(key)
        elif isinstance(e, ev.ClockBreached):
            breached[key].append(e)
    due = {k: d for k, d in started.items() if d <= now - timedelta(seconds=DUE_GRACE) and k not in settled}
    clocks.expected = len(due)
    clocks.done = sum(1 for k in due if breached.get(k))
    clocks.lost = clocks.expected - clocks.done
    clocks.duplicated = sum(1 for v in breached.values() if len(v) > 1)
    for found in breached.values():
        delay = seconds(found[0].at, found[0].due_at)
        clocks.worst_delay_s = max(clocks.worst_delay_s, delay)
        clocks.late += delay > late_after
    clocks.examples = [f"{i}/{c}" for (i, c) in due if not breached.get((i, c))][:5]

    notices = Effect()
    sent = [e for e in by_type["NoticeSent"] if e.channel == "webhook"]
    keys = {e.key for e in sent}
    got = Counter(k for k, _ in run.received)
    notices.expected = len(keys)
    notices.done = len(keys & set(got))
    notices.lost = len(keys - set(got))
    per_notice: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for e in sent:
        per_notice[(e.incident_id, e.to, e.cause)].add(e.key)
    notices.duplicated = sum(1 for v in per_notice.values() if len(v) > 1)
    for e in sent:
        cause_at = at_of.get(e.causation_id or "")
        if cause_at is not None:
            delay = seconds(e.at, cause_at)
            notices.worst_delay_s = max(notices.worst_delay_s, delay)
            notices.late += delay > late_after
    notices.examples = sorted(keys - set(got))[:5]

    said = truth(honest, PARTS)
    stale: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    examples = []
    for key in set(said) | set(views):
        if said.get(key, {}) != views.get(key, {}):
            part = key.rpartition(".")[2]
            stale[part] += 1
            missing[part] += key not in views
            if len(examples) < 5:
                examples.append(f"{key}: stream {said.get(key)} board {views.get(key)}")
    return {
        "effects": {"reports": reports, "grades": grades, "breaches": clocks, "notices": notices},
        "views": {"keys": len(said), "stale": dict(stale), "missing": dict(missing), "examples": examples},
        "stream": {"events": len(events), "stored_twice": sum(1 for n in ids.values() if n > 1),
                   "forged_in_stream": refused_in_stream},
        "webhook": {"posts": len(run.received), "repeats_same_key": sum(n - 1 for n in got.values() if n > 1),
                    "unknown_keys": len(set(got) - keys)},
    }


def clean(figures: dict[str, Any]) -> bool:
    effects = figures["effects"].values()
    return (all(e.lost == 0 and e.duplicated == 0 for e in effects) and not figures["views"]["stale"]
            and figures["stream"]["stored_twice"] == 0)


async def read_views(nc: Client) -> dict[str, dict[str, Any]]:
    """The facts of every `<id>.<part>` key, read by direct gets (a KV watch needs flow-control
    replies, which the admin may not publish: it stalls on a big bucket)."""
    out: dict[str, dict[str, Any]] = {}
    for key, raw in (await kv_snapshot(nc, timeout=300)).items():
        if key.rpartition(".")[2] in PARTS:
            out[key] = shown(key, json.loads(raw))
    return out


async def settle_and_check(admin: Client, run: Run, opts: Options, say: Any) -> dict[str, Any]:
    """Check again until clean or `settle` seconds have passed; the last figures."""
    deadline = time.monotonic() + opts.settle
    figures: dict[str, Any] = {}
    rounds = 0
    while True:
        rounds += 1
        try:
            events, ids = await stream_events(admin)
            views = await read_views(admin)
            figures = check(events, ids, views, run, datetime.now(UTC), opts.late_after)
        except Exception as exc:  # a node still electing: read again
            say(f"check round {rounds}: {exc.__class__.__name__}: {exc}")
            figures = figures or {}
        if (figures and clean(figures)) or time.monotonic() > deadline:
            if not figures:
                raise RuntimeError(f"the stream and the bucket could not be read in {rounds} rounds")
            figures["check_rounds"] = rounds
            return figures
        await asyncio.sleep(3)


async def all_acting(op: Client, services: tuple[str, ...] = SERVICES) -> bool:
    found = await service_instances(op)
    return all(any(i.service == s and i.role in ("active", "") for i in found) for s in services)


# --- the run ------------------------------------------------------------------------------------


async def webhook(run: Run) -> tuple[web.AppRunner, str]:
    async def hook(req: web.Request) -> web.Response:
        await req.read()
        run.received.append((req.headers.get("Idempotency-Key", ""), time.monotonic()))
        return web.json_response({"errcode": 0})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


async def chaos_run(opts: Options, say: Any = print) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    data = opts.data or Path(tempfile.mkdtemp(prefix="wb-chaos-"))
    run = Run()
    hook_runner, hook = await webhook(run)
    source = write_config(data / "config", hook, 3 if opts.nodes > 1 else 1)
    auth = AuthFolder(data / "auth")
    if not auth.exists():
        auth.init(prefix="wb")
    nodes = (local_cluster(opts.nodes, data, include=auth.conf) if opts.nodes > 1
             else [NatsServer(data / "nats", port=0, include=auth.conf)])
    children: list[Child] = []
    supervisor: Supervisor | None = None
    clients: list[Client] = []
    began = time.monotonic()
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            await asyncio.to_thread(node.wait_ready, 60)
        url = ",".join(n.url for n in nodes)
        await _setup(url, auth, source)
        children = service_children(data, url, auth, ["--config", str(data / "config")], standby=opts.standby,
                                    source=source)
        log = data / "logs" / "chaos.log"
        log.parent.mkdir(parents=True, exist_ok=True)

        def report(text: str) -> None:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{time.monotonic() - began:8.1f} {text}\n")

        supervisor = Supervisor(children, report)
        watcher = asyncio.create_task(supervisor.run())
        op = await connect(url, "chaos-operator", creds=creds(auth, "operator"), retry_for=30)
        admin = await connect(url, "chaos-admin", creds=creds(auth, "admin"), retry_for=30)
        intake = await connect(url, "chaos-forger", creds=creds(auth, "intake"), retry_for=30)
        clients += [op, admin, intake]
        for _ in range(600):
            if await all_acting(op):
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"the services did not all start within 5 minutes; see {data / 'logs'}")
        started = time.monotonic()
        say(f"chaos: {len(nodes)} node(s), {len(children)} service processes up in {started - began:.0f}s; "
            f"{opts.reports} reports at {opts.rate:g}/s, {opts.kills} kills, {opts.node_kills} node kills")
        tag = uuid.uuid4().hex[:6]
        span = opts.reports / opts.rate
        submitter = asyncio.create_task(submit_all(op, opts, run, tag, started))
        while not run.accepted and not submitter.done():  # noqa: ASYNC110 - polls the submitter's results
            await asyncio.sleep(0.1)
        victim = next(iter(run.accepted.values()), "")
        await asyncio.gather(hostile(op, intake, run, victim), chaos(children, nodes, admin, opts, run, span, rng),
                             submitter)
        submitted = time.monotonic()
        say(f"chaos: {len(run.accepted)} reports accepted in {submitted - started:.0f}s "
            f"({run.retries} sent again during takeovers); {len(run.kills)} kills done; settling")
        for _ in range(240):  # every service acting again (a killed one restarts with backoff)
            if await all_acting(op):
                break
            await asyncio.sleep(0.5)
        # Let the last clocks (3 s) fall due and the reconcile rounds (5 s) pass.
        await asyncio.sleep(REPORT_UP + 2)
        figures = await settle_and_check(admin, run, opts, say)
        figures["run"] = {
            "reports": opts.reports, "accepted_reports": len(run.accepted), "incidents": len(set(run.accepted.values())),
            "refused_reports": dict(run.refused), "sent_again": run.retries, "kills": run.kills,
            "hostile": run.hostile, "nodes": len(nodes), "service_processes": len(children),
            "submit_seconds": round(submitted - started, 1), "settle_seconds": round(time.monotonic() - submitted, 1),
            "total_seconds": round(time.monotonic() - began, 1), "data": str(data),
            "restarts": sum(c.restarts for c in children),
        }
        watcher.cancel()
        return figures
    finally:
        if supervisor is not None:
            supervisor.stopping = True
            await supervisor.stop()
        for nc in clients:
            with contextlib.suppress(Exception):
                await nc.close()
        for node in nodes:
            with contextlib.suppress(Exception):
                node.stop()
        await hook_runner.cleanup()


def ok(figures: dict[str, Any]) -> bool:
    hostile_ok = all(h["refused"] is not False for h in figures["run"]["hostile"])
    return clean(figures) and hostile_ok and figures["run"]["accepted_reports"] == figures["run"]["reports"]


def printable(figures: dict[str, Any]) -> dict[str, Any]:
    out = dict(figures)
    out["effects"] = {k: vars(v) for k, v in figures["effects"].items()}
    return out


def table(figures: dict[str, Any]) -> str:
    r = figures["run"]
    lines = [f"{'effect':10} {'expected':>9} {'done':>9} {'lost':>6} {'dup':>6} {'late':>6} {'worst s':>8}"]
    for name, e in figures["effects"].items():
        lines.append(f"{name:10} {e.expected:9} {e.done:9} {e.lost:6} {e.duplicated:6} {e.late:6} "
                     f"{e.worst_delay_s:8.1f}")
    v = figures["views"]
    lines.append(f"views: {v['keys']} keys, stale {sum(v['stale'].values())} {v['stale'] or ''}, "
                 f"missing {sum(v['missing'].values())}")
    s, w = figures["stream"], figures["webhook"]
    lines.append(f"stream: {s['events']} events, stored twice {s['stored_twice']}, forged events the consumers "
                 f"refused {s['forged_in_stream']}; webhook: {w['posts']} posts, {w['repeats_same_key']} repeats "
                 f"with the same key, {w['unknown_keys']} keys not recorded")
    lines.append(f"reports: {r['reports']} sent, {r['accepted_reports']} accepted ({r['incidents']} incidents), "
                 f"{r['sent_again']} sent again during takeovers; refused {sum(r['refused_reports'].values())} "
                 f"{r['refused_reports']}")
    lines.append(f"kills: {len([k for k in r['kills'] if 'pid' in k])} service instances, "
                 f"{len([k for k in r['kills'] if 'pid' not in k])} nodes; {r['restarts']} restarts")
    for h in r["hostile"]:
        verdict = {True: "refused", False: "NOT REFUSED", None: "see views"}[h["refused"]]
        lines.append(f"hostile: {h['input']}: {verdict} ({h.get('field') or h.get('code')})")
    lines.append(f"time: {r['total_seconds']}s in all, {r['submit_seconds']}s submitting, {r['settle_seconds']}s "
                 f"settling and checking ({figures.get('check_rounds')} rounds); late = over "
                 f"{figures.get('late_after', 30):g}s after the cause")
    lines.append("RESULT: " + ("0 lost, 0 duplicated, 0 stale" if ok(figures) else "FAILED"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--reports", type=int, default=5000)
    p.add_argument("--rate", type=float, default=25.0, help="reports per second")
    p.add_argument("--kills", type=int, default=20, help="service instances killed with SIGKILL")
    p.add_argument("--node-kills", type=int, default=2, help="NATS nodes killed with SIGKILL (restarted 5 s later)")
    p.add_argument("--nodes", type=int, choices=(1, 3), default=3)
    p.add_argument("--no-standby", action="store_true", help="one instance of each service")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--settle", type=float, default=180.0, help="seconds, at most, to settle after the run")
    p.add_argument("--data", type=Path, default=None, help="keep everything here (default: a new temp folder)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    opts = Options(reports=args.reports, rate=args.rate, kills=args.kills, node_kills=args.node_kills,
                   nodes=args.nodes, standby=not args.no_standby, seed=args.seed, data=args.data, settle=args.settle)
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    figures = asyncio.run(chaos_run(opts, say))
    figures["late_after"] = opts.late_after
    print(json.dumps(printable(figures), ensure_ascii=False, indent=2, default=str) if args.json else table(figures))
    return 0 if ok(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
