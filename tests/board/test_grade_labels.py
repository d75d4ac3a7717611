"""A profile's grades on the board: its names for them (plan-001: 一级/二级/三级) on the desk,
the wall and the detail, and a regrade form that offers only the grades it does not collapse.
The names come with the data (`GradeView.grade_labels`), else from the board's own config."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.widgets import Input, Label, Select
from textual.widgets._select import InvalidSelectValueError

from tests.board.support import (
    NOW,
    RecordingSender,
    ScriptedFeed,
    incident,
    make_app,
    settle,
    snapshot,
    static_text,
)
from watchboard.board.format import DEFAULT_GRADE_LABELS, GradeLabels, grade_label
from watchboard.board.model import BoardModel
from watchboard.board.screens.detail import DetailScreen
from watchboard.board.screens.forms import ActionForm
from watchboard.board.widgets.counters import GradeCounter
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import GradeView, encode_view, kv_key

# What grading under plan-001 writes (grades.describe_grades of config/profiles/plan-001.toml)
PLAN_001 = {"I": {"zh": "一级 (重大)", "en": "Level 1 (major)"}, "III": {"zh": "二级 (较大)", "en": "Level 2 (large)"},
            "IV": {"zh": "三级 (一般)", "en": "Level 3 (general)"}}
LABELS = {
    "zh": {"I": "I 一级 (重大)", "III": "III 二级 (较大)", "IV": "IV 三级 (一般)"},
    "en": {"I": "I Level 1 (major)", "III": "III Level 2 (large)", "IV": "IV Level 3 (general)"},
}
DEFAULT_II = {"zh": "II 重大", "en": "II Major"}


@pytest.mark.parametrize(("names", "grades", "i_zh"), [
    (PLAN_001, ("I", "III", "IV"), "一级 (重大)"),
    ({"IV": {"zh": "三级"}, "I": {"zh": "一级"}}, ("I", "IV"), "一级"),  # worst first, whatever the order sent
    ({"I": {"zh": "[b]x[/b]\x1b[31m\u202e", "xx": "y"}, "V": {"zh": "五级"}}, ("I",), "[b]x[/b]<U+202E>"),  # cleaned
    ({"I": {"zh": "  "}}, ("I",), "特别重大"),  # a blank name: the grade is in use, by its default name
    ({"V": {"zh": "五级"}}, ("I", "II", "III", "IV"), "特别重大"),  # nothing usable: the defaults
    ({}, ("I", "II", "III", "IV"), "特别重大"),
    (None, ("I", "II", "III", "IV"), "特别重大"),
])
def test_grade_labels_from_untrusted_data(names: Any, grades: tuple[str, ...], i_zh: str) -> None:
    """Unknown grades and languages are dropped, labels cleaned; what is left is ordered I to IV."""
    labels = GradeLabels.of(names)
    assert labels.grades == grades
    assert labels.name("I", "zh") == i_zh


@pytest.mark.parametrize(("grade", "lang", "expected"), [
    ("I", "zh", "I 一级 (重大)"), ("IV", "en", "IV Level 3 (general)"),
    ("II", "zh", "II 重大"),  # collapsed by the profile, still shown for an incident graded before
    ("", "en", "ungraded"),
])
def test_grade_label_with_a_profile(grade: str, lang: str, expected: str) -> None:
    """The numeral, then the profile's name (the default one for a grade it does not name)."""
    assert grade_label(grade, lang, GradeLabels.of(PLAN_001)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("counts", "shown"), [
    ({"I": 1, "II": 0, "III": 2, "IV": 0}, ("I", "III", "IV")),
    ({"I": 0, "II": 3, "III": 0, "IV": 0}, ("I", "II", "III", "IV")),  # graded II before the profile changed
])
def test_grades_shown(counts: dict[str, int], shown: tuple[str, ...]) -> None:
    assert GradeLabels.of(PLAN_001).shown(counts) == shown


def grade_change(n: int, grade: str, minutes_ago: int, labels: dict[str, dict[str, str]]) -> KVChange:
    return KVChange(kv_key(f"01JTEST{n:019d}", "grade"), encode_view(GradeView(
        grade=grade, updated_at=NOW - timedelta(minutes=minutes_ago), grade_labels=labels)))


OTHER = {"I": {"zh": "甲", "en": "A"}, "II": {"zh": "乙", "en": "B"}}


