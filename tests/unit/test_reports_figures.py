"""Every figure of the daily report, the weekly circular and a review, built from the scripted
week (tests/reports_week.py) and checked against the values worked out by hand there."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from tests.reports_week import (
    DAILY_THU,
    DAILY_WED,
    FOLLOW_DAILY,
    FOLLOW_REVIEW_A,
    FOLLOW_WEEKLY,
    IDS,
    REVIEW_A,
    WEEKLY_W47,
    ZONE,
    daily_digest,
    follow_daily_digest,
    follow_review_digest,
    follow_weekly_digest,
    later_event,
    review_digest,
    t,
    week,
    weekly_digest,
)
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.reports import period as periods
from watchboard.reports.build import Setting, build, load_setting

NOW = t(27, "11:00")  # a Friday after the week


@pytest.fixture(scope="module")
def setting() -> Setting:
    return load_setting(ConfigSource())


def figures(report) -> dict:  # type: ignore[no-untyped-def]
    return msgspec.json.decode(msgspec.json.encode(report.figures))


@pytest.mark.parametrize(("day", "expected"), [(date(2026, 11, 18), DAILY_WED), (date(2026, 11, 19), DAILY_THU)],
                         ids=["wednesday", "thursday"])
def test_daily_figures_match_the_hand_count(setting: Setting, day: date, expected: dict) -> None:
    events = [*week(), later_event()]
    report = build("daily", events, periods.daily(day, NOW, ZONE), setting, "zh", now=NOW)
    assert daily_digest(figures(report)) == expected


def test_weekly_figures_match_the_hand_count(setting: Setting) -> None:
    events = [*week(), later_event()]  # B's regrade on Monday 23 is after the week: B stays IV
    report = build("weekly", events, periods.weekly(2026, 47, NOW, ZONE), setting, "zh", now=NOW)
    assert weekly_digest(figures(report)) == WEEKLY_W47


def test_review_of_a_matches_the_hand_count(setting: Setting) -> None:
    report = build("review", week(), periods.review(IDS["A"], t(16, "09:00"), NOW), setting, "zh", now=NOW)
    assert review_digest(figures(report)) == REVIEW_A


def test_a_day_not_over_counts_up_to_now(setting: Setting) -> None:
    """The 17:00 report of Wednesday: D (16:00) is in, F's 17:30 breach and slip are not yet, so
    F's formal reply is still due today, beside tomorrow's two."""
    now = t(18, "17:00")
    report = build("daily", week(), periods.daily(date(2026, 11, 18), now, ZONE), setting, "zh", now=now)
    got = daily_digest(figures(report))
    assert got["new_total"] == 2
    assert got["breaches"][:3] == (1, 0, 1)  # only C, late on arrival
    assert got["slips"][0] == 1  # B's second slip at 15:00
    assert got["due"] == (1, 2, [("县城某小学校服价格过高", "formal_reply", "18 17:30", "running", "education", "today"),
                                 ("河西镇学校补课收费", "first_response", "19 10:00", "running", "education", "tomorrow"),
                                 ("河西镇道路积水", "formal_reply", "19 17:30", "extended", "hexi", "tomorrow")])
    assert report.period.as_of == now


def test_the_week_not_over_counts_up_to_now(setting: Setting) -> None:
    """Week 47 seen on Thursday 12:00: B's third slip (15:00) and G's formal reply (16:00) are
    still to come."""
    now = t(19, "12:00")
    report = build("weekly", week(), periods.weekly(2026, 47, now, ZONE), setting, "zh", now=now)
    got = weekly_digest(figures(report))
    assert got["units"]["transport"][-3:] == (2, 1, False)
    assert "hexi" not in got["units"]
    assert got["named"] == []


@pytest.mark.parametrize("day", sorted(FOLLOW_DAILY))
def test_daily_follow_through_matches_the_hand_count(setting: Setting, day: str) -> None:
    """Open tasks and those due today and tomorrow, statements awaiting approval or published
    that day, the open I/II incidents not supervised that working day, the evidence kept."""
    report = build("daily", [*week(), later_event()], periods.daily(date.fromisoformat(day), NOW, ZONE), setting,
                   "zh", now=NOW)
    assert follow_daily_digest(figures(report)) == FOLLOW_DAILY[day]


def test_weekly_follow_through_matches_the_hand_count(setting: Setting) -> None:
    """Per unit: tasks handed out, fed back on time or late, open (overdue); statements drafted,
    approved, sent back and published."""
    report = build("weekly", [*week(), later_event()], periods.weekly(2026, 47, NOW, ZONE), setting, "zh", now=NOW)
    assert follow_weekly_digest(figures(report)) == FOLLOW_WEEKLY


def test_review_follow_through_of_a_matches_the_hand_count(setting: Setting) -> None:
    report = build("review", week(), periods.review(IDS["A"], t(16, "09:00"), NOW), setting, "zh", now=NOW)
    assert follow_review_digest(figures(report)) == FOLLOW_REVIEW_A


def test_a_task_fed_back_before_deadlines_judged_it_is_judged_by_its_due_time(setting: Setting) -> None:
    """Without deadlines' clock (not reached yet), a feedback is on time or late against the due
    time the task was given; the task's clock is never counted among the plans' clocks."""
    from tests.reports_week import TASKS, Script

    s = Script()
    s.report("A", t(16, "09:00"), "甲", "weibo")
    s.grade("A", t(16, "09:00"), "II")
    s.assign("A", t(16, "09:00"), "zhongshan")
    s.add(ev.TaskAdded, "A", t(16, "10:00"), "p-li", task_id=TASKS["A1"], unit="market", text="x", due="1wd",
          due_at=t(17, "17:30"), basis="working")
    s.add(ev.TaskFedBack, "A", t(18, "09:00"), "liaison-market", task_id=TASKS["A1"], unit="market", text="y")
    report = build("weekly", s.events, periods.weekly(2026, 47, NOW, ZONE), setting, "zh", now=NOW)
    got = follow_weekly_digest(figures(report))
    assert got["tasks_units"] == [("market", 1, 1, 0, 1, 0, 0, 0)]
    assert report.figures["supervision"].total.due == 0
