"""`watchboard up`: an embedded nats-server, the four services as child processes, the board.

`--standby` runs two instances of each service (`serve NAME --standby`), the second standing by
to take over; `--cluster 3` runs three nats-server nodes on loopback instead of one, with the
streams' replicas the config asks for (refused below 3, as `watchboard check` refuses it).

Each service runs as its own `watchboard serve NAME` process, exactly as on separate hosts,
so `up` proves the same wiring a city deployment uses — roles on: the first `up` writes an auth
folder `<data>/auth` (`watchboard auth init`), the server includes its accounts, the admin's
credentials make the stream and the bucket, each service runs with its own credentials, and the
board, the status lines and the demo with the operator's (the CLI finds them there too). A child that dies is reported and
restarted with backoff; Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after
10 s) and then the server. Children's logs go to `<data>/logs/<name>.log`, so the board
owns the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from watchboard.auth.folder import AuthFolder
from watchboard.bus.credentials import Credentials, resolve
from watchboard.bus.feed_types import ServiceHealth
from watchboard.bus.server import NatsServer, ServerError, die_with_parent, local_cluster
from watchboard.config import ConfigSource, WatchboardConfig, load_watchboard

SERVICES = ("intake", "grading", "deadlines", "notify")
Report = Callable[[str], None]


ZONE = ZoneInfo("Asia/Shanghai")  # replaced by watchboard.toml's zone when `up` starts


def stamp(*, date: bool = False) -> str:
    """The time of a status line in the configured zone (the board's), not the machine's."""
    return datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def say(text: str) -> None:
    print(f"{stamp()} {text}", file=sys.stderr, flush=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    history: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # noqa: ASYNC230 - a local log file, opened once per start
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, env=self.env,
                start_new_session=True,  # Ctrl-C in the terminal reaches `up`, which stops us in order
                preexec_fn=die_with_parent)
        self.started_at = time.monotonic()

    async def stop(self, timeout: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


class Supervisor:
    """Starts the children and restarts any that dies, with backoff; reports each change."""

    def __init__(self, children: list[Child], report) -> None:
        self.children = children
        self.report = report
        self.stopping = False

    async def run(self) -> None:
        for child in self.children:
            await child.start()
            self.report(f"{child.name}: started (pid {child.process.pid}), log {child.log}")  # type: ignore[union-attr]
        await asyncio.gather(*(self._watch(c) for c in self.children))

    async def _watch(self, child: Child) -> None:
        while not self.stopping:
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping:
                return
            lived = time.monotonic() - child.started_at
            child.restarts = child.restarts + 1 if lived < 30 else 1
            delay = min(30.0, 2 ** (child.restarts - 1))
            tail = _tail(child.log)
            self.report(f"{child.name}: exited with code {code}; restarting in {delay:.0f}s"
                        + (f" — last log line: {tail}" if tail else ""))
            await asyncio.sleep(delay)
            if self.stopping:
                return
            await child.start()
            self.report(f"{child.name}: restarted (pid {child.process.pid})")  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(c.stop() for c in self.children))


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][-200:] if lines else ""


# What `up` keeps in its data folder; `--fresh` deletes these and nothing else (the second
# instance of each service with --standby, the nodes of --cluster 3 or 5).
DATA_PARTS = ("nats", *SERVICES, *(f"{s}.2" for s in SERVICES), *(f"nats-{i}" for i in range(1, 6)), "logs")


def fresh_start(data: Path, *, yes: bool, ask: Callable[[str], str] = input) -> bool:
    """Empty `data` of what `up` keeps there, after asking (False: the person said no, or
    nobody could be asked). Other files in the folder are left alone."""
    present = [data / part for part in DATA_PARTS if (data / part).exists()]
    if not present:
        return True
    if not yes:
        if not sys.stdin.isatty():
            print(f"watchboard up --fresh: would delete {', '.join(str(p) for p in present)}; "
                  "add --yes to do it without asking", file=sys.stderr)
            return False
        answer = ask(f"Delete every incident, log and state under {data} and start afresh? "
                     f"({', '.join(p.name for p in present)}) [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "是"):
            print("watchboard up: nothing deleted", file=sys.stderr)
            return False
    for part in present:
        shutil.rmtree(part) if part.is_dir() else part.unlink()
    say(f"started afresh: deleted {', '.join(p.name for p in present)} in {data}")
    return True


def up(args: argparse.Namespace) -> int:
    global ZONE
    from watchboard.cli import default_data_dir
    from watchboard.cli_ops import build_service

    data: Path = (args.data or default_data_dir()).resolve()
    source = ConfigSource(args.config.resolve() if args.config else None, args.profile)
    wb = load_watchboard(source)
    ZONE = wb.zone()
    for name in SERVICES:  # a bad config stops here, naming file and key, before anything starts
        build_service(name, source)
    if getattr(args, "fresh", False) and not fresh_start(data, yes=args.yes):
        return 1
    nodes = getattr(args, "cluster", None) or 1
    problems = cluster_problems(wb, nodes, source)
    if problems:
        for problem in problems:
            print(f"watchboard up --cluster {nodes}: {problem}", file=sys.stderr)
        return 2
    say(f"data folder {data} (start afresh with `watchboard up --fresh`)")
    auth = AuthFolder(data / "auth")
    if not auth.exists():  # once per data folder: --fresh keeps it, so people keep their credentials
        auth.init(prefix=wb.subject_prefix)
        say(f"identities written to {auth.path} (roles on; add people with `watchboard auth add-person`)")
    else:  # the server's accounts as this version grants them (a key a newer intake writes, say)
        auth.write_conf(auth.registry())
    if nodes > 1:
        servers = local_cluster(nodes, data, client_port=args.port, sync_interval=wb.stream.sync_interval,
                                include=auth.conf)
    else:
        servers = [NatsServer(data / "nats", port=args.port, sync_interval=wb.stream.sync_interval, include=auth.conf)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(timeout=30)
    except ServerError as exc:
        print(f"watchboard up: {exc}", file=sys.stderr)
        for server in servers:
            server.stop()
        return 1
    url = ",".join(server.url for server in servers)
    where = (f"{nodes} nodes, JetStream in {data}/nats-1…{nodes}, replicas {wb.stream.replicas}" if nodes > 1
             else f"JetStream in {data / 'nats'}")
    say(f"nats-server ready on {url} ({where}, sync_interval {wb.stream.sync_interval})")
    from watchboard.cli import default_data_dir

    if args.port != 4222 or nodes > 1 or data != default_data_dir().resolve():
        say(f"other commands need --nats {url} --creds {auth.creds('operator')} "
            f"(or WATCHBOARD_NATS and WATCHBOARD_CREDS)")
    try:
        return asyncio.run(_run(args, data, source, url, auth))
    except KeyboardInterrupt:
        return 130
    finally:
        for server in servers:
            server.stop()
        say("nats-server stopped")


def cluster_problems(wb: WatchboardConfig, nodes: int, source: ConfigSource) -> list[str]:
    """`up --cluster N`: the config must keep N copies and sync every write (watchboard check's rule)."""
    from watchboard.bus.cluster import check_replicas

    if nodes <= 1:
        return []
    if nodes not in (3, 5):
        return [f"--cluster {nodes}: a JetStream cluster has 3 or 5 nodes (a majority must survive a loss)"]
    return [str(p) for p in check_replicas(wb, nodes, watchboard_toml(source))]


def watchboard_toml(source: ConfigSource) -> str:
    """Where watchboard.toml was read from, as a config error names it."""
    if source.config_dir is not None and (source.config_dir / "watchboard.toml").is_file():
        return str(source.config_dir / "watchboard.toml")
    return "watchboard.toml (the shipped default; give yours with --config DIR)"


def _creds(auth: AuthFolder, identity: str) -> Credentials:
    found = resolve(auth.creds(identity))
    assert found is not None
    return found


async def _setup(url: str, auth: AuthFolder, source: ConfigSource) -> None:
    """The admin's job, done by `up` before the services start: the stream and the bucket."""
    from watchboard.bus.connection import connect
    from watchboard.bus.jetstream import PUBLISH_TIMEOUT, setup

    nc = await connect(url, "watchboard-up-admin", retry_for=10, creds=_creds(auth, "admin"))
    try:
        for attempt in range(30):  # a new cluster elects its JetStream leader first
            try:
                await setup(nc.jetstream(timeout=PUBLISH_TIMEOUT), load_watchboard(source))
                return
            except Exception as exc:
                if attempt == 29:
                    raise
                if attempt == 0:
                    say(f"JetStream not ready yet ({exc.__class__.__name__}: {exc}); retrying")
                await asyncio.sleep(1)
    finally:
        await nc.close()


async def _run(args: argparse.Namespace, data: Path, source: ConfigSource, url: str, auth: AuthFolder) -> int:
    extra: list[str] = []
    if source.config_dir:
        extra += ["--config", str(source.config_dir)]
    if source.profile:
        extra += ["--profile", source.profile]
    await _setup(url, auth, source)
    operator = _creds(auth, "operator")
    children = service_children(data, url, auth, extra, standby=getattr(args, "standby", False), source=source)
    log_file = data / "logs" / "up.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)

    def report(text: str) -> None:
        with open(log_file, "a", encoding="utf-8") as out:
            out.write(f"{stamp(date=True)} {text}\n")
        if args.no_board:
            say(text)

    supervisor = Supervisor(children, report)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[object]] = []
    try:
        tasks.append(asyncio.create_task(supervisor.run()))
        if args.no_board:
            tasks.append(asyncio.create_task(_status_lines(url, report, operator)))
        if args.demo:
            tasks.append(asyncio.create_task(_demo(url, report, args.demo_speed, source, operator)))
        if args.no_board:
            await stop.wait()
        else:
            from watchboard.board.launch import run_board_async

            board = asyncio.create_task(run_board_async(url, source, lang=args.lang, wall=args.wall,
                                                        creds=operator))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({board, stopper}, return_when=asyncio.FIRST_COMPLETED)
            board.cancel()
            stopper.cancel()
            with contextlib.suppress(BaseException):
                await board
    finally:
        say("stopping services…")
        supervisor.stopping = True  # no restart from here on, and no start half-done
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await supervisor.stop()
        say("services stopped")
    return 0


def status_word(name: str, health: ServiceHealth) -> str:
    """What `up`'s status line says of one service: ready, still loading (what), or silent."""
    if health.services.get(name):
        return "answering on the service API (ready)"
    if name in health.loading:
        return f"loading ({health.loading[name]}); its commands wait until it is ready"
    return "NOT answering on the service API"


def service_children(data: Path, url: str, auth: AuthFolder, extra: list[str], *, standby: bool = False,
                     source: ConfigSource | None = None) -> list[Child]:
    """One child per service; with `standby` two, `NAME` and `NAME.2`, each its own data folder,
    as two hosts would run them (`serve NAME --standby`), the second one standing by."""
    children = []
    for name in SERVICES:
        for k in (1, 2) if standby else (1,):
            label = name if k == 1 else f"{name}.{k}"
            argv = [sys.executable, "-m", "watchboard.cli", "serve", name, "--nats", url,
                    "--creds", str(auth.creds(name)), "--data", str(data / label), *extra]
            env = None
            if standby:
                argv += ["--standby", "--instance", f"{name}-{k}"]
                if name == "notify":
                    env = notify_env(data, source)
            children.append(Child(label, argv, data / "logs" / f"{label}.log", env=env))
    return children


def notify_env(data: Path, source: ConfigSource | None) -> dict[str, str] | None:
    """Both notify instances sign and check acknowledgement links with one secret: the links
    in notices the first one sent must still work once the second has taken over. Unless
    notify.toml names the secret itself, `up` keeps one in `<data>/notify-ack.secret` and hands
    it over in the environment variable notify.toml names (`[ack] secret_env`)."""
    import os
    import secrets

    from watchboard.services.notify.settings import load_notify

    ack = load_notify(source or ConfigSource()).ack
    if ack.secret or not ack.secret_env or os.environ.get(ack.secret_env):
        return None
    path = data / "notify-ack.secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        path.chmod(0o600)
    return {**os.environ, ack.secret_env: path.read_text(encoding="ascii").strip()}


async def _status_lines(url: str, report, creds: Credentials | None = None) -> None:
    """Headless mode: a status line per service once they answer, then on every change."""
    from watchboard.bus.connection import connect
    from watchboard.bus.feed import ping_services

    nc = await connect(url, "watchboard-up-status", creds=creds)
    last: dict[str, str] = {}
    try:
        while True:
            health = await ping_services(nc, wait=0.5)
            now = {name: status_word(name, health) for name in health.services}
            for name, word in now.items():
                if last.get(name) != word:
                    report(f"{name}: {word}")
            last = now
            await asyncio.sleep(2)
    finally:
        await nc.close()


async def _demo(url: str, report: Report, speed: float = 1.0, source: ConfigSource | None = None,
                creds: Credentials | None = None) -> None:
    from watchboard.bus.connection import connect
    from watchboard.bus.feed import ping_services
    from watchboard.bus.subjects import Subjects
    from watchboard.demo import run_demo

    nc = await connect(url, "watchboard-demo", creds=creds)
    try:
        for _ in range(120):  # wait until intake answers (bounded)
            if (await ping_services(nc)).services.get("intake"):
                break
            await asyncio.sleep(0.5)
        report("demo: feeding the scenario (once per data folder)")
        said: list[str] = []
        wb = load_watchboard(source)
        await run_demo(nc, Subjects(wb.subject_prefix), speed=speed, quiet=True, lang="en", zone=wb.zone(),
                       say=said.append)
        report(f"demo: {said[0]}" if said else "demo: scenario fed")
    finally:
        await nc.close()
