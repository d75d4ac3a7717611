"""Each seed plan's profile: which wire grade and label a rule's grade becomes, and its own rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from watchboard.config import ConfigSource
from watchboard.config.grading import GradingConfig, load_grading
from watchboard.domain.events import Mention
from watchboard.domain.grading import (
    GRADE_COLOURS,
    Features,
    evaluate,
    fold_features,
    grade_label,
    regrade,
    used_grades,
)
from watchboard.domain.report import Metrics

T0 = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
PROFILES = ["default", "plan-000", "plan-001", "plan-002", "plan-003", "plan-004"]


def cfg_of(profile: str) -> GradingConfig:
    return load_grading(ConfigSource(profile=profile))


def fold(*mentions: Mention) -> Features:
    features: Features | None = None
    for mention in mentions:
        features = fold_features(features, mention, T0)
    assert features is not None
    return features


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# Features that make the rules give exactly one grade each, before any collapse, in every
# profile: II by a city-level outlet (mainstream media in seeds 003 and 004 alike), III by
# two sites with engagement rising 100/h (seed 004's 较大 needs both).
RULE_GRADE = {
    "I": fold(Mention(platform="weibo", emergency=True, stability_risk=True)),
    "II": fold(Mention(platform="weibo", media_level="city")),
    "III": fold(Mention(platform="forum", url="a", observed_at=at(0)),
                Mention(platform="web", url="b", observed_at=at(60), metrics=Metrics(comments=100))),
    "IV": fold(Mention(platform="weibo")),
}

# profile → {rule grade: (wire grade, zh label, en label)}
EXPECTED = {
    "default": {"I": ("I", "特别重大", "Especially major"), "II": ("II", "重大", "Major"),
                "III": ("III", "较大", "Large"), "IV": ("IV", "一般", "General")},
    "plan-000": {"I": ("I", "特别重大", "Especially major"), "II": ("II", "重大或较大", "Major or large"),
                 "III": ("II", "重大或较大", "Major or large"), "IV": ("IV", "一般", "General")},
    "plan-001": {"I": ("I", "一级 (重大)", "Level 1 (major)"), "II": ("I", "一级 (重大)", "Level 1 (major)"),
                 "III": ("III", "二级 (较大)", "Level 2 (large)"), "IV": ("IV", "三级 (一般)", "Level 3 (general)")},
    "plan-002": {"I": ("I", "特别重大", "Especially major"), "II": ("II", "重大", "Major"),
                 "III": ("III", "较大", "Large"), "IV": ("IV", "一般", "General")},
    "plan-003": {"I": ("I", "特别重大", "Especially major"), "II": ("II", "重大", "Major"),
                 "III": ("IV", "一般", "General"), "IV": ("IV", "一般", "General")},
    "plan-004": {"I": ("I", "特别重大", "Especially major"), "II": ("II", "重大", "Major"),
                 "III": ("III", "较大", "Large"), "IV": ("IV", "一般", "General")},
}

CASES = [(p, g, *EXPECTED[p][g]) for p in PROFILES for g in ("I", "II", "III", "IV")]


@pytest.mark.parametrize(("profile", "rule_grade", "wire", "zh", "en"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_collapse_and_labels(profile: str, rule_grade: str, wire: str, zh: str, en: str) -> None:
    """A rule's grade lands on the wire grade and label the plan uses; regrade collapses alike."""
    cfg = cfg_of(profile)
    result = evaluate(RULE_GRADE[rule_grade], cfg)
    assert result.grade == wire
    assert (grade_label(result.grade, cfg, "zh"), grade_label(result.grade, cfg, "en")) == (zh, en)
    if wire == rule_grade:
        assert result.reasons[0].endswith(f"→ {wire} {zh}")
        assert result.reasons_en[0].endswith(f"→ {wire} {en}")
    else:  # collapsed: the reason says what the rule's grade counts as
        assert result.reasons[0].endswith(f"→ {rule_grade},按 {wire} {zh}计")
        assert result.reasons_en[0].endswith(f"→ {rule_grade}, counted as {wire} {en}")
    decision = regrade(None, rule_grade, "", "li", cfg)
    assert decision is not None and decision.grade == wire
    assert wire in used_grades(cfg) and GRADE_COLOURS[wire]


