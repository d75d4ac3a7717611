"""Merging reports into open incidents: by id, by URL, by near-identical title in a region."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchboard.config.intake import MergeConfig
from watchboard.domain.errors import Conflict, NotFound
from watchboard.domain.events import (
    IncidentClosed,
    IncidentReported,
    Mention,
    MentionAdded,
    NoteAdded,
)
from watchboard.domain.merge import (
    MergeDecision,
    MergeIndex,
    normalize_region,
    normalize_title,
    normalize_url,
    similarity,
)
from watchboard.domain.report import Report

T0 = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
A = "01JD3X7K2M9Q4R5S6T7V8W9XA0"
B = "01JD3X7K2M9Q4R5S6T7V8W9XB0"
TITLE = "网传某镇中学食堂使用过期食材"


def report(title: str = TITLE, **kw: Any) -> Report:
    return Report(title=title, platform=kw.pop("platform", "weibo"), **kw)


def reported(incident_id: str, title: str = TITLE, *, region: str | None = "仲山镇",
             url: str | None = None, at: datetime = T0) -> IncidentReported:
    return IncidentReported(id="E" + incident_id, incident_id=incident_id, at=at, actor="m",
                            title=title, mention=Mention(platform="weibo", title=title,
                                                         region=region, url=url))


def index_with(*events: Any, **cfg: Any) -> MergeIndex:
    idx = MergeIndex(MergeConfig(**cfg))
    for event in events:
        idx.apply(event)
    return idx


# --- normalisation ----------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "key"), [
    ("某镇中学食堂使用过期食材", "某镇中学食堂使用过期食材"),
    ("网传某镇中学食堂使用过期食材", "某镇中学食堂使用过期食材"),
    ("【突发】网传：某镇中学食堂，使用“过期”食材！！", "某镇中学食堂使用过期食材"),
    ("#某镇中学食堂# 使用过期食材", "某镇中学食堂使用过期食材"),
    ("ＡＢＣ１２３　全角", "abc123全角"),
    ("Food  Safety\tIssue!", "foodsafetyissue"),
    ("某镇中学🍱食堂😡", "某镇中学食堂"),
    ("网传", "网传"),  # a marker alone is the whole title: kept
    ("中学网传食堂", "中学网传食堂"),  # only leading markers are dropped
    ("", ""),
])
def test_normalize_title(raw: str, key: str) -> None:
    """Width, case, punctuation, whitespace, emoji and leading hedges are folded away."""
    assert normalize_title(raw) == key


@pytest.mark.parametrize(("a", "b", "low", "high"), [
    ("某镇中学食堂使用过期食材", "网传：某镇中学食堂使用过期食材！", 1.0, 1.0),
    ("某镇中学食堂使用过期食材", "某镇中学食堂用过期食材", 0.85, 0.9),
    ("某镇中学食堂使用过期食材", "某区小学食堂发现变质肉类", 0.0, 0.3),
    ("某镇中学食堂使用过期食材", "某镇中学食堂", 0.5, 0.7),
    ("Bridge collapse in X town", "bridge COLLAPSE in x-town!", 1.0, 1.0),
    ("", "anything", 0.0, 0.0),
    ("a", "a", 1.0, 1.0),
])
def test_similarity(a: str, b: str, low: float, high: float) -> None:
    """Bigram Dice on normalised titles: identical → 1, one character off → ~0.86, unrelated low."""
    assert low <= similarity(a, b) <= high
    assert similarity(a, b) == similarity(b, a)


@pytest.mark.parametrize(("a", "b"), [
    ("https://weibo.com/1/abc", "HTTPS://WEIBO.COM/1/abc"),
    ("https://weibo.com/1/abc", "http://www.weibo.com/1/abc"),
    ("https://weibo.com/1/abc", "https://weibo.com:443/1/abc/"),
    ("https://weibo.com/1/abc", "https://weibo.com/1/abc#comments"),
    ("https://weibo.com/1/abc", "https://weibo.com/1/abc?utm_source=wx&utm_medium=share&spm=a.b"),
    ("https://mp.weixin.qq.com/s?__biz=M&mid=1&idx=1&sn=x",
     "https://mp.weixin.qq.com/s?sn=x&idx=1&mid=1&__biz=M&chksm=zz&scene=21&share_token=t"),
    ("https://b23.example/v?id=1&b=2", "https://b23.example/v?b=2&id=1&vd_source=abc"),
])
def test_urls_that_normalise_equal(a: str, b: str) -> None:
    """Case, www, default port, trailing slash, fragment, tracking and order do not matter."""
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(("a", "b"), [
    ("https://weibo.com/1/abc", "https://weibo.com/1/abd"),
    ("https://weibo.com/1/ABC", "https://weibo.com/1/abc"),  # paths are case-sensitive
    ("https://a.example/p?id=1", "https://a.example/p?id=2"),
    ("https://a.example/#/detail/1", "https://a.example/#/detail/2"),  # hash routes are kept
    ("https://a.example:8080/p", "https://a.example/p"),
])
def test_urls_that_stay_distinct(a: str, b: str) -> None:
    """Different posts keep different keys: path case, real parameters, hash routes, ports."""
    assert normalize_url(a) != normalize_url(b)


def test_normalize_region() -> None:
    """Regions compare without whitespace or width differences; None is the empty region."""
    assert normalize_region(" 仲山镇 ") == normalize_region("仲山镇") != normalize_region("仲山乡")
    assert normalize_region(None) == normalize_region("") == ""


# --- decisions --------------------------------------------------------------------------

def new(score: float = 0.0) -> MergeDecision:
    return MergeDecision(incident_id=None, merged_by=None, score=score)


def test_explicit_incident_id_merges() -> None:
    """A report naming an open incident merges into it, whatever its title."""
    idx = index_with(reported(A))
    assert idx.decide(report("完全不同的标题", incident_id=A), now=T0) == MergeDecision(
        incident_id=A, merged_by="incident_id", score=1.0)


def test_explicit_id_of_closed_incident_is_a_conflict() -> None:
    """A closed incident is not reopened by naming it."""
    idx = index_with(reported(A), IncidentClosed(id="c", incident_id=A, at=T0, actor="x"))
    with pytest.raises(Conflict, match="is closed"):
        idx.decide(report(incident_id=A), now=T0)


def test_explicit_unknown_id_is_not_found() -> None:
    """An id the index never saw is NotFound (validation normally catches it first)."""
    with pytest.raises(NotFound):
        index_with().decide(report(incident_id=A), now=T0)


def test_url_of_a_mention_merges_across_regions_and_time() -> None:
    """The URL of any mention of an open incident merges, in any region, at any time."""
    idx = index_with(reported(A, url="https://weibo.com/1/abc"),
                     MentionAdded(id="m", incident_id=A, at=T0, actor="m", merged_by="title",
                                  mention=Mention(platform="douyin", url="https://douyin.com/v/9")))
    later = T0 + timedelta(days=30)
    for url in ("https://weibo.com/1/abc?utm_source=x", "http://www.douyin.com/v/9/"):
        assert idx.decide(report("另一个标题", url=url, region="别处"), now=later) == MergeDecision(
            incident_id=A, merged_by="url", score=1.0)


def test_url_of_closed_incident_opens_a_new_one() -> None:
    """Renewed attention on a closed incident's post is a new incident."""
    idx = index_with(reported(A, url="https://weibo.com/1/abc"),
                     IncidentClosed(id="c", incident_id=A, at=T0, actor="x"))
    assert idx.decide(report("别的", url="https://weibo.com/1/abc"), now=T0).incident_id is None


