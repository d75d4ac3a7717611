"""notify's pure decisions: step, escalate, acknowledge, the retry verdict, the view. Tables of
(memo, event) → (memo, recipients); no database, no clock, no bus."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from watchboard.domain.events import (
    NO_INCIDENT,
    ClockBreached,
    ClockStarted,
    ClockWarning,
    Event,
    IncidentAssigned,
    IncidentClosed,
    IncidentFlagged,
    IncidentGraded,
    IncidentReported,
    Mention,
    MentionAdded,
    SweepMissed,
    UnitReminded,
)
from watchboard.services.notify import logic
from watchboard.services.notify.acktoken import AckSigner
from watchboard.services.notify.channels.outcome import SENT, SendResult
from watchboard.services.notify.delivery import Attempt, judge
from watchboard.services.notify.model import Context, IncidentMemo, NoticeRow, may_escalate, memo_from_legacy
from watchboard.services.notify.render import notice_key
from watchboard.services.notify.settings import Delivery, load_notify
from watchboard.services.notify.templates import Outgoing

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
M = timedelta(minutes=1)
CTX = Context(load_notify(), signer=AckSigner(b"s" * 32, 3600), unit_names={"education": {"zh": "教育局", "en": "Education"}})
DUTY = ["p-li"]
BASE = IncidentMemo(id="INC1", title="网传某镇中学食堂使用过期食材")


def ev(cls: type[Event], /, **fields: Any) -> Event:
    return cls(**{"id": f"E-{cls.__name__}", "incident_id": "INC1", "at": T0, "actor": "t", **fields})


GRADED_II = ev(IncidentGraded, grade="II", previous=None, reasons=["r"], source="rules", sentiment="neutral")


@pytest.mark.parametrize(("memo", "event", "expected"), [
    pytest.param(None, ev(IncidentReported, title="新标题", mention=Mention(platform="weibo")),
                 IncidentMemo(id="INC1", title="新标题"), id="reported: title"),
    pytest.param(BASE, GRADED_II,
                 replace(BASE, grade="II", sentiment="neutral", major_since=T0), id="II: escalates from its time"),
    pytest.param(replace(BASE, grade="I", major_since=T0 - 5 * M, tiers_done=frozenset({1})), GRADED_II,
                 replace(BASE, grade="II", sentiment="neutral", major_since=T0 - 5 * M, tiers_done=frozenset({1})),
                 id="I → II: same escalation, tiers kept"),
    pytest.param(replace(BASE, grade="II", major_since=T0, tiers_done=frozenset({1})),
                 ev(IncidentGraded, grade="III", previous="II", reasons=["r"], source="person"),
                 replace(BASE, grade="III", sentiment="negative"), id="II → III: escalation ends"),
    pytest.param(BASE, ev(IncidentAssigned, owner="education", previous=None, reason="topic", source="rules"),
                 replace(BASE, owner="education"), id="assigned: owner"),
    pytest.param(BASE, ev(IncidentClosed), replace(BASE, closed=True), id="closed"),
    pytest.param(BASE, ev(IncidentFlagged, kind="rumour", reason="编造"), None, id="flag: notices, memo as it was"),
    pytest.param(None, ev(ClockWarning, clock="first_response", due_at=T0, point="80%"), IncidentMemo(id="INC1"),
                 id="unknown incident: remembered empty"),
])
def test_step_remembers_what_the_event_says(memo: IncidentMemo | None, event: Event,
                                            expected: IncidentMemo | None) -> None:
    """The memo after each kind of event (None: unchanged)."""
    assert logic.step(memo, event, CTX, DUTY, T0).memo == expected


@pytest.mark.parametrize("event", [
    pytest.param(ev(ClockStarted, clock="first_response", due_at=T0, basis="working"), id="clock.started"),
    pytest.param(ev(MentionAdded, mention=Mention(platform="weibo")), id="mention.added"),
])
def test_step_ignores_what_it_does_not_handle(event: Event) -> None:
    """Events notify does not act on change nothing, route nothing, and are not in HANDLED
    (the notifier drops them before any lookup)."""
    assert logic.step(BASE, event, CTX, DUTY, T0) == logic.NOTHING
    assert not isinstance(event, logic.HANDLED)


@pytest.mark.parametrize(("memo", "event", "people", "values"), [
    pytest.param(replace(BASE, owner="education"), ev(ClockWarning, clock="first_response", due_at=T0 + 30 * M,
                                                      point="80%"),
                 {"p-zhang"}, {"due_at": "2026-11-23 10:30", "owner": "教育局", "point": "80%"},
                 id="warning: owner's liaison, local time"),
    pytest.param(replace(BASE, owner="education"), ev(ClockBreached, clock="first_response", due_at=T0, late=True),
                 {"p-zhang", "p-office"}, {"late": "yes"}, id="breach: liaison and office"),
    pytest.param(replace(BASE, owner="education"), ev(ClockWarning, clock="task:T1", due_at=T0 + 30 * M,
                                                      point="80%", unit="health"),
                 {"p-zhao"}, {"point": "80%"}, id="a task's warning: the task's unit, not the owner"),
    pytest.param(replace(BASE, owner="education"), ev(ClockBreached, clock="task:T1", due_at=T0, unit="health"),
                 {"p-zhao", "p-office"}, {}, id="a task's breach: the task's unit and the office"),
    pytest.param(BASE, ev(UnitReminded, unit="education", clock="report_up", count=2),
                 {"p-zhang"}, {"count": "2", "unit": "education"}, id="reminder slip: the reminded unit"),
    pytest.param(IncidentMemo(id=NO_INCIDENT), ev(SweepMissed, incident_id=NO_INCIDENT, window="10:00"),
                 {"p-li", "p-office"}, {"window": "10:00"}, id="missed sweep: duty officer and office"),
])
def test_step_routes_and_renders(memo: IncidentMemo, event: Event, people: set[str], values: dict[str, str]) -> None:
    """route → render: who hears of it, each notice keyed by event × person × contact."""
    d = logic.step(memo, event, CTX, DUTY, T0)
    assert {n.person_id for n in d.notices} == people
    for n in d.notices:
        assert n.key == notice_key(event.id, n.person_id, n.contact) and n.cause == logic.event_type(event)
        assert values.items() <= n.values.items()


def test_step_is_a_function_of_its_inputs() -> None:
    """The same memo and event give the same notices, links included (a redelivery or a
    restart renders exactly what was rendered before)."""
    first = logic.step(BASE, GRADED_II, CTX, DUTY, T0)
    again = logic.step(BASE, GRADED_II, CTX, DUTY, T0)
    assert first == again and first.notices and all(n.ack_url for n in first.notices)
    assert len({n.ack_url for n in first.notices}) == len(first.notices)  # one link per notice


def test_step_duty_officer_comes_from_the_caller() -> None:
    """on_duty is given (it depends on every open incident): the notice goes to whoever it names."""
    people = {n.person_id for n in logic.step(BASE, GRADED_II, CTX, ["p-wang"], T0).notices}
    assert "p-wang" in people and "p-li" not in people


MAJOR = replace(BASE, grade="II", major_since=T0, owner="education")


@pytest.mark.parametrize(("memo", "minutes", "tiers"), [
    (MAJOR, 14, []),
    (MAJOR, 15, [1]),
    (MAJOR, 45, [1, 2]),  # down for a while: both fall due together
    (replace(MAJOR, tiers_done=frozenset({1})), 45, [2]),
    (replace(MAJOR, acked_by="p-li", acked_at=T0), 45, []),
    (replace(MAJOR, closed=True), 45, []),
    (replace(MAJOR, grade="III"), 45, []),
])
def test_escalate(memo: IncidentMemo, minutes: int, tiers: list[int]) -> None:
    """Tiers due and not sent yet: one event each, their notices, the memo marks them done."""
    d = logic.escalate(memo, CTX, DUTY, T0 + minutes * M)
    assert [e.tier for e in d.events] == tiers  # type: ignore[attr-defined]
    if tiers:
        assert d.memo is not None and d.memo.tiers_done == memo.tiers_done | set(tiers)
        assert {n.cause for n in d.notices} == {"notice.escalated"}
        assert {n.values["tier"] for n in d.notices} == {str(t) for t in tiers}
    else:
        assert d == logic.NOTHING


@pytest.mark.parametrize(("memo", "watched"), [
    (MAJOR, True), (replace(MAJOR, tiers_done=frozenset({1, 2, 3})), False),
    (replace(MAJOR, acked_by="p-li"), False), (replace(MAJOR, closed=True), False), (BASE, False),
])
def test_may_escalate(memo: IncidentMemo, watched: bool) -> None:
    """The escalation timer watches only incidents a tier may still fall due for."""
    assert may_escalate(memo, CTX.cfg) is watched


def test_acknowledge_once() -> None:
    """The first acknowledgement is recorded with a deterministic id; the second changes nothing."""
    d = logic.acknowledge(MAJOR, "p-li", "link", T0)
    (ack,) = d.events
    assert d.memo == replace(MAJOR, acked_by="p-li", acked_at=T0)
    assert (ack.by, ack.via, ack.id) == ("p-li", "link", logic.acknowledge(MAJOR, "p-li", "cli", T0).events[0].id)  # type: ignore[attr-defined]
    assert logic.acknowledge(d.memo, "p-wang", "cli", T0 + M) == logic.NOTHING


RETRY = Delivery(max_attempts=3, backoff_initial="10s", backoff_max="40s", jitter=0.0)


def attempt(result: SendResult, n: int) -> Attempt:
    m = Outgoing(key="K", incident_id="INC1", event_id="E", cause="clock.warning", person_id="p-li",
                 person_name="李", contact="webhook", subject="s", body="b")
    return Attempt(m, n, T0, result)


@pytest.mark.parametrize(("result", "n", "status", "retry_in", "reason"), [
    (SENT, 1, "sent", None, ""),
    (SendResult(False, True, "HTTP 500"), 1, "pending", 10, "HTTP 500"),
    (SendResult(False, True, "HTTP 500"), 2, "pending", 20, "HTTP 500"),
    (SendResult(False, True, "HTTP 500"), 3, "failed", None, "HTTP 500 (gave up after 3 attempts)"),
    (SendResult(False, False, "HTTP 404"), 1, "failed", None, "HTTP 404"),
])
def test_retry_verdict(result: SendResult, n: int, status: str, retry_in: int | None, reason: str) -> None:
    """One place judges a send: sent, retry after the backoff, or give up saying why."""
    a = judge(attempt(result, n), RETRY, random.Random(0))
    assert (a.status, a.result.reason, a.final) == (status, reason, status != "pending")
    assert a.retry_at == (T0 + timedelta(seconds=retry_in) if retry_in is not None else None)


def test_view_shows_queue_states_as_pending() -> None:
    """held, merged, sending all read "pending" on the board; the tier is the highest sent."""
    rows = [NoticeRow(f"K{i}", "INC1", "p-li", "webhook", "incident.graded", status, 1, err, T0, sent, None)
            for i, (status, err, sent) in enumerate([("sent", "", T0 + M), ("failed", "HTTP 404", None),
                                                     ("held", "", None), ("sending", "", None)])]
    view = logic.view_of(replace(MAJOR, tiers_done=frozenset({1, 2})), rows, T0 + 2 * M)
    assert [(n.status, n.at) for n in view.notices] == [("sent", T0 + M), ("failed", T0), ("pending", T0),
                                                        ("pending", T0)]
    assert view.notices[1].reason == "HTTP 404" and view.escalation_tier == 2


def test_memo_from_a_row_of_the_old_incidents_table() -> None:
    """Every column of the table notify kept before the state table becomes its field."""
    row = {"id": "OLD", "title": "旧事件", "grade": "II", "owner": "health", "major_since": T0.timestamp(),
           "acked_by": None, "acked_at": None, "closed": 0, "tiers_done": "[1]", "sentiment": "negative"}
    assert memo_from_legacy(row) == IncidentMemo(id="OLD", title="旧事件", grade="II", owner="health",
                                                 sentiment="negative", major_since=T0, tiers_done=frozenset({1}))
    before_sentiments = {"id": "X", "title": "", "grade": None, "owner": None, "major_since": None,
                         "acked_by": "p-li", "acked_at": T0.timestamp(), "closed": 1, "tiers_done": "[]"}
    assert memo_from_legacy(before_sentiments) == IncidentMemo(id="X", acked_by="p-li", acked_at=T0, closed=True)


def test_the_pure_core_imports_no_database_or_bus() -> None:
    """logic.py (and what it imports) loads neither SQLite nor NATS: decisions stay testable alone."""
    code = ("import sys, watchboard.services.notify.logic; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'aiosqlite', 'sqlite3', 'nats'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
