"""Grading rules: every rule on and off at its threshold, folding, raise-only, pins, config errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from watchboard.config import ConfigSource
from watchboard.config.grading import RULE_NAMES, GradingConfig, load_grading
from watchboard.domain.errors import Invalid
from watchboard.domain.events import IncidentGraded, Mention
from watchboard.domain.grading import (
    GRADE_COLOURS,
    Assessment,
    CurrentGrade,
    Decision,
    Features,
    apply_grade,
    current_from_event,
    decide,
    evaluate,
    fold_features,
    grade_label,
    growth_per_hour,
    regrade,
    release,
    totals,
)
from watchboard.domain.report import Metrics

T0 = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
CFG = GradingConfig()


def m(platform: str = "weibo", **kw: object) -> Mention:
    """A mention with sensible defaults (negative, no numbers)."""
    kw.setdefault("title", "网传某镇中学食堂使用过期食材")
    return Mention(platform=platform, **kw)  # type: ignore[arg-type]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(*mentions: Mention) -> Features:
    """Fold mentions in order; each is received at T0 unless it says when it was observed."""
    features: Features | None = None
    for mention in mentions:
        features = fold_features(features, mention, T0)
    assert features is not None
    return features


# --- every rule at its boundary ------------------------------------------------------------

def unquoted(cfg: GradingConfig) -> GradingConfig:
    """`cfg` with every rule's quote removed: the reasons are the findings alone."""
    rules = {name: msgspec.structs.replace(getattr(cfg.rules, name), quote="", quote_en="") for name in RULE_NAMES}
    return msgspec.structs.replace(cfg, rules=msgspec.structs.replace(cfg.rules, **rules))


BARE = unquoted(CFG)

