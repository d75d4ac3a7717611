"""watchboard.toml, file-by-file overrides and profiles: every error names file, key and problem."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

from watchboard.config import (
    ConfigError,
    ConfigSource,
    deep_merge,
    load_watchboard,
    parse_seconds,
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("text", "message"), [
    ('timezone = "Mars/Base"', "key `timezone`: unknown time zone 'Mars/Base'; use an IANA name such as 'Asia/Shanghai'"),
    ('language = "fr"', "key `language`: 'fr' is not one of 'zh', 'en'"),
    ("[stream]\nreplicas = 2", "key `stream.replicas`: 2 is not 1, 3 or 5"),
    ('[stream]\nreplicas = "three"', "key `stream.replicas`: expected `int`, got `str`"),
    ('[stream]\nmax_age = "a year"', "key `stream.max_age`: 'a year' is not a duration like '90s', '10m', '2h' or '365d'"),
    ('[stream]\nsync_interval = "sometimes"', "key `stream.sync_interval`: 'sometimes' is not 'always' or a duration like '2m'"),
    ('subject_prefix = "wb.x"', "key `subject_prefix`: 'wb.x' must be one token, without spaces, dots or wildcards"),
    ('[history]\nboard_retention = "a week"', "key `history.board_retention`: 'a week' is not a duration of a day"),
    ('[history]\nkeep_closed = "2h"', "key `history.keep_closed`: '2h' is not a duration of a day or more"),
    ('[history]\nkeep = "30d"', "object contains unknown field `keep`"),
    ('[recovery]\nreconcile_every = "often"',
     "key `recovery.reconcile_every`: 'often' is not '0' or a duration of a second or more like '30s' or '10m'"),
    ('[recovery]\nreconcile_every = "0.5s"', "key `recovery.reconcile_every`: '0.5s' is not '0' or a duration"),
    ('strem = 1', "object contains unknown field `strem`"),
    ("timezone = ", "not valid TOML"),
])
def test_watchboard_toml_errors(tmp_path: Path, text: str, message: str) -> None:
    """Each bad watchboard.toml stops with the file path, the key and what is wrong."""
    folder = write(tmp_path, "watchboard.toml", text)
    with pytest.raises(ConfigError) as info:
        load_watchboard(ConfigSource(folder))
    assert str(info.value).startswith(str(folder / "watchboard.toml"))
    assert message in str(info.value)


@pytest.mark.parametrize(("text", "seconds"), [
    ("", 600.0), ('[recovery]\nreconcile_every = "30s"', 30.0), ('[recovery]\nreconcile_every = "0"', 0.0),
])
def test_reconcile_every(tmp_path: Path, text: str, seconds: float) -> None:
    cfg = load_watchboard(ConfigSource(write(tmp_path, "watchboard.toml", text)))
    assert cfg.recovery.reconcile_seconds() == seconds


def test_override_is_file_by_file(tmp_path: Path) -> None:
    """A folder with only watchboard.toml keeps every other default file."""
    folder = write(tmp_path, "watchboard.toml", 'language = "en"')
    source = ConfigSource(folder)
    assert load_watchboard(source).language == "en"
    assert source.path_of("grading.toml").parent != folder


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    """A profile that does not exist is named, with the ones that do."""
    with pytest.raises(ConfigError, match=r"--profile: key `profile`: unknown profile 'nope'; known: default, plan-000"):
        ConfigSource(profile="nope").profile_data()


def test_profile_of_the_config_folder(tmp_path: Path) -> None:
    """A profile in --config's profiles/ is found and amends only its own tables."""
    folder = write(tmp_path, "profiles/local.toml", "[meta]\nseed = \"x\"\n[grading.rules.reposts]\nmin_reposts = 50\n")
    data, _ = ConfigSource(folder, "local").profile_data()
    assert data["grading"]["rules"]["reposts"]["min_reposts"] == 50