@pytest.mark.parametrize(("profile", "grades"), [
    ("default", ("I", "II", "III", "IV")),
    ("plan-000", ("I", "II", "IV")),
    ("plan-001", ("I", "III", "IV")),
    ("plan-002", ("I", "II", "III", "IV")),
    ("plan-003", ("I", "II", "IV")),
    ("plan-004", ("I", "II", "III", "IV")),
])
def test_used_grades(profile: str, grades: tuple[str, ...]) -> None:
    """Each plan uses the grades it names (003 two, plus 特别重大 for the 2 h report)."""
    assert used_grades(cfg_of(profile)) == grades


def test_collapse_is_shown_in_the_reason() -> None:
    """plan-003: two negative platforms would be III; the reason says it is counted as 一般."""
    result = evaluate(fold(Mention(platform="weibo"), Mention(platform="douyin")), cfg_of("plan-003"))
    assert result.reasons == ["负面信息出现在 2 个平台 ≥ 2(微博、抖音)(「在不同网站出现」,预案004 第六篇(三)2)→ III,按 IV 一般计"]
    assert result.reasons_en == ['negative on 2 platforms ≥ 2 (Weibo, Douyin) ("appears on different sites", '
                                 "seed 004 part 6 (3) 2) → III, counted as IV General"]


@pytest.mark.parametrize(("profile", "level", "grade"), [
    ("default", "none", "IV"), ("default", "local", "IV"), ("default", "city", "II"),
    ("plan-003", "local", "IV"), ("plan-003", "city", "II"),
    ("plan-004", "none", "II"), ("plan-004", "local", "II"),
])
def test_tv_report_by_profile(profile: str, level: str, grade: str) -> None:
    """Seed 004 counts any TV report as mainstream media (II); the default needs city level."""
    features = fold(Mention(platform="tv", media_level=level, sentiment="neutral"))
    assert evaluate(features, cfg_of(profile)).grade == grade


@pytest.mark.parametrize("profile", ["plan-003", "plan-004"])
def test_local_weibo_account_is_not_mainstream(profile: str) -> None:
    """plan-004's lower bar is for TV/newspapers only: a local Weibo account is still not mainstream."""
    features = fold(Mention(platform="weibo", media_level="local"))
    assert evaluate(features, cfg_of(profile)).grade == "IV"


@pytest.mark.parametrize(("profile", "mention", "grade"), [
    # Seed 003 重大: 100+ reposts, cross-region, provincial/city mainstream media (forums included).
    ("plan-003", Mention(platform="weibo", metrics=Metrics(reposts=100)), "II"),
    ("plan-003", Mention(platform="weibo", metrics=Metrics(reposts=99)), "IV"),
    ("plan-003", Mention(platform="forum", media_level="provincial"), "II"),
    ("plan-003", Mention(platform="weibo", cross_region=True), "II"),
    # Seed 004: 较大 on several different sites with negative voices.
    ("plan-004", Mention(platform="forum"), "IV"),
])
def test_seed_definitions(profile: str, mention: Mention, grade: str) -> None:
    """The seed plans' own definitions hold in their profiles."""
    assert evaluate(fold(mention), cfg_of(profile)).grade == grade


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_keep_the_default_thresholds(profile: str) -> None:
    """Profiles only override what their plan says: the numeric thresholds stay the defaults
    (which rules run, and how reposts are counted, is each plan's own: see the tables below)."""
    cfg, base = cfg_of(profile), GradingConfig()
    assert cfg.engagement == base.engagement
    assert cfg.rules.reposts.min_reposts == base.rules.reposts.min_reposts
    assert cfg.rules.key_area.min_growth_per_hour == base.rules.key_area.min_growth_per_hour
    assert cfg.rules.key_area.topics == base.rules.key_area.topics
    assert cfg.rules.rising.min_growth_per_hour == base.rules.rising.min_growth_per_hour
    assert cfg.rules.multi_platform.min_growth_per_hour == base.rules.rising.min_growth_per_hour


def weibo(url: str | None, reposts: int, **kw: object) -> Mention:
    return Mention(platform="weibo", url=url, metrics=Metrics(reposts=reposts), **kw)  # type: ignore[arg-type]


def key_area_fermenting(topic: str = "food_drug") -> list[Mention]:
    """A key-area topic gaining 60 engagement in an hour on one site (fast fermenting: ≥ 50/h)."""
    return [Mention(platform="weibo", url="k", topic=topic, observed_at=at(0)),  # type: ignore[arg-type]
            Mention(platform="weibo", url="k", observed_at=at(60), metrics=Metrics(comments=60))]