RULE_CASES = [
    # (id, mentions, grade, Chinese reason and English reason that must be among the reasons, or None)
    ("emergency+stability", [m(emergency=True, stability_risk=True)], "I",
     "突发事件,严重影响社会稳定 → I 特别重大", "emergency with a stability risk → I Especially major"),
    ("emergency alone", [m(emergency=True)], "IV", None, None),
    ("stability alone", [m(stability_risk=True)], "IV", None, None),
    ("media city on weibo", [m(media_level="city")], "II",
     "主流媒体曝光:微博,媒体级别 市级 ≥ 市级 → II 重大", "mainstream media: Weibo at city level ≥ city → II Major"),
    ("media national", [m(media_level="national")], "II",
     "主流媒体曝光:微博,媒体级别 国家级 ≥ 市级 → II 重大",
     "mainstream media: Weibo at national level ≥ city → II Major"),
    ("media local on weibo", [m(media_level="local")], "IV", None, None),
    ("tv local (default needs city)", [m("tv", media_level="local")], "IV", None, None),
    ("tv provincial", [m("tv", media_level="provincial")], "II",
     "主流媒体曝光:电视,媒体级别 省级 ≥ 市级 → II 重大", "mainstream media: TV at provincial level ≥ city → II Major"),
    ("reposts 100", [m(url="u1", metrics=Metrics(reposts=100))], "II",
     "转发合计 100 ≥ 100 → II 重大", "reposts 100 ≥ 100 → II Major"),
    ("reposts 99", [m(url="u1", metrics=Metrics(reposts=99))], "IV", None, None),
    ("reposts summed over urls", [m(url="u1", metrics=Metrics(reposts=60)),
                                  m(url="u2", metrics=Metrics(reposts=40))], "II",
     "转发合计 100 ≥ 100 → II 重大", "reposts 100 ≥ 100 → II Major"),
    ("same url keeps max", [m(url="u1", metrics=Metrics(reposts=60)),
                            m(url="u1", metrics=Metrics(reposts=99))], "IV", None, None),
    ("no url: one source per platform", [m(metrics=Metrics(reposts=60)), m(metrics=Metrics(reposts=60))],
     "IV", None, None),
    ("cross_region flag", [m(cross_region=True)], "II",
     "跨地区(报告标明)→ II 重大", "crosses regions (reported) → II Major"),
    ("two regions", [m(region="仲山镇"), m(region="城关镇")], "II",
     "涉及 2 个地区 ≥ 2(仲山镇、城关镇)→ II 重大", "regions 2 ≥ 2 (仲山镇, 城关镇) → II Major"),
    ("one region twice", [m(region="仲山镇"), m(region="仲山镇")], "IV", None, None),
    ("negative on 2 platforms", [m("weibo"), m("douyin")], "III",
     "负面信息出现在 2 个平台 ≥ 2(微博、抖音)→ III 较大", "negative on 2 platforms ≥ 2 (Weibo, Douyin) → III Large"),
    ("negative on 1 platform", [m("weibo"), m("weibo", url="x")], "IV", None, None),
    ("neutral on 2 platforms", [m("weibo", sentiment="neutral"), m("douyin", sentiment="neutral")], "IV",
     None, None),
    ("rising 100/h", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(60), metrics=Metrics(comments=100))],
     "III", "互动量上升 +100/小时 ≥ 100/小时 → III 较大", "engagement rising +100/h ≥ 100/h → III Large"),
    ("rising 99/h", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(60), metrics=Metrics(comments=99))],
     "IV", None, None),
    ("key area 50/h", [m(url="u", topic="food_drug", observed_at=at(0)),
                       m(url="u", observed_at=at(60), metrics=Metrics(comments=50))], "II",
     "重点领域(食品药品)迅速发酵:互动量 +50/小时 ≥ 50/小时 → II 重大",
     "key area food and drug safety fermenting: engagement +50/h ≥ 50/h → II Major"),
    ("key area 49/h", [m(url="u", topic="food_drug", observed_at=at(0)),
                       m(url="u", observed_at=at(60), metrics=Metrics(comments=49))], "IV", None, None),
    ("not a key area 50/h", [m(url="u", topic="education", observed_at=at(0)),
                             m(url="u", observed_at=at(60), metrics=Metrics(comments=50))], "IV", None, None),
    ("span 15m is enough", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(15), metrics=Metrics(comments=25))],
     "III", "互动量上升 +100/小时 ≥ 100/小时 → III 较大", "engagement rising +100/h ≥ 100/h → III Large"),
    ("span 14m has no rate", [m(url="u", observed_at=at(0)),
                              m(url="u", observed_at=at(14), metrics=Metrics(comments=90))], "IV", None, None),
    ("likes do not count", [m(url="u", observed_at=at(0)),
                            m(url="u", observed_at=at(60), metrics=Metrics(likes=10_000, views=99_999))], "IV",
     None, None),
    ("nothing", [m()], "IV", "未触发任何规则 → IV 一般", "no rule fired → IV General"),
]


@pytest.mark.parametrize(("mentions", "grade", "zh", "en"), [c[1:] for c in RULE_CASES],
                         ids=[c[0] for c in RULE_CASES])
def test_rule_boundaries(mentions: list[Mention], grade: str, zh: str | None, en: str | None) -> None:
    """Each rule fires exactly at its threshold and not one below; its reason in both languages."""
    result = evaluate(fold(*mentions), BARE)
    assert result.grade == grade
    if zh is not None:
        assert zh in result.reasons
        assert en in result.reasons_en
        assert result.reasons.index(zh) == result.reasons_en.index(en)  # the same reason, in the same place
    if grade == "IV":
        assert result.reasons == ["未触发任何规则 → IV 一般"]
        assert result.reasons_en == ["no rule fired → IV General"]
        assert result.rules == []


def test_highest_grade_wins_and_every_rule_is_a_reason() -> None:
    """Emergency, reposts and two platforms: grade I, reasons listed worst first, in both languages."""
    f = fold(m("weibo", url="a", metrics=Metrics(reposts=150), emergency=True, stability_risk=True),
             m("douyin", url="b"))
    result = evaluate(f, BARE)
    assert result.grade == "I"
    assert result.reasons == [
        "突发事件,严重影响社会稳定 → I 特别重大",
        "转发合计 150 ≥ 100 → II 重大",
        "负面信息出现在 2 个平台 ≥ 2(微博、抖音)→ III 较大",
    ]
    assert result.reasons_en == [
        "emergency with a stability risk → I Especially major",
        "reposts 150 ≥ 100 → II Major",
        "negative on 2 platforms ≥ 2 (Weibo, Douyin) → III Large",
    ]
    assert result.rules == ["emergency", "reposts", "multi_platform"]


