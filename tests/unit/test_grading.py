"""Grading rules: every rule on and off at its threshold, folding, raise-only, pins, config errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.domain.events import IncidentGraded, Mention
from watchboard.domain.grading import (
    GRADE_COLOURS,
    Assessment,
    CurrentGrade,
    Decision,
    Features,
    GradingConfig,
    GradingError,
    apply,
    current_from_event,
    decide,
    evaluate,
    fold_features,
    grade_label,
    growth_per_hour,
    load_grading,
    regrade,
    release,
    totals,
    used_grades,
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

RULE_CASES = [
    # (id, mentions, grade, reason that must be among the reasons, or None)
    ("emergency+stability", [m(emergency=True, stability_risk=True)], "I",
     "emergency with a stability risk → I 特别重大"),
    ("emergency alone", [m(emergency=True)], "IV", None),
    ("stability alone", [m(stability_risk=True)], "IV", None),
    ("media city on weibo", [m(media_level="city")], "II",
     "mainstream media: media_level city ≥ city on weibo → II 重大"),
    ("media national", [m(media_level="national")], "II",
     "mainstream media: media_level national ≥ city on weibo → II 重大"),
    ("media local on weibo", [m(media_level="local")], "IV", None),
    ("tv local (default needs city)", [m("tv", media_level="local")], "IV", None),
    ("tv provincial", [m("tv", media_level="provincial")], "II",
     "mainstream media: media_level provincial ≥ city on tv → II 重大"),
    ("reposts 100", [m(url="u1", metrics=Metrics(reposts=100))], "II", "reposts 100 ≥ 100 → II 重大"),
    ("reposts 99", [m(url="u1", metrics=Metrics(reposts=99))], "IV", None),
    ("reposts summed over urls", [m(url="u1", metrics=Metrics(reposts=60)),
                                  m(url="u2", metrics=Metrics(reposts=40))], "II", "reposts 100 ≥ 100 → II 重大"),
    ("same url keeps max", [m(url="u1", metrics=Metrics(reposts=60)),
                            m(url="u1", metrics=Metrics(reposts=99))], "IV", None),
    ("no url: one source per platform", [m(metrics=Metrics(reposts=60)), m(metrics=Metrics(reposts=60))],
     "IV", None),
    ("cross_region flag", [m(cross_region=True)], "II", "crosses regions (reported) → II 重大"),
    ("two regions", [m(region="仲山镇"), m(region="城关镇")], "II", "regions 2 ≥ 2 (仲山镇, 城关镇) → II 重大"),
    ("one region twice", [m(region="仲山镇"), m(region="仲山镇")], "IV", None),
    ("negative on 2 platforms", [m("weibo"), m("douyin")], "III",
     "negative on 2 platforms ≥ 2 (weibo, douyin) → III 较大"),
    ("negative on 1 platform", [m("weibo"), m("weibo", url="x")], "IV", None),
    ("neutral on 2 platforms", [m("weibo", sentiment="neutral"), m("douyin", sentiment="neutral")], "IV", None),
    ("rising 100/h", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(60), metrics=Metrics(comments=100))],
     "III", "engagement rising +100/h ≥ 100/h → III 较大"),
    ("rising 99/h", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(60), metrics=Metrics(comments=99))],
     "IV", None),
    ("key area 50/h", [m(url="u", topic="food_drug", observed_at=at(0)),
                       m(url="u", observed_at=at(60), metrics=Metrics(comments=50))],
     "II", "key area food_drug fermenting: engagement +50/h ≥ 50/h → II 重大"),
    ("key area 49/h", [m(url="u", topic="food_drug", observed_at=at(0)),
                       m(url="u", observed_at=at(60), metrics=Metrics(comments=49))], "IV", None),
    ("not a key area 50/h", [m(url="u", topic="education", observed_at=at(0)),
                             m(url="u", observed_at=at(60), metrics=Metrics(comments=50))], "IV", None),
    ("span 15m is enough", [m(url="u", observed_at=at(0)), m(url="u", observed_at=at(15), metrics=Metrics(comments=25))],
     "III", "engagement rising +100/h ≥ 100/h → III 较大"),
    ("span 14m has no rate", [m(url="u", observed_at=at(0)),
                              m(url="u", observed_at=at(14), metrics=Metrics(comments=90))], "IV", None),
    ("likes do not count", [m(url="u", observed_at=at(0)),
                            m(url="u", observed_at=at(60), metrics=Metrics(likes=10_000, views=99_999))], "IV", None),
    ("nothing", [m()], "IV", "no rule fired → IV 一般"),
]


@pytest.mark.parametrize(("mentions", "grade", "reason"), [c[1:] for c in RULE_CASES],
                         ids=[c[0] for c in RULE_CASES])
def test_rule_boundaries(mentions: list[Mention], grade: str, reason: str | None) -> None:
    """Each rule fires exactly at its threshold and not one below."""
    result = evaluate(fold(*mentions), CFG)
    assert result.grade == grade
    if reason is not None:
        assert reason in result.reasons
    if grade == "IV":
        assert result.reasons == ["no rule fired → IV 一般"]
        assert result.rules == []


def test_highest_grade_wins_and_every_rule_is_a_reason() -> None:
    """Emergency, reposts and two platforms: grade I, reasons listed worst first."""
    f = fold(m("weibo", url="a", metrics=Metrics(reposts=150), emergency=True, stability_risk=True),
             m("douyin", url="b"))
    result = evaluate(f, CFG)
    assert result.grade == "I"
    assert result.reasons == [
        "emergency with a stability risk → I 特别重大",
        "reposts 150 ≥ 100 → II 重大",
        "negative on 2 platforms ≥ 2 (weibo, douyin) → III 较大",
    ]
    assert result.rules == ["emergency", "reposts", "multi_platform"]


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
    cfg = msgspec.convert({"rules": {"reposts": {"platforms": ["weibo"]}}}, GradingConfig)
    f = fold(m("douyin", metrics=Metrics(reposts=500), sentiment="neutral"))
    assert evaluate(f, cfg).grade == "IV"
    f = fold(m("weibo", metrics=Metrics(reposts=100)))
    assert evaluate(f, cfg).reasons == ["reposts on weibo 100 ≥ 100 → II 重大"]


def test_emergency_without_stability_when_not_required() -> None:
    """`require_stability_risk = false`: an emergency alone is I."""
    cfg = msgspec.convert({"rules": {"emergency": {"require_stability_risk": False}}}, GradingConfig)
    assert evaluate(fold(m(emergency=True)), cfg).reasons == ["emergency → I 特别重大"]


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
    return Assessment(grade=grade, reasons=[f"rule → {grade}"], sentiment=sentiment, alarm=alarm)


def cur(grade: str, source: str = "rules", pinned: bool = False, sentiment: str = "negative") -> CurrentGrade:
    return CurrentGrade(grade=grade, source=source, pinned=pinned, sentiment=sentiment, reasons=["was"])


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
    """A raise carries the rules' reasons; a kept grade says why it was kept."""
    assert decide(cur("III"), a("II")).reasons == ["rule → II"]  # type: ignore[union-attr]
    kept = decide(cur("II", sentiment="positive"), a("IV"))
    assert kept is not None
    assert kept.reasons == ["was", "sentiment positive → negative; rules now give IV, grades only rise: II kept"]
    pinned = decide(cur("III", "person", True, "positive"), a("I"))
    assert pinned is not None
    assert pinned.reasons == ["was", "sentiment positive → negative; grade III kept: set by a person"]


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
    assert decision.reasons == [f"set by zhang: 研判会商 → {grade} {grade_label(grade, CFG)}"]