PLAN_003 = [
    # Seed 003 三(三): 重大 "跨地区的…或被省、市级主流媒体(论坛)曝光,或微博转发达100条以上"; else 一般.
    # (id, mentions, grade, rules that fired)
    ("seed 003 3(3) one Weibo post 100 reposts", [weibo("https://weibo.com/1/a", 100)], "II", ["reposts"]),
    ("seed 003 3(3) one Weibo post 99 reposts", [weibo("https://weibo.com/1/a", 99)], "IV", []),
    ("seed 003 3(3) two Weibo posts 60 + 40 are not one post", [weibo("https://weibo.com/1/a", 60),
                                                            weibo("https://weibo.com/1/b", 40)], "IV", []),
    ("seed 003 3(3) the same post reported 80 then 120", [weibo("https://weibo.com/1/a", 80),
                                                      weibo("https://weibo.com/1/a", 120)], "II", ["reposts"]),
    ("seed 003 3(3) a post falling back keeps its 120", [weibo("https://weibo.com/1/a", 120),
                                                     weibo("https://weibo.com/1/a", 30)], "II", ["reposts"]),
    ("seed 003 3(3) Douyin 500 shares are not Weibo reposts",
     [Mention(platform="douyin", url="https://v.douyin.com/x", metrics=Metrics(reposts=500))], "IV", []),
    ("seed 003 3(3) Weibo 60 + Douyin 500 do not add up",
     [weibo("https://weibo.com/1/a", 60, sentiment="neutral"),
      Mention(platform="douyin", url="https://v.douyin.com/x", metrics=Metrics(reposts=500), sentiment="neutral")],
     "IV", []),
    ("seed 003 3(3) posts without URL: the largest one counts", [weibo(None, 70), weibo(None, 60)], "IV", []),
    ("seed 003 3(3) crosses regions", [Mention(platform="weibo", cross_region=True)], "II", ["cross_region"]),
    ("seed 003 3(3) exposed by a provincial forum", [Mention(platform="forum", media_level="provincial")], "II", ["mainstream_media"]),
    ("seed 003 3(3) seed 004's key-area rule is not this plan's", key_area_fermenting(), "IV", []),
]


@pytest.mark.parametrize(("mentions", "grade", "rules"), [c[1:] for c in PLAN_003], ids=[c[0] for c in PLAN_003])
def test_plan_003_grades(mentions: list[Mention], grade: str, rules: list[str]) -> None:
    """plan-003 grades by seed 003 三(三) alone: reposts of ONE Weibo post, not sums."""
    result = evaluate(fold(*mentions), cfg_of("plan-003"))
    assert result.grade == grade
    assert [r for r in result.rules if r not in ("multi_platform", "rising")] == rules


def test_plan_003_reposts_reason() -> None:
    """Seed 003 三(三): the reason names one Weibo post and quotes the plan, in each language."""
    result = evaluate(fold(weibo("https://weibo.com/1/a", 40), weibo("https://weibo.com/1/b", 160)),
                      cfg_of("plan-003"))
    assert result.reasons == ["微博单条转发 160 ≥ 100(「微博转发达100条以上」,预案003 三(三))→ II 重大"]
    assert result.reasons_en == ['one Weibo post reposted 160 ≥ 100 ("reposted 100+ times on Weibo", seed 003 3(3))'
                                 " → II Major"]


TWO_SITES = [Mention(platform="forum", url="a", observed_at=at(0)),
             Mention(platform="web", url="b", observed_at=at(30))]
