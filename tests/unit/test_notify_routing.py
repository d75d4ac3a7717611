"""Routing: event × grade × sentiment × profile → roles → people (table-driven, default
notify.toml). Each plan's row names the seed section that asks for it."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from watchboard.services.notify.routing import resolve, roles_for, route, routed_roles
from watchboard.services.notify.settings import Person, Route, load_notify

CFG = load_notify()
PROFILES = ["default", "plan-000", "plan-001", "plan-002", "plan-003", "plan-004"]
AT_ONCE = ["duty_officer", "leader_group"]  # DOMAIN.md §6: grade I and II to the leaders at once
SEED_003 = [*AT_ONCE, "upper_level", "propaganda", "legal_referral"]


def shown(profile: str, event: str, grade: str | None, sentiment: str | None) -> list[str]:
    """Routed roles, a low-priority one marked " (low)"."""
    return [r.role + (" (low)" if r.priority == "low" else "")
            for r in routed_roles(CFG.routes, event, grade, profile=profile, sentiment=sentiment)]


@pytest.mark.parametrize(("profile", "grade", "sentiment", "roles"), [
    # default: seed 004's grades, seed 003's clocks and notices
    pytest.param("default", "I", "negative", SEED_003, id="default I neg: seed 003 三(二), 四(三)"),
    pytest.param("default", "II", "negative", SEED_003, id="default II neg: seed 003 四(三) 网宣 网警"),
    pytest.param("default", "II", "positive", AT_ONCE, id="default II pos: seed 003 四(三) names 负面 only"),
    pytest.param("default", "II", "neutral", AT_ONCE, id="default II neutral: seed 003 四(三) names 负面 only"),
    pytest.param("default", "III", "negative", [], id="default III: seed 003 has no rule for it"),
    pytest.param("default", "IV", "negative", [], id="default IV: seed 003 一般 stays with the office"),
    # plan-000
    pytest.param("plan-000", "I", "negative", [*AT_ONCE, "upper_level"],
                 id="plan-000 I: seed 000 预案1 四 第三步 特别重大 上报市委宣传部"),
    pytest.param("plan-000", "II", "negative", AT_ONCE,
                 id="plan-000 II: seed 000 预案1 五.2 the leadership group reports up itself"),
    pytest.param("plan-000", "IV", "negative", ["leader_group (low)"],
                 id="plan-000 IV: seed 000 预案1 四 第三步 第一时间上报领导小组"),
    pytest.param("plan-000", "IV", "positive", ["leader_group (low)"],
                 id="plan-000 IV pos: seed 000 第三步 every item"),
    # plan-001
    pytest.param("plan-001", "I", "negative", AT_ONCE,
                 id="plan-001 I: seed 001 一级 is the leadership group's, not 宣传部"),
    pytest.param("plan-001", "III", "negative", ["leader_group (low)"],
                 id="plan-001 III: seed 001 机关预案 四.1(2) 立即报告领导小组"),
    pytest.param("plan-001", "IV", "neutral", ["leader_group (low)"],
                 id="plan-001 IV: seed 001 机关预案 四.1(2) 立即报告领导小组"),
    # plan-002
    pytest.param("plan-002", "I", "negative", AT_ONCE, id="plan-002 I: seed 002 names no upper level"),
    pytest.param("plan-002", "III", "negative", [], id="plan-002 III: seed 002 names no such notice"),
    # plan-003
    pytest.param("plan-003", "I", "negative", SEED_003, id="plan-003 I neg: seed 003 三(二), 四(三)"),
    pytest.param("plan-003", "II", "negative", SEED_003, id="plan-003 II neg: seed 003 四(三) 网宣 网警"),
    pytest.param("plan-003", "II", "positive", AT_ONCE, id="plan-003 II pos: seed 003 四(三) 负面 only"),
    pytest.param("plan-003", "IV", "negative", [], id="plan-003 IV: seed 003 一般"),
    # plan-004
    pytest.param("plan-004", "I", "negative", [*AT_ONCE, "upper_level"],
                 id="plan-004 I: seed 004 第六篇 (二)研判预警 特别重大 上报"),
    pytest.param("plan-004", "II", "positive", [*AT_ONCE, "upper_level"],
                 id="plan-004 II: seed 004 第六篇 (二)研判预警 重大 上报, any sentiment"),
    pytest.param("plan-004", "III", "negative", ["leader_group (low)"],
                 id="plan-004 III: seed 004 第七篇 第五条 第一时间向领导小组汇报; 较大 酌情上报"),
    pytest.param("plan-004", "IV", "negative", ["leader_group (low)"],
                 id="plan-004 IV: seed 004 第七篇 第五条 第一时间向领导小组汇报"),
])
def test_graded_routes_per_profile(profile: str, grade: str, sentiment: str, roles: list[str]) -> None:
    """A graded incident reaches whom its profile's plan names, at the priority it names."""
    assert shown(profile, "incident.graded", grade, sentiment) == roles