@pytest.mark.parametrize(("grade", "actor", "field", "message"), [
    ("V", "zhang", "grade", "'V' is not a grade; one of I, II, III, IV"),
    ("ii", "zhang", "grade", "'ii' is not a grade; one of I, II, III, IV"),
    ("II", " ", "actor", "actor is required: who sets the grade"),
])
def test_regrade_refuses(grade: str, actor: str, field: str, message: str) -> None:
    """A bad grade or a missing actor is refused, naming the field."""
    with pytest.raises(GradingError, match=re.escape(message)) as info:
        regrade(None, grade, "", actor, CFG)
    assert info.value.field == field


def test_pin_then_release_then_rules_resume() -> None:
    """A pinned grade ignores the rules; release goes to the rules' grade, even lower; then raise-only again."""
    state = apply(regrade(cur("II"), "I", "", "li", CFG))  # type: ignore[arg-type]
    assert decide(state, a("IV")) is None
    released = release(state, a("III"), "li")
    assert released is not None
    assert (released.grade, released.previous, released.source, released.pinned) == ("III", "I", "rules", False)
    assert released.reasons == ["released by li: rules resume", "rule → III"]
    state = apply(released)
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
                           sentiment=decision.sentiment, pinned=decision.pinned)
    assert current_from_event(event) == apply(decision)


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


def test_default_file_equals_struct_defaults() -> None:
    """grading.toml as shipped says exactly what the struct defaults say."""
    assert load_grading(ConfigSource(profile="default")) == CFG
    assert used_grades(CFG) == ("I", "II", "III", "IV")


