"""The people of notify.toml (`[[people]]`: id, name, roles) for the services that decide by
role — intake asks it who may approve a statement.

notify.toml belongs to the notify service, which checks the whole file
(`services/notify/settings.py`, roles included); this module reads only the people, ignoring
every other key and every other field of a person, so a setting of notify's never stops
intake. Like every config module it reads through the source it is handed (the active
profile's `[notify]` table amends the file, as for notify).
"""

from __future__ import annotations

import msgspec

from watchboard.config.loader import ConfigError, Source, load


class Person(msgspec.Struct, kw_only=True, frozen=True):
    """A person as far as roles go (contacts and the rest are notify's)."""

    id: str
    name: str
    roles: tuple[str, ...] = ()


class PeopleConfig(msgspec.Struct, kw_only=True, frozen=True):
    people: tuple[Person, ...] = ()

    def find(self, actor: str) -> Person | None:
        """The person whose id is `actor`, else whose name is (ids are unique, names should be)."""
        actor = actor.strip()
        if not actor:
            return None
        return next((p for p in self.people if p.id == actor), None) \
            or next((p for p in self.people if p.name == actor), None)


def check_people(cfg: PeopleConfig, file: str = "notify.toml") -> None:
    seen: set[str] = set()
    for i, p in enumerate(cfg.people):
        if not p.id.strip():
            raise ConfigError(file, f"people[{i}].id", "is empty; give each person an id")
        if p.id in seen:
            raise ConfigError(file, f"people[{i}].id", f"person {p.id!r} is defined twice")
        seen.add(p.id)


def load_people(source: Source | None = None) -> PeopleConfig:
    """notify.toml's people (with the active profile's `[notify]` table), checked."""
    return load("notify.toml", PeopleConfig, source, check=check_people)
