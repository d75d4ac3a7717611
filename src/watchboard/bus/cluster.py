"""A three-node cluster: checking its servers' configs and the streams' replicas.

`watchboard check` (and `watchboard up --cluster 3` before it starts anything) refuses a
cluster that would lose data quietly:

- a node without `jetstream { sync_interval: always }` acknowledges writes it has not put on
  disk (nats-server's default syncs every two minutes; the Jepsen analysis of NATS 2.12 lost
  acknowledged writes that way), or without `cluster { name, routes }` never joins;
- `stream.replicas` in watchboard.toml below the number of nodes keeps one copy of the stream,
  the bucket and the object stores, so one node's disk is still a single point of failure;
- on a running cluster, a stream or bucket made before the config said 3 (`--live`).

Every problem names the file and the key, as a config error does. `parse_conf` reads the
nats-server config syntax (maps, lists, `key: value`, `key = value`, `key value`, comments) far
enough for these checks; the server's own `nats-server -t` still validates the rest.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchboard.config import WatchboardConfig

SUBJECTS_OF_STREAMS = ("WATCHBOARD", "KV_wb-board", "OBJ_wb-evidence", "WB_REPLICA", "KV_wb-lease",
                       "OBJ_wb-replica")


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: key `{self.key}`: {self.problem}"


class ConfError(ValueError):
    pass


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+)
  | (?P<comment>(?:\#|//)[^\n]*)
  | (?P<newline>\n)
  | (?P<punct>[{}\[\],])
  | (?P<sep>[:=])
  | (?P<string>"(?:[^"\\]|\\.)*"|'[^']*')
  | (?P<word>[^\s{}\[\],:=#"']+(?::(?!\s)[^\s{}\[\],#"']*)*)
""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            raise ConfError(f"cannot read {text[at:at + 20]!r}")
        kind = m.lastgroup or ""
        value = m.group()
        at = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "string":
            value = value[1:-1]
        out.append((kind, value))
    return out


def parse_conf(text: str) -> dict[str, Any]:
    """The nats-server config as nested dicts and lists (scalars as strings; keys lower-cased)."""
    tokens = _tokens(text)
    pos = 0

    def skip_newlines() -> None:
        nonlocal pos
        while pos < len(tokens) and tokens[pos][0] == "newline":
            pos += 1

    def value() -> Any:
        nonlocal pos
        skip_newlines()
        kind, tok = tokens[pos]
        pos += 1
        if tok == "{" and kind == "punct":
            return body(closing="}")
        if tok == "[" and kind == "punct":
            items: list[Any] = []
            while True:
                skip_newlines()
                if tokens[pos] == ("punct", "]"):
                    pos += 1
                    return items
                items.append(value())
                skip_newlines()
                if tokens[pos] == ("punct", ","):
                    pos += 1
        return tok

    def body(closing: str | None) -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while True:
            skip_newlines()
            if pos >= len(tokens):
                if closing is not None:
                    raise ConfError(f"missing {closing!r}")
                return out
            kind, tok = tokens[pos]
            if kind == "punct" and tok == closing:
                pos += 1
                return out
            if kind == "punct" and tok == ",":
                pos += 1
                continue
            if kind not in ("word", "string"):
                raise ConfError(f"expected a key, found {tok!r}")
            pos += 1
            if pos < len(tokens) and tokens[pos][0] == "sep":
                pos += 1
            if tok.lower() == "include":  # `include "file"` has no separator either
                out.setdefault("include", []).append(value())
                continue
            out[tok.lower()] = value()

    return body(closing=None)


def _get(conf: dict[str, Any], dotted: str) -> Any:
    node: Any = conf
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_node(file: str, conf: dict[str, Any]) -> list[Problem]:
    """What one node's config lacks to be a member of a cluster that keeps its writes."""
    out: list[Problem] = []
    js = conf.get("jetstream")
    if not isinstance(js, dict):
        out.append(Problem(file, "jetstream", "no `jetstream { … }` block with a store_dir and `sync_interval: "
                           "always`: this node would keep no copy of the stream"))
    else:
        sync = js.get("sync_interval")
        if sync is None:
            out.append(Problem(file, "jetstream.sync_interval", "missing: nats-server then syncs to disk every 2 "
                               "minutes and acknowledges writes a power cut can lose; set `sync_interval: always`"))
        elif str(sync).lower() != "always":
            out.append(Problem(file, "jetstream.sync_interval", f"is {sync!r}: writes acknowledged within that "
                               "time can be lost to a power cut; set `sync_interval: always`"))
    if not conf.get("server_name"):
        out.append(Problem(file, "server_name", "missing: every node of a JetStream cluster needs its own name"))
    if not _get(conf, "cluster.name"):
        out.append(Problem(file, "cluster.name", "missing: the nodes of one cluster share one name"))
    routes = _get(conf, "cluster.routes")
    if not isinstance(routes, list) or not routes:
        out.append(Problem(file, "cluster.routes", "missing or empty: this node would not find the others"))
    return out


