"""Clock rules: plans per grade and profile, tightening, warnings, extensions, the due calculator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchboard.config import ConfigSource
from watchboard.config.calendar import calendar_from_data
from watchboard.config.deadlines import CLOCK_ORDER, DeadlinesConfig, deadlines_from_data, load_deadlines
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.clocks import (
    PlannedClock,
    check_extension,
    due_table,
    parse_at,
    plan_clocks,
    settle_provisional,
    tighten,
    warning_times,
)
from watchboard.domain.errors import Invalid
from watchboard.domain.views import ClockView
from watchboard.profiles import load_for_due

Z = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
CFG = DeadlinesConfig()


def t(text: str) -> datetime:
    """'2026-09-18 16:00' → aware datetime in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=Z)


def local(at: datetime) -> str:
    return at.astimezone(Z).strftime("%Y-%m-%d %H:%M")


def table(clocks: list[PlannedClock]) -> list[tuple[str, str, str]]:
    return [(c.name, local(c.due_at), c.basis) for c in clocks]


def view(name: str, due: str, status: str = "running") -> ClockView:
    basis = "calendar" if name in ("report_up", "statement") else "working"
    return ClockView(name=name, due_at=t(due).astimezone(UTC), basis=basis, status=status)


# --- plans: the default profile (seed 003) --------------------------------------------


@pytest.mark.parametrize(("grade", "start", "expected"), [
    # Grade II reported on Friday afternoon 2026-09-18, before Mid-autumn and National Day:
    # Sun 9/20 is a make-up working day; 9/25–27 and 10/1–7 are off.
    ("II", "2026-09-18 16:00", [
        ("report_up", "2026-09-18 20:00", "calendar"),       # 4 h, evening included
        ("first_response", "2026-09-20 10:00", "working"),   # 1.5 wh Fri + 1.5 wh make-up Sun
        ("statement", "2026-09-19 16:00", "calendar"),       # 24 h through Saturday
        ("formal_reply", "2026-09-24 17:30", "working"),     # 9/20, 21, 22, 23, 24
        ("final", "2026-10-09 17:30", "working"),            # … 28, 29, 30, 10/8, 10/9
    ]),
    # Grade II on Wednesday afternoon 2026-09-30, the day before National Day.
    ("II", "2026-09-30 16:00", [
        ("report_up", "2026-09-30 20:00", "calendar"),
        ("first_response", "2026-10-08 10:00", "working"),   # waits out 10/1–10/7
        ("statement", "2026-10-01 16:00", "calendar"),       # holidays count for calendar time
        ("formal_reply", "2026-10-13 17:30", "working"),     # 10/8, 9, Sat 10/10, 12, 13
        ("final", "2026-10-20 17:30", "working"),            # 14, 15, 16, 19, 20
    ]),
    ("I", "2026-09-18 16:00", [
        ("report_up", "2026-09-18 18:00", "calendar"),
        ("first_response", "2026-09-20 10:00", "working"),
        ("statement", "2026-09-19 16:00", "calendar"),
        ("formal_reply", "2026-09-24 17:30", "working"),
        ("final", "2026-10-09 17:30", "working"),
    ]),
    ("III", "2026-02-13 16:00", [                            # Friday before Spring Festival
        ("first_response", "2026-02-14 10:00", "working"),   # make-up Sat 2/14
        ("formal_reply", "2026-02-27 17:30", "working"),     # 2/14, 24, 25, 26, 27
        ("final", "2026-03-05 17:30", "working"),            # Sat 2/28, 3/2, 3, 4, 5
    ]),
    ("IV", "2026-03-09 12:00", [
        ("first_response", "2026-03-09 17:00", "working"),   # lunch start waits for 14:00
        ("formal_reply", "2026-03-16 17:30", "working"),
        ("final", "2026-03-23 17:30", "working"),
    ]),
])
def test_default_plan(grade: str, start: str, expected: list[tuple[str, str, str]]) -> None:
    """Each grade starts the seed-003 clocks, every due time spelt out, in DESIGN §4.4 order."""
    planned = plan_clocks(grade, t(start), CFG, CAL)
    assert table(planned) == expected
    assert all(c.due_at.utcoffset() == timedelta(0) and not c.provisional for c in planned)


