"""Owner routing (DOMAIN.md §3): which unit handles an incident, who assists, and why.

Pure: no I/O. `route_owner` takes an incident's `Features` (or a single `Mention`) and the
units of `units.toml`, and tries the steps of `order` in turn; the first that names a unit
decides, and the reason says which step and what matched:

- `unit_hint`   首问负责制: the hint "education,health" makes the first named unit lead and
                the others assist. Tokens match a unit's id, name or name_en.
- `cross_region` cross-area items go one level up (003: 属地不明显或跨辖区的…由上一级机关处置):
                the report says cross_region, or the mentions name several regions. The units
                of those regions are found; the owner is the parent of a single one, or the
                lowest common ancestor of several; the region units assist. With no known
                region this step passes, and the remit steps below decide.
- `region`      属地管理: the unit whose `region` the incident's region contains (the longest
                match wins, so "仲山镇东村" finds 仲山镇).
- `topic`       谁主管谁负责: the first unit that lists the incident's topic. Topic comes before
                keywords because a monitor chose it on purpose, while keywords are a guess.
- `keywords`    the unit with most distinct keywords found in the title and summary (ties: the
                first unit in the file).
- otherwise the office (`office`), which also takes what no step could place.

When region or cross_region decides, the department found by topic (else keywords) assists:
a town handles a food-safety post with market regulation beside it.

`decide_owner` and `assign` are the command side: rules may re-route as mentions arrive, a
person's assignment (source "person") sticks.
"""

from __future__ import annotations

import re

import msgspec

from watchboard.config.units import Unit, UnitsConfig
from watchboard.domain.errors import Invalid
from watchboard.domain.events import IncidentAssigned, Mention
from watchboard.domain.grading import Features

# Hints list units with commas (or Chinese 、，；): spaces stay inside English names.
_HINT_SPLIT = re.compile(r"[,，、;；/]+")


# --- helpers ----------------------------------------------------------------------------


def unit_by_id(cfg: UnitsConfig) -> dict[str, Unit]:
    return {u.id: u for u in cfg.units}


def unit_name(unit_id: str, cfg: UnitsConfig, lang: str = "zh") -> str:
    """A unit's display name; the id itself for an unknown unit (shown, never a crash)."""
    unit = unit_by_id(cfg).get(unit_id)
    if unit is None:
        return unit_id
    return (unit.name_en or unit.name) if lang == "en" else unit.name


def liaison_of(unit_id: str, cfg: UnitsConfig) -> str | None:
    unit = unit_by_id(cfg).get(unit_id)
    return unit.liaison or None if unit else None


def resolve_unit(token: str, cfg: UnitsConfig) -> Unit | None:
    """A unit by id, name, English name or short name (case-insensitive)."""
    wanted = token.strip().casefold()
    if not wanted:
        return None
    for unit in cfg.units:
        if wanted in (unit.id.casefold(), unit.name.casefold(), unit.name_en.casefold(),
                      unit.short.casefold(), unit.short_en.casefold()):
            return unit
    return None


def _ancestors(unit: Unit, by_id: dict[str, Unit]) -> list[str]:
    """The unit and every unit above it, nearest first (check_units refused loops)."""
    chain = [unit.id]
    while by_id[chain[-1]].parent:
        chain.append(by_id[chain[-1]].parent)
    return chain


# --- routing ----------------------------------------------------------------------------


class Routing(msgspec.Struct, frozen=True, kw_only=True):
    owner: str
    reason: str
    assisting: list[str] = msgspec.field(default_factory=list)
    rule: str = "office"  # the step that decided: one of config.units.STEPS, or "office"


class _Input(msgspec.Struct, frozen=True, kw_only=True):
    unit_hint: str | None
    regions: tuple[str, ...]
    cross_region: bool
    topic: str | None
    text: str


