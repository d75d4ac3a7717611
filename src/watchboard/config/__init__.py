"""Configuration: TOML files decoded into msgspec Structs, with errors a person can act on.

One module per file, each holding that file's Structs, its cross-field check and its loader,
all of the same shape (`load_x(source) = load("x.toml", XConfig, source, check=check_x)`):

    watchboard.py   watchboard.toml   WatchboardConfig   load_watchboard
    calendar.py     calendar.toml     CalendarConfig     load_calendar
    deadlines.py    deadlines.toml    DeadlinesConfig    load_deadlines
    grading.py      grading.toml      GradingConfig      load_grading
    units.py        units.toml        UnitsConfig        load_units
    intake.py       intake.toml       IntakeConfig       load_intake
    (notify.toml is the notify service's own: services/notify/settings.py)

and two modules under them:

    loader.py   `load`, `decode`, `convert`, `deep_merge`, `parse_seconds`, `ConfigError`:
                reads nothing itself, it is handed a source
    files.py    `ConfigSource`, `list_profiles`, `defaults_dir`, `env_nats_url`: the only
                module that reads files or the environment

Config Structs forbid unknown fields, so a typo fails at load time (the opposite of events,
on purpose). Every error names the file, the key and the problem on one line:

    grading.toml: key `thresholds.reposts`: expected `int`, got `str`

The domain imports the per-file modules for their Structs (a rule takes typed config) and
never a loader; this package's names below are therefore resolved lazily, so importing
`watchboard.config.grading` does not import `files.py` (tests/unit/test_layers.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchboard.config.files import ConfigSource, defaults_dir, env_nats_url, list_profiles
    from watchboard.config.loader import (
        DEFAULT_PROFILE,
        ConfigError,
        convert,
        decode,
        deep_merge,
        load,
        parse_seconds,
    )
    from watchboard.config.watchboard import StreamConfig, WatchboardConfig, load_watchboard

# name → the module of this package that defines it
_HOMES: dict[str, str] = {
    "ConfigSource": "files", "defaults_dir": "files", "env_nats_url": "files", "list_profiles": "files",
    "DEFAULT_PROFILE": "loader", "ConfigError": "loader", "convert": "loader", "decode": "loader",
    "deep_merge": "loader", "load": "loader", "parse_seconds": "loader",
    "StreamConfig": "watchboard", "WatchboardConfig": "watchboard", "load_watchboard": "watchboard",
}

__all__ = [
    "DEFAULT_PROFILE", "ConfigError", "ConfigSource", "StreamConfig", "WatchboardConfig", "convert",
    "decode", "deep_merge", "defaults_dir", "env_nats_url", "list_profiles", "load", "load_watchboard",
    "parse_seconds",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found once, then a plain attribute
    return value