@pytest.mark.parametrize(("profile", "event", "roles"), [
    pytest.param("default", "incident.flagged", ["legal_referral"], id="default: seed 003 三(四) 公安机关"),
    pytest.param("plan-000", "incident.flagged", ["legal_referral"],
                 id="plan-000: seed 000 预案3 四(三)五 报请公安机关依法处置"),
    pytest.param("plan-001", "incident.flagged", [], id="plan-001: seed 001 does not name the police"),
    pytest.param("plan-002", "incident.flagged", [], id="plan-002: seed 002 does not name the police"),
    pytest.param("plan-003", "incident.flagged", ["legal_referral"], id="plan-003: seed 003 三(四) 公安机关"),
    pytest.param("plan-004", "incident.flagged", ["legal_referral"],
                 id="plan-004: seed 004 第六篇 (三)5 报请公安机关依法处置"),
    pytest.param("plan-004", "incident.unflagged", ["legal_referral"], id="plan-004: the police hear it is withdrawn"),
    pytest.param("plan-001", "incident.unflagged", [], id="plan-001: nobody was told, nobody is"),
])
def test_flagged_routes_per_profile(profile: str, event: str, roles: list[str]) -> None:
    """Rumours and illegal content go to the police where the plan refers them, any grade."""
    for grade in ("I", "IV", None):
        assert shown(profile, event, grade, "negative") == roles


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("event", "grade", "roles"), [
    ("incident.assigned", "III", ["owner_liaison"]),
    ("incident.assigned", None, ["owner_liaison"]),
    ("clock.warning", "II", ["owner_liaison"]),
    ("clock.warning", None, ["owner_liaison"]),
    ("clock.breached", "IV", ["owner_liaison", "office"]),
    ("unit.reminded", "III", ["owner_liaison"]),
    ("unit.flagged", None, ["office", "leader_group"]),
    ("sweep.missed", None, ["duty_officer", "office"]),
    ("incident.closed", "I", []),
    ("clock.started", "I", []),
])
def test_routes_every_profile_shares(profile: str, event: str, grade: str | None, roles: list[str]) -> None:
    """Clocks, reminders, assignment and sweeps reach the same roles (DOMAIN.md §6) in every profile."""
    assert roles_for(CFG.routes, event, grade, profile=profile, sentiment="negative") == roles


def test_route_naming_sentiments_needs_a_known_sentiment() -> None:
    """Before grading has said the sentiment, a negative-only route does not fire."""
    assert roles_for(CFG.routes, "incident.graded", "II", profile="plan-003", sentiment=None) == AT_ONCE


