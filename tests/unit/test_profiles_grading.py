"""Each seed plan's profile: which wire grade and label a rule's grade becomes, and its own rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchboard.config import ConfigSource
from watchboard.domain.events import Mention
from watchboard.domain.grading import (
    GRADE_COLOURS,
    Features,
    GradingConfig,
    evaluate,
    fold_features,
    grade_label,
    load_grading,
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


# Features that make the rules give exactly one grade each, before any collapse.
RULE_GRADE = {
    "I": fold(Mention(platform="weibo", emergency=True, stability_risk=True)),
    "II": fold(Mention(platform="weibo", metrics=Metrics(reposts=100))),
    "III": fold(Mention(platform="weibo"), Mention(platform="douyin")),
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
    assert result.reasons[0].endswith(f"{wire} {zh}")
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
    result = evaluate(RULE_GRADE["III"], cfg_of("plan-003"))
    assert result.reasons == ["negative on 2 platforms ≥ 2 (weibo, douyin) → III, counted as IV 一般"]


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


def test_plan_004_several_sites_is_iii() -> None:
    """Seed 004: negative items on several sites are 较大 (III)."""
    features = fold(Mention(platform="forum"), Mention(platform="web"), Mention(platform="weibo"))
    result = evaluate(features, cfg_of("plan-004"))
    assert (result.grade, result.rules) == ("III", ["multi_platform"])


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_keep_the_default_thresholds(profile: str) -> None:
    """Profiles only override what their plan says: the numeric thresholds stay the defaults."""
    cfg, base = cfg_of(profile), GradingConfig()
    assert cfg.engagement == base.engagement
    assert cfg.rules.reposts == base.rules.reposts
    assert cfg.rules.key_area == base.rules.key_area
    assert cfg.rules.rising == base.rules.rising
