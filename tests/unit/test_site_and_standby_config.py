"""The config of standby instances and leaf sites: refused with file and key; the shipped
examples load, and their nats-server configs are valid for the server itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from watchboard.bus.server import find_nats_server
from watchboard.bus.site import LEAF_DENY, sites_stream_config
from watchboard.config import ConfigError, ConfigSource, load_watchboard

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str):
    (tmp_path / "watchboard.toml").write_text(text, encoding="utf-8")
    return load_watchboard(ConfigSource(tmp_path))


@pytest.mark.parametrize(("text", "key"), [
    ('[standby]\nlease_ttl = "2x"\n', "standby.lease_ttl"),
    ('[standby]\nlease_ttl = "0.5s"\n', "standby.lease_ttl"),
    ('[standby]\nlease_ttl = "1m"\n', "standby.lease_ttl"),
    ('[standby]\nhistory = "1h"\nsnapshot_every = "45m"\n', "standby.snapshot_every"),
    ('[[sites]]\nname = "town a"\n', "sites[0].name"),
    ('[[sites]]\nname = "t"\ndomain = "a.b"\n', "sites[0].domain"),
    ('[[sites]]\nname = "t"\n[[sites]]\nname = "t"\n', "sites[1].name"),
])
def test_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert f"key `{key}`" in str(caught.value) and "watchboard.toml" in str(caught.value)


def test_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path, "")
    assert (cfg.standby.lease_ttl, cfg.standby.history, cfg.standby.snapshot_every) == ("2s", "1d", "10m")
    assert cfg.sites == []


def test_the_hub_example_sources_its_town_through_the_towns_domain(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "leaf" / "hub-watchboard.toml", tmp_path / "watchboard.toml")
    cfg = load_watchboard(ConfigSource(tmp_path))
    stream = sites_stream_config(cfg)
    [source] = stream.sources or []
    assert source.external is not None and source.external.api == "$JS.town-a.API"
    [transform] = source.subject_transforms or []
    assert (transform.src, transform.dest) == ("wb.ev.intake.>", "wb.site.town-a.ev.intake.>")
    assert not stream.subjects  # it takes nothing but what it sources


def test_the_town_example_denies_what_the_code_denies() -> None:
    text = (ROOT / "examples" / "leaf" / "town.conf").read_text(encoding="utf-8")
    for key in ("deny_imports", "deny_exports"):
        found = re.search(rf"{key}: \[(.*?)\]", text)
        assert found and [d.strip().strip('"') for d in found.group(1).split(",")] == list(LEAF_DENY)


@pytest.mark.parametrize("conf", ["examples/leaf/hub.conf", "examples/leaf/town.conf", "config/cluster/node-1.conf"])
def test_the_example_server_configs_are_valid(tmp_path: Path, conf: str) -> None:
    """`nats-server -t` on each example (its include and store dir pointed at the test's folder)."""
    text = (ROOT / conf).read_text(encoding="utf-8")
    text = text.replace('include "auth.conf"', "").replace("/var/lib/nats/jetstream", str(tmp_path / "js"))
    path = tmp_path / "node.conf"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run([str(find_nats_server()), "-t", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr + run.stdout
