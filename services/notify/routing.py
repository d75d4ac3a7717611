"""Who hears of what (pure): event × grade × sentiment × profile → roles → people.

Routes add up: every route applies whose event matches and whose `grades`, `sentiments` and
`profiles` each include the incident's grade, its sentiment and the active profile (a list
left empty matches anything; a grade or sentiment not known yet matches only an empty list).
Routes are per profile because each plan names its own recipients: seed 000's "特别重大网络
舆情要上报市委宣传部" is plan-000's rule, not plan-001's 一级.

Roles become people: `duty_officer` from the roster at that instant, `owner_liaison` from the
unit concerned, the others from the people's own `roles`. A person reached through several
roles gets one notice, at the highest priority any of those roles was routed with: a route
of `priority = "low"` never lowers what another route sends at once.

A role that reaches nobody (no liaison for the unit, nobody on duty) is returned in
`missing` so the service can say so; a warning for a unit without a liaison goes to the
office instead, so a slipping clock is never heard by no one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

from watchboard.services.notify.settings import NotifyConfig, Route


class Recipient(NamedTuple):
    person_id: str
    roles: tuple[str, ...]
    priority: str = "normal"  # "low" only when every role that reached the person was low


class Resolution(NamedTuple):
    recipients: list[Recipient]
    missing: list[str]  # "role: why nobody", for the log and the operator


class Routed(NamedTuple):
    role: str
    priority: str  # normal | low


def applies(r: Route, event_type: str, grade: str | None, *, profile: str, sentiment: str | None) -> bool:
    """Whether route `r` applies to this event in this profile."""
    return (r.event == event_type
            and (not r.grades or grade in r.grades)
            and (not r.sentiments or sentiment in r.sentiments)
            and (not r.profiles or profile in r.profiles))


def routed_roles(routes: Sequence[Route], event_type: str, grade: str | None, *, profile: str,
                 sentiment: str | None = None) -> list[Routed]:
    """The roles routed for this event, in config order, each once at its highest priority."""
    found: dict[str, str] = {}
    for r in routes:
        if not applies(r, event_type, grade, profile=profile, sentiment=sentiment):
            continue
        for role in r.roles:
            if found.get(role) != "normal":
                found[role] = r.priority
    return [Routed(role, priority) for role, priority in found.items()]


def roles_for(routes: Sequence[Route], event_type: str, grade: str | None, *, profile: str,
              sentiment: str | None = None) -> list[str]:
    """The roles routed for this event, in config order, without repeats."""
    return [r.role for r in routed_roles(routes, event_type, grade, profile=profile, sentiment=sentiment)]


def people_with_role(cfg: NotifyConfig, role: str) -> list[str]:
    return [p.id for p in cfg.people if role in p.roles]


def resolve(cfg: NotifyConfig, roles: list[str], *, unit: str | None,
            on_duty: list[str], low: Collection[str] = ()) -> Resolution:
    """Turn roles into recipients; `unit` is the owning (or reminded, flagged) unit; `low` the
    roles routed at low priority only."""
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
    return Resolution([Recipient(pid, tuple(r), "low" if all(x in low for x in r) else "normal")
                       for pid, r in found.items()], missing)


def route(cfg: NotifyConfig, event_type: str, grade: str | None, *, unit: str | None,
          on_duty: list[str], profile: str, sentiment: str | None = None) -> Resolution:
    """Who hears of `event_type` for an incident of `grade` and `sentiment` under `profile`."""
    routed = routed_roles(cfg.routes, event_type, grade, profile=profile, sentiment=sentiment)
    return resolve(cfg, [r.role for r in routed], unit=unit, on_duty=on_duty,
                   low={r.role for r in routed if r.priority == "low"})
