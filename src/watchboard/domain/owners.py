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
    reason: str  # in Chinese, for the duty room
    assisting: list[str] = msgspec.field(default_factory=list)
    rule: str = "office"  # the step that decided: one of config.units.STEPS, or "office"
    reason_en: str = ""  # the same in English


# The topics' Chinese names, for the reasons (the board has its own label table).
TOPIC_ZH = {"food_drug": "食品药品", "production_safety": "安全生产", "transport": "交通运输",
            "environment": "生态环境", "land_demolition": "征地拆迁", "public_health": "公共卫生",
            "disaster_relief": "救灾", "education": "教育", "law_enforcement": "执法", "other": "其他"}


class _Say(msgspec.Struct):
    """A reason in both languages, built side by side."""

    zh: str = ""
    en: str = ""

    def add(self, zh: str, en: str) -> _Say:
        return _Say(zh=self.zh + zh, en=self.en + en)


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


def _topic_unit(inp: _Input, cfg: UnitsConfig) -> tuple[Unit, _Say] | None:
    if not inp.topic:
        return None
    for unit in cfg.units:
        if inp.topic in unit.topics:
            return unit, _Say(zh=f"领域 {TOPIC_ZH.get(inp.topic, inp.topic)} → {unit.name}",
                              en=f"topic {inp.topic} → {unit.name}")
    return None


def _keyword_unit(inp: _Input, cfg: UnitsConfig) -> tuple[Unit, _Say] | None:
    text = inp.text.casefold()
    best: tuple[Unit, list[str]] | None = None
    for unit in cfg.units:
        found = [k for k in dict.fromkeys(unit.keywords) if k.strip().casefold() in text]
        if found and (best is None or len(found) > len(best[1])):
            best = (unit, found)
    if best is None:
        return None
    words = ", ".join(f'"{k}"' for k in best[1])
    return best[0], _Say(zh=f"关键词 {'、'.join(f'“{k}”' for k in best[1])} → {best[0].name}",
                         en=f"keywords {words} → {best[0].name}")


def _remit(inp: _Input, cfg: UnitsConfig) -> Unit | None:
    """The department whose remit the item is (topic, else keywords): it assists a locality."""
    found = _topic_unit(inp, cfg) or _keyword_unit(inp, cfg)
    return found[0] if found else None


def _assist(owner: str, *candidates: str | None) -> list[str]:
    return [c for c in dict.fromkeys(candidates) if c and c != owner]


def _assisting_note(assisting: list[str], by_id: dict[str, Unit]) -> _Say:
    if not assisting:
        return _Say()
    names = [by_id[a].name for a in assisting]
    return _Say(zh=f"；协办：{'、'.join(names)}", en=f"; assisting: {', '.join(names)}")


def _routing(owner: str, say: _Say, rule: str, assisting: list[str] | None = None) -> Routing:
    return Routing(owner=owner, reason=say.zh, reason_en=say.en, assisting=assisting or [], rule=rule)


