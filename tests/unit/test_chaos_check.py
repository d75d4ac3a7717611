"""The chaos suite's checker (bench/chaos.py `check`) on made-up streams: it finds each kind of
fault it exists to find — a report never graded, one graded twice, a clock due and never
breached, one breached twice, a notice never delivered or sent under two keys, a view that
says something else than the stream — and ignores a forged event the consumers refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.chaos import Run, check, clean
from tests.stream_truth import shown
from watchboard.domain import events as ev

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)


def reported(i: str) -> tuple[str, ev.Event]:
    m = ev.Mention(platform="weibo", title=f"t{i}")
    return (f"wb.ev.intake.{i}.incident.reported",
            ev.IncidentReported(id=f"r{i}", incident_id=i, at=T0, actor="intake", title=f"t{i}", mention=m))


def graded(i: str, n: int = 0, grade: str = "II") -> tuple[str, ev.Event]:
    return (f"wb.ev.grading.{i}.incident.graded",
            ev.IncidentGraded(id=f"g{i}{n}", incident_id=i, at=T0 + timedelta(seconds=1), actor="grading",
                              grade=grade, previous=None, reasons=[], source="rules"))


def started(i: str) -> tuple[str, ev.Event]:
    return (f"wb.ev.deadlines.{i}.clock.started",
            ev.ClockStarted(id=f"c{i}", incident_id=i, at=T0, actor="deadlines", clock="report_up",
                            due_at=T0 + timedelta(seconds=3), basis="calendar"))


def breached(i: str, n: int = 0) -> tuple[str, ev.Event]:
    return (f"wb.ev.deadlines.{i}.clock.breached",
            ev.ClockBreached(id=f"b{i}{n}", incident_id=i, at=T0 + timedelta(seconds=4), actor="deadlines",
                             clock="report_up", due_at=T0 + timedelta(seconds=3)))


def sent(i: str, key: str, to: str = "p-li") -> tuple[str, ev.Event]:
    return (f"wb.ev.notify.{i}.notice.sent",
            ev.NoticeSent(id=f"n{key}", incident_id=i, at=T0 + timedelta(seconds=2), actor="notify", to=to,
                          channel="webhook", cause="incident.graded", key=key, causation_id=f"g{i}0"))


def board(events: list[tuple[str, ev.Event]]) -> dict[str, dict[str, Any]]:
    """The views a healthy system would show for `events`."""
    from tests.stream_truth import truth

    said = truth([e for _, e in events], ("core", "grade", "clocks", "notices"))
    raw: dict[str, dict[str, Any]] = {}
    for key, facts in said.items():
        part = key.rpartition(".")[2]
        if part == "core":
            raw[key] = {"stage": facts["stage"], "mention_count": facts["mentions"]}
        elif part == "grade":
            raw[key] = {"grade": facts["grade"], "pinned": facts["pinned"]}
        elif part == "clocks":
            raw[key] = {"clocks": [{"name": c, "status": s} for c, s in facts.items()]}
        else:
            raw[key] = {"notices": [{"to": t, "channel": c, "cause": k, "status": "sent"} for t, c, k in facts["sent"]]}
    return {k: shown(k, v) for k, v in raw.items()}


def healthy() -> tuple[list[tuple[str, ev.Event]], Run]:
    events = [reported("A"), graded("A"), started("A"), breached("A"), sent("A", "kA")]
    run = Run(accepted={0: "A"}, received=[("kA", 0.0)])
    return events, run


def figures(events: list[tuple[str, ev.Event]], run: Run, views: dict[str, Any] | None = None,
            ids: dict[str, int] | None = None) -> dict[str, Any]:
    from collections import Counter

    return check(events, Counter(ids or {e.id: 1 for _, e in events}), board(events) if views is None else views,
                 run, NOW, 30.0)


def test_a_healthy_run_is_clean() -> None:
    events, run = healthy()
    found = figures(events, run)
    assert clean(found)
    assert {k: (e.expected, e.done) for k, e in found["effects"].items()} == {
        "reports": (1, 1), "grades": (1, 1), "breaches": (1, 1), "notices": (1, 1)}


@pytest.mark.parametrize(("change", "effect", "what"), [
    (lambda ev_, run: ev_.remove(ev_[1]), "grades", "lost"),  # never graded
    (lambda ev_, run: ev_.append(graded("A", 1)), "grades", "duplicated"),  # a second first grading
    (lambda ev_, run: ev_.remove(ev_[3]), "breaches", "lost"),  # due, never breached
    (lambda ev_, run: ev_.append(breached("A", 1)), "breaches", "duplicated"),
    (lambda ev_, run: run.received.clear(), "notices", "lost"),  # recorded as sent, never arrived
    (lambda ev_, run: ev_.append(sent("A", "kA2")) or run.received.append(("kA2", 1.0)), "notices", "duplicated"),
    (lambda ev_, run: run.accepted.update({1: "B"}), "reports", "lost"),  # accepted, not in the stream
])
def test_each_fault_is_found(change: Any, effect: str, what: str) -> None:
    events, run = healthy()
    change(events, run)
    found = figures(events, run)
    assert getattr(found["effects"][effect], what) == 1
    assert not clean(found)


def test_a_stale_view_is_found() -> None:
    events, run = healthy()
    views = board(events)
    views["A.grade"] = {"grade": "IV", "pinned": False}
    found = figures(events, run, views)
    assert found["views"]["stale"] == {"grade": 1} and not clean(found)


def test_a_missing_view_is_found() -> None:
    events, run = healthy()
    views = board(events)
    del views["A.clocks"]
    found = figures(events, run, views)
    assert found["views"]["missing"] == {"clocks": 1} and not clean(found)


def test_an_event_stored_twice_is_found() -> None:
    events, run = healthy()
    found = figures(events, run, ids={"gA0": 2})
    assert found["stream"]["stored_twice"] == 1 and not clean(found)


def test_a_forged_event_the_consumers_refused_is_not_the_truth() -> None:
    """A grade on intake's subject is in the stream, but no service acted on it: the board is
    right to show the honest grade."""
    events, run = healthy()
    honest_views = board(events)
    forged = ev.IncidentGraded(id="forged", incident_id="A", at=T0, actor="grading", grade="I", previous="II",
                               reasons=[], source="rules")
    events.append(("wb.ev.intake.A.incident.graded", forged))
    found = figures(events, run, honest_views)
    assert clean(found) and found["stream"]["forged_in_stream"] == 1