QUOTE_CASES = [
    # (id naming the seed section each default rule quotes, mentions, Chinese reason, English reason)
    ("emergency: seed 004 part 6 (3) 4", [m(emergency=True, stability_risk=True)],
     "突发事件,严重影响社会稳定(「突发事件引起的、严重影响社会稳定」,预案004 第六篇(三)4)→ I 特别重大",
     'emergency with a stability risk ("caused by a sudden emergency, seriously affecting social stability", '
     "seed 004 part 6 (3) 4) → I Especially major"),
    ("mainstream_media: seed 003 3(3)", [m("tv", media_level="city")],
     "主流媒体曝光:电视,媒体级别 市级 ≥ 市级(「被省、市级主流媒体(论坛)曝光」,预案003 三(三))→ II 重大",
     'mainstream media: TV at city level ≥ city ("exposed by provincial or city mainstream media (forums)", '
     "seed 003 3(3)) → II Major"),
    ("reposts: seed 003 3(3)", [m(url="u1", metrics=Metrics(reposts=160))],
     "转发合计 160 ≥ 100(较宽读法,各来源相加;原文「微博转发达100条以上」,预案003 三(三))→ II 重大",
     'reposts 160 ≥ 100 (a looser reading, sources added up, of "reposted 100+ times on Weibo", seed 003 3(3))'
     " → II Major"),
    ("cross_region: seed 003 3(3)", [m(cross_region=True)],
     "跨地区(报告标明)(「跨地区的」,预案003 三(三))→ II 重大",
     'crosses regions (reported) ("crossing regions", seed 003 3(3)) → II Major'),
    ("key_area: seed 004 part 6 (3) 3", [m(url="u", topic="transport", observed_at=at(0)),
                                         m(url="u", observed_at=at(30), metrics=Metrics(reposts=40))],
     "重点领域(交通运输)迅速发酵:互动量 +80/小时 ≥ 50/小时(「涉及重点领域…的敏感信息迅速发酵」,预案004 第六篇(三)3)→ II 重大",
     'key area transport fermenting: engagement +80/h ≥ 50/h ("sensitive information in a key area spreading '
     'fast", seed 004 part 6 (3) 3) → II Major'),
    ("multi_platform: seed 004 part 6 (3) 2", [m("forum"), m("web")],
     "负面信息出现在 2 个平台 ≥ 2(论坛、网站)(「在不同网站出现」,预案004 第六篇(三)2)→ III 较大",
     'negative on 2 platforms ≥ 2 (forum, website) ("appears on different sites", seed 004 part 6 (3) 2) '
     "→ III Large"),
    ("rising: seed 004 part 6 (3) 2", [m(url="u", observed_at=at(0)),
                                       m(url="u", observed_at=at(60), metrics=Metrics(comments=120))],
     "互动量上升 +120/小时 ≥ 100/小时(「发酵趋势明显」,预案004 第六篇(三)2)→ III 较大",
     'engagement rising +120/h ≥ 100/h ("a clear fermenting trend", seed 004 part 6 (3) 2) → III Large'),
]


@pytest.mark.parametrize(("mentions", "zh", "en"), [c[1:] for c in QUOTE_CASES], ids=[c[0] for c in QUOTE_CASES])
def test_default_reasons_quote_the_plans(mentions: list[Mention], zh: str, en: str) -> None:
    """Each default rule's reason cites the plan's words and section, wholly Chinese and wholly English."""
    result = evaluate(fold(*mentions), CFG)
    assert result.reasons[0] == zh
    assert result.reasons_en[0] == en
    assert not re.search(r"[\u4e00-\u9fff]", en)  # no Chinese in the English reason


