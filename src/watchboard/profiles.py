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
    "summary_zh": "预案004 的四级分级与预案003 的时限（两部完整规定了分级与时限的预案）",
    "not_supported": [],
    "not_supported_zh": [],
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
        "summary_zh": meta.get("summary_zh", meta.get("summary", "")),
        "grades": describe_grades(grading),
        "collapse": dict(grading.collapse),
        "rules": rules,
        "not_supported": list(meta.get("not_supported", [])),
        "not_supported_zh": list(meta.get("not_supported_zh", meta.get("not_supported", []))),
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


# notify.toml's roles, as the duty room says them (DOMAIN.md §6).
ROLE_ZH = {"duty_officer": "值班员", "owner_liaison": "责任单位联络员", "office": "办公室", "leader_group": "领导小组",
           "upper_level": "上级部门", "legal_referral": "公安（网警）", "propaganda": "宣传部门（网宣）",
           "approver": "审核人"}

# grading.toml's rules, as the duty room says them.
RULE_ZH = {"emergency": "突发事件", "mainstream_media": "主流媒体曝光", "reposts": "转发数", "cross_region": "跨地区",
           "key_area": "重点领域迅速发酵", "multi_platform": "多网站负面", "rising": "发酵上升"}

_WORDS = {
    "zh": {"seed": "预案", "grades": "分级", "collapsed": "合并", "plan": "本预案的时限", "default": "运行的默认时限",
           "own_grading": "本预案的定级规则", "route": "通知路由", "any": "任意级别", "low": "（低优先级）",
           "not_supported": "尚不支持", "from": "自", "sep": "；", "list": "、"},
    "en": {"seed": "seed", "grades": "grades", "collapsed": "collapsed", "plan": "its plan's clocks",
           "default": "defaults it runs", "own_grading": "its plan's grading rules", "route": "route",
           "any": "any grade", "low": " (low priority)", "not_supported": "not supported", "from": "from",
           "sep": "; ", "list": ", "},
}


def text(profiles: list[dict[str, Any]], lang: str = "en") -> str:
    """The human listing: per profile its grades, its own clocks, the defaults it runs, and
    what its plan asks that is not supported — in Chinese or English."""
    from watchboard.board.i18n import named

    w = _WORDS["zh" if lang == "zh" else "en"]
    zh = lang == "zh"
    colon = "：" if zh else ": "
    lines: list[str] = []
    for p in profiles:
        mark = "*" if p.get("active") else " "
        lines.append(f"{mark} {p['name']:9} {w['seed']} {p['seed']:7} {p['title']}")
        lines.append(f"    {p['summary_zh'] if zh else p['summary']}")
        grades = w["list"].join(f"{g} {v['zh' if zh else 'en']}" for g, v in p["grades"].items())
        collapsed = w["list"].join(f"{a}→{b}" for a, b in p["collapse"].items())
        lines.append(f"    {w['grades']}{colon}{grades}" + (f"（{w['collapsed']} {collapsed}）" if zh and collapsed
                                                            else f" ({w['collapsed']}: {collapsed})" if collapsed
                                                            else ""))
        for source in ("plan", "default"):
            by_name: dict[str, list[str]] = {}
            for r in p["rules"]:
                if r["kind"] == "clock" and r["source"] == source:
                    counted = named("from", r["from"], "zh") if zh else f"from {r['from']}"
                    clock = named("clock", r["name"], lang) if zh else r["name"]
                    by_name.setdefault(f"{clock} {r['period']} {counted}", []).append(r["grade"])
            if by_name:
                shown = w["sep"].join(f"{k}（{'/'.join(g)}）" if zh else f"{k} ({'/'.join(g)})"
                                      for k, g in by_name.items())
                lines.append(f"    {w[source]}{colon}{shown}")
        own_grades = [r["name"] for r in p["rules"] if r["kind"] == "grade" and r["source"] == "plan"]
        if own_grades:
            shown_rules = [RULE_ZH.get(x, x) for x in own_grades] if zh else own_grades
            lines.append(f"    {w['own_grading']}{colon}{w['list'].join(shown_rules)}")
        for r in (r for r in p["rules"] if r["kind"] == "route" and r["source"] == "plan"):
            grades = "/".join(r["grades"]) or w["any"]
            sentiments = [named("sentiment", x, lang) for x in r["sentiments"]] if zh else r["sentiments"]
            extra = f"{'，' if zh else ', '}{'/'.join(sentiments)}" if sentiments else ""
            low = w["low"] if r["priority"] == "low" else ""
            event = named("cause", r["event"], lang) if zh else r["event"]
            roles = [ROLE_ZH.get(x, x) for x in r["roles"]] if zh else r["roles"]
            lines.append(f"    {w['route']}{colon}{event} {grades}{extra} → {w['list'].join(roles)}{low}")
        for item in (p["not_supported_zh"] if zh else p["not_supported"]):
            lines.append(f"    {w['not_supported']}{colon}{item}")
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