PLAN_004 = [
    # Seed 004 第六篇 (三)分级处置, items 1–4. (id, mentions, grade, rules that fired)
    ("seed 004 part 6 (3)4 especially major: emergency with a stability risk",
     [Mention(platform="weibo", emergency=True, stability_risk=True)], "I", ["emergency"]),
    ("seed 004 part 6 (3)3 major: key area fermenting fast", key_area_fermenting(), "II", ["key_area"]),
    ("seed 004 part 6 (3)3 major: county TV report", [Mention(platform="tv", media_level="local", sentiment="neutral")],
     "II", ["mainstream_media"]),
    ("seed 004 part 6 (3)3 major: a newspaper at any level", [Mention(platform="newspaper", sentiment="neutral")],
     "II", ["mainstream_media"]),
    ("seed 004 part 6 (3)3 not major: 500 Weibo reposts (seed 003's rule)", [weibo("https://weibo.com/1/a", 500)], "IV", []),
    ("seed 004 part 6 (3)3 not major: crosses regions (seed 003's rule)", [Mention(platform="weibo", cross_region=True)],
     "IV", []),
    ("seed 004 part 6 (3)2 large: two sites AND rising 100/h",
     [*TWO_SITES, Mention(platform="web", url="b", observed_at=at(60), metrics=Metrics(comments=100))],
     "III", ["multi_platform"]),
    ("seed 004 part 6 (3)2 not large: two sites, rising 99/h",
     [*TWO_SITES, Mention(platform="web", url="b", observed_at=at(60), metrics=Metrics(comments=99))], "IV", []),
    ("seed 004 part 6 (3)2 not large: two sites without a trend", TWO_SITES, "IV", []),
    ("seed 004 part 6 (3)2 not large: rising on one site only",
     [Mention(platform="forum", url="a", observed_at=at(0)),
      Mention(platform="forum", url="a", observed_at=at(60), metrics=Metrics(comments=500))], "IV", []),
    ("seed 004 part 6 (3)2 not large: two sites rising, voices neutral",
     [Mention(platform="forum", url="a", observed_at=at(0), sentiment="neutral"),
      Mention(platform="web", url="b", observed_at=at(60), metrics=Metrics(comments=500), sentiment="neutral")],
     "IV", []),
    ("seed 004 part 6 (3)1 general: questions on a forum", [Mention(platform="forum")], "IV", []),
]


@pytest.mark.parametrize(("mentions", "grade", "rules"), [c[1:] for c in PLAN_004], ids=[c[0] for c in PLAN_004])
def test_plan_004_grades(mentions: list[Mention], grade: str, rules: list[str]) -> None:
    """plan-004 runs seed 004's own four grades, not seed 003's 重大 rules."""
    result = evaluate(fold(*mentions), cfg_of("plan-004"))
    assert (result.grade, result.rules) == (grade, rules)


def test_plan_004_reasons_quote_the_plan() -> None:
    """Seed 004 第六篇(三)2–3: TV at any level and 较大 both halves, each reason quoting the plan."""
    features = fold(Mention(platform="tv", url="t", observed_at=at(0)),
                    Mention(platform="forum", url="f", observed_at=at(60), metrics=Metrics(comments=120)))
    result = evaluate(features, cfg_of("plan-004"))
    assert result.reasons == [
        "主流媒体报道:电视(「有主流媒体(电视、报刊等)介入报道」,预案004 第六篇(三)3)→ II 重大",
        "负面信息出现在 2 个平台 ≥ 2(电视、论坛),且互动量上升 +120/小时 ≥ 100/小时"
        "(「在不同网站出现的且负面声音有所上升,发酵趋势明显」,预案004 第六篇(三)2)→ III 较大",
    ]
    assert result.reasons_en == [
        'mainstream media: TV report ("mainstream media (TV, newspapers…) report it", seed 004 part 6 (3) 3)'
        " → II Major",
        "negative on 2 platforms ≥ 2 (TV, forum), rising +120/h ≥ 100/h (\"appears on different sites and negative"
        ' voices rise, a clear fermenting trend", seed 004 part 6 (3) 2) → III Large',
    ]


# Every rule fires at once (no data in Chinese: regions come as the cross_region flag).
EVERYTHING = fold(
    Mention(platform="weibo", url="a", emergency=True, stability_risk=True, cross_region=True,  # type: ignore[arg-type]
            media_level="city", topic="food_drug", observed_at=at(0), metrics=Metrics(reposts=150)),
    Mention(platform="newspaper", url="b", observed_at=at(60), metrics=Metrics(comments=200)),
)
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("profile", PROFILES)
def test_reasons_wholly_in_each_language(profile: str) -> None:
    """`reasons` has no English words, `reasons_en` no Chinese; one reason per rule in each, one line each."""
    result = evaluate(EVERYTHING, cfg_of(profile))
    assert len(result.reasons) == len(result.reasons_en) == len(result.rules) >= 4
    for zh, en in zip(result.reasons, result.reasons_en, strict=True):
        assert not re.search(r"[A-Za-z]{2,}", zh.replace("II", "").replace("IV", "")), zh
        assert CJK.search(zh), zh
        assert not CJK.search(en), en
        assert "\n" not in zh and "\n" not in en
