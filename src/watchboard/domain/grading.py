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
- The incident's sentiment is the most negative one seen: a single negative mention of a
  positive story is what the duty room must not miss. Items whose sentiment is in
  `alarm.quiet_sentiments` (positive) are graded but `alarm` is False: tracked, not alarmed.
- Rules only raise a grade. A person's grade is pinned (source "person") until released;
  on release the rules' grade applies again, even if lower (that is the point of releasing).
- A profile may collapse grades (`collapse = {III = "IV"}`): the contract keeps I–IV on the
  wire, and a collapsed grade is replaced by its target in `evaluate` and `regrade`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from watchboard.config import ConfigError, ConfigSource, load, parse_seconds
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


class EmergencyRule(_Conf):
    enabled: bool = True
    grade: str = "I"
    require_stability_risk: bool = True


class MainstreamMediaRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_level: str = "city"
    platforms: list[str] = msgspec.field(default_factory=lambda: list(TRADITIONAL_MEDIA))
    platform_min_level: str = "city"


class RepostsRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_reposts: int = 100
    platforms: list[str] = msgspec.field(default_factory=list)  # empty: every platform


class CrossRegionRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    min_regions: int = 2


class KeyAreaRule(_Conf):
    enabled: bool = True
    grade: str = "II"
    topics: list[str] = msgspec.field(default_factory=lambda: list(KEY_AREAS))
    min_growth_per_hour: float = 50.0


class MultiPlatformRule(_Conf):
    enabled: bool = True
    grade: str = "III"
    min_platforms: int = 2
    sentiments: list[str] = msgspec.field(default_factory=lambda: ["negative"])


class RisingRule(_Conf):
    enabled: bool = True
    grade: str = "III"
    min_growth_per_hour: float = 100.0


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
    for name in ("key_area", "rising"):
        value = getattr(cfg.rules, name).min_growth_per_hour
        if value <= 0:
            fail(f"rules.{name}.min_growth_per_hour", f"{value} must be more than 0")
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
    """The rules' verdict on the features: grade (collapsed), every reason, alarm or not."""

    grade: str
    reasons: list[str]
    sentiment: str
    alarm: bool
    rules: list[str] = msgspec.field(default_factory=list)  # names of the rules that fired


def _media_hit(features: Features, rule: MainstreamMediaRule) -> str | None:
    best: tuple[int, str] | None = None
    for src in features.sources:
        level = _LEVEL.get(src.media_level, 0)
        if level >= _LEVEL[rule.min_level]:
            text = f"mainstream media: media_level {src.media_level} ≥ {rule.min_level} on {src.platform}"
        elif src.platform in rule.platforms and level >= _LEVEL[rule.platform_min_level]:
            text = (f"mainstream media: {src.platform} at media_level {src.media_level}"
                    f" ≥ {rule.platform_min_level}")
        else:
            continue
        if best is None or level > best[0]:
            best = (level, text)
    return best[1] if best else None


def _fired(features: Features, cfg: GradingConfig) -> list[tuple[str, str, str]]:
    """(rule name, rule grade, what fired with its numbers) for every rule that fired."""
    r = cfg.rules
    out: list[tuple[str, str, str]] = []
    if r.emergency.enabled and features.emergency and (
            features.stability_risk or not r.emergency.require_stability_risk):
        text = "emergency with a stability risk" if features.stability_risk else "emergency"
        out.append(("emergency", r.emergency.grade, text))
    if r.mainstream_media.enabled and (text := _media_hit(features, r.mainstream_media)):
        out.append(("mainstream_media", r.mainstream_media.grade, text))
    if r.reposts.enabled:
        reposts = totals(features, r.reposts.platforms).reposts
        if reposts >= r.reposts.min_reposts:
            where = f" on {'/'.join(r.reposts.platforms)}" if r.reposts.platforms else ""
            out.append(("reposts", r.reposts.grade, f"reposts{where} {reposts} ≥ {r.reposts.min_reposts}"))
    if r.cross_region.enabled:
        if features.cross_region:
            out.append(("cross_region", r.cross_region.grade, "crosses regions (reported)"))
        elif len(features.regions) >= r.cross_region.min_regions:
            out.append(("cross_region", r.cross_region.grade,
                        f"regions {len(features.regions)} ≥ {r.cross_region.min_regions}"
                        f" ({', '.join(features.regions)})"))
    rate = growth_per_hour(features, cfg)
    key_topics = [t for t in features.topics if t in r.key_area.topics]
    if r.key_area.enabled and key_topics and rate is not None and rate >= r.key_area.min_growth_per_hour:
        out.append(("key_area", r.key_area.grade,
                    f"key area {key_topics[0]} fermenting: engagement +{_num(rate)}/h"
                    f" ≥ {_num(r.key_area.min_growth_per_hour)}/h"))
    mp = r.multi_platform
    if mp.enabled and features.sentiment in mp.sentiments and len(features.platforms) >= mp.min_platforms:
        out.append(("multi_platform", mp.grade,
                    f"{features.sentiment} on {len(features.platforms)} platforms ≥ {mp.min_platforms}"
                    f" ({', '.join(features.platforms)})"))
    if r.rising.enabled and rate is not None and rate >= r.rising.min_growth_per_hour:
        out.append(("rising", r.rising.grade,
                    f"engagement rising +{_num(rate)}/h ≥ {_num(r.rising.min_growth_per_hour)}/h"))
    return out


