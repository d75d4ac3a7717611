"""Set up the hosts of docs/deploy.md on one machine by following the page, then check them.

    python -m tests.deploy.hosts [--work DIR] [--keep]      (as root)

Each host is a network namespace (`ip netns`) joined by a veth pair to a bridge in one more
namespace — no route anywhere else, so all traffic stays between them — resolving the
`*.duty.example` names through its own `/etc/hosts` (`/etc/netns/NS/hosts`, which `ip netns
exec` mounts). Each has its own folder, bind-mounted, in a mount namespace of its own, over
the paths the page uses (`MOUNTS`), so each host has its own disk.

The page's blocks marked `<!-- try: HOST … -->` are run in order, verbatim, by bash in the
host's namespaces (`<!-- try: HOST file PATH -->`: the block is that file's content). What one
machine cannot do is replaced by shell functions, and only that (`PRELUDE`): `pip install` is
this checkout (the venv's `bin/watchboard`, `bin/python`, `bin/nats-server` point at it),
`useradd` and `chown` do nothing (the hosts share `/etc/passwd`; everything runs as root), `scp`
copies between the hosts' folders, `systemctl` runs a unit's `ExecStart` with its environment
in the host's namespaces. Checks (`CHECKS`) then run on the hosts: a report is graded and read
on the wall, the stream survives the page's backup and restore, and the hostile clients of
issue 11 are refused. Exit 0 when all hold.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "deploy.md"
DOMAIN = "duty.example"
# host → its address on the site's network (docs/deploy.md's table)
HOSTS = {"admin": "10.77.0.30", "nats": "10.77.0.10", "intake": "10.77.0.11", "grading": "10.77.0.12",
         "deadlines": "10.77.0.13", "notify": "10.77.0.14", "wall": "10.77.0.20"}
# the paths the page uses → the folder of each host that stands for them
MOUNTS = {"/etc/watchboard": "etc-watchboard", "/etc/nats": "etc-nats", "/etc/systemd/system": "etc-systemd",
          "/var/lib/nats": "var-lib-nats", "/var/lib/watchboard": "var-lib-watchboard",
          "/var/backups/nats": "var-backups-nats", "/run/nats": "run-nats", "/opt/watchboard": "opt-watchboard"}


class Failed(Exception):
    pass


@dataclass(frozen=True)
class Block:
    hosts: tuple[str, ...]
    text: str
    file: str | None  # a file's path on the host, or None: commands
    section: str


def blocks(page: str) -> list[Block]:
    """The marked blocks of the page, in order."""
    out: list[Block] = []
    section = ""
    lines = page.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.fullmatch(r"<!-- try: (.+?) -->", line.strip())
        if m:
            words = m.group(1).split()
            hosts = tuple(w for w in words[:words.index("file")] if w) if "file" in words else tuple(words)
            path = words[words.index("file") + 1] if "file" in words else None
            start = i + 1
            if not lines[start].startswith("```"):
                raise Failed(f"{PAGE}:{start + 1}: a try marker must precede a fenced block")
            end = next(j for j in range(start + 1, len(lines)) if lines[j].startswith("```"))
            out.append(Block(hosts, "\n".join(lines[start + 1:end]) + "\n", path, section))
            i = end
        i += 1
    return out


class Site:
    """The namespaces, the hosts' folders, and the units running in them."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.run_id = secrets.token_hex(2)
        self.ns = {host: f"wbt{self.run_id}-{host}" for host in HOSTS}
        self.lan = f"wbt{self.run_id}-lan"
        self.made_dirs: list[Path] = []
        self.log = work / "hosts.log"

    def root(self, host: str) -> Path:
        return self.work / "hosts" / host

    def say(self, text: str) -> None:
        print(text, flush=True)
        with self.log.open("a", encoding="utf-8") as f:
            f.write(text + "\n")

    # --- the network ---------------------------------------------------------------------------

    def up(self) -> None:
        for path in (*MOUNTS, "/etc/netns"):  # made here (empty) only where this machine has none
            if not Path(path).exists():
                Path(path).mkdir(parents=True)
                self.made_dirs.append(Path(path))
        sh(["ip", "netns", "add", self.lan])
        sh(["ip", "-n", self.lan, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", self.lan, "link", "set", "br0", "up"])
        names = "".join(f"{addr} {host}.{DOMAIN} {host}\n" for host, addr in HOSTS.items())
        for n, (host, addr) in enumerate(HOSTS.items()):
            ns, near, far = self.ns[host], f"wbt{self.run_id}{n}a", f"wbt{self.run_id}{n}b"
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", near, "netns", ns, "type", "veth", "peer", "name", far, "netns", self.lan])
            sh(["ip", "-n", ns, "link", "set", near, "name", "eth0"])
            sh(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"])
            for dev in ("eth0", "lo"):
                sh(["ip", "-n", ns, "link", "set", dev, "up"])
            sh(["ip", "-n", self.lan, "link", "set", far, "master", "br0", "up"])
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(f"127.0.0.1 localhost\n{names}", encoding="utf-8")
            for sub in MOUNTS.values():
                (self.root(host) / sub).mkdir(parents=True, exist_ok=True)
            (self.root(host) / "home").mkdir(exist_ok=True)
            (self.root(host) / "units").mkdir(exist_ok=True)
            self._install(host)

    def _install(self, host: str) -> None:
        """What `pip install watchboard` into /opt/watchboard/venv gives, pointing at this checkout."""
        from watchboard.bus.server import find_nats_server

        bin_ = self.root(host) / MOUNTS["/opt/watchboard"] / "venv" / "bin"
        bin_.mkdir(parents=True, exist_ok=True)
        # Wrappers, not links: Python finds its venv from the path it was started by.
        python = shlex.quote(sys.executable)
        scripts = {"watchboard": f"exec {python} -m watchboard.cli \"$@\"", "python": f"exec {python} \"$@\"",
                   "pip": "echo \"(tests/deploy/hosts.py: watchboard is this checkout)\"",
                   "nats-server": f"exec {shlex.quote(str(find_nats_server()))} \"$@\""}
        for name, body in scripts.items():
            (bin_ / name).write_text(f"#!/bin/sh\n{body}\n")
            (bin_ / name).chmod(0o755)

    def down(self) -> None:
        for host in HOSTS:
            for pid_file in (self.root(host) / "units").glob("*.pid"):
                self._stop(pid_file, signal.SIGKILL, 5)
        for ns in [*self.ns.values(), self.lan]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        for path in self.made_dirs:
            with contextlib.suppress(OSError):
                path.rmdir()

    # --- running on a host --------------------------------------------------------------------

    def command(self, host: str, argv: list[str]) -> list[str]:
        """argv run on `host`: its network namespace, its hostname, its folders over the page's paths."""
        root = self.root(host)
        binds = " && ".join(f"mount --bind {shlex.quote(str(root / sub))} {shlex.quote(path)}"
                            for path, sub in MOUNTS.items())
        inner = f"hostname {host} && {binds} && exec \"$@\""
        return ["ip", "netns", "exec", self.ns[host], "unshare", "--mount", "--uts", "--propagation", "private",
                "sh", "-c", inner, "sh", *argv]

    def env(self, host: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHBOARD_")}
        env.update(HOME=str(self.root(host) / "home"), PATH=f"/opt/watchboard/venv/bin:{env.get('PATH', '')}",
                   PYTHONPATH=str(REPO), WBT_WORK=str(self.work), WBT_RUN=self.run_id, WBT_HOST=host,
                   PYTHONUNBUFFERED="1")
        return env

    def bash(self, host: str, script: str, *, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(self.command(host, ["bash", "-euo", "pipefail", "-c", PRELUDE + script]),
                             env=self.env(host), cwd=self.root(host) / "home", capture_output=True, text=True,
                             timeout=timeout)
        self.say(f"--- {host}$ {script.strip()}\n{run.stdout}{run.stderr}(exit {run.returncode})")
        if check and run.returncode != 0:
            raise Failed(f"on {host}: exit {run.returncode}:\n{script}\n{run.stdout}{run.stderr}")
        return run

    def write(self, host: str, path: str, text: str) -> None:
        self.host_path(host, path).parent.mkdir(parents=True, exist_ok=True)
        self.host_path(host, path).write_text(text, encoding="utf-8")
        self.say(f"--- {host}: wrote {path}")

    def host_path(self, host: str, path: str) -> Path:
        for prefix, sub in MOUNTS.items():
            if path == prefix or path.startswith(prefix + "/"):
                return self.root(host) / sub / path[len(prefix):].lstrip("/")
        raise Failed(f"{path}: not a path of a host's own folders ({', '.join(MOUNTS)})")

    # --- units (systemctl) ----------------------------------------------------------------------

    def systemctl(self, host: str, args: list[str]) -> None:
        verbs = [a for a in args if not a.startswith("-")]
        verb, units = verbs[0], verbs[1:]
        if verb in ("daemon-reload", "status"):
            return
        for unit in units:
            unit = unit.removesuffix(".service")
            pid_file = self.root(host) / "units" / f"{unit}.pid"
            if verb in ("stop", "restart"):
                self._stop(pid_file, signal.SIGTERM, 30)
            if verb == "reload":
                os.kill(int(pid_file.read_text()), signal.SIGHUP)
            if verb in ("start", "restart") or (verb == "enable" and "--now" in args):
                self._start(host, unit, pid_file)

    def _start(self, host: str, unit: str, pid_file: Path) -> None:
        text = self.host_path(host, f"/etc/systemd/system/{unit}.service").read_text(encoding="utf-8")
        service = dict(re.findall(r"^(ExecStart|User|RuntimeDirectory)=(.*)$", text, re.M))
        env = self.env(host)
        for line in re.findall(r"^EnvironmentFile=-?(.*)$", text, re.M):
            for item in self.host_path(host, line.strip()).read_text().splitlines():
                if "=" in item and not item.lstrip().startswith("#"):
                    key, value = item.split("=", 1)
                    env[key.strip()] = value.strip().strip('"')
        for line in re.findall(r"^Environment=(.*)$", text, re.M):
            key, value = line.split("=", 1)
            env[key] = value
        if service.get("RuntimeDirectory"):
            (self.host_path(host, f"/run/{service['RuntimeDirectory']}")).mkdir(parents=True, exist_ok=True)
        log = (self.root(host) / "units" / f"{unit}.log").open("ab")
        proc = subprocess.Popen(self.command(host, shlex.split(service["ExecStart"])), env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        pid_file.write_text(str(proc.pid))
        self.say(f"--- {host}: started {unit} (pid {proc.pid}, as root: User={service.get('User', 'root')} is "
                 "left out, the hosts share /etc/passwd)")

    def _stop(self, pid_file: Path, sig: int, wait: float) -> None:
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid if not Path(f"/proc/{pid}").exists() else 0
            if done:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        pid_file.unlink()

    # --- scp --------------------------------------------------------------------------------------

    def scp(self, host: str, args: list[str]) -> None:
        *sources, dest = args
        target_host, _, target = dest.partition(":")
        target_host = target_host.split("@")[-1].removesuffix(f".{DOMAIN}")
        folder = self.host_path(target_host, target)
        folder.mkdir(parents=True, exist_ok=True)
        for src in sources:
            shutil.copy2(src, folder / Path(src).name)
        self.say(f"--- {host}: scp {' '.join(Path(s).name for s in sources)} → {target_host}:{target}")


# Shell functions standing in for what one machine cannot do (see the module's docstring).
PRELUDE = r'''
python3() { if [ "$1 $2" = "-m venv" ]; then echo "(venv: this checkout)"; else command python3 "$@"; fi; }
useradd() { echo "(useradd $*: left out, the hosts share /etc/passwd)"; }
chown() { :; }
scp() { python -m tests.deploy.hosts --work "$WBT_WORK" --run "$WBT_RUN" --from "$WBT_HOST" scp "$@"; }
systemctl() { python -m tests.deploy.hosts --work "$WBT_WORK" --run "$WBT_RUN" --from "$WBT_HOST" systemctl "$@"; }
'''


def sh(argv: list[str]) -> None:
    run = subprocess.run(argv, capture_output=True, text=True)
    if run.returncode != 0:
        raise Failed(f"{' '.join(argv)}: {run.stderr.strip()}")


# --- checks ---------------------------------------------------------------------------------------

NATS = f"tls://nats.{DOMAIN}:4222"
OPERATOR = "~/watchboard-auth/operator.nk"


def wait(site: Site, host: str, script: str, ok: str, what: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        run = site.bash(host, script, check=False)
        if run.returncode == 0 and re.search(ok, run.stdout):
            return run.stdout
        if time.monotonic() > deadline:
            raise Failed(f"timed out waiting for {what}: {run.stdout[-500:]}{run.stderr[-1000:]}")
        time.sleep(2)


def submit(site: Site, title: str) -> str:
    out = wait(site, "admin", f"watchboard submit --nats {NATS} --creds {OPERATOR} --title {shlex.quote(title)} "
               "--platform weibo --region 仲山镇 --reposts 150", r"^[0-9A-Z]{26}$", f"intake to take {title}")
    return out.strip()


def on_the_wall(site: Site, incident: str, what: str) -> None:
    wait(site, "wall", ". /etc/watchboard/watchboard.env && export WATCHBOARD_NATS && "
         "watchboard ls --json --creds /etc/watchboard/auth/wall.nk",
         rf'"id": "{incident}",\s*"title": "[^"]*",\s*"grade": "II"', what)


def refused(site: Site, host: str, script: str, pattern: str, what: str) -> None:
    run = site.bash(host, script, check=False)
    if run.returncode == 0 or not re.search(pattern, run.stdout + run.stderr):
        raise Failed(f"{what}: not refused as expected (exit {run.returncode}): {run.stdout}{run.stderr}")
    site.say(f"--- refused, as it must be: {what}")


def before_backup(site: Site) -> dict[str, str]:
    first = submit(site, "网传某中学食堂使用过期食材（备份前）")
    on_the_wall(site, first, "the first report graded, on the wall")
    return {"first": first}


def after_backup(site: Site, state: dict[str, str]) -> None:
    # The server was stopped and started again: the services reconnected by themselves.
    state["later"] = submit(site, "网传某路段积水严重（备份后）")
    on_the_wall(site, state["later"], "a report after the backup, graded")


EVENTS = r"""
import asyncio, sys
from pathlib import Path
from watchboard.bus.connection import connect
from watchboard.bus.credentials import resolve
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history

async def main() -> None:
    creds = resolve(Path.home() / "watchboard-auth" / "operator.nk")
    nc = await connect("NATS_URL", "check", retry_for=30, creds=creds)
    for incident in sys.argv[1:]:
        print(incident, len(await load_history(nc, Subjects(), incident)))
    await nc.close()

asyncio.run(main())
""".replace("NATS_URL", NATS)


def after_restore(site: Site, state: dict[str, str]) -> None:
    on_the_wall(site, state["first"], "the first report, after the restore")
    out = site.bash("admin", f"python -c {shlex.quote(EVENTS)} {state['first']} {state['later']}").stdout.split()
    counts = dict(zip(out[::2], map(int, out[1::2]), strict=True))
    if not counts[state["first"]] or counts[state["later"]]:
        raise Failed(f"the restored record should hold the first report's events and none of the later's: {counts}")
    site.say(f"--- the record is the backup's: events per incident {counts}")


ANONYMOUS = r"""
import asyncio, ssl, nats

async def quiet(exc):
    pass

async def main() -> None:
    ctx = ssl.create_default_context(cafile="/etc/watchboard/auth/ca.crt")  # TLS right, but no key
    try:
        nc = await nats.connect("NATS_URL", tls=ctx, connect_timeout=3, allow_reconnect=False, error_cb=quiet)
    except Exception as exc:
        print("refused:", type(exc).__name__, exc)
        raise SystemExit(1) from None
    print("connected without credentials")
    await nc.close()

asyncio.run(main())
""".replace("NATS_URL", NATS)


FORGED_LINK = f"""
import urllib.error, urllib.request
try:
    urllib.request.urlopen("http://notify.{DOMAIN}:8765/ack/forged", timeout=10)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""


def hostile(site: Site) -> None:
    """Issue 11's hostile clients, against these hosts."""
    env = ". /etc/watchboard/watchboard.env && export WATCHBOARD_NATS && "
    refused(site, "wall", env + "watchboard submit --creds /etc/watchboard/auth/wall.nk --title 伪造 --platform weibo",
            r"forbidden|refused|拒绝", "the wall submits a report")
    refused(site, "wall", env + "watchboard note 01ABCDEFGHJKMNPQRSTVWXYZ00 伪造 --creds /etc/watchboard/auth/wall.nk",
            r"forbidden|拒绝", "the wall sends a command")
    refused(site, "wall", f"python -c {shlex.quote(ANONYMOUS)}", r"refused", "a client without credentials")
    refused(site, "wall", env + "d=$(mktemp -d) && cp /etc/watchboard/auth/wall.nk $d/ && "
            f"watchboard ls --nats nats://nats.{DOMAIN}:4222 --creds $d/wall.nk",
            r"refused|拒绝|断开|TLS", "a client without TLS")
    refused(site, "wall", env + "d=$(mktemp -d) && watchboard auth init --out $d/other --tls --host nats.duty.example "
            ">/dev/null && watchboard ls --creds $d/other/wall.nk --tls-ca /etc/watchboard/auth/ca.crt",
            r"refused|拒绝|断开|TLS|certificate", "a client whose certificate another CA signed")
    ack = site.bash("wall", f"python -c {shlex.quote(FORGED_LINK)}")
    if ack.stdout.strip() != "403":
        raise Failed(f"notify's acknowledgement link: a forged link should get 403, got {ack.stdout!r}")
    site.say("--- notify's acknowledgement link answers on the site's network (a forged link: 403)")


def follow(site: Site) -> None:
    state: dict[str, str] = {}
    backup_seen = 0
    for block in blocks(PAGE.read_text(encoding="utf-8")):
        if block.section.startswith("Backup and restore") and backup_seen == 0:
            state = before_backup(site)
        for host in block.hosts:
            if host not in HOSTS:
                raise Failed(f"{PAGE}: unknown host {host!r} in a try marker")
            if block.file is not None:
                site.write(host, block.file, block.text)
            else:
                site.bash(host, block.text)
        if block.section.startswith("Backup and restore") and block.file is None:
            backup_seen += 1
            (after_backup if backup_seen == 1 else after_restore)(site, state)
    if backup_seen != 2:
        raise Failed(f"{PAGE}: expected a backup block and a restore block, found {backup_seen}")
    hostile(site)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="leave the namespaces up (to look around)")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--from", dest="host", default=None, help=argparse.SUPPRESS)
    parser.add_argument("tool", nargs="?", choices=("scp", "systemctl"), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = (args.work or Path(tempfile.mkdtemp(prefix="wb-hosts-"))).resolve()
    if args.tool:  # called back by a block's shell function
        site = Site(work)
        site.run_id = args.run
        site.ns = {host: f"wbt{args.run}-{host}" for host in HOSTS}
        getattr(site, args.tool)(args.host, args.args)
        return 0
    work.mkdir(parents=True, exist_ok=True)
    site = Site(work)
    try:
        site.up()
        follow(site)
        site.say("ALL HOSTS UP AND CHECKED")
        return 0
    except (Failed, subprocess.TimeoutExpired) as exc:
        site.say(f"FAILED: {exc}")
        for log in sorted(work.glob("hosts/*/units/*.log")):
            site.say(f"--- {log.relative_to(work)} (last lines)\n" + "\n".join(log.read_text(errors="replace")
                                                                            .splitlines()[-15:]))
        return 1
    finally:
        if not args.keep:
            site.down()


if __name__ == "__main__":
    sys.exit(main())