def _input(item: Features | Mention) -> _Input:
    if isinstance(item, Mention):
        regions: tuple[str, ...] = (item.region.strip(),) if item.region and item.region.strip() else ()
        return _Input(unit_hint=item.unit_hint, regions=regions, cross_region=item.cross_region,
                      topic=item.topic, text=f"{item.title}\n{item.summary}")
    return _Input(unit_hint=item.unit_hint, regions=item.regions, cross_region=item.cross_region,
                  topic=item.topic, text=f"{item.title}\n{item.summary}")


def _region_unit(region: str, cfg: UnitsConfig) -> Unit | None:
    matches = [u for u in cfg.units if u.region and u.region in region]
    return max(matches, key=lambda u: len(u.region)) if matches else None


def _topic_unit(inp: _Input, cfg: UnitsConfig) -> tuple[Unit, str] | None:
    if not inp.topic:
        return None
    for unit in cfg.units:
        if inp.topic in unit.topics:
            return unit, f"topic {inp.topic} → {unit.name}"
    return None


def _keyword_unit(inp: _Input, cfg: UnitsConfig) -> tuple[Unit, str] | None:
    text = inp.text.casefold()
    best: tuple[Unit, list[str]] | None = None
    for unit in cfg.units:
        found = [k for k in dict.fromkeys(unit.keywords) if k.strip().casefold() in text]
        if found and (best is None or len(found) > len(best[1])):
            best = (unit, found)
    if best is None:
        return None
    words = ", ".join(f'"{k}"' for k in best[1])
    return best[0], f"keywords {words} → {best[0].name}"


def _remit(inp: _Input, cfg: UnitsConfig) -> Unit | None:
    """The department whose remit the item is (topic, else keywords): it assists a locality."""
    found = _topic_unit(inp, cfg) or _keyword_unit(inp, cfg)
    return found[0] if found else None


def _assist(owner: str, *candidates: str | None) -> list[str]:
    return [c for c in dict.fromkeys(candidates) if c and c != owner]


def _assisting_note(assisting: list[str], by_id: dict[str, Unit]) -> str:
    return f"; assisting: {', '.join(by_id[a].name for a in assisting)}" if assisting else ""


def route_owner(item: Features | Mention, cfg: UnitsConfig) -> Routing:
    """The owning unit, the units that assist, and the reason (which step, what matched)."""
    inp = _input(item)
    by_id = unit_by_id(cfg)
    notes: list[str] = []
    for step in cfg.order:
        if step == "unit_hint" and inp.unit_hint and inp.unit_hint.strip():
            tokens = [t.strip() for t in _HINT_SPLIT.split(inp.unit_hint) if t.strip()]
            units = [u for t in tokens if (u := resolve_unit(t, cfg)) is not None]
            unknown = [t for t in tokens if resolve_unit(t, cfg) is None]
            if not units:
                notes.append(f'unit_hint "{inp.unit_hint.strip()}" matched no unit')
                continue
            lead = units[0]
            assisting = _assist(lead.id, *(u.id for u in units[1:]))
            reason = f'unit_hint "{inp.unit_hint.strip()}" → {lead.name}'
            if assisting:
                reason += f" leads; assisting: {', '.join(by_id[a].name for a in assisting)}"
            if unknown:
                reason += f" (unknown: {', '.join(unknown)})"
            return Routing(owner=lead.id, reason=reason, assisting=assisting, rule=step)
        if step == "cross_region" and (inp.cross_region or len(inp.regions) >= 2):
            units = list({u.id: u for r in inp.regions if (u := _region_unit(r, cfg))}.values())
            why = (f"crosses regions ({', '.join(inp.regions)})" if len(inp.regions) >= 2
                   else f"cross_region reported, region {', '.join(inp.regions) or 'unknown'}")
            if not units:
                notes.append(f"{why}: no known region")
                continue
            if len(units) == 1:
                owner = units[0].parent or cfg.office
            else:
                chains = [_ancestors(u, by_id) for u in units]
                common = [a for a in chains[0] if all(a in c for c in chains[1:])]
                owner = common[0] if common else cfg.office
            remit = _remit(inp, cfg)
            assisting = _assist(owner, *(u.id for u in units), remit.id if remit else None)
            reason = f"{why} → one level up: {by_id[owner].name}" + _assisting_note(assisting, by_id)
            return Routing(owner=owner, reason=reason, assisting=assisting, rule=step)
        if step == "region" and inp.regions:
            unit = _region_unit(inp.regions[0], cfg)
            if unit is None:
                notes.append(f'region "{inp.regions[0]}" matched no unit')
                continue
            remit = _remit(inp, cfg)
            assisting = _assist(unit.id, remit.id if remit else None)
            reason = f'region "{inp.regions[0]}" → {unit.name}' + _assisting_note(assisting, by_id)
            return Routing(owner=unit.id, reason=reason, assisting=assisting, rule=step)
        if step in ("topic", "keywords"):
            found = _topic_unit(inp, cfg) if step == "topic" else _keyword_unit(inp, cfg)
            if found:
                return Routing(owner=found[0].id, reason=found[1], rule=step)
    office = by_id[cfg.office]
    reason = f"no rule matched → office {office.name}"
    if notes:
        reason += f" ({'; '.join(notes)})"
    return Routing(owner=office.id, reason=reason, rule="office")