PER_SOURCE = {"rules": {"reposts": {"count": "per_source", "platforms": ["weibo"]}}}
REPOST_COUNT_CASES = [
    # Seed 003 三(三) "微博转发达100条以上": the reposts of one Weibo post (per_source), or the
    # default's sum over posts. (id, config, mentions, fires, the finding in the reasons)
    ("sum: two posts 60+40 reach 100", {}, [m(url="a", metrics=Metrics(reposts=60)),
                                             m(url="b", metrics=Metrics(reposts=40))],
     "转发合计 100 ≥ 100 → II 重大"),
    ("sum: weibo and douyin add up", {}, [m(url="a", metrics=Metrics(reposts=60)),
                                           m("douyin", url="b", metrics=Metrics(reposts=40), sentiment="neutral")],
     "转发合计 100 ≥ 100 → II 重大"),
    ("per_source: one post at 100 fires", PER_SOURCE, [m(url="a", metrics=Metrics(reposts=100))],
     "微博单条转发 100 ≥ 100 → II 重大"),
    ("per_source: one post at 99 does not", PER_SOURCE, [m(url="a", metrics=Metrics(reposts=99))], None),
    ("per_source: two posts 60+40 do not add up", PER_SOURCE, [m(url="a", metrics=Metrics(reposts=60)),
                                                               m(url="b", metrics=Metrics(reposts=40))], None),
    ("per_source: the biggest post counts", PER_SOURCE, [m(url="a", metrics=Metrics(reposts=30)),
                                                         m(url="b", metrics=Metrics(reposts=160))],
     "微博单条转发 160 ≥ 100 → II 重大"),
    ("per_source: a post's max over reports", PER_SOURCE, [m(url="a", metrics=Metrics(reposts=120)),
                                                           m(url="a", metrics=Metrics(reposts=90))],
     "微博单条转发 120 ≥ 100 → II 重大"),
    ("per_source: douyin reposts do not count", PER_SOURCE,
     [m("douyin", url="a", metrics=Metrics(reposts=500), sentiment="neutral")], None),
    ("per_source: weibo 60 + douyin 500 do not", PER_SOURCE,
     [m(url="a", metrics=Metrics(reposts=60)), m("douyin", url="b", metrics=Metrics(reposts=500))], None),
    ("per_source: every platform when none named", {"rules": {"reposts": {"count": "per_source"}}},
     [m("douyin", url="a", metrics=Metrics(reposts=100), sentiment="neutral")], "单条转发 100 ≥ 100 → II 重大"),
]


@pytest.mark.parametrize(("conf", "mentions", "finding"), [c[1:] for c in REPOST_COUNT_CASES],
                         ids=[c[0] for c in REPOST_COUNT_CASES])
def test_reposts_counted_per_source_or_summed(conf: dict, mentions: list[Mention], finding: str | None) -> None:
    """Seed 003 三(三): `count = "per_source"` asks one post to reach 100; `sum` adds posts up."""
    cfg = unquoted(msgspec.convert(conf, GradingConfig))
    result = evaluate(fold(*mentions), cfg)
    assert ("reposts" in result.rules) == (finding is not None)
    if finding is not None:
        assert finding in result.reasons


def test_per_source_reason_in_english() -> None:
    """Seed 003 三(三): the English reason says it is one Weibo post."""
    cfg = unquoted(msgspec.convert(PER_SOURCE, GradingConfig))
    result = evaluate(fold(m(url="a", metrics=Metrics(reposts=160))), cfg)
    assert result.reasons_en == ["one Weibo post reposted 160 ≥ 100 → II Major"]


RISING = {"rules": {"multi_platform": {"require_rising": True}, "rising": {"enabled": False}}}
TWO_SITES_RISING = [m("forum", url="a", observed_at=at(0)),
                    m("web", url="b", observed_at=at(60), metrics=Metrics(comments=100))]