@pytest.mark.parametrize(("title", "region", "offset", "expected"), [
    ("某镇中学食堂使用过期食材", "仲山镇", timedelta(hours=1), A),
    ("【网传】某镇中学食堂使用“过期”食材", "仲山镇", timedelta(hours=71), A),
    ("某镇中学食堂用过期食材", " 仲山镇", timedelta(0), A),
    ("某镇中学食堂使用过期食材", "仲山乡", timedelta(hours=1), None),  # another region
    ("某镇中学食堂使用过期食材", None, timedelta(hours=1), None),  # region unknown
    ("某镇中学食堂使用过期食材", "仲山镇", timedelta(hours=73), None),  # outside the window
    ("某镇中学食堂使用过期食材", "仲山镇", -timedelta(hours=73), None),  # long before
    ("某镇中学食堂", "仲山镇", timedelta(hours=1), None),  # too different
    ("某镇小学食堂发现变质肉类", "仲山镇", timedelta(hours=1), None),
])
def test_title_merge_in_region_and_window(title: str, region: str | None, offset: timedelta,
                                          expected: str | None) -> None:
    """Near-identical titles merge only in the same region within the window."""
    idx = index_with(reported(A))
    decision = idx.decide(report(title, region=region, observed_at=T0 + offset), now=T0 + offset)
    assert decision.incident_id == expected
    assert decision.merged_by == ("title" if expected else None)


def test_report_time_is_observed_at_not_now() -> None:
    """An imported old report is compared by when it was seen, not when it arrived."""
    idx = index_with(reported(A))
    decision = idx.decide(report(region="仲山镇", observed_at=T0 + timedelta(hours=2)),
                          now=T0 + timedelta(days=10))
    assert decision.incident_id == A


def test_mention_keeps_incident_alive_for_title_merge() -> None:
    """A mention extends the window: last seen moves to the mention's time."""
    mention = MentionAdded(id="m", incident_id=A, at=T0 + timedelta(hours=60), actor="m",
                           mention=Mention(platform="wechat", title=TITLE, region="仲山镇"))
    idx = index_with(reported(A), mention)
    at = T0 + timedelta(hours=100)
    assert idx.last_seen(A) == T0 + timedelta(hours=60)
    assert idx.decide(report(region="仲山镇"), now=at).incident_id == A


