"""Where config comes from: the only module of `watchboard.config` that reads files or the
environment.

The defaults ship inside the package (`watchboard.defaults`, the repository's `config/`
folder); `--config DIR` overrides them file by file (a file present in DIR replaces the
default file of that name whole). A profile (`profiles/<name>.toml`, one per seed plan) then
overrides only the keys its plan says differently: each top-level table of a profile is
named after the file it amends (`[grading]`, `[deadlines]`, …) and `loader.load` deep-merges
it into that file's data before decoding.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from watchboard.config.loader import DEFAULT_PROFILE, ConfigError


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


def list_profiles(source: ConfigSource | None = None) -> list[Path]:
    source = source or ConfigSource()
    seen: dict[str, Path] = {}
    for folder in (defaults_dir() / "profiles", (source.config_dir or Path("/nonexistent")) / "profiles"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen[path.stem] = path
    return [seen[k] for k in sorted(seen)]


def env_nats_url(explicit: str | None) -> str:
    return explicit or os.environ.get("WATCHBOARD_NATS") or "nats://127.0.0.1:4222"
