"""deadlines on a real nats-server with a controlled clock: clocks, warnings, breaches,
reminders, flags, commands, tightening, sweeps and restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from nats.aio.client import Client

from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.jetstream import EventPublisher
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.services.deadlines.service import build

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # an ordinary working Monday
SUBJECTS = Subjects()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_9.astimezone(UTC))


@pytest.fixture
async def service(nats_server: NatsServer, tmp_path: Path, clock: FakeClock) -> AsyncIterator[None]:
    async with running(build(ConfigSource()), nats_server.url, tmp_path / "deadlines", now=clock, tick=0.05):
        yield


async def report(nc: Client, incident: str, at: datetime, grade: str = "II", sentiment: str = "negative",
                 owner: str | None = "education", posted: datetime | None = None) -> None:
    """Publish what intake and grading would: reported, assigned, graded."""
    pub = EventPublisher(nc, SUBJECTS)
    at = at.astimezone(UTC)
    mention = ev.Mention(platform="weibo", posted_at=posted.astimezone(UTC) if posted else None)
    events: list[ev.Event] = [ev.IncidentReported(id=f"{incident}-r", incident_id=incident, at=at, actor="monitor",
                                                  title="网传", mention=mention)]
    if owner:
        events.append(ev.IncidentAssigned(id=f"{incident}-a", incident_id=incident, at=at, actor="grading",
                                          owner=owner, previous=None, reason="属地", source="rules"))
    events.append(graded(incident, grade, at, sentiment=sentiment))
    await pub.publish_all(events)


def graded(incident: str, grade: str, at: datetime, *, previous: str | None = None,
           sentiment: str = "negative") -> ev.IncidentGraded:
    return ev.IncidentGraded(id=f"{incident}-g{grade}", incident_id=incident, at=at.astimezone(UTC),
                             actor="grading", grade=grade, previous=previous, reasons=["test"], source="rules",
                             sentiment=sentiment)


async def clocks_of(nc: Client, incident: str, **want: object) -> dict:
    """Wait for `<id>.clocks` to show the wanted field values (clock name → status, or top-level)."""
    async def check() -> dict | None:
        view = await kv_get(nc, f"{incident}.clocks")
        if view is None:
            return None
        statuses = {c["name"]: c["status"] for c in view["clocks"]}
        for key, value in want.items():
            if key in ("reminders", "flagged", "count"):
                actual = len(view["clocks"]) if key == "count" else view[key]
                if actual != value:
                    return None
            elif statuses.get(key) != value:
                return None
        return view

    return await eventually(check, timeout=10, what=f"clocks of {incident} with {want}")


async def deadline_events(nc: Client, incident: str, kind: str | None = None) -> list[ev.Event]:
    events = await load_history(nc, SUBJECTS, incident)
    return [e for e in events if ev.OWNER[ev.event_type(e)] == "deadlines"
            and (kind is None or ev.event_type(e) == kind)]


def due(view: dict, name: str) -> datetime:
    return datetime.fromisoformat(next(c["due_at"] for c in view["clocks"] if c["name"] == name))


async def test_grade_ii_gets_every_clock_in_kv_and_stream(service: None, nc: Client) -> None:
    """A grade II incident learned of Monday 09:00 carries its five clocks with the right due times."""
    await report(nc, "INC1", MONDAY_9)
    view = await clocks_of(nc, "INC1", count=5)
    assert [c["name"] for c in view["clocks"]] == ["report_up", "first_response", "statement", "formal_reply",
                                                   "final"]
    assert due(view, "report_up") == local("2026-11-23 13:00")
    assert due(view, "first_response") == local("2026-11-23 12:00")
    assert due(view, "statement") == local("2026-11-24 09:00")
    assert due(view, "formal_reply") == local("2026-11-30 17:30")
    assert due(view, "final") == local("2026-12-07 17:30")
    assert {c["status"] for c in view["clocks"]} == {"running"}
    started = await deadline_events(nc, "INC1", "clock.started")
    assert {e.clock: e.due_at for e in started} == {c["name"]: due(view, c["name"]) for c in view["clocks"]}


async def test_warning_then_exactly_one_breach_and_a_first_slip_per_task(service: None, nc: Client,
                                                                         clock: FakeClock) -> None:
    """80 % warns; each due time breaches once with the first reminder slip about that task."""
    await report(nc, "INC2", MONDAY_9)
    await clocks_of(nc, "INC2", count=5)
    clock.set(local("2026-11-23 11:25").astimezone(UTC))  # first_response 80 % = 11:24, 30m = 11:30
    async def warned() -> list[ev.Event]:
        return [e for e in await deadline_events(nc, "INC2", "clock.warning") if e.clock == "first_response"]
    warnings = await eventually(warned, what="first_response warning")
    assert [w.point for w in warnings] == ["80%"]

    clock.set(local("2026-11-23 12:00:00.5").astimezone(UTC))
    view = await clocks_of(nc, "INC2", first_response="breached", reminders=1)
    assert view["flagged"] is False
    breaches = await deadline_events(nc, "INC2", "clock.breached")
    assert [(b.clock, b.late, b.on_arrival) for b in breaches] == [("first_response", False, False)]
    reminded = await deadline_events(nc, "INC2", "unit.reminded")
    assert [(r.unit, r.clock, r.count) for r in reminded] == [("education", "first_response", 1)]

    clock.set(local("2026-11-24 09:00:01").astimezone(UTC))  # report_up (13:00) and statement (09:00)
    view = await clocks_of(nc, "INC2", report_up="breached", statement="breached", reminders=3)
    assert view["flagged"] is False  # three tasks, one slip each: nobody ignored three reminders
    assert sorted((s["clock"], s["count"]) for s in view["slips"]) == [
        ("first_response", 1), ("report_up", 1), ("statement", 1)]
    clock.advance(seconds=5)
    await clocks_of(nc, "INC2", reminders=3)
    breaches = await deadline_events(nc, "INC2", "clock.breached")
    assert sorted(b.clock for b in breaches) == ["first_response", "report_up", "statement"]
    assert {b.clock: b.late for b in breaches}["report_up"] is True  # 20 h after its due time


async def test_reminders_repeat_and_the_third_about_one_task_flags(nats_server: NatsServer, nc: Client,
                                                                   tmp_path: Path, clock: FakeClock) -> None:
    """seed 002 四.3 with seconds-long periods: slips every 15 s while the task stays undone, the
    third flags the unit once; a reassignment starts the new owner's count at zero."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "deadlines.toml").write_text(
        'remind_every = "15s"\n[grades.IV]\nfirst_response = { period = "30s", from = "reported" }\n'
        'final = "10wd"\n', encoding="utf-8")
    src = ConfigSource(config_dir=config)
    async with running(build(src), nats_server.url, tmp_path / "deadlines", source=src, now=clock, tick=0.05):
        await report(nc, "INC10", MONDAY_9, grade="IV")
        await clocks_of(nc, "INC10", count=2)
        for seconds in (30, 45, 60):  # the breach, then two repeats
            clock.set((MONDAY_9 + timedelta(seconds=seconds, milliseconds=100)).astimezone(UTC))
            await clocks_of(nc, "INC10", reminders=seconds // 15 - 1)
        view = await clocks_of(nc, "INC10", flagged=True)
        assert [(s["unit"], s["count"], s["flagged"]) for s in view["slips"]] == [("education", 3, True)]
        reassigned = (MONDAY_9 + timedelta(seconds=62)).astimezone(UTC)
        clock.set(reassigned)
        await EventPublisher(nc, SUBJECTS).publish(ev.IncidentAssigned(
            id="INC10-a2", incident_id="INC10", at=reassigned, actor="li", owner="health", previous="education",
            reason="职责调整", source="person"))

        # The reassignment changes nothing a view shows: a marker incident published after it
        # shows that deadlines has consumed it (one consumer, stream order).
        await report(nc, "INC10-marker", reassigned, grade="IV")
        await clocks_of(nc, "INC10-marker", count=2)
        clock.set(reassigned + timedelta(seconds=15, milliseconds=100))  # a whole period after it
        view = await clocks_of(nc, "INC10", reminders=4)
        assert sorted((s["unit"], s["count"]) for s in view["slips"]) == [("education", 3), ("health", 1)]
        reminded = await deadline_events(nc, "INC10", "unit.reminded")
        assert [(r.unit, r.count) for r in reminded] == [("education", 1), ("education", 2), ("education", 3),
                                                         ("health", 1)]
        flagged = await deadline_events(nc, "INC10", "unit.flagged")
        assert [(f.unit, f.clock, f.count) for f in flagged] == [("education", "first_response", 3)]


async def test_late_on_arrival_breaches_at_once_without_a_slip(service: None, nc: Client) -> None:
    """seed 003 四(三) counts first_response from the observation (知晓发帖内容后): a report whose item
    was observed more than 3 working hours earlier arrives breached, on arrival, with no slip."""
    pub = EventPublisher(nc, SUBJECTS)
    observed = local("2026-11-20 09:00").astimezone(UTC)  # Friday; 3 working hours → Friday 12:00
    mention = ev.Mention(platform="weibo", observed_at=observed)
    await pub.publish_all([
        ev.IncidentReported(id="INC11-r", incident_id="INC11", at=MONDAY_9.astimezone(UTC), actor="monitor",
                            title="网传", mention=mention),
        ev.IncidentAssigned(id="INC11-a", incident_id="INC11", at=MONDAY_9.astimezone(UTC), actor="grading",
                            owner="education", previous=None, reason="属地", source="rules"),
        graded("INC11", "IV", MONDAY_9)])
    view = await clocks_of(nc, "INC11", first_response="breached")
    assert {c["name"]: c["on_arrival"] for c in view["clocks"]} == {
        "first_response": True, "formal_reply": False, "final": False}
    assert view["reminders"] == 0 and view["slips"] == []
    breaches = await deadline_events(nc, "INC11", "clock.breached")
    assert [(b.clock, b.on_arrival) for b in breaches] == [("first_response", True)]
    assert await deadline_events(nc, "INC11", "unit.reminded") == []


async def test_a_grade_raised_later_starts_report_up_from_the_rise(service: None, nc: Client,
                                                                  clock: FakeClock) -> None:
    """Raised IV → II two days after intake: report_up runs 4 h from the rise, not breached at once."""
    await report(nc, "INC12", MONDAY_9, grade="IV")
    await clocks_of(nc, "INC12", count=3)
    rise = local("2026-11-25 10:00")
    clock.set(rise.astimezone(UTC))
    await EventPublisher(nc, SUBJECTS).publish(graded("INC12", "II", rise, previous="IV"))
    view = await clocks_of(nc, "INC12", report_up="running", statement="running")
    assert due(view, "report_up") == local("2026-11-25 14:00")
    breached = {e.clock for e in await deadline_events(nc, "INC12", "clock.breached")}
    assert breached == {"first_response"}  # two days without a first response; report_up is not born overdue


async def test_done_extend_and_close(service: None, nc: Client, clock: FakeClock) -> None:
    """done meets a clock, extend moves one (never past final), close cancels the rest."""
    await report(nc, "INC3", MONDAY_9)
    await clocks_of(nc, "INC3", count=5)
    r = await request(nc, "wb.cmd.done", {"incident_id": "INC3", "clock": "first_response", "note": "已回应",
                                          "actor": "wang"})
    assert r["ok"] is True
    await clocks_of(nc, "INC3", first_response="met")
    again = await request(nc, "wb.cmd.done", {"incident_id": "INC3", "clock": "first_response", "actor": "wang"})
    assert again["error"]["code"] == "conflict" and again["error"]["field"] == "clock"
    unknown = await request(nc, "wb.cmd.done", {"incident_id": "INC3", "clock": "lunch", "actor": "wang"})
    assert unknown["error"]["code"] == "invalid" and unknown["error"]["field"] == "clock"
    missing = await request(nc, "wb.cmd.done", {"incident_id": "NOPE", "clock": "final", "actor": "wang"})
    assert missing["error"]["code"] == "not_found"

    past = await request(nc, "wb.cmd.extend", {"incident_id": "INC3", "clock": "formal_reply", "actor": "li",
                                               "due_at": "2026-12-08T09:00:00+08:00", "reason": "需调查"})
    assert past["ok"] is False and past["error"]["field"] == "due_at"
    assert "final" in past["error"]["message"]
    bad = await request(nc, "wb.cmd.extend", {"incident_id": "INC3", "clock": "formal_reply", "actor": "li",
                                              "due_at": "next week", "reason": "x"})
    assert bad["error"]["field"] == "due_at"
    moved = await request(nc, "wb.cmd.extend", {"incident_id": "INC3", "clock": "formal_reply", "actor": "li",
                                                "due_at": "2026-12-04T17:30:00+08:00", "reason": "需调查"})
    assert moved["ok"] is True and moved["due_at"] == "2026-12-04T17:30:00+08:00"
    view = await clocks_of(nc, "INC3", formal_reply="extended")
    assert due(view, "formal_reply") == local("2026-12-04 17:30")
    extended = await deadline_events(nc, "INC3", "clock.extended")
    assert [(e.previous_due_at, e.reason) for e in extended] == [(local("2026-11-30 17:30"), "需调查")]

    pub = EventPublisher(nc, SUBJECTS)
    await pub.publish(ev.IncidentClosed(id="INC3-c", incident_id="INC3", at=clock(), actor="wang", summary="已澄清"))
    await clocks_of(nc, "INC3", report_up="cancelled", formal_reply="cancelled", final="cancelled",
                    first_response="met")
    cancelled = await deadline_events(nc, "INC3", "clock.cancelled")
    assert sorted(e.clock for e in cancelled) == ["final", "formal_reply", "report_up", "statement"]


async def test_stage_changes_meet_nothing(service: None, nc: Client, clock: FakeClock) -> None:
    """handling, following, subsided: the clocks keep running, and still breach when due."""
    await report(nc, "INC4", MONDAY_9)
    await clocks_of(nc, "INC4", count=5)
    pub = EventPublisher(nc, SUBJECTS)
    for i, stage in enumerate(("handling", "following", "subsided")):
        await pub.publish(ev.StageChanged(id=f"INC4-s{i}", incident_id="INC4", at=clock(), actor="wang",
                                          stage=stage, previous="reported"))
    clock.advance(seconds=1)
    view = await clocks_of(nc, "INC4", count=5)
    assert {c["status"] for c in view["clocks"]} == {"running"}
    assert await deadline_events(nc, "INC4", "clock.met") == []
    clock.set(local("2026-11-23 12:00:01").astimezone(UTC))
    await clocks_of(nc, "INC4", first_response="breached", reminders=1)


async def test_rising_grade_tightens_and_records_previous(service: None, nc: Client, clock: FakeClock) -> None:
    """II → I brings report_up forward to 2 h and records the old due time; nothing is loosened."""
    await report(nc, "INC5", MONDAY_9)
    await clocks_of(nc, "INC5", count=5)
    await EventPublisher(nc, SUBJECTS).publish(graded("INC5", "I", clock(), previous="II"))

    async def tightened() -> dict | None:
        view = await kv_get(nc, "INC5.clocks")
        return view if view and due(view, "report_up") == local("2026-11-23 11:00") else None
    await eventually(tightened, what="report_up tightened")
    started = [e for e in await deadline_events(nc, "INC5", "clock.started") if e.previous_due_at is not None]
    assert [(e.clock, e.previous_due_at) for e in started] == [("report_up", local("2026-11-23 13:00"))]
    await EventPublisher(nc, SUBJECTS).publish(graded("INC5", "III", clock(), previous="I"))
    clock.advance(seconds=1)
    view = await clocks_of(nc, "INC5", count=5)
    assert due(view, "report_up") == local("2026-11-23 11:00")  # a lower grade never loosens


async def test_positive_item_gets_no_clocks(service: None, nc: Client) -> None:
    """A positive item is graded but carries no clock."""
    await report(nc, "INC6", MONDAY_9, sentiment="positive")
    view = await eventually(lambda: kv_get(nc, "INC6.clocks"), what="clocks view")
    assert view["clocks"] == [] and view["reminders"] == 0
    assert await deadline_events(nc, "INC6") == []


async def test_sweep_recorded_then_missed(service: None, nc: Client, clock: FakeClock) -> None:
    """A sweep before 10:00 covers that window; none by 18:00 raises sweep.missed once."""
    clock.set(local("2026-11-23 09:30").astimezone(UTC))
    r = await request(nc, "wb.cmd.sweep", {"note": "早间巡查", "actor": "zhao"})
    assert r["ok"] is True
    view = await eventually(lambda: kv_get(nc, "sys.sweep"), what="sys.sweep")
    assert view["last_by"] == "zhao"
    clock.set(local("2026-11-23 12:00").astimezone(UTC))
    clock.set(local("2026-11-23 18:00:01").astimezone(UTC))

    async def missed() -> list[ev.Event]:
        return [e for e in await load_history(nc, SUBJECTS, ev.NO_INCIDENT) if isinstance(e, ev.SweepMissed)]
    found = await eventually(missed, what="sweep.missed")
    clock.advance(seconds=2)
    await eventually(lambda: kv_get(nc, "sys.sweep"), what="sys.sweep")
    assert [m.window for m in await missed()] == ["18:00"] == [m.window for m in found]
    recorded = [e for e in await load_history(nc, SUBJECTS, ev.NO_INCIDENT) if isinstance(e, ev.SweepRecorded)]
    assert [(e.actor, e.note) for e in recorded] == [("zhao", "早间巡查")]
    sweep = await kv_get(nc, "sys.sweep")
    assert sweep["missed"] == ["2026-11-23 18:00"]


async def test_restart_emits_missed_breach_once_marked_late(nats_server: NatsServer, nc: Client,
                                                           tmp_path: Path, clock: FakeClock) -> None:
    """Breaches that fell due while the service was down come out once, late, on restart."""
    data = tmp_path / "deadlines"
    async with running(build(ConfigSource()), nats_server.url, data, now=clock, tick=0.05):
        await report(nc, "INC7", MONDAY_9)
        await clocks_of(nc, "INC7", count=5)
    clock.set(local("2026-11-23 12:30").astimezone(UTC))  # first_response fell due at 12:00
    for _ in range(2):
        async with running(build(ConfigSource()), nats_server.url, data, now=clock, tick=0.05):
            await clocks_of(nc, "INC7", first_response="breached", reminders=1)
    breaches = await deadline_events(nc, "INC7", "clock.breached")
    assert [(b.clock, b.late) for b in breaches] == [("first_response", True)]


async def test_calendar_coverage_in_kv(service: None, nc: Client) -> None:
    """sys.calendar says how far the working calendar is known (warning text only near its end)."""
    view = await eventually(lambda: kv_get(nc, "sys.calendar"), what="sys.calendar")
    assert view["covered_until"] == "2026-12-31"
    assert "2027" in view["warning_en"] and "2027" in view["warning_zh"]  # 2026-11-23 is within 60 days


async def test_event_after_due_time_breaches_before_closing(service: None, nc: Client, clock: FakeClock) -> None:
    """A close stamped after a due time the service has not yet fired breaches that clock first."""
    await report(nc, "INC8", MONDAY_9)
    await clocks_of(nc, "INC8", count=5)
    late = local("2026-11-23 12:30").astimezone(UTC)  # first_response was due at 12:00
    await EventPublisher(nc, SUBJECTS).publish(ev.IncidentClosed(
        id="INC8-c", incident_id="INC8", at=late, actor="wang", summary="已处置"))
    await clocks_of(nc, "INC8", first_response="breached", report_up="cancelled", reminders=1)
    clock.set(late + timedelta(seconds=1))
    clock.advance(seconds=1)
    await clocks_of(nc, "INC8", first_response="breached", reminders=1)
    assert len(await deadline_events(nc, "INC8", "clock.breached")) == 1


async def test_reload_with_the_missing_year_firms_up_provisional_clocks(nats_server: NatsServer, nc: Client,
                                                                       tmp_path: Path) -> None:
    """Clocks running into unknown 2027 are provisional; reload after adding 2027 recomputes them."""
    config = tmp_path / "config"
    config.mkdir()
    clock = FakeClock(local("2026-12-28 10:00").astimezone(UTC))
    svc = build(ConfigSource(config_dir=config))
    async with running(svc, nats_server.url, tmp_path / "deadlines", now=clock, tick=0.05):
        await report(nc, "INC9", local("2026-12-28 10:00"), grade="III")
        view = await clocks_of(nc, "INC9", count=3)
        assert [c["provisional"] for c in view["clocks"]] == [False, True, True]
        old_final = due(view, "final")
        (config / "calendar.toml").write_text(
            "[years.2027]\nholidays = [2027-01-01, 2027-01-04, 2027-01-05]\nworkdays = []\n", encoding="utf-8")
        await svc.reload()

        async def firm() -> dict | None:
            v = await kv_get(nc, "INC9.clocks")
            return v if v and not any(c["provisional"] for c in v["clocks"]) else None
        view = await eventually(firm, what="firm clocks")
        assert due(view, "final") > old_final
        moved = [e for e in await deadline_events(nc, "INC9", "clock.started") if e.previous_due_at is not None]
        assert {e.clock for e in moved} == {"formal_reply", "final"}
        cal = await eventually(lambda: kv_get(nc, "sys.calendar"), what="sys.calendar")
        assert cal["covered_until"] == "2027-12-31" and cal["warning_en"] is None


@pytest.mark.parametrize(("profile", "grade"), [
    ("default", "II"), ("plan-000", "III"), ("plan-001", "II"), ("plan-002", "II"), ("plan-003", "I"),
    ("plan-004", "IV"),
])
async def test_due_and_the_running_service_agree(nats_server: NatsServer, nc: Client, tmp_path: Path,
                                                 profile: str, grade: str) -> None:
    """For each profile, the clocks the service runs for a report that arrives after the post
    are the rows `watchboard due --profile P --posted … --observed … --at …` prints."""
    from watchboard.config.calendar import load_calendar
    from watchboard.config.deadlines import load_deadlines
    from watchboard.config.grading import load_grading
    from watchboard.domain.calendar import WorkCalendar
    from watchboard.domain.clocks import due_table
    from watchboard.domain.grading import collapse

    src = ConfigSource(profile=profile)
    posted, observed, arrived = local("2026-11-21 20:00"), local("2026-11-23 08:40"), MONDAY_9
    clock = FakeClock(arrived.astimezone(UTC))
    run_as = collapse(grade, load_grading(src))  # what grading puts on the wire under this profile
    async with running(build(src), nats_server.url, tmp_path / "deadlines", source=src, now=clock, tick=0.05):
        pub = EventPublisher(nc, SUBJECTS)
        mention = ev.Mention(platform="weibo", posted_at=posted.astimezone(UTC), observed_at=observed.astimezone(UTC))
        await pub.publish_all([
            ev.IncidentReported(id="P-r", incident_id="P1", at=arrived.astimezone(UTC), actor="m", title="t",
                                mention=mention),
            graded("P1", run_as, arrived)])
        rows = due_table(grade, arrived, load_deadlines(src), WorkCalendar(load_calendar(src)),
                         posted=posted, observed=observed, collapse=load_grading(src).collapse)
        view = await clocks_of(nc, "P1", count=len(rows))
    expected = {r["name"]: (datetime.fromisoformat(r["due_at"]), r["from"]) for r in rows}
    got = {c["name"]: (datetime.fromisoformat(c["due_at"]), c["counted_from"]) for c in view["clocks"]}
    assert got == expected
    late = {r["name"] for r in rows if r.get("on_arrival")}
    assert {c["name"] for c in view["clocks"] if c["on_arrival"]} == late