MULTI_RISING_CASES = [
    # Seed 004 第六篇(三)2 较大 "在不同网站出现的且负面声音有所上升,发酵趋势明显": with
    # `require_rising` both halves at once. (id, config, mentions, grade)
    ("either-or default: two sites alone", {}, [m("forum"), m("web")], "III"),
    ("either-or default: rising alone", {}, [m(url="u", observed_at=at(0)),
                                             m(url="u", observed_at=at(60), metrics=Metrics(comments=100))], "III"),
    ("and: two sites, rising 100/h", RISING, TWO_SITES_RISING, "III"),
    ("and: two sites, rising 99/h", RISING, [m("forum", url="a", observed_at=at(0)),
                                             m("web", url="b", observed_at=at(60), metrics=Metrics(comments=99))],
     "IV"),
    ("and: two sites, no rate yet", RISING, [m("forum"), m("web", metrics=Metrics(comments=1000))], "IV"),
    ("and: one site rising", RISING, [m("forum", url="u", observed_at=at(0)),
                                      m("forum", url="u", observed_at=at(60), metrics=Metrics(comments=500))], "IV"),
    ("and: two sites rising but neutral", RISING,
     [m("forum", url="a", observed_at=at(0), sentiment="neutral"),
      m("web", url="b", observed_at=at(60), metrics=Metrics(comments=500), sentiment="neutral")], "IV"),
    ("and: own threshold 50/h", {"rules": {"multi_platform": {"require_rising": True, "min_growth_per_hour": 50.0},
                                           "rising": {"enabled": False}}},
     [m("forum", url="a", observed_at=at(0)), m("web", url="b", observed_at=at(60), metrics=Metrics(comments=50))],
     "III"),
]


@pytest.mark.parametrize(("conf", "mentions", "grade"), [c[1:] for c in MULTI_RISING_CASES],
                         ids=[c[0] for c in MULTI_RISING_CASES])
def test_multi_platform_requires_rising(conf: dict, mentions: list[Mention], grade: str) -> None:
    """Seed 004 第六篇(三)2: several sites AND a rising negative trend, when `require_rising` says so."""
    assert evaluate(fold(*mentions), msgspec.convert(conf, GradingConfig)).grade == grade


def test_multi_platform_rising_reason() -> None:
    """Seed 004 第六篇(三)2: the reason names both halves, in each language."""
    cfg = unquoted(msgspec.convert(RISING, GradingConfig))
    result = evaluate(fold(*TWO_SITES_RISING), cfg)
    assert result.reasons == ["负面信息出现在 2 个平台 ≥ 2(论坛、网站),且互动量上升 +100/小时 ≥ 100/小时 → III 较大"]
    assert result.reasons_en == ["negative on 2 platforms ≥ 2 (forum, website), rising +100/h ≥ 100/h → III Large"]


@pytest.mark.parametrize(("sentiments", "expected", "alarm"), [
    (["negative"], "negative", True),
    (["neutral"], "neutral", True),
    (["positive"], "positive", False),
    (["positive", "negative", "positive"], "negative", True),
    (["positive", "neutral"], "neutral", True),
])
def test_sentiment_most_negative_and_alarm(sentiments: list[str], expected: str, alarm: bool) -> None:
    """The most negative sentiment seen is kept; positive items are graded but not alarmed."""
    f = fold(*(m(sentiment=s, url=f"u{i}", metrics=Metrics(reposts=50)) for i, s in enumerate(sentiments)))
    result = evaluate(f, CFG)
    assert (result.sentiment, result.alarm) == (expected, alarm)
    assert f.latest_sentiment == sentiments[-1]


def test_positive_item_still_graded() -> None:
    """A positive story reposted 150 times is II, tracked without alarm."""
    result = evaluate(fold(m(sentiment="positive", metrics=Metrics(reposts=150))), CFG)
    assert (result.grade, result.alarm) == ("II", False)


def test_disabled_rule_does_not_fire() -> None:
    """`enabled = false` switches a rule off."""
    cfg = msgspec.convert({"rules": {"reposts": {"enabled": False}}}, GradingConfig)
    assert evaluate(fold(m(metrics=Metrics(reposts=500))), cfg).grade == "IV"


def test_reposts_limited_to_platforms() -> None:
    """With `platforms = ["weibo"]` Douyin shares do not count."""
    cfg = unquoted(msgspec.convert({"rules": {"reposts": {"platforms": ["weibo"]}}}, GradingConfig))
    f = fold(m("douyin", metrics=Metrics(reposts=500), sentiment="neutral"))
    assert evaluate(f, cfg).grade == "IV"
    f = fold(m("weibo", metrics=Metrics(reposts=100)))
    assert evaluate(f, cfg).reasons == ["微博转发合计 100 ≥ 100 → II 重大"]
    assert evaluate(f, cfg).reasons_en == ["reposts on Weibo 100 ≥ 100 → II Major"]


