"""Grading rules (DOMAIN.md §2): grade I–IV, the reasons that cite rule and numbers, alarm or not.

Pure: no I/O, no clock. The grading service folds each mention into `Features`, calls
`evaluate` for the rules' `Assessment`, then `decide` turns it into a `Decision` (the body of
an `incident.graded` event) or None when nothing changes. `regrade` and `release` serve
`wb.cmd.regrade`.

Choices, and why:
- Metrics grow while a post spreads, and the same post is reported again with bigger numbers,
  so each source (its URL; a post without URL counts as one source per platform) keeps the
  *maximum* of each counter it ever showed, and the incident's totals are the *sum* over
  distinct sources. Without a URL we cannot tell two posts apart: under-counting a little is
  better than counting one post twice and raising a grade on an artefact.
- Reposts (II, seed 003 "微博转发达100条以上") are counted as `rules.reposts.count` says: the
  default `sum` adds the distinct sources up (the story's spread); `per_source` (plan-003)
  asks ONE source, i.e. one post, to reach the threshold, as the plan's words mean.
- "Mainstream media" (II): any mention whose `media_level` is at least
  `rules.mainstream_media.min_level` (city: seed 003's 省、市级主流媒体), whatever the platform,
  *or* a mention on a traditional-media platform (`platforms`: news/tv/newspaper/radio) at
  `platform_min_level` or above. By default both thresholds are "city"; plan-004 lowers the
  platform one to "none" because seed 004 counts any TV or newspaper report.
- Growth ("fermenting fast", "rising fast") is engagement gained per hour between the first
  and the latest observation: (engagement of today's totals − engagement of the first
  observation) / hours between them. Engagement is a weighted sum of the counters
  (`[engagement]`). Below `min_span` between first and latest there is no rate at all: two
  reports a minute apart say nothing about a trend.
- Seed 004's 较大 (III) is "在不同网站出现的且负面声音有所上升,发酵趋势明显": several sites AND
  a rising negative trend. `multi_platform.require_rising` joins the two halves (plan-004);
  the default keeps them as two rules that each fire alone.
- Every reason is written twice, wholly in Chinese (`reasons`) and wholly in English
  (`reasons_en`), and cites the plan's words the rule implements (`quote` / `quote_en`), so
  a duty officer sees which sentence of which plan raised the grade.
- The incident's sentiment is the most negative one seen: a single negative mention of a
  positive story is what the duty room must not miss. Items whose sentiment is in
  `alarm.quiet_sentiments` (positive) are graded but `alarm` is False: tracked, not alarmed.
- Rules only raise a grade. A person's grade is pinned (source "person") until released;
  on release the rules' grade applies again, even if lower (that is the point of releasing).
- A profile may collapse grades (`collapse = {III = "IV"}`): the contract keeps I–IV on the
  wire, and a collapsed grade is replaced by its target in `evaluate` and `regrade`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from watchboard.config import ConfigError, ConfigSource, load, parse_seconds
from watchboard.domain import grading_text as text
from watchboard.domain.events import IncidentGraded, Mention
from watchboard.domain.report import GRADES, MEDIA_LEVELS, PLATFORMS, SENTIMENTS, TOPICS, Metrics

GRADE_COLOURS: dict[str, str] = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}
DEFAULT_LABELS_ZH: dict[str, str] = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
DEFAULT_LABELS_EN: dict[str, str] = {
    "I": "Especially major", "II": "Major", "III": "Large", "IV": "General",
}
KEY_AREAS: tuple[str, ...] = (
    "food_drug", "production_safety", "transport", "environment", "land_demolition",
    "public_health", "disaster_relief",
)
TRADITIONAL_MEDIA: tuple[str, ...] = ("news", "tv", "newspaper", "radio")
# Higher is more negative; the incident keeps the most negative sentiment seen.
_NEGATIVITY = {"positive": 0, "neutral": 1, "negative": 2}
_LEVEL = {level: i for i, level in enumerate(MEDIA_LEVELS)}  # none < local < city < …


def severity(grade: str) -> int:
    """0 for IV … 3 for I: larger is more serious (Level I is the worst)."""
    return len(GRADES) - 1 - GRADES.index(grade)


class GradingError(ValueError):
    """A command the rules refuse (bad grade, missing actor); `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --- configuration (grading.toml) -------------------------------------------------------


class _Conf(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class EngagementConfig(_Conf):
    reposts: float = 1.0
    comments: float = 1.0
    likes: float = 0.0
    views: float = 0.0
    min_span: str = "15m"


# Each rule may cite the plan's words it implements: `quote` (Chinese, as printed in the
# reasons' parentheses, e.g. 「微博转发达100条以上」,预案003 三(三)) and `quote_en` (the
# English reading and the section, for the English reasons). The defaults quote seeds 003/004.


class EmergencyRule(_Conf):
    enabled: bool = True
    grade: str = "I"
    require_stability_risk: bool = True
    quote: str = "「突发事件引起的、严重影响社会稳定」,预案004 第六篇(三)4"
    quote_en: str = '"caused by a sudden emergency, seriously affecting social stability", seed 004 part 6 (3) 4'


class MainstreamMediaRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_level: str = "city"
    platforms: list[str] = msgspec.field(default_factory=lambda: list(TRADITIONAL_MEDIA))
    platform_min_level: str = "city"
    quote: str = "「被省、市级主流媒体(论坛)曝光」,预案003 三(三)"
    quote_en: str = '"exposed by provincial or city mainstream media (forums)", seed 003 3(3)'


REPOST_COUNTS: tuple[str, ...] = ("sum", "per_source")


class RepostsRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_reposts: int = 100
    platforms: list[str] = msgspec.field(default_factory=list)  # empty: every platform
    # sum: reposts of every source on `platforms`, added up (a story's spread as a whole);
    # per_source: the reposts of ONE source (one URL = one post) must reach `min_reposts`.
    count: str = "sum"
    quote: str = "「微博转发达100条以上」,预案003 三(三)"
    quote_en: str = '"reposted 100+ times on Weibo", seed 003 3(3)'


class CrossRegionRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_regions: int = 2
    quote: str = "「跨地区的」,预案003 三(三)"
    quote_en: str = '"crossing regions", seed 003 3(3)'


class KeyAreaRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    topics: list[str] = msgspec.field(default_factory=lambda: list(KEY_AREAS))
    min_growth_per_hour: float = 50.0
    quote: str = "「涉及重点领域…的敏感信息迅速发酵」,预案004 第六篇(三)3"
    quote_en: str = '"sensitive information in a key area spreading fast", seed 004 part 6 (3) 3'


class MultiPlatformRule(_Conf):
    enabled: bool = True
    grade: str = "III"
    min_platforms: int = 2
    sentiments: list[str] = msgspec.field(default_factory=lambda: ["negative"])
    # true: several sites AND a rising trend together (seed 004's 较大 "在不同网站出现的且负面
    # 声音有所上升,发酵趋势明显"): engagement growth (as the `rising` rule measures it) of at
    # least `min_growth_per_hour` as well.
    require_rising: bool = False
    min_growth_per_hour: float = 100.0
    quote: str = "「在不同网站出现」,预案004 第六篇(三)2"
    quote_en: str = '"appears on different sites", seed 004 part 6 (3) 2'


class RisingRule(_Conf):
    enabled: bool = True
    grade: str = "III"
    min_growth_per_hour: float = 100.0
    quote: str = "「发酵趋势明显」,预案004 第六篇(三)2"
    quote_en: str = '"a clear fermenting trend", seed 004 part 6 (3) 2'


class RulesConfig(_Conf):
    emergency: EmergencyRule = msgspec.field(default_factory=EmergencyRule)
    mainstream_media: MainstreamMediaRule = msgspec.field(default_factory=MainstreamMediaRule)
    reposts: RepostsRule = msgspec.field(default_factory=RepostsRule)
    cross_region: CrossRegionRule = msgspec.field(default_factory=CrossRegionRule)
    key_area: KeyAreaRule = msgspec.field(default_factory=KeyAreaRule)
    multi_platform: MultiPlatformRule = msgspec.field(default_factory=MultiPlatformRule)
    rising: RisingRule = msgspec.field(default_factory=RisingRule)


class AlarmConfig(_Conf):
    quiet_sentiments: list[str] = msgspec.field(default_factory=lambda: ["positive"])


class LabelsConfig(_Conf):
    zh: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_LABELS_ZH))
    en: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_LABELS_EN))


class GradingConfig(_Conf):
    engagement: EngagementConfig = msgspec.field(default_factory=EngagementConfig)
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)
    alarm: AlarmConfig = msgspec.field(default_factory=AlarmConfig)
    collapse: dict[str, str] = msgspec.field(default_factory=dict)
    labels: LabelsConfig = msgspec.field(default_factory=LabelsConfig)


RULE_NAMES: tuple[str, ...] = tuple(RulesConfig.__struct_fields__)




def _one_of(value: str, allowed: tuple[str, ...] | list[str], what: str) -> str:
    return f"{value!r} is not {what}; one of {', '.join(allowed)}"


def load_grading(source: ConfigSource | None = None) -> GradingConfig:
    """Load grading.toml with the active profile, then run the cross-field checks."""
    source = source or ConfigSource()
    return load("grading.toml", GradingConfig, source, check=check_grading)


def check_grading(cfg: GradingConfig, file: str = "grading.toml") -> None:
    """Cross-field checks; raise ConfigError naming file, key and the offending value."""

    def fail(key: str, problem: str) -> None:
        raise ConfigError(file, key, problem)

    for key in ("reposts", "comments", "likes", "views"):
        if getattr(cfg.engagement, key) < 0:
            fail(f"engagement.{key}", f"weight {getattr(cfg.engagement, key)} must be 0 or more")
    span = parse_seconds(cfg.engagement.min_span)
    if span is None or span <= 0:
        fail("engagement.min_span", f"{cfg.engagement.min_span!r} is not a duration like '15m' or '1h'")
    for name in RULE_NAMES:
        rule = getattr(cfg.rules, name)
        if rule.grade not in GRADES:
            fail(f"rules.{name}.grade", _one_of(rule.grade, GRADES, "a grade"))
    media = cfg.rules.mainstream_media
    for key in ("min_level", "platform_min_level"):
        if getattr(media, key) not in MEDIA_LEVELS:
            fail(f"rules.mainstream_media.{key}", _one_of(getattr(media, key), MEDIA_LEVELS, "a media level"))
    for rule_name, platforms in (("mainstream_media", media.platforms),
                                 ("reposts", cfg.rules.reposts.platforms)):
        for i, platform in enumerate(platforms):
            if platform not in PLATFORMS:
                fail(f"rules.{rule_name}.platforms[{i}]", _one_of(platform, PLATFORMS, "a platform"))
    for i, topic in enumerate(cfg.rules.key_area.topics):
        if topic not in TOPICS:
            fail(f"rules.key_area.topics[{i}]", _one_of(topic, TOPICS, "a topic"))
    for key, sentiments in (("rules.multi_platform.sentiments", cfg.rules.multi_platform.sentiments),
                            ("alarm.quiet_sentiments", cfg.alarm.quiet_sentiments)):
        for i, sentiment in enumerate(sentiments):
            if sentiment not in SENTIMENTS:
                fail(f"{key}[{i}]", _one_of(sentiment, SENTIMENTS, "a sentiment"))
    if cfg.rules.reposts.min_reposts < 1:
        fail("rules.reposts.min_reposts", f"{cfg.rules.reposts.min_reposts} must be 1 or more")
    if cfg.rules.cross_region.min_regions < 2:
        fail("rules.cross_region.min_regions", f"{cfg.rules.cross_region.min_regions} must be 2 or more")
    if cfg.rules.multi_platform.min_platforms < 1:
        fail("rules.multi_platform.min_platforms",
             f"{cfg.rules.multi_platform.min_platforms} must be 1 or more")
    if cfg.rules.reposts.count not in REPOST_COUNTS:
        fail("rules.reposts.count", _one_of(cfg.rules.reposts.count, REPOST_COUNTS, "a way to count reposts"))
    for name in ("key_area", "multi_platform", "rising"):
        value = getattr(cfg.rules, name).min_growth_per_hour
        if value <= 0:
            fail(f"rules.{name}.min_growth_per_hour", f"{value} must be more than 0")
    for name in RULE_NAMES:
        _check_quote(getattr(cfg.rules, name), f"rules.{name}", fail)
    for source, target in cfg.collapse.items():
        if source not in GRADES:
            fail(f"collapse.{source}", _one_of(source, GRADES, "a grade"))
        if target not in GRADES:
            fail(f"collapse.{source}", _one_of(target, GRADES, "a grade"))
        if target == source:
            fail(f"collapse.{source}", f"{source!r} collapses into itself")
        if target in cfg.collapse:
            fail(f"collapse.{source}", f"target {target!r} is itself collapsed into "
                 f"{cfg.collapse[target]!r}; collapse {source!r} straight into the final grade")
    for lang in ("zh", "en"):
        labels: dict[str, str] = getattr(cfg.labels, lang)
        # A grade without a label shows the default name; an empty one would show nothing.
        for grade, label in labels.items():
            if grade not in GRADES:
                fail(f"labels.{lang}.{grade}", _one_of(grade, GRADES, "a grade"))
            if not label.strip() and grade in used_grades(cfg):
                fail(f"labels.{lang}.{grade}", f"grade {grade!r} is in use and its label is empty")


QUOTE_MAX = 160  # a reason is one short line; the quote is the plan's words, not a paragraph


def _check_quote(rule: Any, key: str, fail: Callable[[str, str], None]) -> None:
    """A rule's quote is one line, bounded, and given in both languages or in neither:
    the Chinese reasons and the English ones must cite the same plan."""
    for lang_key in ("quote", "quote_en"):
        text: str = getattr(rule, lang_key)
        if len(text) > QUOTE_MAX:
            fail(f"{key}.{lang_key}", f"{len(text)} characters; at most {QUOTE_MAX} (a reason is one short line)")
        if any(not ch.isprintable() for ch in text):
            fail(f"{key}.{lang_key}", "must be one line of printable text (no line breaks or control characters)")
    if bool(rule.quote.strip()) != bool(rule.quote_en.strip()):
        missing, given = ("quote_en", "quote") if rule.quote.strip() else ("quote", "quote_en")
        fail(f"{key}.{missing}", f"is empty but `{given}` is set: give the plan's words in both languages, or neither")


# --- labels -------------------------------------------------------------------------


def collapse(grade: str, cfg: GradingConfig) -> str:
    """The grade a profile shows and puts on the wire for `grade` (itself unless collapsed)."""
    return cfg.collapse.get(grade, grade)


def used_grades(cfg: GradingConfig) -> tuple[str, ...]:
    """The grades this profile can produce, worst first."""
    return tuple(g for g in GRADES if g not in cfg.collapse)


def grade_label(grade: str, cfg: GradingConfig, lang: str = "zh") -> str:
    """The profile's name for `grade` (after collapse), in "zh" or "en"."""
    grade = collapse(grade, cfg)
    labels: dict[str, str] = cfg.labels.en if lang == "en" else cfg.labels.zh
    defaults = DEFAULT_LABELS_EN if lang == "en" else DEFAULT_LABELS_ZH
    return labels.get(grade) or defaults[grade]


def grade_colour(grade: str) -> str:
    return GRADE_COLOURS[grade]


def _num(value: float) -> str:
    """150 → '150', 99.5 → '99.5', 33.333 → '33.3': numbers as a person writes them."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# --- features: what grading knows of an incident --------------------------------------


class SourceStats(msgspec.Struct, frozen=True, kw_only=True):
    """One distinct source (URL, or a platform's posts without URL): the maxima it showed."""

    key: str
    platform: str
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    media_level: str = "none"


class Features(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules know of an incident, folded from its mentions by `fold_features`."""

    mentions: int = 0
    platforms: tuple[str, ...] = ()  # distinct, in the order first seen
    sources: tuple[SourceStats, ...] = ()
    media_level: str = "none"  # the highest seen on any mention
    regions: tuple[str, ...] = ()  # distinct, in the order first seen
    cross_region: bool = False
    emergency: bool = False
    stability_risk: bool = False
    topic: str | None = None  # the first topic given
    topics: tuple[str, ...] = ()  # every topic given
    unit_hint: str | None = None  # the first hint given (首问负责制: the first named)
    title: str = ""  # the first non-empty title and summary, for owner keywords
    summary: str = ""
    sentiment: str = "neutral"  # the most negative seen
    latest_sentiment: str = "neutral"
    first_at: datetime | None = None
    latest_at: datetime | None = None
    first_metrics: Metrics = msgspec.field(default_factory=Metrics)  # at the first observation


def _utc(dt: datetime) -> datetime:
    # Reports are validated to carry an offset; a naive time here is taken as UTC rather
    # than crashing a comparison.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _max_metrics(a: Metrics, b: Metrics) -> Metrics:
    return Metrics(reposts=max(a.reposts, b.reposts), comments=max(a.comments, b.comments),
                   likes=max(a.likes, b.likes), views=max(a.views, b.views))


def _add(items: tuple[str, ...], value: str | None) -> tuple[str, ...]:
    value = (value or "").strip()
    return items if not value or value in items else (*items, value)


def fold_features(features: Features | None, mention: Mention, at: datetime) -> Features:
    """Fold one mention (observed at `mention.observed_at`, else `at`) into the features."""
    f = features or Features()
    seen = _utc(mention.observed_at or at)
    key = mention.url.strip() if mention.url and mention.url.strip() else f"{mention.platform}:"
    sources = list(f.sources)
    for i, src in enumerate(sources):
        if src.key == key:
            level = max(src.media_level, mention.media_level, key=lambda v: _LEVEL.get(v, 0))
            sources[i] = SourceStats(key=key, platform=src.platform, media_level=level,
                                     metrics=_max_metrics(src.metrics, mention.metrics))
            break
    else:
        sources.append(SourceStats(key=key, platform=mention.platform, metrics=mention.metrics,
                                   media_level=mention.media_level))
    first_at, first_metrics = f.first_at, f.first_metrics
    if first_at is None or seen < first_at:
        first_at, first_metrics = seen, mention.metrics
    negative = max(f.sentiment, mention.sentiment, key=lambda s: _NEGATIVITY.get(s, 1)) \
        if f.mentions else mention.sentiment
    return Features(
        mentions=f.mentions + 1,
        platforms=_add(f.platforms, mention.platform),
        sources=tuple(sources),
        media_level=max(f.media_level, mention.media_level, key=lambda v: _LEVEL.get(v, 0)),
        regions=_add(f.regions, mention.region),
        cross_region=f.cross_region or mention.cross_region,
        emergency=f.emergency or mention.emergency,
        stability_risk=f.stability_risk or mention.stability_risk,
        topic=f.topic or mention.topic,
        topics=_add(f.topics, mention.topic),
        unit_hint=f.unit_hint or (mention.unit_hint or "").strip() or None,
        title=f.title or mention.title.strip(),
        summary=f.summary or mention.summary.strip(),
        sentiment=negative,
        latest_sentiment=mention.sentiment,
        first_at=first_at,
        latest_at=seen if f.latest_at is None or seen > f.latest_at else f.latest_at,
        first_metrics=first_metrics,
    )


def totals(features: Features, platforms: list[str] | tuple[str, ...] = ()) -> Metrics:
    """Sum over distinct sources of each source's maxima (only `platforms`, if given)."""
    chosen = [s.metrics for s in features.sources if not platforms or s.platform in platforms]
    return Metrics(reposts=sum(m.reposts for m in chosen), comments=sum(m.comments for m in chosen),
                   likes=sum(m.likes for m in chosen), views=sum(m.views for m in chosen))


def engagement(metrics: Metrics, cfg: GradingConfig) -> float:
    w = cfg.engagement
    return (metrics.reposts * w.reposts + metrics.comments * w.comments
            + metrics.likes * w.likes + metrics.views * w.views)


def growth_per_hour(features: Features, cfg: GradingConfig) -> float | None:
    """Engagement gained per hour between first and latest observation; None if too close."""
    if features.first_at is None or features.latest_at is None:
        return None
    span = (features.latest_at - features.first_at).total_seconds()
    if span <= 0 or span < (parse_seconds(cfg.engagement.min_span) or 0):
        return None
    gained = engagement(totals(features), cfg) - engagement(features.first_metrics, cfg)
    return gained / (span / 3600)


# --- evaluate -------------------------------------------------------------------------


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
        level = _LEVEL.get(src.media_level, 0)
        if level >= _LEVEL[rule.min_level]:
            minimum = rule.min_level
        elif src.platform in rule.platforms and level >= _LEVEL[rule.platform_min_level]:
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


def _arrow(rule_grade: str, cfg: GradingConfig, lang: str) -> str:
    final = collapse(rule_grade, cfg)
    return text.arrow(rule_grade, final, grade_label(final, cfg, lang), lang)


def _reason(finding: Finding, cfg: GradingConfig, lang: str) -> str:
    rule = getattr(cfg.rules, finding.rule)
    said = finding.en if lang == "en" else finding.zh
    cited = text.cite(said, rule.quote_en if lang == "en" else rule.quote, lang)
    return text.joined(cited, _arrow(finding.grade, cfg, lang), lang)


def evaluate(features: Features, cfg: GradingConfig) -> Assessment:
    """The rules' grade: the most serious rule that fired wins; every fired rule is a reason."""
    fired = sorted(_fired(features, cfg), key=lambda f: -severity(f.grade))
    if fired:
        grade = collapse(fired[0].grade, cfg)
        reasons = [_reason(f, cfg, "zh") for f in fired]
        reasons_en = [_reason(f, cfg, "en") for f in fired]
    else:
        grade = collapse("IV", cfg)
        reasons = [f"未触发任何规则 {_arrow('IV', cfg, 'zh')}"]
        reasons_en = [f"no rule fired {_arrow('IV', cfg, 'en')}"]
    return Assessment(grade=grade, reasons=reasons, reasons_en=reasons_en, sentiment=features.sentiment,
                      alarm=features.sentiment not in cfg.alarm.quiet_sentiments,
                      rules=[f.rule for f in fired])


# --- decide: raise-only, a person's grade pinned ------------------------------------------


class CurrentGrade(msgspec.Struct, frozen=True, kw_only=True):
    """The grade an incident has now (the last `incident.graded`)."""

    grade: str
    source: str = "rules"  # rules | person
    pinned: bool = False
    sentiment: str = "negative"
    reasons: list[str] = msgspec.field(default_factory=list)
    reasons_en: list[str] = msgspec.field(default_factory=list)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A grade to publish: the fields of `IncidentGraded` (plus `alarm` and the actor)."""

    grade: str
    previous: str | None
    reasons: list[str]
    source: str  # rules | person
    sentiment: str
    pinned: bool
    alarm: bool
    actor: str = "grading"
    reasons_en: list[str] = msgspec.field(default_factory=list)


def current_from_event(event: IncidentGraded) -> CurrentGrade:
    """Rebuild the current grade from the last `incident.graded` event (replay)."""
    return CurrentGrade(grade=event.grade, source=event.source, pinned=event.pinned,
                        sentiment=event.sentiment, reasons=list(event.reasons),
                        reasons_en=list(event.reasons_en))


def apply(decision: Decision) -> CurrentGrade:
    """The current grade once `decision` is published."""
    return CurrentGrade(grade=decision.grade, source=decision.source, pinned=decision.pinned,
                        sentiment=decision.sentiment, reasons=list(decision.reasons),
                        reasons_en=list(decision.reasons_en))


def _sentiment_note(before: str, after: str, lang: str) -> str:
    if lang == "en":
        return f"sentiment {before} → {after}"
    return f"舆情倾向 {text.sentiment(before, 'zh')} → {text.sentiment(after, 'zh')}"


def decide(current: CurrentGrade | None, assessment: Assessment) -> Decision | None:
    """What the rules change: a higher grade, or a new sentiment; None if nothing changes."""
    a = assessment
    if current is None:
        return Decision(grade=a.grade, previous=None, reasons=list(a.reasons), reasons_en=list(a.reasons_en),
                        source="rules", sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    sentiment_changed = a.sentiment != current.sentiment
    zh, en = _sentiment_note(current.sentiment, a.sentiment, "zh"), _sentiment_note(current.sentiment, a.sentiment, "en")
    if current.pinned:
        if not sentiment_changed:
            return None
        return Decision(grade=current.grade, previous=current.grade,
                        reasons=[*current.reasons, f"{zh};保持 {current.grade}:人工定级"],
                        reasons_en=[*current.reasons_en, f"{en}; grade {current.grade} kept: set by a person"],
                        source=current.source, sentiment=a.sentiment, pinned=True, alarm=a.alarm)
    if severity(a.grade) > severity(current.grade):
        return Decision(grade=a.grade, previous=current.grade, reasons=list(a.reasons),
                        reasons_en=list(a.reasons_en), source="rules",
                        sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    if not sentiment_changed:
        return None
    if a.grade == current.grade:
        reasons, reasons_en = [*a.reasons, zh], [*a.reasons_en, en]
    else:
        reasons = [*current.reasons, f"{zh};规则现为 {a.grade},定级只升不降:保持 {current.grade}"]
        reasons_en = [*current.reasons_en,
                      f"{en}; rules now give {a.grade}, grades only rise: {current.grade} kept"]
    return Decision(grade=current.grade, previous=current.grade, reasons=reasons, reasons_en=reasons_en,
                    source=current.source, sentiment=a.sentiment, pinned=False, alarm=a.alarm)


def regrade(current: CurrentGrade | None, grade: str, reason: str, actor: str,
            cfg: GradingConfig) -> Decision | None:
    """A person sets any grade (collapsed by the profile); it sticks until `release`.

    None when the incident already has that grade pinned by a person.
    """
    if grade not in GRADES:
        raise GradingError("grade", _one_of(grade, GRADES, "a grade"))
    if not actor.strip():
        raise GradingError("actor", "actor is required: who sets the grade")
    final = collapse(grade, cfg)
    if current is not None and current.pinned and current.grade == final:
        return None
    sentiment = current.sentiment if current else "negative"
    why = reason.strip()
    # The person's own words are quoted as typed, in whichever language they wrote.
    zh = f"{actor} 人工定级{':' + why if why else ''} {_arrow(grade, cfg, 'zh')}"
    en = f"set by {actor}{': ' + why if why else ''} {_arrow(grade, cfg, 'en')}"
    return Decision(grade=final, previous=current.grade if current else None, reasons=[zh], reasons_en=[en],
                    source="person", sentiment=sentiment, pinned=True,
                    alarm=sentiment not in cfg.alarm.quiet_sentiments, actor=actor)


def release(current: CurrentGrade | None, assessment: Assessment, actor: str) -> Decision | None:
    """Unpin a person's grade: the rules' grade applies again (lower or higher); None if not pinned."""
    if current is None or not current.pinned:
        return None
    if not actor.strip():
        raise GradingError("actor", "actor is required: who releases the grade")
    return Decision(grade=assessment.grade, previous=current.grade,
                    reasons=[f"{actor} 解除人工定级:恢复规则定级", *assessment.reasons],
                    reasons_en=[f"released by {actor}: rules resume", *assessment.reasons_en], source="rules",
                    sentiment=assessment.sentiment, pinned=False, alarm=assessment.alarm, actor=actor)


def features_from_mentions(mentions: list[tuple[Mention, datetime]]) -> Features | None:
    """Fold a list of (mention, event time): handy for replay and for tests."""
    features: Features | None = None
    for mention, at in mentions:
        features = fold_features(features, mention, at)
    return features


def describe(cfg: GradingConfig) -> dict[str, Any]:
    """The active grades with labels and colours, for `watchboard profiles` and the board legend."""
    return {g: {"zh": grade_label(g, cfg, "zh"), "en": grade_label(g, cfg, "en"),
                "colour": GRADE_COLOURS[g]} for g in used_grades(cfg)}
