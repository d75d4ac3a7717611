"""Configuration: TOML files decoded into msgspec structs, with errors a person can act on.

Where files come from: the defaults ship inside the package (`watchboard.defaults`, the
repository's `config/` folder); `--config DIR` overrides them file by file (a file present
in DIR replaces the default file of that name whole). A profile (`profiles/<name>.toml`,
one per seed plan) then overrides only the keys its plan says differently: each top-level
table of a profile is named after the file it amends (`[grading]`, `[deadlines]`, …) and is
deep-merged into that file's data before decoding.

Config structs forbid unknown fields, so a typo fails at load time (the opposite of
events, on purpose). Every error names the file, the key and the problem on one line:

    grading.toml: key `thresholds.reposts`: expected `int`, got `str`
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

T = TypeVar("T")

DEFAULT_PROFILE = "default"


class ConfigError(Exception):
    """A configuration problem: which file, which key, what is wrong."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: key `{key}`: " if key else f"{file}: "
        super().__init__(where + problem)


def defaults_dir() -> Path:
    return Path(str(resources.files("watchboard.defaults")))


@dataclass(frozen=True)
class ConfigSource:
    """Where to read config from: an optional override folder and a profile name."""

    config_dir: Path | None = None
    profile: str | None = None

    def path_of(self, name: str) -> Path:
        if self.config_dir is not None:
            candidate = self.config_dir / name
            if candidate.is_file():
                return candidate
        return defaults_dir() / name

    def read(self, name: str) -> tuple[dict[str, Any], str]:
        """The parsed TOML of `name` and the path shown in errors."""
        path = self.path_of(name)
        shown = str(path) if self.config_dir is not None and path.parent == self.config_dir else name
        if not path.is_file():
            raise ConfigError(shown, None, "file not found")
        try:
            return tomllib.loads(path.read_text(encoding="utf-8")), shown
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(shown, None, f"not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(shown, None, "not UTF-8 text") from exc

    def profile_name(self) -> str:
        if self.profile:
            return self.profile
        data, _ = self.read("watchboard.toml")
        name = data.get("profile", DEFAULT_PROFILE)
        return name if isinstance(name, str) else DEFAULT_PROFILE

    def profile_data(self) -> tuple[dict[str, Any], str]:
        name = self.profile_name()
        if name == DEFAULT_PROFILE:
            return {}, ""
        file = f"profiles/{name}.toml"
        path = self.path_of(file)
        if not path.is_file():
            known = ", ".join(["default", *(p.stem for p in list_profiles(self))])
            where = "--profile" if self.profile else self.read("watchboard.toml")[1]
            raise ConfigError(where, "profile", f"unknown profile {name!r}; known: {known}")
        return self.read(file)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base's."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _msgspec_problem(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    """'Expected `int`, got `str` - at `$.a.b[0]`' → ('a.b[0]', 'expected `int`, got `str`')."""
    text = str(exc)
    problem, sep, where = text.rpartition(" - at `")
    if not sep:
        return None, text[:1].lower() + text[1:]
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    return key or None, problem[:1].lower() + problem[1:]


def convert(data: dict[str, Any], type_: type[T], file: str) -> T:
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        key, problem = _msgspec_problem(exc)
        raise ConfigError(file, key, problem) from exc


def load(name: str, type_: type[T], source: ConfigSource | None = None,
         check: Callable[[T, str], object] | None = None) -> T:
    """Load `name` (e.g. "grading.toml") into `type_`, with the active profile applied.

    `check(cfg, shown)` runs the cross-field checks; `shown` is the file as errors name it
    (with the profile that amended it), so they say where to look."""
    source = source or ConfigSource()
    data, shown = source.read(name)
    profile, profile_file = source.profile_data()
    section = profile.get(name.removesuffix(".toml"))
    if isinstance(section, dict):
        data = deep_merge(data, section)
        shown = f"{shown} (with {profile_file})"
    cfg = convert(data, type_, shown)
    if check is not None:
        check(cfg, shown)
    return cfg


def list_profiles(source: ConfigSource | None = None) -> list[Path]:
    source = source or ConfigSource()
    seen: dict[str, Path] = {}
    for folder in (defaults_dir() / "profiles", (source.config_dir or Path("/nonexistent")) / "profiles"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen[path.stem] = path
    return [seen[k] for k in sorted(seen)]


# --- watchboard.toml ----------------------------------------------------------------


class StreamConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    replicas: int = 1
    max_age: str = "365d"  # how long events are kept; "0" keeps them for ever
    duplicate_window: str = "10m"
    # nats-server `jetstream.sync_interval`: "always" fsyncs every write (see README).
    sync_interval: str = "always"


class WatchboardConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject_prefix: str = "wb"
    timezone: str = "Asia/Shanghai"
    language: str = "zh"
    profile: str = DEFAULT_PROFILE
    nats_url: str = "nats://127.0.0.1:4222"
    stream: StreamConfig = msgspec.field(default_factory=StreamConfig)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_watchboard(source: ConfigSource | None = None) -> WatchboardConfig:
    source = source or ConfigSource()
    data, shown = source.read("watchboard.toml")
    cfg = convert(data, WatchboardConfig, shown)
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(shown, "timezone", f"unknown time zone {cfg.timezone!r}; "
                          "use an IANA name such as 'Asia/Shanghai'") from exc
    if cfg.language not in ("zh", "en"):
        raise ConfigError(shown, "language", f"{cfg.language!r} is not one of 'zh', 'en'")
    if cfg.stream.replicas not in (1, 3, 5):
        raise ConfigError(shown, "stream.replicas", f"{cfg.stream.replicas} is not 1, 3 or 5")
    for key in ("max_age", "duplicate_window"):
        value = getattr(cfg.stream, key)
        if value != "0" and parse_seconds(value) is None:
            raise ConfigError(shown, f"stream.{key}", f"{value!r} is not a duration like '90s', "
                              "'10m', '2h' or '365d'")
    if cfg.stream.sync_interval != "always" and parse_seconds(cfg.stream.sync_interval) is None:
        raise ConfigError(shown, "stream.sync_interval",
                          f"{cfg.stream.sync_interval!r} is not 'always' or a duration like '2m'")
    if not cfg.subject_prefix or any(c in cfg.subject_prefix for c in " .*>"):
        raise ConfigError(shown, "subject_prefix", f"{cfg.subject_prefix!r} must be one token, "
                          "without spaces, dots or wildcards")
    return cfg


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_seconds(text: str) -> float | None:
    """'90s' → 90, '10m' → 600, '2h' → 7200, '365d' → 31536000; None if malformed."""
    text = text.strip()
    if len(text) < 2 or text[-1] not in _UNITS:
        return None
    try:
        value = float(text[:-1])
    except ValueError:
        return None
    return value * _UNITS[text[-1]] if value >= 0 else None


def env_nats_url(explicit: str | None) -> str:
    return explicit or os.environ.get("WATCHBOARD_NATS") or "nats://127.0.0.1:4222"
