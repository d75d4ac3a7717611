"""Who hears of what (pure): event type × grade → roles → people.

Routes add up: every route whose event matches and whose grades include the incident's
grade (or that names no grades) contributes its roles. Roles become people: `duty_officer`
from the roster at that instant, `owner_liaison` from the unit concerned, the others from
the people's own `roles`. A person reached through several roles gets one notice.

A role that reaches nobody (no liaison for the unit, nobody on duty) is returned in
`missing` so the service can say so; a warning for a unit without a liaison goes to the
office instead, so a slipping clock is never heard by no one.
"""

from __future__ import annotations

from typing import NamedTuple

from watchboard.services.notify.settings import NotifyConfig, Route


class Recipient(NamedTuple):
    person_id: str
    roles: tuple[str, ...]


class Resolution(NamedTuple):
    recipients: list[Recipient]
    missing: list[str]  # "role: why nobody", for the log and the operator


def roles_for(routes: list[Route], event_type: str, grade: str | None) -> list[str]:
    """The roles routed for this event and grade, in config order, without repeats."""
    roles: list[str] = []
    for route in routes:
        if route.event != event_type:
            continue
        if route.grades and grade not in route.grades:
            continue
        roles.extend(r for r in route.roles if r not in roles)
    return roles


def people_with_role(cfg: NotifyConfig, role: str) -> list[str]:
    return [p.id for p in cfg.people if role in p.roles]


def resolve(cfg: NotifyConfig, roles: list[str], *, unit: str | None,
            on_duty: list[str]) -> Resolution:
    """Turn roles into recipients; `unit` is the owning (or reminded, flagged) unit."""
    found: dict[str, list[str]] = {}
    missing: list[str] = []

    def add(pid: str, role: str) -> None:
        found.setdefault(pid, [])
        if role not in found[pid]:
            found[pid].append(role)

    for role in roles:
        if role == "duty_officer":
            people = on_duty
        elif role == "owner_liaison":
            liaison = cfg.liaisons.get(unit) if unit else None
            if liaison is None:
                missing.append(f"owner_liaison: no liaison for unit {unit!r}; sent to the office")
                people = people_with_role(cfg, "office")
            else:
                people = [liaison]
        else:
            people = people_with_role(cfg, role)
        if not people:
            missing.append(f"{role}: nobody has this role" if role != "duty_officer"
                           else "duty_officer: nobody on duty and no roster fallback")
        for pid in people:
            add(pid, role)
    return Resolution([Recipient(pid, tuple(r)) for pid, r in found.items()], missing)


def route(cfg: NotifyConfig, event_type: str, grade: str | None, *, unit: str | None,
          on_duty: list[str]) -> Resolution:
    return resolve(cfg, roles_for(cfg.routes, event_type, grade), unit=unit, on_duty=on_duty)