@pytest.mark.parametrize(("changes", "expected"), [
    ([], ("I", "II", "III", "IV")),  # nothing sent: the board's own config
    ([grade_change(1, "I", 10, PLAN_001)], ("I", "III", "IV")),
    ([grade_change(1, "I", 10, PLAN_001), grade_change(2, "II", 50, OTHER)], ("I", "III", "IV")),  # older loses
    ([grade_change(1, "I", 50, PLAN_001), grade_change(2, "II", 10, OTHER)], ("I", "II")),  # newer wins
    ([grade_change(1, "I", 10, {})], ("I", "II", "III", "IV")),  # a grading that does not write them
])
@pytest.mark.parametrize("at_once", [True, False])
def test_the_newest_grade_brings_the_labels(changes: list[KVChange], expected: tuple[str, ...], at_once: bool) -> None:
    """The labels of the most recently graded incident win, in any fold order, whether folded at once or one by one."""
    for order in (changes, changes[::-1]):
        model = BoardModel()
        if at_once:
            model.ingest_all(order)
        else:
            for change in order:
                model.ingest(change)
        assert model.grade_labels().grades == expected


def test_configured_labels_until_grading_sends_some() -> None:
    model = BoardModel(labels=GradeLabels.of(PLAN_001))
    assert model.grade_labels().grades == ("I", "III", "IV")
    model.ingest(grade_change(1, "I", 10, OTHER))
    assert model.grade_labels().name("I", "en") == "A"
    assert DEFAULT_GRADE_LABELS.grades == ("I", "II", "III", "IV")


def plan_001_feed(*, in_data: bool) -> ScriptedFeed:
    """Incidents as grading under plan-001 writes them (II collapsed into I), with or without the labels."""
    labels = PLAN_001 if in_data else None
    return ScriptedFeed(*snapshot(incident(1, "I", title="一级事件", grade_labels=labels),
                                  incident(2, "III", title="二级事件", grade_labels=labels, minutes_ago=70),
                                  incident(3, "IV", title="三级事件", grade_labels=labels, minutes_ago=80)))


# Either way the board learns the profile: from its own config (profile plan-001), or from the
# data while its own config is the default one (a board started with another config folder).
WAYS = [pytest.param("plan-001", False, id="config"), pytest.param(None, True, id="data")]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("profile", "in_data"), WAYS)
async def test_desk_counters_and_regrade_follow_the_profile(lang: str, profile: str | None, in_data: bool) -> None:
    """The desk's counters name the profile's grades and leave out II; the regrade form offers I, III, IV only."""
    send = RecordingSender()
    app = make_app(plan_001_feed(in_data=in_data), send, lang=lang, profile=profile)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        counters = static_text(app, "#counters")
        for label in LABELS[lang].values():
            assert label in counters
        assert DEFAULT_II[lang] not in counters and " II " not in counters
        await pilot.press("g")
        await settle(pilot, app, rounds=2)
        assert isinstance(app.screen, ActionForm)
        (grade_field,) = [f for f in app.screen.spec.fields if f.name == "grade"]
        assert grade_field.options == tuple((label, g) for g, label in LABELS[lang].items())
        select = app.screen.query_one("#f-grade", Select)
        assert select.value == "I"  # the incident's own grade, preselected
        with pytest.raises(InvalidSelectValueError):
            select.value = "II"  # not a choice under plan-001
        select.value = "III"
        app.screen.query_one("#f-reason", Input).value = "降级"
        await pilot.click("#submit")
        await settle(pilot, app, rounds=2)
        await pilot.press("y")
        await settle(pilot, app)
        assert [(verb, body["grade"]) for verb, body in send.calls] == [("regrade", "III")]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("profile", "in_data"), WAYS)
async def test_wall_counters_follow_the_profile(lang: str, profile: str | None, in_data: bool) -> None:
    """The wall shows a counter per grade of the profile, by its name; II's counter is hidden."""
    app = make_app(plan_001_feed(in_data=in_data), lang=lang, wall=True, profile=profile)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        counters = {c.grade: c for c in app.screen.query(GradeCounter)}
        assert not counters["II"].display
        for grade, label in LABELS[lang].items():
            assert counters[grade].display
            assert str(counters[grade].query_one(Label).render()) == label.replace(" ", "  ", 1)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("profile", "in_data"), WAYS)
async def test_detail_names_the_grade_as_the_profile_does(lang: str, profile: str | None, in_data: bool) -> None:
    """The detail's badge and timeline use the profile's name for the grade."""
    app = make_app(plan_001_feed(in_data=in_data), RecordingSender(), lang=lang, profile=profile)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        body = static_text(app, "#detail-body")
        assert body.startswith(f" {LABELS[lang]['I']} ")  # the badge
        graded = "定级：" if lang == "zh" else "grading: "
        assert f"{graded}{LABELS[lang]['I']}" in body  # the timeline (the reasons are grading's own words)
