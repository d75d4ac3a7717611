"""The grading rules: which fired on an incident's `Features`, and the grade and reasons they give.

- The most serious rule that fired gives the grade; every rule that fired is a reason.
- Reposts (II, seed 003 "微博转发达100条以上") are counted as `rules.reposts.count` says: the
  default `sum` adds the distinct sources up (the story's spread); `per_source` (plan-003)
  asks ONE source, i.e. one post, to reach the threshold, as the plan's words mean.
- "Mainstream media" (II): any mention whose `media_level` is at least
  `rules.mainstream_media.min_level` (city: seed 003's 省、市级主流媒体), whatever the platform,
  *or* a mention on a traditional-media platform (`platforms`: news/tv/newspaper/radio) at
  `platform_min_level` or above. By default both thresholds are "city"; plan-004 lowers the
  platform one to "none" because seed 004 counts any TV or newspaper report.
- Seed 004's 较大 (III) is "在不同网站出现的且负面声音有所上升,发酵趋势明显": several sites AND
  a rising negative trend. `multi_platform.require_rising` joins the two halves (plan-004);
  the default keeps them as two rules that each fire alone.
- Every reason is written twice, wholly in Chinese (`reasons`) and wholly in English
  (`reasons_en`), and cites the plan's words the rule implements (`quote` / `quote_en`), so
  a duty officer sees which sentence of which plan raised the grade.
- Items whose sentiment is in `alarm.quiet_sentiments` (positive) are graded but `alarm` is
  False: tracked, not alarmed.
- A collapsed grade is replaced by its target (`grades.collapse`).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from watchboard.config.grading import GradingConfig, MainstreamMediaRule, RepostsRule
from watchboard.domain.grading import text
from watchboard.domain.grading.features import LEVEL_RANK, Features, growth_per_hour
from watchboard.domain.grading.grades import arrow, collapse, severity


def _num(value: float) -> str:
    """150 → '150', 99.5 → '99.5', 33.333 → '33.3': numbers as a person writes them."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """The rules' verdict on the features: grade (collapsed), every reason, alarm or not.

    `reasons` is wholly Chinese, `reasons_en` the same reasons wholly in English."""

    grade: str
    reasons: list[str]
    sentiment: str
    alarm: bool
    rules: list[str] = msgspec.field(default_factory=list)  # names of the rules that fired
    reasons_en: list[str] = msgspec.field(default_factory=list)


class Finding(NamedTuple):
    """One rule that fired: its name, its grade (before collapse), what it saw with the numbers."""

    rule: str
    grade: str
    zh: str
    en: str


def _per_hour(rate: float, minimum: float, lang: str) -> str:
    unit = "/h" if lang == "en" else "/小时"
    return f"+{_num(rate)}{unit} ≥ {_num(minimum)}{unit}"


def _media_hit(features: Features, rule: MainstreamMediaRule) -> tuple[str, str] | None:
    """(zh, en) for the highest-level source that counts as mainstream media, if any."""
    best: tuple[int, str, str] | None = None
    for src in features.sources:
        level = LEVEL_RANK.get(src.media_level, 0)
        if level >= LEVEL_RANK[rule.min_level]:
            minimum = rule.min_level
        elif src.platform in rule.platforms and level >= LEVEL_RANK[rule.platform_min_level]:
            minimum = rule.platform_min_level
        else:
            continue
        zh_where, en_where = text.platform(src.platform, "zh"), text.platform(src.platform, "en")
        if minimum == "none":  # any report on this platform counts (seed 004: 电视、报刊): no level to cite
            zh, en = f"主流媒体报道:{zh_where}", f"mainstream media: {en_where} report"
        else:
            zh = (f"主流媒体曝光:{zh_where},媒体级别 {text.media_level(src.media_level, 'zh')}"
                  f" ≥ {text.media_level(minimum, 'zh')}")
            en = f"mainstream media: {en_where} at {src.media_level} level ≥ {minimum}"
        if best is None or level > best[0]:
            best = (level, zh, en)
    return (best[1], best[2]) if best else None


def _reposts_hit(features: Features, rule: RepostsRule) -> tuple[str, str] | None:
    """(zh, en) when the reposts reach the threshold, counted as the rule says (sum or per source)."""
    chosen = [s for s in features.sources if not rule.platforms or s.platform in rule.platforms]
    zh_where = text.platforms(rule.platforms, "zh", "/")
    en_where = text.platforms(rule.platforms, "en", "/")
    if rule.count == "per_source":
        # One URL is one post: "微博转发达100条以上" is a single post's reposts, never a sum.
        count = max((s.metrics.reposts for s in chosen), default=0)
        zh = f"{zh_where}单条转发 {count} ≥ {rule.min_reposts}"
        en = f"one {en_where + ' ' if en_where else ''}post reposted {count} ≥ {rule.min_reposts}"
    else:
        count = sum(s.metrics.reposts for s in chosen)
        zh = f"{zh_where}转发合计 {count} ≥ {rule.min_reposts}"
        en = f"reposts{' on ' + en_where if en_where else ''} {count} ≥ {rule.min_reposts}"
    return (zh, en) if count >= rule.min_reposts else None


def _fired(features: Features, cfg: GradingConfig) -> list[Finding]:
    """Every rule that fired, with what it saw."""
    r = cfg.rules
    out: list[Finding] = []
    if r.emergency.enabled and features.emergency and (
            features.stability_risk or not r.emergency.require_stability_risk):
        if features.stability_risk:
            out.append(Finding("emergency", r.emergency.grade, "突发事件,严重影响社会稳定",
                               "emergency with a stability risk"))
        else:
            out.append(Finding("emergency", r.emergency.grade, "突发事件", "emergency"))
    if r.mainstream_media.enabled and (hit := _media_hit(features, r.mainstream_media)):
        out.append(Finding("mainstream_media", r.mainstream_media.grade, *hit))
    if r.reposts.enabled and (hit := _reposts_hit(features, r.reposts)):
        out.append(Finding("reposts", r.reposts.grade, *hit))
    if r.cross_region.enabled:
        n, minimum = len(features.regions), r.cross_region.min_regions
        if features.cross_region:
            out.append(Finding("cross_region", r.cross_region.grade, "跨地区(报告标明)", "crosses regions (reported)"))
        elif n >= minimum:
            out.append(Finding("cross_region", r.cross_region.grade,
                               f"涉及 {n} 个地区 ≥ {minimum}({'、'.join(features.regions)})",
                               f"regions {n} ≥ {minimum} ({', '.join(features.regions)})"))
    rate = growth_per_hour(features, cfg)
    key_topics = [t for t in features.topics if t in r.key_area.topics]
    ka = r.key_area
    if ka.enabled and key_topics and rate is not None and rate >= ka.min_growth_per_hour:
        out.append(Finding("key_area", ka.grade,
                           f"重点领域({text.topic(key_topics[0], 'zh')})迅速发酵:互动量"
                           f" {_per_hour(rate, ka.min_growth_per_hour, 'zh')}",
                           f"key area {text.topic(key_topics[0], 'en')} fermenting: engagement"
                           f" {_per_hour(rate, ka.min_growth_per_hour, 'en')}"))
    mp = r.multi_platform
    if mp.enabled and features.sentiment in mp.sentiments and len(features.platforms) >= mp.min_platforms:
        n = len(features.platforms)
        zh = (f"{text.sentiment(features.sentiment, 'zh')}信息出现在 {n} 个平台 ≥ {mp.min_platforms}"
              f"({text.platforms(features.platforms, 'zh')})")
        en = (f"{features.sentiment} on {n} platforms ≥ {mp.min_platforms}"
              f" ({text.platforms(features.platforms, 'en')})")
        if not mp.require_rising:
            out.append(Finding("multi_platform", mp.grade, zh, en))
        elif rate is not None and rate >= mp.min_growth_per_hour:
            # Seed 004's 较大 is both at once: several sites AND negative voices rising.
            out.append(Finding("multi_platform", mp.grade,
                               f"{zh},且互动量上升 {_per_hour(rate, mp.min_growth_per_hour, 'zh')}",
                               f"{en}, rising {_per_hour(rate, mp.min_growth_per_hour, 'en')}"))
    if r.rising.enabled and rate is not None and rate >= r.rising.min_growth_per_hour:
        out.append(Finding("rising", r.rising.grade,
                           f"互动量上升 {_per_hour(rate, r.rising.min_growth_per_hour, 'zh')}",
                           f"engagement rising {_per_hour(rate, r.rising.min_growth_per_hour, 'en')}"))
    return out


def _reason(finding: Finding, cfg: GradingConfig, lang: str) -> str:
    rule = getattr(cfg.rules, finding.rule)
    said = finding.en if lang == "en" else finding.zh
    cited = text.cite(said, rule.quote_en if lang == "en" else rule.quote, lang)
    return text.joined(cited, arrow(finding.grade, cfg, lang), lang)


def evaluate(features: Features, cfg: GradingConfig) -> Assessment:
    """The rules' grade: the most serious rule that fired wins; every fired rule is a reason."""
    fired = sorted(_fired(features, cfg), key=lambda f: -severity(f.grade))
    if fired:
        grade = collapse(fired[0].grade, cfg)
        reasons = [_reason(f, cfg, "zh") for f in fired]
        reasons_en = [_reason(f, cfg, "en") for f in fired]
    else:
        grade = collapse("IV", cfg)
        reasons = [f"未触发任何规则 {arrow('IV', cfg, 'zh')}"]
        reasons_en = [f"no rule fired {arrow('IV', cfg, 'en')}"]
    return Assessment(grade=grade, reasons=reasons, reasons_en=reasons_en, sentiment=features.sentiment,
                      alarm=features.sentiment not in cfg.alarm.quiet_sentiments,
                      rules=[f.rule for f in fired])
