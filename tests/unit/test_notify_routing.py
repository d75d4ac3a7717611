"""Routing: event type × grade → roles → people (table-driven, default notify.toml)."""

from __future__ import annotations

import pytest

from watchboard.services.notify.routing import roles_for, route
from watchboard.services.notify.settings import load_notify

CFG = load_notify()


@pytest.mark.parametrize(("event", "grade", "roles"), [
    ("incident.graded", "I", ["duty_officer", "leader_group", "upper_level"]),
    ("incident.graded", "II", ["duty_officer", "leader_group"]),
    ("incident.graded", "III", []),
    ("incident.graded", "IV", []),
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
def test_roles_for_default_routes(event: str, grade: str | None, roles: list[str]) -> None:
    """Each event and grade yields the roles DOMAIN.md §6 asks for, in config order."""
    assert roles_for(CFG.routes, event, grade) == roles


@pytest.mark.parametrize(("event", "grade", "unit", "duty", "people", "missing"), [
    ("incident.graded", "I", "education", ["p-li"], ["p-li", "g-leaders", "p-propaganda"], 0),
    ("incident.graded", "II", "education", ["p-wang"], ["p-wang", "g-leaders"], 0),
    ("clock.warning", "III", "education", ["p-li"], ["p-zhang"], 0),
    ("clock.warning", "III", "health", ["p-li"], ["p-zhao"], 0),
    ("clock.breached", "III", "education", ["p-li"], ["p-zhang", "p-office"], 0),
    # no liaison for the unit: the office hears it instead, and the gap is reported
    ("clock.warning", "III", "transport", ["p-li"], ["liaison-transport"], 0),  # from units.toml
    ("clock.warning", "III", "no_such_unit", ["p-li"], ["p-office"], 1),
    ("clock.warning", "III", None, ["p-li"], ["p-office"], 1),
    ("unit.flagged", None, "education", [], ["p-office", "g-leaders"], 0),
    # nobody on duty: reported, the office still hears it
    ("sweep.missed", None, None, [], ["p-office"], 1),
])
def test_route_resolves_people(event: str, grade: str | None, unit: str | None, duty: list[str],
                               people: list[str], missing: int) -> None:
    """Roles become people from the roster, the unit's liaison and people's roles."""
    res = route(CFG, event, grade, unit=unit, on_duty=duty)
    assert [r.person_id for r in res.recipients] == people
    assert len(res.missing) == missing


def test_person_reached_by_two_roles_gets_one_notice() -> None:
    """The office on duty is one recipient carrying both roles."""
    res = route(CFG, "clock.breached", "III", unit="no_such_unit", on_duty=["p-office"])
    assert [(r.person_id, r.roles) for r in res.recipients] == [("p-office", ("owner_liaison", "office"))]
