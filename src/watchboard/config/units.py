"""units.toml: the units that own or assist with incidents, and the routing steps' order, checked.

How an incident is routed to a unit is `watchboard.domain.owners`; this module says what the
file may hold.
"""

from __future__ import annotations

import re

import msgspec

from watchboard.config.loader import ConfigError, Source, load
from watchboard.domain.report import TOPICS

# The routing steps, in their default order (`domain.owners` explains each).
STEPS: tuple[str, ...] = ("unit_hint", "cross_region", "region", "topic", "keywords")
_NOT_ONE_TOKEN = re.compile(r"[,，、;；/\s]")


class Unit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    name_en: str = ""
    short: str = ""  # a short name for narrow columns (the board at 80 columns); default: name
    short_en: str = ""
    region: str = ""
    keywords: list[str] = msgspec.field(default_factory=list)
    topics: list[str] = msgspec.field(default_factory=list)
    parent: str = ""
    liaison: str = ""


class UnitsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    office: str = "office"
    order: list[str] = msgspec.field(default_factory=lambda: list(STEPS))
    units: list[Unit] = msgspec.field(default_factory=list)


def check_units(cfg: UnitsConfig, file: str = "units.toml") -> None:
    """Cross-field checks; raise ConfigError naming file, key and the offending value."""

    def fail(key: str, problem: str) -> None:
        raise ConfigError(file, key, problem)

    for i, step in enumerate(cfg.order):
        if step not in STEPS:
            fail(f"order[{i}]", f"{step!r} is not a routing step; one of {', '.join(STEPS)}")
        if step in cfg.order[:i]:
            fail(f"order[{i}]", f"step {step!r} is listed twice")
    seen: dict[str, int] = {}
    regions: dict[str, str] = {}
    for i, unit in enumerate(cfg.units):
        if not unit.id or _NOT_ONE_TOKEN.search(unit.id):
            fail(f"units[{i}].id", f"{unit.id!r} must be one token, without spaces or commas")
        if unit.id in seen:
            fail(f"units[{i}].id", f"duplicate unit id {unit.id!r} (first at units[{seen[unit.id]}])")
        seen[unit.id] = i
        if not unit.name.strip():
            fail(f"units[{i}].name", f"unit {unit.id!r} needs a name")
        if unit.region:
            if unit.region in regions:
                fail(f"units[{i}].region",
                     f"region {unit.region!r} already belongs to unit {regions[unit.region]!r}")
            regions[unit.region] = unit.id
        for j, topic in enumerate(unit.topics):
            if topic not in TOPICS:
                fail(f"units[{i}].topics[{j}]", f"{topic!r} is not a topic; one of {', '.join(TOPICS)}")
        for j, keyword in enumerate(unit.keywords):
            if not keyword.strip():
                fail(f"units[{i}].keywords[{j}]", "empty keyword")
    if cfg.office not in seen:
        fail("office", f"unit {cfg.office!r} is not defined in [[units]]")
    by_id = {u.id: u for u in cfg.units}
    for i, unit in enumerate(cfg.units):
        if unit.parent and unit.parent not in by_id:
            fail(f"units[{i}].parent", f"unknown unit {unit.parent!r}; known: {', '.join(by_id)}")
    for i, unit in enumerate(cfg.units):
        chain = [unit.id]
        node = unit
        while node.parent:
            if node.parent in chain:
                fail(f"units[{i}].parent", f"parent chain of {unit.id!r} loops: "
                     f"{' → '.join([*chain, node.parent])}")
            chain.append(node.parent)
            node = by_id[node.parent]


def load_units(source: Source | None = None) -> UnitsConfig:
    """Load units.toml with the active profile, then run the cross-field checks."""
    return load("units.toml", UnitsConfig, source, check=check_units)
