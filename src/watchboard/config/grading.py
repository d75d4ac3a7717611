"""grading.toml: the grading rules' thresholds and the plan words each cites, the engagement
weights, the alarm, and a profile's grade collapse and labels, checked.

What the rules do with these is `watchboard.domain.grading` (its docstring says why each rule
reads as it does); this module says what the file may hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from watchboard.config.loader import ConfigError, Source, load, parse_seconds
from watchboard.domain.report import GRADES, MEDIA_LEVELS, PLATFORMS, SENTIMENTS, TOPICS

DEFAULT_LABELS_ZH: dict[str, str] = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
DEFAULT_LABELS_EN: dict[str, str] = {
    "I": "Especially major", "II": "Major", "III": "Large", "IV": "General",
}
KEY_AREAS: tuple[str, ...] = (
    "food_drug", "production_safety", "transport", "environment", "land_demolition",
    "public_health", "disaster_relief",
)
TRADITIONAL_MEDIA: tuple[str, ...] = ("news", "tv", "newspaper", "radio")


class _Conf(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class EngagementConfig(_Conf):
    reposts: float = 1.0
    comments: float = 1.0
    likes: float = 0.0
    views: float = 0.0
    min_span: str = "15m"  # below this between first and latest observation, no growth rate

    def min_span_seconds(self) -> float:
        return parse_seconds(self.min_span) or 0


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
    # The default sums, which the plan's words do not: the quote says it reads them loosely.
    quote: str = "较宽读法,各来源相加;原文「微博转发达100条以上」,预案003 三(三)"
    quote_en: str = 'a looser reading, sources added up, of "reposted 100+ times on Weibo", seed 003 3(3)'


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


def used_grades(cfg: GradingConfig) -> tuple[str, ...]:
    """The grades this profile can produce, worst first (those not collapsed into another)."""
    return tuple(g for g in GRADES if g not in cfg.collapse)


def _one_of(value: str, allowed: tuple[str, ...] | list[str], what: str) -> str:
    return f"{value!r} is not {what}; one of {', '.join(allowed)}"


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


def load_grading(source: Source | None = None) -> GradingConfig:
    """Load grading.toml with the active profile, then run the cross-field checks."""
    return load("grading.toml", GradingConfig, source, check=check_grading)
