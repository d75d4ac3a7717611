"""intake.toml: the shipped file lists every key; every mistake named by key; overrides and profiles."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from watchboard.config import ConfigError, ConfigSource, defaults_dir
from watchboard.config.intake import IntakeConfig, Limits, MergeConfig, load_intake


def test_default_intake_config_loads() -> None:
    """The shipped intake.toml decodes and matches the struct defaults."""
    cfg = load_intake()
    assert cfg == IntakeConfig()
    assert cfg.merge.window_delta() == timedelta(hours=72)
    assert "utm_*" in cfg.merge.tracking_params


def _write(tmp_path: Path, text: str) -> ConfigSource:
    (tmp_path / "intake.toml").write_text(text, encoding="utf-8")
    (tmp_path / "watchboard.toml").write_text('profile = "default"\n', encoding="utf-8")
    return ConfigSource(config_dir=tmp_path)


@pytest.mark.parametrize(("text", "key", "problem"), [
    ('[merge]\nwindow = "soon"\n', "merge.window", "'soon' is not a positive duration"),
    ('[merge]\nwindow = "0h"\n', "merge.window", "not a positive duration"),
    ("[merge]\ntitle_similarity = 1.5\n", "merge.title_similarity", "at most 1"),
    ("[merge]\ntitle_similarity = 0\n", "merge.title_similarity", "above 0"),
    ('[merge]\ntitle_similarity = "high"\n', "merge.title_similarity", "expected `float`"),
    ("[merge]\ntitle_min_chars = 0\n", "merge.title_min_chars", "1 or more"),
    ('[merge]\ntracking_params = ["*"]\n', "merge.tracking_params[0]", "prefix ending in '*'"),
    ("[merge]\nwindw = 1\n", "merge", "unknown field `windw`"),
    ('[limits]\nfuture_skew = "later"\n', "limits.future_skew", "not a duration"),
    ("[limits]\ntitle_max = 0\n", "limits.title_max", "1 or more"),
    ("[statements]\napprover_roles = []\n", "statements.approver_roles", "nobody could approve"),
    ('[statements]\napprover_roles = ["approver", "boss"]\n', "statements.approver_roles[1]", "unknown role 'boss'"),
    ("[evidence]\nmax_bytes = 0\n", "evidence.max_bytes", "from 1 byte to 4 GiB"),
    ('[evidence]\nmax_bytes = "50MB"\n', "evidence.max_bytes", "expected `int`"),
])
def test_bad_intake_config_names_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    """Each bad value stops loading with the file, the key and the problem."""
    with pytest.raises(ConfigError) as info:
        load_intake(_write(tmp_path, text))
    assert info.value.key == key
    assert problem in info.value.problem
    assert "intake.toml" in info.value.file


def test_override_file_changes_values(tmp_path: Path) -> None:
    """An intake.toml in --config replaces the default's values."""
    cfg = load_intake(_write(tmp_path, '[merge]\nwindow = "24h"\ntitle_similarity = 0.9\n'))
    assert cfg.merge.window_delta() == timedelta(hours=24) and cfg.merge.title_similarity == 0.9


def test_shipped_file_lists_every_key() -> None:
    """intake.toml documents every key of the structs (no hidden defaults)."""
    data = tomllib.loads((defaults_dir() / "intake.toml").read_text(encoding="utf-8"))
    assert set(data) == set(IntakeConfig.__struct_fields__)
    assert set(data["merge"]) == set(MergeConfig.__struct_fields__)
    assert set(data["limits"]) == set(Limits.__struct_fields__)


def test_profile_amends_intake(tmp_path: Path) -> None:
    """A profile's [intake.merge] table overrides only the keys it names."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "quick.toml").write_text('[intake.merge]\nwindow = "24h"\n', encoding="utf-8")
    cfg = load_intake(ConfigSource(config_dir=tmp_path, profile="quick"))
    assert cfg.merge.window == "24h" and cfg.merge.title_similarity == 0.85
    assert cfg.limits == IntakeConfig().limits


def test_shipped_follow_through_keys() -> None:
    """Statements are approved by `approver` and `leader_group`; evidence files up to 50 MB."""
    cfg = load_intake()
    assert cfg.statements.approver_roles == ["approver", "leader_group"]
    assert cfg.evidence.max_bytes == 50 * 1024 * 1024
