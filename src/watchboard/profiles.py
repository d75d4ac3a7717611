"""What each response-plan profile runs, and where each rule comes from (`watchboard profiles`).

A profile sets only what its plan says (docs/plans.md quotes the seeds); everything else it
runs is a default. This module reads the profile through the same loaders the services use,
so what it prints is what runs — never what a summary claims:

- `rules`: every grading rule that runs (`kind` "grade", the plan's words in `quote`), every
  clock per grade (`kind` "clock", with `seed_ref` and `quote`) and every notify route that
  applies (`kind` "route"), each with `source`: `plan` where the profile's own file (for a
  route: the route's `profiles`) sets it, `default` where the shared config applies;
- `grades`: the grades the profile uses, their labels, and the collapse of the others;
- `not_supported`: what the plan asks that watchboard does not do yet (the profile's
  `[meta] not_supported`).

`due_source` and `load_for_due` give `watchboard due` the config of a named profile.
"""

from __future__ import annotations

import tomllib
from typing import Any

from watchboard.config import ConfigSource, list_profiles
from watchboard.config.calendar import load_calendar
from watchboard.config.deadlines import DeadlinesConfig, load_deadlines, plan_set_clocks
from watchboard.config.grading import RULE_NAMES, load_grading, used_grades
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.errors import Invalid
from watchboard.domain.grading import collapse, describe_grades
from watchboard.domain.report import GRADES

DEFAULT_META = {
    "seed": "003+004",
    "title": "默认: 预案004 的四级分级, 预案003 的时限",
    "summary": "the four grades of seed 004 and the clocks of seed 003 (the two plans that define them in full)",
    "not_supported": [],
}


def _meta(name: str, source: ConfigSource) -> dict[str, Any]:
    if name == "default":
        return dict(DEFAULT_META)
    path = next(p for p in list_profiles(source) if p.stem == name)
    return dict(tomllib.loads(path.read_text(encoding="utf-8")).get("meta", {}))


def describe_profile(name: str, source: ConfigSource | None = None) -> dict[str, Any]:
    """One profile as `watchboard profiles --json` prints it."""
    base = source or ConfigSource()
    src = ConfigSource(config_dir=base.config_dir, profile=name)
    meta = _meta(name, src)
    deadlines, grading = load_deadlines(src), load_grading(src)
    own = plan_set_clocks(src)
    profile_data, _ = src.profile_data()
    own_grading = profile_data.get("grading", {}).get("rules", {}) if name != "default" else {}
    rules: list[dict[str, Any]] = []
    for rule_name in RULE_NAMES:
        rule = getattr(grading.rules, rule_name)
        if not rule.enabled:
            continue
        rules.append({
            "kind": "grade", "name": rule_name, "grade": collapse(rule.grade, grading),
            "quote": rule.quote, "quote_en": rule.quote_en,
            "source": "plan" if rule_name in own_grading else "default",
        })
    for grade in used_grades(grading):
        for rule in deadlines.rules_for(grade):
            rules.append({
                "kind": "clock", "grade": grade, "name": rule.name, "period": rule.period,
                "from": rule.counted_from, "extendable": rule.extendable,
                "seed_ref": rule.seed_ref, "quote": rule.quote,
                "source": "plan" if rule.name in own.get(grade, set()) else "default",
            })
    rules += _routes(name, src)
    return {
        "name": name,
        "seed": meta.get("seed", ""),
        "title": meta.get("title", ""),
        "summary": meta.get("summary", ""),
        "grades": describe_grades(grading),
        "collapse": dict(grading.collapse),
        "rules": rules,
        "not_supported": list(meta.get("not_supported", [])),
    }


def _routes(name: str, src: ConfigSource) -> list[dict[str, Any]]:
    """notify.toml's routes that apply under profile `name` (a CLI view: the library reads the
    notify service's config module only here, lazily)."""
    from watchboard.services.notify.settings import load_notify

    out = []
    for route in load_notify(src).routes:
        if route.profiles and name not in route.profiles:
            continue
        out.append({"kind": "route", "event": route.event, "grades": list(route.grades),
                    "sentiments": list(route.sentiments), "roles": list(route.roles),
                    "priority": route.priority, "source": "plan" if route.profiles else "default"})
    return out


def all_profiles(source: ConfigSource | None = None) -> list[dict[str, Any]]:
    source = source or ConfigSource()
    active = source.profile_name()
    out = []
    for name in ["default", *(p.stem for p in list_profiles(source))]:
        entry = describe_profile(name, source)
        entry["active"] = name == active
        out.append(entry)
    return out


def text(profiles: list[dict[str, Any]]) -> str:
    """The human listing: per profile its grades, its own clocks, the defaults it runs, and
    what its plan asks that is not supported."""
    lines: list[str] = []
    for p in profiles:
        mark = "*" if p.get("active") else " "
        lines.append(f"{mark} {p['name']:9} seed {p['seed']:7} {p['title']}")
        lines.append(f"    {p['summary']}")
        grades = ", ".join(f"{g} {v['zh']}" for g, v in p["grades"].items())
        collapsed = ", ".join(f"{a}→{b}" for a, b in p["collapse"].items())
        lines.append(f"    grades: {grades}" + (f" (collapsed: {collapsed})" if collapsed else ""))
        for source, title in (("plan", "its plan's clocks"), ("default", "defaults it runs")):
            by_name: dict[str, list[str]] = {}
            for r in p["rules"]:
                if r["kind"] == "clock" and r["source"] == source:
                    by_name.setdefault(f"{r['name']} {r['period']} from {r['from']}", []).append(r["grade"])
            if by_name:
                shown = "; ".join(f"{k} ({'/'.join(g)})" for k, g in by_name.items())
                lines.append(f"    {title}: {shown}")
        own_grades = [r["name"] for r in p["rules"] if r["kind"] == "grade" and r["source"] == "plan"]
        if own_grades:
            lines.append(f"    its plan's grading rules: {', '.join(own_grades)}")
        routes = [r for r in p["rules"] if r["kind"] == "route" and r["source"] == "plan"]
        for r in routes:
            grades = "/".join(r["grades"]) or "any grade"
            extra = f", {'/'.join(r['sentiments'])}" if r["sentiments"] else ""
            low = " (low priority)" if r["priority"] == "low" else ""
            lines.append(f"    route: {r['event']} {grades}{extra} → {', '.join(r['roles'])}{low}")
        for item in p["not_supported"]:
            lines.append(f"    not supported: {item}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def due_source(profile: str | None, source: ConfigSource | None = None) -> ConfigSource:
    """The config source of profile P (else the active one); Invalid("profile") if P is unknown."""
    base = source or ConfigSource()
    src = ConfigSource(config_dir=base.config_dir, profile=profile or base.profile)
    name = src.profile_name()
    if name != "default" and name not in {p.stem for p in list_profiles(src)}:
        known = ", ".join(["default", *(p.stem for p in list_profiles(src))])
        raise Invalid("profile", f"--profile {name!r} is not a profile; known: {known}",
                      zh=f"`--profile` {name!r} 不是已有的预案配置；可选："
                         f"{'、'.join(f'`{k}`' for k in known.split(', '))}")
    return src


def load_for_due(profile: str | None, source: ConfigSource | None = None
                 ) -> tuple[DeadlinesConfig, WorkCalendar]:
    """Config of `watchboard due --profile P`: Invalid("profile") if P is unknown."""
    src = due_source(profile, source)
    return load_deadlines(src), WorkCalendar(load_calendar(src))


__all__ = ["GRADES", "all_profiles", "describe_profile", "due_source", "load_for_due", "text"]
