"""What grading knows of an incident: `Features`, folded from its mentions one at a time.

- Metrics grow while a post spreads, and the same post is reported again with bigger numbers,
  so each source (its URL; a post without URL counts as one source per platform) keeps the
  *maximum* of each counter it ever showed, and the incident's totals are the *sum* over
  distinct sources. Without a URL we cannot tell two posts apart: under-counting a little is
  better than counting one post twice and raising a grade on an artefact.
- The incident's sentiment is the most negative one seen: a single negative mention of a
  positive story is what the duty room must not miss.
- Growth ("fermenting fast", "rising fast") is engagement gained per hour between the first
  and the latest observation: (engagement of today's totals − engagement of the first
  observation) / hours between them. Engagement is a weighted sum of the counters
  (`[engagement]`). Below `min_span` between first and latest there is no rate at all: two
  reports a minute apart say nothing about a trend.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from watchboard.config.grading import GradingConfig
from watchboard.domain.events import Mention
from watchboard.domain.report import MEDIA_LEVELS, Metrics

# Higher is more negative; the incident keeps the most negative sentiment seen.
_NEGATIVITY = {"positive": 0, "neutral": 1, "negative": 2}
LEVEL_RANK = {level: i for i, level in enumerate(MEDIA_LEVELS)}  # none < local < city < …


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
            level = max(src.media_level, mention.media_level, key=lambda v: LEVEL_RANK.get(v, 0))
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
        media_level=max(f.media_level, mention.media_level, key=lambda v: LEVEL_RANK.get(v, 0)),
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
    if span <= 0 or span < cfg.engagement.min_span_seconds():
        return None
    gained = engagement(totals(features), cfg) - engagement(features.first_metrics, cfg)
    return gained / (span / 3600)