@pytest.mark.parametrize(("sentiment", "positive_clocks", "count"), [
    ("negative", False, 5), ("neutral", False, 5), ("positive", False, 0), ("positive", True, 5),
])
def test_positive_items_get_no_clocks(sentiment: str, positive_clocks: bool, count: int) -> None:
    """Positive items are not put on the clock unless the config says so."""
    cfg = DeadlinesConfig(positive_clocks=positive_clocks)
    assert len(plan_clocks("I", t("2026-03-09 10:00"), cfg, CAL, sentiment)) == count


def test_plan_unknown_grade() -> None:
    """An unknown grade is refused with the grades that exist."""
    with pytest.raises(ValueError, match="unknown grade 'V'; use one of I, II, III, IV"):
        plan_clocks("V", t("2026-03-09 10:00"), CFG, CAL)


def test_off_drops_a_clock_and_order_is_fixed() -> None:
    """'off' removes a clock; extra clocks sit before final whatever the TOML order."""
    cfg = deadlines_from_data({"grades": {"I": {"final": "10wd", "simple_answer": "18h",
                                                "report_up": "off", "first_response": "3wh"}}})
    names = [c.name for c in plan_clocks("I", t("2026-03-09 10:00"), cfg, CAL)]
    assert names == ["first_response", "simple_answer", "final"]
    assert CLOCK_ORDER.index("simple_answer") < CLOCK_ORDER.index("final")


def test_provisional_plan_then_firm_after_adding_2027() -> None:
    """Late December 2026: working clocks are provisional until calendar.toml has 2027."""
    start = t("2026-12-28 10:00")
    before = plan_clocks("II", start, CFG, CAL)
    assert [(c.name, c.provisional) for c in before] == [
        ("report_up", False), ("first_response", False), ("statement", False),
        ("formal_reply", True), ("final", True)]
    cal27 = WorkCalendar(calendar_from_data({"years": {"2027": {"holidays": [date(2027, 1, 1)]}}}))
    after = plan_clocks("II", start, CFG, cal27)
    assert not any(c.provisional for c in after)
    assert table(after)[3] == ("formal_reply", "2027-01-05 17:30", "working")


# --- profiles ----------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "grade", "start", "expected"), [
    # seed 002 (a school): report 2 h, first response 3 h calendar incl. holidays, simple answer
    # 18 h, first handling within 2 working days, cap 5 working days.
    # Its 5 working days are the cap (final), so no separate formal_reply runs.
    ("plan-002", "II", "2026-09-30 16:00", [
        ("report_up", "2026-09-30 18:00", "calendar"),
        ("first_response", "2026-09-30 19:00", "calendar"),  # holidays included
        ("statement", "2026-10-01 16:00", "calendar"),
        ("simple_answer", "2026-10-01 10:00", "calendar"),
        ("first_handling", "2026-10-09 17:30", "working"),
        ("final", "2026-10-13 17:30", "working"),
    ]),
    ("plan-002", "IV", "2026-09-18 16:00", [
        ("first_response", "2026-09-18 19:00", "calendar"),
        ("simple_answer", "2026-09-19 10:00", "calendar"),
        ("final", "2026-09-24 17:30", "working"),
    ]),
    # seed 000: public reply from the approved statement within 12 h, mapped onto `statement`.
    ("plan-000", "I", "2026-09-30 16:00", [
        ("report_up", "2026-09-30 18:00", "calendar"),
        ("first_response", "2026-10-08 10:00", "working"),
        ("statement", "2026-10-01 04:00", "calendar"),
        ("formal_reply", "2026-10-13 17:30", "working"),
        ("final", "2026-10-20 17:30", "working"),
    ]),
    ("plan-000", "IV", "2026-03-09 10:00", [
        ("first_response", "2026-03-09 15:00", "working"),
        ("statement", "2026-03-09 22:00", "calendar"),
        ("formal_reply", "2026-03-16 17:30", "working"),
        ("final", "2026-03-23 17:30", "working"),
    ]),
    # plans 001, 003 and 004 keep the default clocks
    ("plan-003", "II", "2026-09-18 16:00", [
        ("report_up", "2026-09-18 20:00", "calendar"),
        ("first_response", "2026-09-20 10:00", "working"),
        ("statement", "2026-09-19 16:00", "calendar"),
        ("formal_reply", "2026-09-24 17:30", "working"),
        ("final", "2026-10-09 17:30", "working"),
    ]),
])
def test_profile_plans(profile: str, grade: str, start: str, expected: list[tuple[str, str, str]]) -> None:
    """Each seed profile's clocks, every due time spelt out."""
    src = ConfigSource(profile=profile)
    assert table(plan_clocks(grade, t(start), load_deadlines(src), CAL)) == expected


