"""The one way a TOML file becomes a checked Struct: `load(name, Type, source, check=)`.

    source.read(name)            the file's data (the default one, or --config DIR's)
      + the profile's [name]     deep-merged into it (`deep_merge`)
      → msgspec.convert          strict, unknown fields refused (`convert`)
      → check(cfg, shown)        the cross-field checks of that file's module

Every step names what it refuses the same way, on one line (`ConfigError`):

    grading.toml: key `rules.reposts.min_reposts`: expected `int`, got `str`
    deadlines.toml (with profiles/plan-002.toml): key `grades.II.first_response`: '3x' is not a duration…

This module reads nothing itself: the data comes from the `source` it is handed (a
`ConfigSource`, in `files.py`). That is what lets the per-file modules — which import this
one — be imported by the domain for their Structs without importing a file reader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import msgspec

from watchboard.domain.errors import split_msgspec_error

T = TypeVar("T")

DEFAULT_PROFILE = "default"


class ConfigError(Exception):
    """A configuration problem: which file, which key, what is wrong."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: key `{key}`: " if key else f"{file}: "
        super().__init__(where + problem)


class Source(Protocol):
    """Where `load` gets data from (`files.ConfigSource`; a test may hand in its own)."""

    def read(self, name: str) -> tuple[dict[str, Any], str]: ...

    def profile_data(self) -> tuple[dict[str, Any], str]: ...


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base's."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def convert(data: dict[str, Any], type_: type[T], file: str) -> T:
    """Strict decoding; msgspec's error becomes `file: key \\`path\\`: problem`, lowercased."""
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        problem, key = split_msgspec_error(exc)
        raise ConfigError(file, key or None, problem[:1].lower() + problem[1:]) from exc


def decode(data: dict[str, Any], type_: type[T], file: str,
           check: Callable[[T, str], object] | None = None) -> T:
    """Already-parsed TOML data → the checked Struct (what `load` does once it has the data)."""
    cfg = convert(data, type_, file)
    if check is not None:
        check(cfg, file)
    return cfg


def or_default(source: Source | None) -> Source:
    """`source`, or the shipped defaults without a --config folder or --profile."""
    if source is None:
        # Imported here rather than at the top so that importing a per-file module (which
        # the domain does, for its Structs) imports no file reader.
        from watchboard.config.files import ConfigSource

        return ConfigSource()
    return source


def load(name: str, type_: type[T], source: Source | None = None,
         check: Callable[[T, str], object] | None = None, *, with_profile: bool = True) -> T:
    """Load `name` (e.g. "grading.toml") into `type_`, with the active profile applied.

    `check(cfg, shown)` runs the cross-field checks; `shown` is the file as errors name it
    (the --config path when the file comes from there, and the profile that amended it), so
    they say where to look. `with_profile=False` for watchboard.toml: it names the profile."""
    source = or_default(source)
    data, shown = source.read(name)
    if with_profile:
        profile, profile_file = source.profile_data()
        section = profile.get(name.removesuffix(".toml"))
        if isinstance(section, dict):
            data = deep_merge(data, section)
            shown = f"{shown} (with {profile_file})"
    return decode(data, type_, shown, check)


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