def _arrow(rule_grade: str, cfg: GradingConfig) -> str:
    final = collapse(rule_grade, cfg)
    label = grade_label(final, cfg, "zh")
    if final != rule_grade:
        return f"→ {rule_grade}, counted as {final} {label}"
    return f"→ {final} {label}"


def evaluate(features: Features, cfg: GradingConfig) -> Assessment:
    """The rules' grade: the most serious rule that fired wins; every fired rule is a reason."""
    fired = sorted(_fired(features, cfg), key=lambda item: -severity(item[1]))
    if fired:
        grade = collapse(fired[0][1], cfg)
        reasons = [f"{text} {_arrow(rule_grade, cfg)}" for _, rule_grade, text in fired]
    else:
        grade = collapse("IV", cfg)
        reasons = [f"no rule fired {_arrow('IV', cfg)}"]
    return Assessment(grade=grade, reasons=reasons, sentiment=features.sentiment,
                      alarm=features.sentiment not in cfg.alarm.quiet_sentiments,
                      rules=[name for name, _, _ in fired])


# --- decide: raise-only, a person's grade pinned ------------------------------------------


class CurrentGrade(msgspec.Struct, frozen=True, kw_only=True):
    """The grade an incident has now (the last `incident.graded`)."""

    grade: str
    source: str = "rules"  # rules | person
    pinned: bool = False
    sentiment: str = "negative"
    reasons: list[str] = msgspec.field(default_factory=list)


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


def current_from_event(event: IncidentGraded) -> CurrentGrade:
    """Rebuild the current grade from the last `incident.graded` event (replay)."""
    return CurrentGrade(grade=event.grade, source=event.source, pinned=event.pinned,
                        sentiment=event.sentiment, reasons=list(event.reasons))


def apply(decision: Decision) -> CurrentGrade:
    """The current grade once `decision` is published."""
    return CurrentGrade(grade=decision.grade, source=decision.source, pinned=decision.pinned,
                        sentiment=decision.sentiment, reasons=list(decision.reasons))


def decide(current: CurrentGrade | None, assessment: Assessment) -> Decision | None:
    """What the rules change: a higher grade, or a new sentiment; None if nothing changes."""
    a = assessment
    if current is None:
        return Decision(grade=a.grade, previous=None, reasons=list(a.reasons), source="rules",
                        sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    sentiment_changed = a.sentiment != current.sentiment
    note = f"sentiment {current.sentiment} → {a.sentiment}"
    if current.pinned:
        if not sentiment_changed:
            return None
        return Decision(grade=current.grade, previous=current.grade,
                        reasons=[*current.reasons, f"{note}; grade {current.grade} kept: set by a person"],
                        source=current.source, sentiment=a.sentiment, pinned=True, alarm=a.alarm)
    if severity(a.grade) > severity(current.grade):
        return Decision(grade=a.grade, previous=current.grade, reasons=list(a.reasons), source="rules",
                        sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    if not sentiment_changed:
        return None
    if a.grade == current.grade:
        reasons = [*a.reasons, note]
    else:
        reasons = [*current.reasons, f"{note}; rules now give {a.grade}, grades only rise: {current.grade} kept"]
    return Decision(grade=current.grade, previous=current.grade, reasons=reasons, source=current.source,
                    sentiment=a.sentiment, pinned=False, alarm=a.alarm)


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
    why = f": {reason.strip()}" if reason.strip() else ""
    shown = final if final == grade else f"{grade}, counted as {final}"
    text = f"set by {actor}{why} → {shown} {grade_label(final, cfg, 'zh')}"
    return Decision(grade=final, previous=current.grade if current else None, reasons=[text],
                    source="person", sentiment=sentiment, pinned=True,
                    alarm=sentiment not in cfg.alarm.quiet_sentiments, actor=actor)


def release(current: CurrentGrade | None, assessment: Assessment, actor: str) -> Decision | None:
    """Unpin a person's grade: the rules' grade applies again (lower or higher); None if not pinned."""
    if current is None or not current.pinned:
        return None
    if not actor.strip():
        raise GradingError("actor", "actor is required: who releases the grade")
    return Decision(grade=assessment.grade, previous=current.grade,
                    reasons=[f"released by {actor}: rules resume", *assessment.reasons], source="rules",
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