@pytest.mark.parametrize("profile", ["plan-000", "plan-001", "plan-002", "plan-003", "plan-004"])
def test_every_profile_loads(profile: str) -> None:
    """Every shipped profile gives a valid deadlines config and calendar."""
    cfg, cal = load_for_due(profile)
    assert plan_clocks("I", t("2026-03-09 10:00"), cfg, cal)[-1].name == "final"


# --- tighten -----------------------------------------------------------------------------


def test_tighten_rising_grade_adds_and_keeps() -> None:
    """IV → II adds report_up and statement; unchanged clocks are not restarted."""
    start = t("2026-09-18 16:00")
    running = [ClockView(name=c.name, due_at=c.due_at, basis=c.basis, status="running")
               for c in plan_clocks("IV", start, CFG, CAL)]
    changes = tighten(running, plan_clocks("II", start, CFG, CAL))
    assert [(c.name, local(c.due_at), c.previous_due_at) for c in changes] == [
        ("report_up", "2026-09-18 20:00", None), ("statement", "2026-09-19 16:00", None)]


@pytest.mark.parametrize(("status", "running_due", "planned_due", "changed"), [
    ("running", "2026-09-25 17:30", "2026-09-24 17:30", True),    # earlier: tightened
    ("extended", "2026-10-09 17:30", "2026-09-24 17:30", True),   # an extension is tightened too
    ("running", "2026-09-23 17:30", "2026-09-24 17:30", False),   # later: never loosened
    ("running", "2026-09-24 17:30", "2026-09-24 17:30", False),   # same: nothing to do
    ("met", "2026-09-25 17:30", "2026-09-24 17:30", False),       # settled clocks stay settled
    ("breached", "2026-09-25 17:30", "2026-09-24 17:30", False),
    ("cancelled", "2026-09-25 17:30", "2026-09-24 17:30", True),  # cancelled by a lower grade: starts afresh
])
def test_tighten_only_tightens(status: str, running_due: str, planned_due: str, changed: bool) -> None:
    """An open clock is only moved earlier; met and breached clocks are left alone."""
    running = [view("formal_reply", running_due, status)]
    planned = [PlannedClock(name="formal_reply", due_at=t(planned_due).astimezone(UTC), basis="working")]
    changes = tighten(running, planned)
    assert bool(changes) is changed
    if changed and status == "cancelled":
        assert changes[0].previous_due_at is None
    elif changed:
        assert changes[0].previous_due_at == t(running_due)
        assert changes[0].due_at == t(planned_due)


def test_settle_provisional() -> None:
    """After adding 2027, provisional open clocks get their firm times; others are untouched."""
    start = t("2026-12-28 10:00")
    running = [ClockView(name=c.name, due_at=c.due_at, basis=c.basis, status="running",
                         provisional=c.provisional) for c in plan_clocks("II", start, CFG, CAL)]
    marked = [c.name for c in running if c.provisional]
    cal27 = WorkCalendar(calendar_from_data({"years": {"2027": {"holidays": [date(2027, 1, 1)]}}}))
    changes = settle_provisional(running, marked, plan_clocks("II", start, CFG, cal27))
    assert [(c.name, local(c.due_at), local(c.previous_due_at or start), c.provisional)
            for c in changes] == [
        ("formal_reply", "2027-01-05 17:30", "2027-01-04 17:30", False),
        ("final", "2027-01-12 17:30", "2027-01-11 17:30", False)]
    # recomputing with the same unknown year changes nothing
    assert settle_provisional(running, marked, plan_clocks("II", start, CFG, CAL)) == []


# --- warnings ----------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "due", "basis", "expected"), [
    ("2026-03-09 10:00", "2026-03-09 12:00", "calendar", [("30m", "11:30"), ("80%", "11:36")]),
    ("2026-03-09 10:00", "2026-03-10 10:00", "calendar", [("80%", "05:12"), ("30m", "09:30")]),
    # 3 wh from Friday 16:00: 80 % = 2 h 24 m of work time → Monday 09:24
    ("2026-03-13 16:00", "2026-03-16 10:00", "working", [("80%", "09:24"), ("30m", "09:30")]),
    # a 20-minute clock: "30m before" would be before the start, so only 80 %
    ("2026-03-09 10:00", "2026-03-09 10:20", "calendar", [("80%", "10:16")]),
    # 80 % and 30 m at the same instant: one warning, the first configured label
    ("2026-03-09 10:00", "2026-03-09 12:30", "calendar", [("80%", "12:00")]),
])
def test_warning_times(start: str, due: str, basis: str, expected: list[tuple[str, str]]) -> None:
    """Warnings at 80 % of the clock (work time for working clocks) and 30 min before due."""
    points = warning_times(t(start), t(due), CFG, basis=basis, cal=CAL)
    assert [(label, at.astimezone(Z).strftime("%H:%M")) for label, at in points] == expected