# --- config errors -----------------------------------------------------------------------------

ERROR_CASES = [
    ("bad rule grade", '[rules.reposts]\ngrade = "V"\n', "rules.reposts.grade",
     "'V' is not a grade; one of I, II, III, IV"),
    ("typo in a rule", "[rules.repost]\nmin_reposts = 10\n", "rules", "object contains unknown field `repost`"),
    ("wrong type", '[rules.reposts]\nmin_reposts = "100"\n', "rules.reposts.min_reposts",
     "expected `int`, got `str`"),
    ("zero reposts", "[rules.reposts]\nmin_reposts = 0\n", "rules.reposts.min_reposts", "0 must be 1 or more"),
    ("one region", "[rules.cross_region]\nmin_regions = 1\n", "rules.cross_region.min_regions",
     "1 must be 2 or more"),
    ("zero growth", "[rules.rising]\nmin_growth_per_hour = 0\n", "rules.rising.min_growth_per_hour",
     "0.0 must be more than 0"),
    ("media level", '[rules.mainstream_media]\nmin_level = "county"\n', "rules.mainstream_media.min_level",
     "'county' is not a media level; one of none, local, city, provincial, national"),
    ("platform", '[rules.mainstream_media]\nplatforms = ["tv", "cctv"]\n',
     "rules.mainstream_media.platforms[1]", "'cctv' is not a platform; one of weibo"),
    ("topic", '[rules.key_area]\ntopics = ["food"]\n', "rules.key_area.topics[0]",
     "'food' is not a topic; one of food_drug"),
    ("sentiment", '[alarm]\nquiet_sentiments = ["happy"]\n', "alarm.quiet_sentiments[0]",
     "'happy' is not a sentiment; one of negative, neutral, positive"),
    ("min_span", '[engagement]\nmin_span = "soon"\n', "engagement.min_span",
     "'soon' is not a duration like '15m' or '1h'"),
    ("negative weight", "[engagement]\nlikes = -1\n", "engagement.likes", "weight -1.0 must be 0 or more"),
    ("collapse to self", '[collapse]\nIII = "III"\n', "collapse.III", "'III' collapses into itself"),
    ("collapse unknown", '[collapse]\nV = "IV"\n', "collapse.V", "'V' is not a grade"),
    ("collapse target", '[collapse]\nIII = "V"\n', "collapse.III", "'V' is not a grade"),
    ("collapse chain", '[collapse]\nIII = "IV"\nIV = "II"\n', "collapse.III",
     "target 'IV' is itself collapsed into 'II'; collapse 'III' straight into the final grade"),
    ("empty label", '[labels.zh]\nII = " "\n', "labels.zh.II", "grade 'II' is in use and its label is empty"),
    ("label of no grade", '[labels.en]\nV = "Five"\n', "labels.en.V", "'V' is not a grade"),
]


@pytest.mark.parametrize(("text", "key", "problem"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_config_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    """A bad grading.toml fails at load with file, key and problem."""
    (tmp_path / "grading.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'grading.toml'}: key `{key}`: {problem}")):
        load_grading(ConfigSource(config_dir=tmp_path, profile="default"))


def test_config_error_names_the_profile(tmp_path: Path) -> None:
    """An error brought in by a profile names the profile file too."""
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "plan-x.toml"
    profile.write_text('[grading.collapse]\nII = "II"\n', encoding="utf-8")
    expected = "grading.toml (with profiles/plan-x.toml): key `collapse.II`: 'II' collapses into itself"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_grading(ConfigSource(config_dir=tmp_path, profile="plan-x"))


def test_collapsed_grade_needs_no_label(tmp_path: Path) -> None:
    """A collapsed grade's label may be left empty: it is never shown."""
    (tmp_path / "grading.toml").write_text('[collapse]\nIII = "IV"\n[labels.zh]\nIII = ""\n', encoding="utf-8")
    cfg = load_grading(ConfigSource(config_dir=tmp_path, profile="default"))
    assert grade_label("III", cfg) == "一般"
    assert evaluate(fold(m("weibo"), m("douyin")), cfg).reasons == [
        "negative on 2 platforms ≥ 2 (weibo, douyin) → III, counted as IV 一般"]


def test_features_survive_json() -> None:
    """Features encode to JSON and back unchanged, so the service can keep them in SQLite."""
    f = fold(m("weibo", url="a", region="仲山镇", metrics=Metrics(reposts=3), observed_at=at(5)), m("tv"))
    assert msgspec.json.decode(msgspec.json.encode(f), type=Features) == f