def test_emergency_without_stability_when_not_required() -> None:
    """`require_stability_risk = false`: an emergency alone is I."""
    cfg = unquoted(msgspec.convert({"rules": {"emergency": {"require_stability_risk": False}}}, GradingConfig))
    assert evaluate(fold(m(emergency=True)), cfg).reasons == ["突发事件 → I 特别重大"]
    assert evaluate(fold(m(emergency=True)), cfg).reasons_en == ["emergency → I Especially major"]


# --- folding ---------------------------------------------------------------------------------


def test_fold_keeps_distinct_values_and_firsts() -> None:
    """Platforms and regions are distinct in order; first topic, hint, title kept; flags are sticky."""
    f = fold(m("weibo", region="仲山镇", topic="food_drug", unit_hint="education", title="A", cross_region=True),
             m("douyin", region="城关镇", topic="education", unit_hint="health", title="B", summary="S"),
             m("weibo", region=" 仲山镇 ", media_level="provincial"),
             m("tv", media_level="city"))
    assert f.platforms == ("weibo", "douyin", "tv")
    assert f.regions == ("仲山镇", "城关镇")
    assert (f.topic, f.topics) == ("food_drug", ("food_drug", "education"))
    assert (f.unit_hint, f.title, f.summary) == ("education", "A", "S")
    assert f.cross_region and f.media_level == "provincial" and f.mentions == 4


def test_fold_first_and_latest_times_out_of_order() -> None:
    """An earlier observation arriving late becomes the first; observed_at None uses the event time."""
    f = fold_features(None, m(url="a", observed_at=at(30), metrics=Metrics(comments=10)), T0)
    f = fold_features(f, m(url="b", observed_at=at(10), metrics=Metrics(comments=4)), T0)
    f = fold_features(f, m(url="c"), at(70))
    assert (f.first_at, f.latest_at) == (at(10), at(70))
    assert f.first_metrics == Metrics(comments=4)
    assert growth_per_hour(f, CFG) == pytest.approx(10.0)  # (14 − 4) / 1 h


def test_fold_naive_time_is_utc_and_offsets_compare() -> None:
    """A naive time is taken as UTC; +08:00 times compare with UTC ones."""
    cst = timezone(timedelta(hours=8))
    f = fold_features(None, m(observed_at=datetime(2026, 11, 22, 0, 30)), T0)
    f = fold_features(f, m(observed_at=datetime(2026, 11, 22, 9, 30, tzinfo=cst)), T0)
    assert f.first_at == T0 and f.latest_at == at(60)


def test_totals_max_per_source_sum_across() -> None:
    """Each counter is the max per URL, summed over URLs."""
    f = fold(m(url="a", metrics=Metrics(reposts=5, comments=9)), m(url="a", metrics=Metrics(reposts=8, comments=2)),
             m(url="b", metrics=Metrics(reposts=1, views=7)))
    assert totals(f) == Metrics(reposts=9, comments=9, likes=0, views=7)


def test_media_level_max_per_source() -> None:
    """A source keeps the highest media level any of its mentions had."""
    f = fold(m("news", url="a", media_level="city"), m("news", url="a", media_level="local"))
    assert f.sources[0].media_level == "city"
    assert evaluate(f, CFG).grade == "II"


def test_no_rate_without_span() -> None:
    """One observation gives no growth rate."""
    assert growth_per_hour(fold(m(metrics=Metrics(comments=1000))), CFG) is None


# --- decide: raise-only, pinned, release -------------------------------------------------------


def a(grade: str, sentiment: str = "negative", alarm: bool = True) -> Assessment:
    return Assessment(grade=grade, reasons=[f"规则 → {grade}"], reasons_en=[f"rule → {grade}"],
                      sentiment=sentiment, alarm=alarm)


def cur(grade: str, source: str = "rules", pinned: bool = False, sentiment: str = "negative") -> CurrentGrade:
    return CurrentGrade(grade=grade, source=source, pinned=pinned, sentiment=sentiment, reasons=["原"],
                        reasons_en=["was"])


