"""`watchboard profiles --json` and `watchboard due --json` say what runs, and where it comes from."""

from __future__ import annotations

import json

import pytest

from watchboard.cli import main
from watchboard.config import ConfigSource
from watchboard.config.calendar import load_calendar
from watchboard.config.deadlines import load_deadlines, plan_set_clocks
from watchboard.config.grading import load_grading
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.clocks import due_table
from watchboard.domain.grading import used_grades
from watchboard.profiles import all_profiles

PROFILES = ["default", "plan-000", "plan-001", "plan-002", "plan-003", "plan-004"]


def by_name() -> dict[str, dict]:
    return {p["name"]: p for p in all_profiles(ConfigSource())}


@pytest.mark.parametrize("name", PROFILES)
def test_every_clock_listed_is_one_that_runs(name: str) -> None:
    """The clocks a profile lists are exactly those its loaded config plans, per grade."""
    src = ConfigSource(profile=name)
    cfg, grading = load_deadlines(src), load_grading(src)
    listed = {(r["grade"], r["name"], r["period"], r["from"]) for r in by_name()[name]["rules"] if r["kind"] == "clock"}
    running = {(g, r.name, r.period, r.counted_from) for g in used_grades(grading) for r in cfg.rules_for(g)}
    assert listed == running


@pytest.mark.parametrize("name", PROFILES)
def test_plan_clocks_quote_their_seed_and_defaults_say_so(name: str) -> None:
    """A clock its plan sets carries the seed section and words; the rest are marked default."""
    own = plan_set_clocks(ConfigSource(profile=name))
    for r in by_name()[name]["rules"]:
        if r["kind"] != "clock":
            continue
        assert r["source"] == ("plan" if r["name"] in own.get(r["grade"], set()) else "default")
        if r["source"] == "plan":
            assert r["seed_ref"].startswith(name.removeprefix("plan-")) and r["quote"]


@pytest.mark.parametrize(("name", "plan_clocks"), [
    ("default", set()),
    ("plan-000", {"statement"}),                       # seed 000 第六步
    ("plan-001", set()),                               # seed 001 sets no clock
    ("plan-002", {"report_up", "first_response", "simple_answer", "first_handling", "final"}),
    ("plan-003", {"report_up", "first_response", "statement", "formal_reply", "final"}),
    ("plan-004", set()),                               # 004 leaves its hours blank (x 小时)
])
def test_which_clocks_each_plan_sets(name: str, plan_clocks: set[str]) -> None:
    """Only the plans that name a clock's period claim it."""
    assert {r["name"] for r in by_name()[name]["rules"] if r["kind"] == "clock" and r["source"] == "plan"} == plan_clocks


def test_not_supported_is_listed_per_plan() -> None:
    """Each seed profile says what its plan asks that does not run yet."""
    for name in PROFILES[1:]:
        items = by_name()[name]["not_supported"]
        assert items and all(isinstance(i, str) and i for i in items)


@pytest.mark.parametrize(("profile", "grade", "run_as", "report_up"), [
    ("plan-001", "II", "I", "2026-11-23T12:00:00+08:00"),  # 一级: II is run as I (its collapse)
    ("plan-003", "III", "IV", None),                       # 一般: no report-up clock
    ("default", "II", "II", "2026-11-23T14:00:00+08:00"),
])
def test_due_json_applies_the_profile_collapse(profile: str, grade: str, run_as: str, report_up: str | None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`due --profile P --grade G --json` runs G as P's collapse does, like the live system."""
    assert main(["due", "--profile", profile, "--grade", grade, "--at", "2026-11-23 10:00", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["grade"] for r in rows} == {run_as}
    assert {r["name"]: r["due_at"] for r in rows}.get("report_up") == report_up
    assert all({"name", "due_at", "basis", "from", "start", "extendable", "source"} <= set(r) for r in rows)


def test_due_agrees_with_the_running_rules() -> None:
    """The calculator and the service plan from the same function: same rows for the same moments."""
    src = ConfigSource(profile="plan-002")
    cal = WorkCalendar(load_calendar(src))
    rows = due_table("IV", "2026-11-23 09:00", load_deadlines(src), cal, posted="2026-11-21 20:00",
                     plan_set=plan_set_clocks(src))
    assert [(r["name"], r["due_at"], r.get("on_arrival", False)) for r in rows] == [
        ("first_response", "2026-11-21T23:00:00+08:00", True),
        ("simple_answer", "2026-11-22T14:00:00+08:00", True),
        ("final", "2026-11-27T17:30:00+08:00", False),
    ]


@pytest.mark.parametrize(("args", "field"), [
    (["--posted", "2026-11-23 11:00", "--observed", "2026-11-23 10:00"], "posted"),
    (["--observed", "2026-11-23 12:00"], "observed"),
    (["--posted", "soon"], "posted"),
])
def test_due_refuses_impossible_moments(args: list[str], field: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A post after the observation, a moment after the arrival, a non-time: refused, naming the flag."""
    assert main(["due", "--grade", "II", "--at", "2026-11-23 11:30", *args]) == 2  # Chinese by default
    assert f"[{field}]" in capsys.readouterr().err


def test_due_error_names_the_field_once(capsys: pytest.CaptureFixture[str]) -> None:
    """`due` with an unknown profile prints `error [field]: message` in the reader's language
    (the configured one, Chinese by default)."""
    assert main(["due", "--profile", "plan-999", "--grade", "II", "--at", "2026-11-23 11:30", "--lang", "en"]) == 2
    assert capsys.readouterr().err == (
        "watchboard due: error [profile]: --profile 'plan-999' is not a profile; "
        "known: default, plan-000, plan-001, plan-002, plan-003, plan-004\n")
    assert main(["due", "--profile", "plan-999", "--grade", "II", "--at", "2026-11-23 11:30"]) == 2
    assert capsys.readouterr().err.startswith("watchboard due: 错误 [profile]：`--profile` 'plan-999' 不是已有的预案配置")


def test_due_table_in_each_language(capsys: pytest.CaptureFixture[str]) -> None:
    """The table's words are the reader's: 时限/到期/起算… or clock/due/from…; late on arrival is said."""
    args = ["due", "--grade", "IV", "--profile", "plan-002", "--at", "2026-11-23 09:00", "--posted", "2026-11-21 20:00"]
    assert main(args) == 0
    zh = capsys.readouterr().out
    assert "首次回应*" in zh and "自发帖起算" in zh and "到达时已超时" in zh and "report" not in zh
    assert main([*args, "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert "first response*" in en and "late on arrival" in en and "首次" not in en


def test_profiles_text_in_each_language(capsys: pytest.CaptureFixture[str]) -> None:
    """`watchboard profiles` speaks the reader's language: headings, clocks, routes, what is not
    supported (the plans' own words and quoted commands aside)."""
    import re

    assert main(["profiles"]) == 0
    zh = capsys.readouterr().out
    assert "本预案的时限" in zh and "尚不支持" in zh and "通知路由" in zh
    words = re.sub(r"`[^`]*`|plan-\d+|\bdefault\b|\b(IV|III|II|I)\b|\d+(wh|wd|h)\b", "", zh)
    assert not re.search(r"[A-Za-z]{3,}", words), re.findall(r"[A-Za-z]{3,}", words)[:10]
    assert main(["profiles", "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert "its plan's clocks" in en and "not supported" in en