# --- the command side: rules re-route, a person's assignment sticks -----------------------


class CurrentOwner(msgspec.Struct, frozen=True, kw_only=True):
    owner: str
    source: str = "rules"  # rules | person
    assisting: list[str] = msgspec.field(default_factory=list)


class OwnerDecision(msgspec.Struct, frozen=True, kw_only=True):
    """An owner to publish: the fields of `IncidentAssigned`, plus the actor."""

    owner: str
    previous: str | None
    reason: str
    source: str
    assisting: list[str] = msgspec.field(default_factory=list)
    actor: str = "grading"


def current_owner_from_event(event: IncidentAssigned) -> CurrentOwner:
    return CurrentOwner(owner=event.owner, source=event.source, assisting=list(event.assisting))


def apply_owner(decision: OwnerDecision) -> CurrentOwner:
    return CurrentOwner(owner=decision.owner, source=decision.source, assisting=list(decision.assisting))


def decide_owner(current: CurrentOwner | None, routing: Routing) -> OwnerDecision | None:
    """The rules' routing, unless a person assigned the incident; None when nothing changes."""
    if current is not None and (current.source == "person" or (
            current.owner == routing.owner and current.assisting == routing.assisting)):
        return None
    return OwnerDecision(owner=routing.owner, previous=current.owner if current else None,
                         reason=routing.reason, source="rules", assisting=list(routing.assisting))


def assign(current: CurrentOwner | None, owner: str, actor: str, reason: str, cfg: UnitsConfig,
           assisting: list[str] | tuple[str, ...] = ()) -> OwnerDecision | None:
    """A person puts a unit in charge (by id, name or English name); it sticks from then on."""
    lead = resolve_unit(owner, cfg)
    if lead is None:
        raise Invalid("owner", f"unknown unit {owner!r}; known: {', '.join(u.id for u in cfg.units)}")
    if not actor.strip():
        raise Invalid("actor", "actor is required: who assigns the incident")
    helpers: list[str] = []
    for token in assisting:
        unit = resolve_unit(token, cfg)
        if unit is None:
            raise Invalid("assisting", f"unknown unit {token!r}; known: {', '.join(u.id for u in cfg.units)}")
        helpers.append(unit.id)
    helpers = _assist(lead.id, *helpers)
    if current is not None and current.source == "person" and current.owner == lead.id \
            and current.assisting == helpers:
        return None
    why = f": {reason.strip()}" if reason.strip() else ""
    return OwnerDecision(owner=lead.id, previous=current.owner if current else None,
                         reason=f"assigned by {actor}{why} → {lead.name}", source="person",
                         assisting=helpers, actor=actor)
