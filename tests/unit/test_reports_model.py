"""The fold the reports count from: clock outcomes as deadlines recorded them, owners over
time, the state as of a moment — and the periods reports cover. Table-driven."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.reports_week import ZONE, t
from watchboard.domain import events as ev
from watchboard.reports import period as periods
from watchboard.reports.figures import Ctx, settled
from watchboard.reports.model import fold
from watchboard.reports.period import PeriodError
from watchboard.reports.replay import partial_incidents

INC = "INC"
T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
DUE = T0 + timedelta(hours=3)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def started(m: int = 0, clock: str = "first_response", due: datetime = DUE) -> ev.Event:
    return ev.ClockStarted(id=f"s{m}{clock}", incident_id=INC, at=at(m), actor="deadlines", clock=clock, due_at=due,
                           basis="working")


def breached(m: int, on_arrival: bool = False) -> ev.Event:
    return ev.ClockBreached(id=f"b{m}", incident_id=INC, at=at(m), actor="deadlines", clock="first_response",
                            due_at=DUE, on_arrival=on_arrival)


def met(m: int, late: bool = False) -> ev.Event:
    return ev.ClockMet(id=f"m{m}", incident_id=INC, at=at(m), actor="p-li", clock="first_response", due_at=DUE,
                       late=late)


def cancelled(m: int) -> ev.Event:
    return ev.ClockCancelled(id=f"c{m}", incident_id=INC, at=at(m), actor="deadlines", clock="first_response",
                             reason="incident closed")


def extended(m: int, hours: int) -> ev.Event:
    return ev.ClockExtended(id=f"e{m}", incident_id=INC, at=at(m), actor="p-li", clock="first_response",
                            due_at=DUE + timedelta(hours=hours), previous_due_at=DUE, reason="协调")


def assigned(m: int, owner: str) -> ev.Event:
    return ev.IncidentAssigned(id=f"a{m}{owner}", incident_id=INC, at=at(m), actor="grading", owner=owner,
                               previous=None, reason="", source="rules")


CLOCKS = [
    # events, status, met_at minutes, on_arrival, settled kind (week of T0)
    ([started()], "running", None, False, None),
    ([started(), met(60)], "met", 60, False, "on_time"),
    ([started(), breached(180)], "breached", None, False, "breached"),
    ([started(), breached(180), met(240, late=True)], "breached", 240, False, "met_late"),
    ([started(), breached(0, on_arrival=True)], "breached", None, True, "on_arrival"),
    ([started(), breached(0, on_arrival=True), met(30, late=True)], "breached", 30, True, "on_arrival"),
    ([started(), cancelled(30)], "cancelled", None, False, None),
    ([started(), breached(180), cancelled(200)], "breached", None, False, "breached"),  # a breach stays
    ([started(), extended(60, 5)], "extended", None, False, None),
    ([started(), extended(60, 5), met(400)], "met", 400, False, "on_time"),
    ([started(), cancelled(30), started(40)], "running", None, False, None),  # restarted after a cancel
]


@pytest.mark.parametrize(("events", "status", "met_min", "on_arrival", "kind"), CLOCKS)
def test_clock_outcome(events: list[ev.Event], status: str, met_min: int | None, on_arrival: bool,
                       kind: str | None) -> None:
    record = fold([assigned(0, "education"), *events]).incidents[INC]
    clock = record.clocks["first_response"]
    assert clock.status == status
    assert clock.met_at == (None if met_min is None else at(met_min))
    assert clock.on_arrival is on_arrival
    week = periods.weekly(2026, 47, T0 + timedelta(days=10), ZONE)
    found = settled(record, clock, week)
    assert (found.kind if found else None) == kind
    if found:
        assert found.unit == "education"


def test_fold_until_skips_later_events() -> None:
    history = fold([started(), met(60)], until=at(30))
    assert history.incidents[INC].clocks["first_response"].status == "running"
    assert history.skipped == 1 and history.count == 1


@pytest.mark.parametrize(("minute", "owner"), [(-5, "education"), (0, "education"), (59, "education"),
                                               (60, "market"), (500, "market")])
def test_owner_at(minute: int, owner: str) -> None:
    """The unit in charge at a moment; before the first assignment, the first owner."""
    record = fold([assigned(0, "education"), assigned(60, "market")]).incidents[INC]
    assert record.owner_at(at(minute)) == owner


def test_a_breach_counts_for_the_owner_at_its_due_time() -> None:
    events = [assigned(0, "education"), started(), breached(180), assigned(200, "market"), met(240, late=True)]
    record = fold(events).incidents[INC]
    found = settled(record, record.clocks["first_response"], periods.weekly(2026, 47, at(10_000), ZONE))
    assert found is not None and (found.kind, found.unit) == ("met_late", "education")


def test_partial_incidents_are_those_without_their_report() -> None:
    report = ev.IncidentReported(id="r", incident_id="NEW", at=T0, actor="m", title="x",
                                 mention=ev.Mention(platform="weibo"))
    sweep = ev.SweepRecorded(id="sw", incident_id=ev.NO_INCIDENT, at=T0, actor="p-li")
    assert partial_incidents([report, started(), sweep, met(5)]) == [INC]


def test_ctx_orders_units_as_units_toml_then_others() -> None:
    ctx = Ctx(zone=ZONE, unit_order=("office", "education"))
    assert sorted(["zz", "unassigned", "education", "office"], key=ctx.unit_key) == \
        ["office", "education", "zz", "unassigned"]


# --- periods ------------------------------------------------------------------------------

NOW = t(27, "11:00")


@pytest.mark.parametrize(("text", "day"), [(None, date(2026, 11, 27)), ("today", date(2026, 11, 27)),
                                           ("yesterday", date(2026, 11, 26)), ("2026-11-18", date(2026, 11, 18))])
def test_parse_date(text: str | None, day: date) -> None:
    assert periods.parse_date(text, NOW, ZONE) == day


@pytest.mark.parametrize(("text", "week"), [(None, (2026, 47)), ("2026-W47", (2026, 47)), ("2026w1", (2026, 1)),
                                            ("2026-W53", (2026, 53))])
def test_parse_week(text: str | None, week: tuple[int, int]) -> None:
    assert periods.parse_week(text, NOW, ZONE) == week


@pytest.mark.parametrize(("call", "field"), [
    (lambda: periods.parse_date("2026-13-01", NOW, ZONE), "--date"),
    (lambda: periods.parse_date("x" * 40, NOW, ZONE), "--date"),
    (lambda: periods.parse_week("47", NOW, ZONE), "--week"),
    (lambda: periods.parse_week("2025-W53", NOW, ZONE), "--week"),  # 2025 has 52 ISO weeks
    (lambda: periods.daily(date(2026, 12, 1), NOW, ZONE), "--date"),
    (lambda: periods.weekly(2026, 49, NOW, ZONE), "--week"),
])
def test_bad_periods_name_the_option(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PeriodError) as err:
        call()
    assert err.value.field == field and str(err.value)


def test_periods_are_local_days_and_iso_weeks() -> None:
    day = periods.daily(date(2026, 11, 18), NOW, ZONE)
    assert (day.start, day.end, day.as_of) == (t(18, "00:00"), t(19, "00:00"), t(19, "00:00"))
    week = periods.weekly(2026, 47, NOW, ZONE)
    assert (week.start, week.end, week.label) == (t(16, "00:00"), t(23, "00:00"), "2026-W47")
    assert len(week.days()) == 7
    today = periods.daily(date(2026, 11, 27), NOW, ZONE)
    assert today.as_of == NOW and today.contains(t(27, "10:59")) and not today.contains(t(27, "11:01"))