@pytest.mark.parametrize(("base", "over", "merged"), [
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}, {"a": {"b": 3, "c": 2}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
])
def test_deep_merge(base: dict, over: dict, merged: dict) -> None:
    """Tables merge key by key; arrays and scalars replace."""
    assert deep_merge(base, over) == merged


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("10m", 600), ("2h", 7200), ("365d", 31536000), ("1.5h", 5400),
    ("", None), ("h", None), ("10", None), ("-1m", None), ("tenm", None),
])
def test_parse_seconds(text: str, seconds: float | None) -> None:
    """Durations of watchboard.toml."""
    assert parse_seconds(text) == seconds


# --- every file through the one `load`: the same header ----------------------------------

LOADERS = {name: f"watchboard.config.{name}:load_{name}"
           for name in ("watchboard", "calendar", "deadlines", "grading", "units", "intake")}


def loader_of(name: str) -> Callable[[ConfigSource], object]:
    module, func = LOADERS[name].split(":")
    return getattr(importlib.import_module(module), func)


@pytest.mark.parametrize(("name", "text", "tail"), [
    ("watchboard", 'language = "fr"', "key `language`: 'fr' is not one of 'zh', 'en'"),
    ("calendar", "warn_days_before_end = -1", "key `warn_days_before_end`: -1 is negative"),
    ("deadlines", "reminders_before_flag = 0", "key `reminders_before_flag`: 0 must be 1 or more"),
    ("grading", "[rules.reposts]\nmin_reposts = 0", "key `rules.reposts.min_reposts`: 0 must be 1 or more"),
    ("units", 'office = "nobody"', "key `office`: unit 'nobody' is not defined in [[units]]"),
    ("intake", "[merge]\ntitle_min_chars = 0", "key `merge.title_min_chars`: 0 must be 1 or more"),
    ("intake", "[merge]\nwindw = 1", "key `merge`: object contains unknown field `windw`"),
])
def test_every_file_names_its_path_and_key(tmp_path: Path, name: str, text: str, tail: str) -> None:
    """A bad value in any file of --config DIR gives one line: the file's path, the key, the problem."""
    write(tmp_path, f"{name}.toml", text)
    with pytest.raises(ConfigError) as info:
        loader_of(name)(ConfigSource(tmp_path, profile="default"))
    assert str(info.value) == f"{tmp_path / f'{name}.toml'}: {tail}"


@pytest.mark.parametrize(("name", "table", "tail"), [
    ("calendar", "[calendar]\nwarn_days_before_end = -1", "key `warn_days_before_end`: -1 is negative"),
    ("deadlines", "[deadlines]\nreminders_before_flag = 0", "key `reminders_before_flag`: 0 must be 1 or more"),
    ("grading", "[grading.rules.reposts]\nmin_reposts = 0", "key `rules.reposts.min_reposts`: 0 must be 1 or more"),
    ("units", '[units]\noffice = "nobody"', "key `office`: unit 'nobody' is not defined in [[units]]"),
    ("intake", "[intake.merge]\ntitle_min_chars = 0", "key `merge.title_min_chars`: 0 must be 1 or more"),
])
def test_every_file_names_the_profile_that_amended_it(tmp_path: Path, name: str, table: str, tail: str) -> None:
    """A bad value a profile brings names the default file and the profile file."""
    write(tmp_path, "profiles/bad.toml", table)
    with pytest.raises(ConfigError) as info:
        loader_of(name)(ConfigSource(tmp_path, profile="bad"))
    assert str(info.value) == f"{name}.toml (with profiles/bad.toml): {tail}"


def test_watchboard_toml_takes_no_profile_table(tmp_path: Path) -> None:
    """watchboard.toml names the profile, so a profile's [watchboard] table does not amend it."""
    write(tmp_path, "profiles/p.toml", '[watchboard]\nlanguage = "fr"\n')
    assert loader_of("watchboard")(ConfigSource(tmp_path, profile="p")).language == "zh"
