"""What each response-plan profile runs, and where each rule comes from (`watchboard profiles`).

A profile sets only what its plan says (docs/plans.md quotes the seeds); everything else it
runs is a default. This module reads the profile through the same loaders the services use,
so what it prints is what runs — never what a summary claims:

- `rules`: every clock per grade, with `seed_ref`, the plan's words (`quote`) and `source`
  (`plan` where the profile's own file sets it, `default` where deadlines.toml's applies);
- `grades`: the grades the profile uses, their labels, and the collapse of the others;
- `not_supported`: what the plan asks that watchboard does not do yet (the profile's
  `[meta] not_supported`).
"""

from __future__ import annotations

import tomllib
from typing import Any

from watchboard.config import ConfigSource, list_profiles
from watchboard.domain.clocks import load_deadlines, plan_set_clocks
from watchboard.domain.grading import describe, load_grading, used_grades
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
    rules: list[dict[str, Any]] = []
    for grade in used_grades(grading):
        for rule in deadlines.rules_for(grade):
            rules.append({
                "kind": "clock", "grade": grade, "name": rule.name, "period": rule.period,
                "from": rule.counted_from, "extendable": rule.extendable,
                "seed_ref": rule.seed_ref, "quote": rule.quote,
                "source": "plan" if rule.name in own.get(grade, set()) else "default",
            })
    return {
        "name": name,
        "seed": meta.get("seed", ""),
        "title": meta.get("title", ""),
        "summary": meta.get("summary", ""),
        "grades": describe(grading),
        "collapse": dict(grading.collapse),
        "rules": rules,
        "not_supported": list(meta.get("not_supported", [])),
    }


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
        for item in p["not_supported"]:
            lines.append(f"    not supported: {item}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["GRADES", "all_profiles", "describe_profile", "text"]
