"""Owner routing: every step of the order, cross-region one level up, office fallback, config errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
import pytest

from watchboard.config import ConfigSource
from watchboard.config.grading import KEY_AREAS
from watchboard.config.units import UnitsConfig, load_units
from watchboard.domain.errors import Invalid
from watchboard.domain.events import IncidentAssigned, Mention
from watchboard.domain.grading import fold_features
from watchboard.domain.owners import (
    CurrentOwner,
    Routing,
    apply_owner,
    assign,
    current_owner_from_event,
    decide_owner,
    liaison_of,
    route_owner,
    unit_name,
)

T0 = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
UNITS = load_units(ConfigSource(profile="default"))


def m(**kw: object) -> Mention:
    """A Weibo mention with a neutral title (no unit's keywords)."""
    kw.setdefault("title", "有网友发帖反映情况")
    return Mention(platform="weibo", **kw)  # type: ignore[arg-type]


ROUTE_CASES = [
    # (id, mention, owner, assisting, rule, reason)
    ("hint by id", m(unit_hint="education"), "education", [], "unit_hint", 'unit_hint "education" → 县教育局'),
    ("hint first leads", m(unit_hint="education,health"), "education", ["health"], "unit_hint",
     'unit_hint "education,health" → 县教育局 leads; assisting: 县卫生健康委员会'),
    ("hint Chinese separators", m(unit_hint="market、 health，police"), "market", ["health", "police"], "unit_hint",
     'unit_hint "market、 health，police" → 县市场监督管理局 leads; assisting: 县卫生健康委员会, 县公安局'),
    ("hint by name", m(unit_hint="县教育局"), "education", [], "unit_hint", 'unit_hint "县教育局" → 县教育局'),
    ("hint by English name, any case", m(unit_hint="county transport bureau"), "transport", [], "unit_hint",
     'unit_hint "county transport bureau" → 县交通运输局'),
    ("hint unknown token noted", m(unit_hint="foo,education"), "education", [], "unit_hint",
     'unit_hint "foo,education" → 县教育局 (unknown: foo)'),
    ("hint repeated", m(unit_hint="health,health"), "health", [], "unit_hint", None),
    ("hint wins over region", m(unit_hint="police", region="仲山镇"), "police", [], "unit_hint", None),
    ("hint unknown falls through", m(unit_hint="nobody", region="河西镇"), "hexi", [], "region", None),
    ("region", m(region="仲山镇"), "zhongshan", [], "region", 'region "仲山镇" → 仲山镇人民政府'),
    ("region contained", m(region="青溪县仲山镇东村"), "zhongshan", [], "region", None),
    ("region with remit assisting", m(region="城关镇", topic="food_drug"), "chengguan", ["market"], "region",
     'region "城关镇" → 城关镇人民政府; assisting: 县市场监督管理局'),
    ("region with keyword assisting", m(region="石桥乡", title="石桥乡一工地塌方"), "shiqiao", ["emergency"],
     "region", None),
    ("unknown region falls to topic", m(region="杭州", topic="environment"), "environment", [], "topic",
     "topic environment → 县生态环境分局"),
    ("cross flag goes one level up", m(region="仲山镇", cross_region=True), "office", ["zhongshan"], "cross_region",
     "cross_region reported, region 仲山镇 → one level up: 县政府办公室; assisting: 仲山镇人民政府"),
    ("cross flag, no known region, remit decides", m(region="杭州", cross_region=True, topic="transport"),
     "transport", [], "topic", None),
    ("cross flag, no region at all", m(cross_region=True), "office", [], "office",
     "no rule matched → office 县政府办公室 (cross_region reported, region unknown: no known region)"),
    ("topic", m(topic="land_demolition"), "resources", [], "topic", "topic land_demolition → 县自然资源局(征收办)"),
    ("topic before keywords", m(topic="public_health", title="学校门口拆迁"), "health", [], "topic", None),
    ("topic nobody owns", m(topic="other", title="某地小学招生"), "education", [], "keywords", None),
    ("keywords", m(title="某饭店使用过期食品"), "market", [], "keywords",
     'keywords "食品", "过期", "饭店" → 县市场监督管理局'),
    ("keywords in summary", m(title="求助", summary="小区附近工厂排污严重"), "environment", [], "keywords", None),
    ("keywords most matches win", m(title="中学食堂过期变质食材"), "market", [], "keywords", None),
    ("keywords tie: first unit in file", m(title="学校医院"), "education", [], "keywords", None),
    ("office fallback", m(), "office", [], "office", "no rule matched → office 县政府办公室"),
    ("office fallback notes", m(region="杭州", unit_hint="nobody"), "office", [], "office",
     'no rule matched → office 县政府办公室 (unit_hint "nobody" matched no unit; region "杭州" matched no unit)'),
]


@pytest.mark.parametrize(("mention", "owner", "assisting", "rule", "reason"), [c[1:] for c in ROUTE_CASES],
                         ids=[c[0] for c in ROUTE_CASES])
def test_route_owner(mention: Mention, owner: str, assisting: list[str], rule: str, reason: str | None) -> None:
    """Each step of the default order decides when the earlier ones cannot."""
    routing = route_owner(mention, UNITS)
    assert (routing.owner, routing.assisting, routing.rule) == (owner, assisting, rule)
    if reason is not None:
        assert routing.reason_en == reason
    # The Chinese reason has no English words outside the data it quotes (“…”).
    words = re.sub(r"“[^”]*”|（未识别：[^）]*）", "", routing.reason)
    assert routing.reason and not re.search(r"[A-Za-z]", words), routing.reason


def test_features_crossing_two_regions() -> None:
    """Mentions from two towns: the county office owns, both towns and the remit unit assist."""
    f = fold_features(None, m(region="仲山镇", topic="food_drug"), T0)
    f = fold_features(f, m(region="城关镇"), T0)
    routing = route_owner(f, UNITS)
    assert routing == Routing(
        owner="office", assisting=["zhongshan", "chengguan", "market"], rule="cross_region",
        reason_en="crosses regions (仲山镇, 城关镇) → one level up: 县政府办公室; "
                  "assisting: 仲山镇人民政府, 城关镇人民政府, 县市场监督管理局",
        reason="跨地区（仲山镇、城关镇） → 上一级：县政府办公室；协办：仲山镇人民政府、城关镇人民政府、县市场监督管理局")


def test_features_use_first_hint() -> None:
    """The first unit hint given for an incident decides (首问负责制)."""
    f = fold_features(None, m(unit_hint="health"), T0)
    f = fold_features(f, m(unit_hint="police"), T0)
    assert route_owner(f, UNITS).owner == "health"


# A deeper tree: city → two counties → towns, to see "one level up" and common parents.
TREE = msgspec.convert({
    "office": "city",
    "units": [
        {"id": "city", "name": "市政府办公室"},
        {"id": "county_a", "name": "甲县", "region": "甲县", "parent": "city"},
        {"id": "county_b", "name": "乙县", "region": "乙县", "parent": "city"},
        {"id": "town_a1", "name": "甲一镇", "region": "甲一镇", "parent": "county_a"},
        {"id": "town_a2", "name": "甲二镇", "region": "甲二镇", "parent": "county_a"},
        {"id": "town_b1", "name": "乙一镇", "region": "乙一镇", "parent": "county_b"},
        {"id": "island", "name": "孤岛", "region": "孤岛"},
    ],
}, UnitsConfig)

TREE_CASES = [
    ("single town crossing → its county", ["甲一镇"], True, "county_a", ["town_a1"]),
    ("two towns of one county → the county", ["甲一镇", "甲二镇"], False, "county_a", ["town_a1", "town_a2"]),
    ("towns of two counties → the city", ["甲一镇", "乙一镇"], False, "city", ["town_a1", "town_b1"]),
    ("county and its town → the county", ["甲县", "甲一镇"], False, "county_a", ["town_a1"]),
    ("root region crossing → office", ["孤岛"], True, "city", ["island"]),
    ("no common parent → office", ["孤岛", "甲一镇"], False, "city", ["island", "town_a1"]),
    ("unknown region ignored", ["甲一镇", "杭州"], False, "county_a", ["town_a1"]),
]


@pytest.mark.parametrize(("regions", "flag", "owner", "assisting"), [c[1:] for c in TREE_CASES],
                         ids=[c[0] for c in TREE_CASES])
def test_cross_region_one_level_up(regions: list[str], flag: bool, owner: str, assisting: list[str]) -> None:
    """Crossing regions goes to the parent of one region unit, or the common parent of several."""
    f = None
    for region in regions:
        f = fold_features(f, m(region=region, cross_region=flag), T0)
    assert f is not None
    routing = route_owner(f, TREE)
    assert (routing.owner, routing.assisting, routing.rule) == (owner, assisting, "cross_region")


def test_custom_order_region_first() -> None:
    """With 属地 first (plan-004), the region beats the unit hint."""
    cfg = msgspec.structs.replace(UNITS, order=["cross_region", "region", "unit_hint", "topic", "keywords"])
    assert route_owner(m(unit_hint="police", region="仲山镇"), cfg).owner == "zhongshan"
    assert route_owner(m(unit_hint="police"), cfg).owner == "police"


def test_plan_004_routes_by_region_first() -> None:
    """plan-004's units order puts the region before the hint."""
    cfg = load_units(ConfigSource(profile="plan-004"))
    assert cfg.units == UNITS.units
    assert route_owner(m(unit_hint="police", region="河西镇"), cfg).owner == "hexi"


def test_step_left_out_never_decides() -> None:
    """A step missing from `order` is skipped."""
    cfg = msgspec.structs.replace(UNITS, order=["unit_hint", "keywords"])
    assert route_owner(m(region="仲山镇", topic="transport"), cfg).owner == "office"


def test_sample_units_cover_every_key_area() -> None:
    """The sample county has an owner for each key-area topic, and a liaison for every unit."""
    for topic in KEY_AREAS:
        assert route_owner(m(topic=topic), UNITS).rule == "topic", topic
    assert all(liaison_of(u.id, UNITS) for u in UNITS.units)


@pytest.mark.parametrize(("unit", "lang", "name"), [
    ("education", "zh", "县教育局"), ("education", "en", "County Education Bureau"), ("ghost", "zh", "ghost"),
])
def test_unit_name(unit: str, lang: str, name: str) -> None:
    """Display names by language; an unknown id shows as itself."""
    assert unit_name(unit, UNITS, lang) == name


# --- decide_owner / assign ---------------------------------------------------------------


R_TOWN = Routing(owner="zhongshan", reason="region", assisting=[], rule="region")
R_UP = Routing(owner="office", reason="up", assisting=["zhongshan"], rule="cross_region")

DECIDE_CASES = [
    ("first routing", None, R_TOWN, ("zhongshan", None)),
    ("same routing", CurrentOwner(owner="zhongshan"), R_TOWN, None),
    ("rules re-route", CurrentOwner(owner="zhongshan"), R_UP, ("office", "zhongshan")),
    ("assisting changes", CurrentOwner(owner="office"), R_UP, ("office", "office")),
    ("person sticks", CurrentOwner(owner="police", source="person"), R_UP, None),
]


@pytest.mark.parametrize(("current", "routing", "expected"), [c[1:] for c in DECIDE_CASES],
                         ids=[c[0] for c in DECIDE_CASES])
def test_decide_owner(current: CurrentOwner | None, routing: Routing, expected: tuple[str, str | None] | None) -> None:
    """The rules' routing is published when it changes, unless a person assigned the incident."""
    decision = decide_owner(current, routing)
    if expected is None:
        assert decision is None
    else:
        assert decision is not None
        assert (decision.owner, decision.previous, decision.source) == (*expected, "rules")
        assert decision.assisting == routing.assisting


def test_assign_sticks_and_round_trips() -> None:
    """A person's assignment by name resolves to the id, sticks, and replays from its event."""
    decision = assign(CurrentOwner(owner="office"), "县公安局", "li", "涉嫌造谣", UNITS, assisting=["cac", "police"])
    assert decision is not None
    assert (decision.owner, decision.previous, decision.source, decision.assisting) == (
        "police", "office", "person", ["cac"])
    assert decision.reason_en == "assigned by li: 涉嫌造谣 → 县公安局"
    assert decision.reason == "li 指定：涉嫌造谣 → 县公安局"
    state = apply_owner(decision)
    assert decide_owner(state, R_UP) is None
    assert assign(state, "police", "li", "", UNITS, assisting=["cac"]) is None
    event = IncidentAssigned(id="e", incident_id="i", at=T0, actor="li", owner=decision.owner,
                             previous=decision.previous, reason=decision.reason, source=decision.source,
                             assisting=decision.assisting)
    assert current_owner_from_event(event) == state


@pytest.mark.parametrize(("owner", "actor", "assisting", "field", "message"), [
    ("ghost", "li", [], "owner", "unknown unit 'ghost'; known: office, cac, education"),
    ("police", "li", ["ghost"], "assisting", "unknown unit 'ghost'; known: office"),
    ("police", "", [], "actor", "actor is required: who assigns the incident"),
])
def test_assign_refuses(owner: str, actor: str, assisting: list[str], field: str, message: str) -> None:
    """An unknown unit or a missing actor is refused, naming the field."""
    with pytest.raises(Invalid, match=re.escape(message)) as info:
        assign(None, owner, actor, "", UNITS, assisting=assisting)
    assert info.value.field == field
    assert info.value.message.startswith(message)  # the message itself, not "field: message"