@pytest.mark.parametrize(("profile", "event", "grade", "sentiment", "unit", "duty", "people", "missing"), [
    ("plan-000", "incident.graded", "I", "negative", "education", ["p-li"], ["p-li", "g-leaders", "p-propaganda"], 0),
    ("plan-000", "incident.graded", "II", "negative", "education", ["p-wang"], ["p-wang", "g-leaders"], 0),
    # seed 003 四(三): 网宣 and 网警 (the police's 网警 and its liaison hold legal_referral)
    ("plan-003", "incident.graded", "II", "negative", "education", ["p-li"],
     ["p-li", "g-leaders", "p-propaganda", "p-wangxuan", "p-police", "liaison-police"], 0),
    ("plan-004", "incident.flagged", "III", "negative", "education", ["p-li"], ["p-police", "liaison-police"], 0),
    ("default", "clock.warning", "III", "negative", "education", ["p-li"], ["p-zhang"], 0),
    ("default", "clock.warning", "III", "negative", "health", ["p-li"], ["p-zhao"], 0),
    ("default", "clock.breached", "III", "negative", "education", ["p-li"], ["p-zhang", "p-office"], 0),
    # no liaison for the unit: the office hears it instead, and the gap is reported
    ("default", "clock.warning", "III", "negative", "transport", ["p-li"], ["liaison-transport"], 0),  # units.toml
    ("default", "clock.warning", "III", "negative", "no_such_unit", ["p-li"], ["p-office"], 1),
    ("default", "clock.warning", "III", "negative", None, ["p-li"], ["p-office"], 1),
    ("default", "unit.flagged", None, None, "education", [], ["p-office", "g-leaders"], 0),
    # nobody on duty: reported, the office still hears it
    ("default", "sweep.missed", None, None, None, [], ["p-office"], 1),
])
def test_route_resolves_people(profile: str, event: str, grade: str | None, sentiment: str | None,
                               unit: str | None, duty: list[str], people: list[str], missing: int) -> None:
    """Roles become people from the roster, the unit's liaison and people's roles."""
    res = route(CFG, event, grade, unit=unit, on_duty=duty, profile=profile, sentiment=sentiment)
    assert [r.person_id for r in res.recipients] == people
    assert len(res.missing) == missing


def test_person_reached_by_two_roles_gets_one_notice() -> None:
    """The office on duty is one recipient carrying both roles."""
    res = route(CFG, "clock.breached", "III", unit="no_such_unit", on_duty=["p-office"], profile="default")
    assert [(r.person_id, r.roles) for r in res.recipients] == [("p-office", ("owner_liaison", "office"))]


def test_low_priority_recipient_from_the_default_config() -> None:
    """plan-004's III item reaches the leadership group as a low-priority notice."""
    res = route(CFG, "incident.graded", "III", unit="education", on_duty=["p-li"], profile="plan-004",
                sentiment="negative")
    assert [(r.person_id, r.priority) for r in res.recipients] == [("g-leaders", "low")]


@pytest.mark.parametrize(("routes", "people"), [
    pytest.param([Route(event="incident.graded", roles=["leader_group"], priority="low")],
                 [("g-leaders", "low")], id="low alone stays low"),
    pytest.param([Route(event="incident.graded", roles=["leader_group"], priority="low"),
                  Route(event="incident.graded", roles=["leader_group"], grades=["III"])],
                 [("g-leaders", "normal")], id="the same role routed normal too: normal"),
    pytest.param([Route(event="incident.graded", roles=["leader_group"], priority="low"),
                  Route(event="incident.graded", roles=["duty_officer"])],
                 [("g-leaders", "low"), ("p-li", "normal")], id="each person at their own priority"),
])
def test_highest_priority_wins(routes: list[Route], people: list[tuple[str, str]]) -> None:
    """A low route never lowers what another route sends at once."""
    cfg = replace(CFG, routes=routes)
    res = route(cfg, "incident.graded", "III", unit=None, on_duty=["p-li"], profile="default")
    assert [(r.person_id, r.priority) for r in res.recipients] == people


def test_person_with_a_low_and_a_normal_role_is_normal() -> None:
    """One person reached as leader (low) and as office (normal) gets one normal notice."""
    both = replace(CFG, people=[Person(id="p-x", name="x", roles=["office", "leader_group"])])
    res = resolve(both, ["leader_group", "office"], unit=None, on_duty=[], low={"leader_group"})
    assert [(r.person_id, r.priority) for r in res.recipients] == [("p-x", "normal")]