# --- extensions --------------------------------------------------------------------------


FINAL = t("2026-10-09 17:30")


@pytest.mark.parametrize(("clock", "new_due", "error"), [
    (view("formal_reply", "2026-09-24 17:30"), "2026-09-30 17:30", None),
    (view("formal_reply", "2026-09-24 17:30", "extended"), "2026-10-09 17:30", None),  # up to the cap
    (view("formal_reply", "2026-09-24 17:30"), "2026-10-09 17:31", "past the final cap"),
    (view("formal_reply", "2026-09-24 17:30"), "2026-09-24 17:30", "not later than the current one"),
    (view("formal_reply", "2026-09-24 17:30"), "2026-09-23 17:30", "not later than the current one"),
    (view("formal_reply", "2026-09-24 17:30", "met"), "2026-09-30 17:30", "clock formal_reply is met"),
    (view("final", "2026-10-09 17:30"), "2026-10-12 17:30", "final clock is the cap"),
])
def test_check_extension(clock: ClockView, new_due: str, error: str | None) -> None:
    """An extension moves an open clock later, never past final."""
    result = check_extension(clock, t(new_due), FINAL)
    if error is None:
        assert result is None
    else:
        assert result is not None and error in result


def test_check_extension_without_final() -> None:
    """A grade without a final clock has no cap, only the later-than rule."""
    assert check_extension(view("first_response", "2026-09-24 10:00"), t("2027-01-01 10:00"), None) is None


# --- `watchboard due` --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "iso"), [
    ("2026-09-18 16:00", "2026-09-18T16:00:00+08:00"),
    ("2026-09-18T16:00", "2026-09-18T16:00:00+08:00"),
    ("2026-09-18T16:00+08:00", "2026-09-18T16:00:00+08:00"),
    ("2026-09-18T08:00:00Z", "2026-09-18T08:00:00+00:00"),
    (" 2026-09-18 16:00 ", "2026-09-18T16:00:00+08:00"),
])
def test_parse_at(text: str, iso: str) -> None:
    """--at takes ISO 8601 or 'YYYY-MM-DD HH:MM' in the configured zone."""
    assert parse_at(text, Z).isoformat() == iso


def test_due_table_rows() -> None:
    """Rows carry name, due_at in the zone with its offset, basis; in §4.4 order."""
    rows = due_table("II", "2026-09-18 16:00", CFG, CAL)
    assert rows[0] == {"name": "report_up", "due_at": "2026-09-18T20:00:00+08:00",
                       "basis": "calendar", "provisional": False, "from": "graded",
                       "start": "2026-09-18T16:00:00+08:00", "extendable": False, "source": "default",
                       "period": "4h", "grade": "II"}
    assert [r["name"] for r in rows] == ["report_up", "first_response", "statement", "formal_reply", "final"]
    assert due_table("II", t("2026-09-18 16:00"), CFG, CAL) == rows
    assert due_table("II", datetime(2026, 9, 18, 8, tzinfo=UTC), CFG, CAL) == rows


@pytest.mark.parametrize(("call", "field", "message"), [
    (lambda: due_table("V", "2026-09-18 16:00", CFG, CAL, profile="plan-003"), "grade",
     "--grade 'V' is not a grade; use one of I, II, III, IV (profile plan-003)"),
    (lambda: due_table("II", "tomorrow", CFG, CAL), "at",
     "--at 'tomorrow' is not a time: use ISO 8601 like '2026-09-18T16:00+08:00' or 'YYYY-MM-DD HH:MM'"),
    (lambda: load_for_due("plan-999"), "profile",
     "--profile 'plan-999' is not a profile; known: default, plan-000, plan-001, plan-002, plan-003, plan-004"),
])
def test_due_errors(call, field: str, message: str) -> None:
    """A bad grade, time or profile is named in the error."""
    with pytest.raises(Invalid) as info:
        call()
    assert (info.value.field, info.value.message) == (field, message)