def route_owner(item: Features | Mention, cfg: UnitsConfig) -> Routing:
    """The owning unit, the units that assist, and the reason (which step, what matched), in
    Chinese (`reason`) and English (`reason_en`)."""
    inp = _input(item)
    by_id = unit_by_id(cfg)
    notes: list[_Say] = []
    for step in cfg.order:
        if step == "unit_hint" and inp.unit_hint and inp.unit_hint.strip():
            hint = inp.unit_hint.strip()
            tokens = [t.strip() for t in _HINT_SPLIT.split(inp.unit_hint) if t.strip()]
            units = [u for t in tokens if (u := resolve_unit(t, cfg)) is not None]
            unknown = [t for t in tokens if resolve_unit(t, cfg) is None]
            if not units:
                notes.append(_Say(zh=f"单位提示“{hint}”未对应任何单位", en=f'unit_hint "{hint}" matched no unit'))
                continue
            lead = units[0]
            assisting = _assist(lead.id, *(u.id for u in units[1:]))
            say = _Say(zh=f"单位提示“{hint}” → {lead.name}", en=f'unit_hint "{hint}" → {lead.name}')
            if assisting:
                names = [by_id[a].name for a in assisting]
                say = say.add(f" 牵头；协办：{'、'.join(names)}", f" leads; assisting: {', '.join(names)}")
            if unknown:
                say = say.add(f"（未识别：{'、'.join(unknown)}）", f" (unknown: {', '.join(unknown)})")
            return _routing(lead.id, say, step, assisting)
        if step == "cross_region" and (inp.cross_region or len(inp.regions) >= 2):
            units = list({u.id: u for r in inp.regions if (u := _region_unit(r, cfg))}.values())
            if len(inp.regions) >= 2:
                why = _Say(zh=f"跨地区（{'、'.join(inp.regions)}）", en=f"crosses regions ({', '.join(inp.regions)})")
            else:
                why = _Say(zh=f"报告称跨地区，地区 {'、'.join(inp.regions) or '未知'}",
                           en=f"cross_region reported, region {', '.join(inp.regions) or 'unknown'}")
            if not units:
                notes.append(why.add("：无已知地区", ": no known region"))
                continue
            if len(units) == 1:
                owner = units[0].parent or cfg.office
            else:
                chains = [_ancestors(u, by_id) for u in units]
                common = [a for a in chains[0] if all(a in c for c in chains[1:])]
                owner = common[0] if common else cfg.office
            remit = _remit(inp, cfg)
            assisting = _assist(owner, *(u.id for u in units), remit.id if remit else None)
            say = why.add(f" → 上一级：{by_id[owner].name}", f" → one level up: {by_id[owner].name}")
            return _routing(owner, say.add(**_kw(_assisting_note(assisting, by_id))), step, assisting)
        if step == "region" and inp.regions:
            region = inp.regions[0]
            unit = _region_unit(region, cfg)
            if unit is None:
                notes.append(_Say(zh=f"地区“{region}”未对应任何单位", en=f'region "{region}" matched no unit'))
                continue
            remit = _remit(inp, cfg)
            assisting = _assist(unit.id, remit.id if remit else None)
            say = _Say(zh=f"属地“{region}” → {unit.name}", en=f'region "{region}" → {unit.name}')
            return _routing(unit.id, say.add(**_kw(_assisting_note(assisting, by_id))), step, assisting)
        if step in ("topic", "keywords"):
            found = _topic_unit(inp, cfg) if step == "topic" else _keyword_unit(inp, cfg)
            if found:
                return _routing(found[0].id, found[1], step)
    office = by_id[cfg.office]
    say = _Say(zh=f"无规则命中 → 办公室 {office.name}", en=f"no rule matched → office {office.name}")
    if notes:
        say = say.add(f"（{'；'.join(n.zh for n in notes)}）", f" ({'; '.join(n.en for n in notes)})")
    return _routing(office.id, say, "office")


def _kw(say: _Say) -> dict[str, str]:
    return {"zh": say.zh, "en": say.en}


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
    reason_en: str = ""


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
                         reason=routing.reason, reason_en=routing.reason_en, source="rules",
                         assisting=list(routing.assisting))


def _names_zh(cfg: UnitsConfig) -> str:
    """The units as a Chinese reader names them (an assignment accepts the name as well as the id)."""
    return "、".join(u.name for u in cfg.units)


def assign(current: CurrentOwner | None, owner: str, actor: str, reason: str, cfg: UnitsConfig,
           assisting: list[str] | tuple[str, ...] = ()) -> OwnerDecision | None:
    """A person puts a unit in charge (by id, name or English name); it sticks from then on."""
    lead = resolve_unit(owner, cfg)
    if lead is None:
        raise Invalid("owner", f"unknown unit {owner!r}; known: {', '.join(u.id for u in cfg.units)}",
                      zh=f"没有 {owner!r} 这个单位；可选：{_names_zh(cfg)}")
    if not actor.strip():
        raise Invalid("actor", "actor is required: who assigns the incident",
                      zh="未填写操作人：请注明由谁分派（`--actor 姓名`）")
    helpers: list[str] = []
    for token in assisting:
        unit = resolve_unit(token, cfg)
        if unit is None:
            raise Invalid("assisting", f"unknown unit {token!r}; known: {', '.join(u.id for u in cfg.units)}",
                          zh=f"协办单位 {token!r} 不存在；可选：{_names_zh(cfg)}")
        helpers.append(unit.id)
    helpers = _assist(lead.id, *helpers)
    if current is not None and current.source == "person" and current.owner == lead.id \
            and current.assisting == helpers:
        return None
    why, why_zh = (f": {reason.strip()}", f"：{reason.strip()}") if reason.strip() else ("", "")
    return OwnerDecision(owner=lead.id, previous=current.owner if current else None,
                         reason=f"{actor} 指定{why_zh} → {lead.name}",
                         reason_en=f"assigned by {actor}{why} → {lead.name}", source="person",
                         assisting=helpers, actor=actor)
