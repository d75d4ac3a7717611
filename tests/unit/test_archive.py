"""`reports.archive`: an incident that has left the board, as the board showed it, from its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchboard.domain import events as ev
from watchboard.reports.archive import view_of, views_of

T = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
M = timedelta(minutes=1)
A, B = "01JARCHIVE0000000000000001", "01JARCHIVE0000000000000002"


def reported(incident: str, at: datetime = T, title: str = "网传某镇河道污染") -> ev.IncidentReported:
    return ev.IncidentReported(id=f"{incident}-r", incident_id=incident, at=at, actor="monitor", title=title,
                               mention=ev.Mention(platform="weibo", region="临江镇"))


def graded(incident: str, grade: str, minutes: int, previous: str | None = None) -> ev.IncidentGraded:
    return ev.IncidentGraded(id=f"{incident}-g{minutes}", incident_id=incident, at=T + minutes * M, actor="grading",
                             grade=grade, previous=previous, reasons=["转发 150"], reasons_en=["150 reposts"],
                             source="rules")


EVENTS = [
    reported(A),
    graded(A, "III", 1),
    ev.IncidentAssigned(id="a", incident_id=A, at=T + 2 * M, actor="grading", owner="environment", previous=None,
                        reason="属地", source="rules"),
    ev.ClockStarted(id="c1", incident_id=A, at=T + 2 * M, actor="deadlines", clock="first_response",
                    due_at=T + 3 * 60 * M, basis="working"),
    ev.ClockStarted(id="c2", incident_id=A, at=T + 2 * M, actor="deadlines", clock="report_up",
                    due_at=T + 60 * M, basis="calendar"),
    ev.ClockBreached(id="c3", incident_id=A, at=T + 61 * M, actor="deadlines", clock="report_up", due_at=T + 60 * M),
    ev.NoticeSent(id="n1", incident_id=A, at=T + 3 * M, actor="notify", to="p-li", channel="email",
                  cause="incident.graded"),
    ev.IncidentAcknowledged(id="k", incident_id=A, at=T + 5 * M, actor="li", by="li"),
    graded(A, "II", 70, previous="III"),
    ev.NoteAdded(id="note", incident_id=A, at=T + 80 * M, actor="wang", text="已联系环保局"),
    ev.IncidentClosed(id="x", incident_id=A, at=T + 90 * M, actor="wang", summary="已处置"),
    ev.ClockCancelled(id="c4", incident_id=A, at=T + 90 * M, actor="deadlines", clock="first_response",
                      reason="incident closed"),
    reported(B, at=T + 10 * M, title="另一件事"),
]


@pytest.mark.parametrize(("what", "value"), [
    ("stage", "closed"),
    ("closed_at", T + 90 * M),
    ("close_summary", "已处置"),
    ("notes", ["已联系环保局"]),
    ("grade", "II"),  # the last grade grading recorded
    ("owner", "environment"),
    ("reasons_en", ["150 reposts"]),
    ("clocks", {"first_response": "cancelled", "report_up": "breached"}),
    ("notices", [("p-li", "email", "sent")]),
    ("acknowledged_by", "li"),
])
def test_view_of_a_closed_incident(what: str, value: object) -> None:
    view = views_of(EVENTS)[A]
    assert view.core is not None and view.grade is not None and view.clocks is not None and view.notices is not None
    got = {
        "stage": view.core.stage, "closed_at": view.core.closed_at, "close_summary": view.core.close_summary,
        "notes": [n.text for n in view.core.notes], "grade": view.grade.grade, "owner": view.grade.owner,
        "reasons_en": view.grade.reasons_en, "clocks": {c.name: c.status for c in view.clocks.clocks},
        "notices": [(n.to, n.channel, n.status) for n in view.notices.notices],
        "acknowledged_by": view.notices.acknowledged_by,
    }[what]
    assert got == value


def test_only_what_the_events_hold() -> None:
    """An incident reported and nothing else: a record, no grade, clocks or notices."""
    views = views_of(EVENTS)
    assert set(views) == {A, B}
    other = views[B]
    assert other.core is not None and other.core.stage == "reported" and other.core.title == "另一件事"
    assert other.grade is None and other.clocks is None and other.notices is None


@pytest.mark.parametrize(("events", "found"), [
    ([e for e in EVENTS if e.incident_id == A], True),
    ([e for e in EVENTS if e.incident_id == A and not isinstance(e, ev.IncidentReported)], False),  # no report
    ([], False),
])
def test_view_of_one(events: list[ev.Event], found: bool) -> None:
    view = view_of(events)
    assert (view is not None and view.id == A) is found