DECIDE_CASES = [
    ("first grade", None, a("III"), ("III", None, "rules", False)),
    ("raise II→I", cur("II"), a("I"), ("I", "II", "rules", False)),
    ("raise IV→III", cur("IV"), a("III"), ("III", "IV", "rules", False)),
    ("same grade", cur("II"), a("II"), None),
    ("lower is ignored", cur("II"), a("IV"), None),
    ("pinned ignores higher", cur("III", "person", True), a("I"), None),
    ("pinned ignores lower", cur("II", "person", True), a("IV"), None),
    ("pinned, sentiment changes", cur("III", "person", True, "positive"), a("I"), ("III", "III", "person", True)),
    ("lower, sentiment changes", cur("II", sentiment="positive"), a("IV"), ("II", "II", "rules", False)),
    ("same, sentiment changes", cur("II", sentiment="neutral"), a("II"), ("II", "II", "rules", False)),
]


@pytest.mark.parametrize(("current", "assessment", "expected"), [c[1:] for c in DECIDE_CASES],
                         ids=[c[0] for c in DECIDE_CASES])
def test_decide(current: CurrentGrade | None, assessment: Assessment,
                expected: tuple[str, str | None, str, bool] | None) -> None:
    """Rules only raise; a person's pin holds; a sentiment change alone is published."""
    decision = decide(current, assessment)
    if expected is None:
        assert decision is None
    else:
        assert decision is not None
        assert (decision.grade, decision.previous, decision.source, decision.pinned) == expected
        assert decision.sentiment == assessment.sentiment


def test_decide_reasons() -> None:
    """A raise carries the rules' reasons; a kept grade says why it was kept; each in both languages."""
    raised = decide(cur("III"), a("II"))
    assert raised is not None
    assert (raised.reasons, raised.reasons_en) == (["规则 → II"], ["rule → II"])
    kept = decide(cur("II", sentiment="positive"), a("IV"))
    assert kept is not None
    assert kept.reasons == ["原", "舆情倾向 正面 → 负面;规则现为 IV,定级只升不降:保持 II"]
    assert kept.reasons_en == ["was", "sentiment positive → negative; rules now give IV, grades only rise: II kept"]
    pinned = decide(cur("III", "person", True, "positive"), a("I"))
    assert pinned is not None
    assert pinned.reasons == ["原", "舆情倾向 正面 → 负面;保持 III:人工定级"]
    assert pinned.reasons_en == ["was", "sentiment positive → negative; grade III kept: set by a person"]
    same = decide(cur("II", sentiment="neutral"), a("II"))
    assert same is not None
    assert (same.reasons, same.reasons_en) == (["规则 → II", "舆情倾向 中性 → 负面"], ["rule → II", "sentiment neutral → negative"])


REGRADE_CASES = [
    ("person lowers", cur("II"), "IV", ("IV", "II")),
    ("person raises", cur("IV"), "I", ("I", "IV")),
    ("pins the same grade", cur("II"), "II", ("II", "II")),
    ("ungraded incident", None, "III", ("III", None)),
    ("changes a pinned grade", cur("III", "person", True), "II", ("II", "III")),
    ("same pinned grade", cur("III", "person", True), "III", None),
]


@pytest.mark.parametrize(("current", "grade", "expected"), [c[1:] for c in REGRADE_CASES],
                         ids=[c[0] for c in REGRADE_CASES])
def test_regrade(current: CurrentGrade | None, grade: str, expected: tuple[str, str | None] | None) -> None:
    """A person sets any grade, pinned, source person; setting the pinned grade again is no change."""
    decision = regrade(current, grade, "研判会商", "zhang", CFG)
    if expected is None:
        assert decision is None
        return
    assert decision is not None
    assert (decision.grade, decision.previous) == expected
    assert (decision.source, decision.pinned, decision.actor) == ("person", True, "zhang")
    assert decision.reasons == [f"zhang 人工定级:研判会商 → {grade} {grade_label(grade, CFG, 'zh')}"]
    assert decision.reasons_en == [f"set by zhang: 研判会商 → {grade} {grade_label(grade, CFG, 'en')}"]


