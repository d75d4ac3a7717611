"""The cluster check: nats-server configs read, nodes that would lose writes or never join
refused, replicas below the cluster's size refused — each naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.bus.cluster import check_cluster, check_node, check_replicas, parse_conf
from watchboard.config import StreamConfig, WatchboardConfig

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
# a node
server_name: "n1"
listen = 127.0.0.1:4222
jetstream {
  store_dir: "/var/lib/nats"   // where
  sync_interval: always
}
cluster {
  name: wb
  listen: "127.0.0.1:6222"
  routes: [
    nats-route://127.0.0.1:6223
    "nats-route://127.0.0.1:6224",
  ]
}
include "auth.conf"
"""


@pytest.mark.parametrize(("text", "path", "value"), [
    (GOOD, "server_name", "n1"),
    (GOOD, "listen", "127.0.0.1:4222"),
    (GOOD, "jetstream.sync_interval", "always"),
    (GOOD, "cluster.routes", ["nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"]),
    (GOOD, "include", ["auth.conf"]),
    ("jetstream: enabled\n", "jetstream", "enabled"),
    ("Cluster { Name wb }", "cluster.name", "wb"),
    ("a: [1, 2, {b: c}]", "a", ["1", "2", {"b": "c"}]),
])
def test_parse_conf(text: str, path: str, value: object) -> None:
    node: object = parse_conf(text)
    for part in path.split("."):
        assert isinstance(node, dict)
        node = node[part]
    assert node == value


def keys(problems: list) -> list[str]:
    return [p.key for p in problems]


@pytest.mark.parametrize(("change", "refused"), [
    (lambda t: t, []),
    (lambda t: t.replace("sync_interval: always", "sync_interval: 2m"), ["jetstream.sync_interval"]),
    (lambda t: t.replace("  sync_interval: always\n", ""), ["jetstream.sync_interval"]),
    (lambda t: t.replace('server_name: "n1"', ""), ["server_name"]),
    (lambda t: t[:t.index("cluster {")], ["cluster.name", "cluster.routes"]),
    (lambda t: t.replace("routes: [", "routes: [] # ").replace("nats-route://127.0.0.1:6223\n", "")
     .replace('"nats-route://127.0.0.1:6224",\n  ]', ""), ["cluster.routes"]),
])
def test_check_node(change, refused: list[str]) -> None:
    assert keys(check_node("node.conf", parse_conf(change(GOOD)))) == refused


def test_jetstream_without_a_block_is_refused_naming_the_file() -> None:
    problems = check_node("/etc/nats/n2.conf", parse_conf(GOOD.replace("jetstream {", "jetstream: enabled\nx {")))
    assert str(problems[0]).startswith("/etc/nats/n2.conf: key `jetstream`:")


@pytest.mark.parametrize(("replicas", "sync", "nodes", "refused"), [
    (1, "always", 1, []),
    (3, "always", 3, []),
    (1, "always", 3, ["stream.replicas"]),
    (3, "2m", 3, ["stream.sync_interval"]),
    (3, "always", 5, ["stream.replicas"]),
])
def test_check_replicas(replicas: int, sync: str, nodes: int, refused: list[str]) -> None:
    cfg = WatchboardConfig(stream=StreamConfig(replicas=replicas, sync_interval=sync))
    problems = check_replicas(cfg, nodes, "conf/watchboard.toml")
    assert keys(problems) == refused
    assert all(str(p).startswith("conf/watchboard.toml: key `stream.") for p in problems)


def test_the_shipped_cluster_example_passes() -> None:
    from watchboard.config import ConfigSource, load_watchboard

    folder = ROOT / "config" / "cluster"
    cfg = load_watchboard(ConfigSource(folder))
    assert check_cluster(folder.glob("node-*.conf"), cfg) == []
    assert cfg.stream.replicas == 3 and len(cfg.nats_url.split(",")) == 3


def test_a_cluster_of_two_or_mixed_names_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.conf").write_text(GOOD.replace("name: wb", "name: other"), encoding="utf-8")
    problems = check_cluster(tmp_path.glob("*.conf"), WatchboardConfig(stream=StreamConfig(replicas=3)))
    assert set(keys(problems)) == {"server_name", "(nodes)", "cluster.name"}
