"""A monitor's report (DESIGN.md §4.3): the body of `wb.intake.submit` and each JSONL line.

Only the shapes live here; the checks that name a field in their error are in
`watchboard.domain.validate`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Platform = Literal[
    "weibo", "wechat", "douyin", "kuaishou", "toutiao", "bilibili", "forum", "news", "tv",
    "newspaper", "radio", "web", "hotline", "other",
]
MediaLevel = Literal["none", "local", "city", "provincial", "national"]
Sentiment = Literal["negative", "neutral", "positive"]
Topic = Literal[
    "food_drug", "production_safety", "transport", "environment", "land_demolition",
    "public_health", "disaster_relief", "education", "law_enforcement", "other",
]
Grade = Literal["I", "II", "III", "IV"]
Stage = Literal["reported", "assessing", "handling", "following", "subsided", "closed"]

PLATFORMS: tuple[str, ...] = Platform.__args__  # type: ignore[attr-defined]
MEDIA_LEVELS: tuple[str, ...] = MediaLevel.__args__  # type: ignore[attr-defined]
SENTIMENTS: tuple[str, ...] = Sentiment.__args__  # type: ignore[attr-defined]
TOPICS: tuple[str, ...] = Topic.__args__  # type: ignore[attr-defined]
GRADES: tuple[str, ...] = Grade.__args__  # type: ignore[attr-defined]
STAGES: tuple[str, ...] = Stage.__args__  # type: ignore[attr-defined]


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    reposts: int = 0
    comments: int = 0
    likes: int = 0
    views: int = 0


class ReportMetrics(Metrics, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Metrics as a monitor sends them: an unknown counter is a typo, refused."""


class Report(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A validated report. Unknown fields are refused: a typo in a monitor's tool must show."""

    title: str
    platform: Platform
    summary: str = ""
    url: str | None = None
    region: str | None = None
    unit_hint: str | None = None
    topic: Topic | None = None
    observed_at: datetime | None = None
    metrics: ReportMetrics = msgspec.field(default_factory=ReportMetrics)
    media_level: MediaLevel = "none"
    sentiment: Sentiment = "negative"
    cross_region: bool = False
    emergency: bool = False
    stability_risk: bool = False
    reporter: str | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    incident_id: str | None = None
    posted_at: datetime | None = None  # when the item appeared online (before observed_at)