@pytest.mark.parametrize(("grade", "actor", "field", "message"), [
    ("V", "zhang", "grade", "'V' is not a grade; one of I, II, III, IV"),
    ("ii", "zhang", "grade", "'ii' is not a grade; one of I, II, III, IV"),
    ("II", " ", "actor", "actor is required: who sets the grade"),
])
def test_regrade_refuses(grade: str, actor: str, field: str, message: str) -> None:
    """A bad grade or a missing actor is refused, naming the field."""
    with pytest.raises(Invalid, match=re.escape(message)) as info:
        regrade(None, grade, "", actor, CFG)
    assert info.value.field == field
    assert info.value.message == message


def test_pin_then_release_then_rules_resume() -> None:
    """A pinned grade ignores the rules; release goes to the rules' grade, even lower; then raise-only again."""
    state = apply_grade(regrade(cur("II"), "I", "", "li", CFG))  # type: ignore[arg-type]
    assert decide(state, a("IV")) is None
    released = release(state, a("III"), "li")
    assert released is not None
    assert (released.grade, released.previous, released.source, released.pinned) == ("III", "I", "rules", False)
    assert released.reasons == ["li 解除人工定级:恢复规则定级", "规则 → III"]
    assert released.reasons_en == ["released by li: rules resume", "rule → III"]
    state = apply_grade(released)
    assert decide(state, a("IV")) is None
    assert decide(state, a("II")).grade == "II"  # type: ignore[union-attr]


@pytest.mark.parametrize("current", [None, cur("II"), cur("II", "rules", False)])
def test_release_without_pin_is_no_change(current: CurrentGrade | None) -> None:
    """Releasing what is not pinned changes nothing."""
    assert release(current, a("IV"), "li") is None


def test_current_from_event_round_trip() -> None:
    """The last incident.graded event rebuilds the same current grade as `apply`."""
    decision = regrade(None, "II", "x", "li", CFG)
    assert decision is not None
    event = IncidentGraded(id="e1", incident_id="i1", at=T0, actor=decision.actor, grade="II",
                           previous=None, reasons=decision.reasons, source=decision.source,
                           sentiment=decision.sentiment, pinned=decision.pinned, reasons_en=decision.reasons_en)
    assert current_from_event(event) == apply_grade(decision)
    assert current_from_event(event).reasons_en == ["set by li: x → II Major"]


def test_regrade_alarm_follows_sentiment() -> None:
    """A person's grade on a positive item is still not alarmed."""
    decision = regrade(cur("IV", sentiment="positive"), "II", "", "li", CFG)
    assert isinstance(decision, Decision) and decision.alarm is False


# --- labels, colours ------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "zh", "en", "colour"), [
    ("I", "特别重大", "Especially major", "red"),
    ("II", "重大", "Major", "orange"),
    ("III", "较大", "Large", "yellow"),
    ("IV", "一般", "General", "blue"),
])
def test_default_labels_and_colours(grade: str, zh: str, en: str, colour: str) -> None:
    """The four default grades carry the national names and warning colours."""
    assert (grade_label(grade, CFG, "zh"), grade_label(grade, CFG, "en"), GRADE_COLOURS[grade]) == (zh, en, colour)


def test_collapsed_grade_needs_no_label(tmp_path: Path) -> None:
    """A collapsed grade's label may be left empty: it is never shown."""
    (tmp_path / "grading.toml").write_text('[collapse]\nIII = "IV"\n[labels.zh]\nIII = ""\n', encoding="utf-8")
    cfg = load_grading(ConfigSource(config_dir=tmp_path, profile="default"))
    assert grade_label("III", cfg) == "一般"
    result = evaluate(fold(m("weibo"), m("douyin")), cfg)
    assert result.reasons == ["负面信息出现在 2 个平台 ≥ 2(微博、抖音)(「在不同网站出现」,预案004 第六篇(三)2)→ III,按 IV 一般计"]
    assert result.reasons_en == ['negative on 2 platforms ≥ 2 (Weibo, Douyin) ("appears on different sites", '
                                 "seed 004 part 6 (3) 2) → III, counted as IV General"]


def test_features_survive_json() -> None:
    """Features encode to JSON and back unchanged, so the service can keep them in SQLite."""
    f = fold(m("weibo", url="a", region="仲山镇", metrics=Metrics(reposts=3), observed_at=at(5)), m("tv"))
    assert msgspec.json.decode(msgspec.json.encode(f), type=Features) == f