def test_mention_titles_are_indexed_too() -> None:
    """A report like any mention's title merges, not only like the first title."""
    mention = MentionAdded(id="m", incident_id=A, at=T0, actor="m",
                           mention=Mention(platform="wechat", title="仲山中学学生集体腹泻送医", region="仲山镇"))
    idx = index_with(reported(A), mention)
    assert idx.decide(report("仲山中学学生集体腹泻送医！", region="仲山镇"), now=T0).incident_id == A


def test_closed_incident_does_not_merge_by_title() -> None:
    """After closing, the same title opens a new incident."""
    idx = index_with(reported(A), IncidentClosed(id="c", incident_id=A, at=T0, actor="x"))
    assert idx.decide(report(region="仲山镇"), now=T0) == new()
    assert idx.knows(A) and not idx.is_open(A) and len(idx) == 0


def test_best_title_wins_and_near_miss_is_reported() -> None:
    """Of two candidates the most similar wins; a new incident reports its best near-miss score."""
    idx = index_with(reported(A, "某镇中学食堂用过期食材"), reported(B, "某镇中学食堂使用过期食材"))
    assert idx.decide(report(region="仲山镇"), now=T0).incident_id == B
    miss = idx.decide(report("某镇中学食堂问题", region="仲山镇"), now=T0)
    assert miss.incident_id is None and 0.3 < miss.score < 0.85


@pytest.mark.parametrize(("threshold", "expected"), [(0.85, A), (0.9, None)])
def test_threshold_is_configurable(threshold: float, expected: str | None) -> None:
    """The similarity threshold comes from config."""
    idx = index_with(reported(A), title_similarity=threshold)
    assert idx.decide(report("某镇中学食堂用过期食材", region="仲山镇"), now=T0).incident_id == expected


def test_short_titles_never_merge_by_title() -> None:
    """Titles under title_min_chars after normalisation are too vague to merge."""
    idx = index_with(reported(A, "突发！视频"))
    assert idx.decide(report("突发：视频", region="仲山镇"), now=T0) == new()


def test_replayed_events_are_harmless() -> None:
    """Applying the same events twice leaves one incident, and a closed one stays closed."""
    closed = IncidentClosed(id="c", incident_id=A, at=T0, actor="x")
    idx = index_with(reported(A), reported(A), closed, reported(A), NoteAdded(
        id="n", incident_id=A, at=T0, actor="x", text="t"))
    assert len(idx) == 0 and idx.knows(A)


def test_mention_gives_a_region_to_an_incident_without_one() -> None:
    """An incident reported without a region takes its first mention's region for title merging."""
    mention = MentionAdded(id="m", incident_id=A, at=T0, actor="m",
                           mention=Mention(platform="wechat", title="另一个说法的标题", region="仲山镇"))
    idx = index_with(reported(A, region=None), mention)
    assert idx.decide(report(region="仲山镇"), now=T0).incident_id == A
    assert idx.decide(report("另一个说法的标题", region="仲山镇"), now=T0).incident_id == A
    assert idx.decide(report(region=None), now=T0).incident_id is None
    later = MentionAdded(id="m2", incident_id=A, at=T0, actor="m",
                         mention=Mention(platform="wechat", region="别处"))
    idx.apply(later)  # the first region sticks
    assert idx.decide(report(region="仲山镇"), now=T0).incident_id == A


def test_repeated_mention_is_harmless() -> None:
    """Applying the same mention twice (request path and projector) changes nothing more."""
    mention = MentionAdded(id="m", incident_id=A, at=T0 + timedelta(hours=1), actor="m",
                           mention=Mention(platform="wechat", title="仲山中学学生集体腹泻送医",
                                           url="https://x/1", region="仲山镇"))
    once = index_with(reported(A), mention)
    twice = index_with(reported(A), mention, mention)
    assert vars(once)["_postings"] == vars(twice)["_postings"]
    assert once.last_seen(A) == twice.last_seen(A) == T0 + timedelta(hours=1)


def test_prune_forgets_titles_but_keeps_urls() -> None:
    """Pruning drops stale titles only; URL merging still finds the incident."""
    idx = index_with(reported(A, url="https://weibo.com/1/abc"))
    later = T0 + timedelta(days=5)
    assert idx.prune(later) == 1
    assert idx.decide(report(region="仲山镇", observed_at=T0), now=later).incident_id is None
    assert idx.decide(report(url="https://weibo.com/1/abc"), now=later).incident_id == A


def test_many_open_incidents_decide_correctly() -> None:
    """With thousands of open incidents in one region the right one is found."""
    idx = MergeIndex()
    for i in range(5000):
        idx.open(f"I{i:05d}", title=f"仲山镇第{i}号小区发生{i % 7}级事件编号{i}", region="仲山镇",
                 url=f"https://weibo.com/{i}", seen_at=T0)
    decision = idx.decide(report("仲山镇第4321号小区发生2级事件编号4321", region="仲山镇"), now=T0)
    assert decision == MergeDecision(incident_id="I04321", merged_by="title", score=1.0)