def check_replicas(cfg: WatchboardConfig, nodes: int, file: str = "watchboard.toml") -> list[Problem]:
    """The streams' replicas against the cluster's size (1 node: anything goes)."""
    if nodes <= 1:
        return []
    want = 3 if nodes < 5 else 5
    if cfg.stream.replicas < want:
        return [Problem(file, "stream.replicas", f"is {cfg.stream.replicas} on a {nodes}-node cluster: the stream, "
                        f"the bucket and the object stores would keep {cfg.stream.replicas} copy, and a node's disk "
                        f"stays a single point of failure; set `replicas = {want}` under [stream] "
                        "(config/cluster/watchboard.toml does)")]
    if cfg.stream.sync_interval != "always":
        return [Problem(file, "stream.sync_interval", f"is {cfg.stream.sync_interval!r}; a cluster's nodes must "
                        "sync every write: set \"always\"")]
    return []


def check_cluster(files: Iterable[Path], cfg: WatchboardConfig, cfg_file: str = "watchboard.toml") -> list[Problem]:
    """Every node's config, the nodes together, and the replicas watchboard.toml asks for."""
    paths = sorted(files)
    out: list[Problem] = []
    names: dict[str, str] = {}
    clusters: set[str] = set()
    for path in paths:
        try:
            conf = parse_conf(path.read_text(encoding="utf-8"))
        except (OSError, ConfError, IndexError) as exc:
            out.append(Problem(str(path), "(file)", f"cannot be read as a nats-server config: {exc}"))
            continue
        out += check_node(str(path), conf)
        name = str(conf.get("server_name") or "")
        if name and name in names:
            out.append(Problem(str(path), "server_name", f"{name!r} is also the name in {names[name]}"))
        names.setdefault(name, str(path))
        if _get(conf, "cluster.name"):
            clusters.add(str(_get(conf, "cluster.name")))
    if len(paths) < 3:
        out.append(Problem(", ".join(map(str, paths)) or "(no node configs)", "(nodes)",
                           f"{len(paths)} node config(s): a JetStream cluster that survives the loss of a node "
                           "needs 3"))
    if len(clusters) > 1:
        out.append(Problem(", ".join(map(str, paths)), "cluster.name", f"the nodes name different clusters: "
                           f"{', '.join(sorted(clusters))}"))
    return out + check_replicas(cfg, max(len(paths), 3), cfg_file)


async def check_live(js: Any, cfg: WatchboardConfig, cfg_file: str = "watchboard.toml") -> list[Problem]:
    """On a running system: every stream and bucket with the replicas the config asks for."""
    out: list[Problem] = []
    for name in SUBJECTS_OF_STREAMS:
        try:
            info = await asyncio.wait_for(js.stream_info(name), 5)
        except Exception as exc:
            if name in ("WATCHBOARD", "KV_wb-board"):
                out.append(Problem(cfg_file, "stream.replicas", f"stream {name} cannot be read ({exc}): run "
                                   "`watchboard setup` (the admin) first"))
            continue
        have = info.config.num_replicas or 1
        if have != cfg.stream.replicas:
            out.append(Problem(cfg_file, "stream.replicas", f"asks for {cfg.stream.replicas}, but {name} keeps "
                               f"{have}: run `watchboard setup` (the admin) to bring it in line"))
    return out


async def align_replicas(js: Any, cfg: WatchboardConfig) -> list[str]:
    """Bring the buckets' and object stores' streams to `stream.replicas` (the event stream is
    updated by `ensure_stream`); returns the streams changed."""
    changed: list[str] = []
    for name in SUBJECTS_OF_STREAMS[1:]:
        try:
            info = await asyncio.wait_for(js.stream_info(name), 5)
        except Exception:
            continue
        if (info.config.num_replicas or 1) != cfg.stream.replicas:
            info.config.num_replicas = cfg.stream.replicas
            await asyncio.wait_for(js.update_stream(info.config), 10)
            changed.append(name)
    return changed
