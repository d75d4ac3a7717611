"""`show/ls --json` and the timeline for grading's facts: flags, flag events, English reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchboard.domain import events as ev
from watchboard.domain.present import describe, show_json, summary_json
from watchboard.domain.views import CoreView, GradeView, IncidentView

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def view(grade: GradeView | None) -> IncidentView:
    return IncidentView(id="I1", core=CoreView(id="I1", title="网传谣言", reported_at=T0), grade=grade)


@pytest.mark.parametrize(("grade", "flags"), [
    (None, []),
    (GradeView(grade="IV"), []),
    (GradeView(grade="II", flags=["rumour"]), ["rumour"]),
    (GradeView(grade="II", flags=["rumour", "illegal"]), ["rumour", "illegal"]),
])
def test_flags_in_json(grade: GradeView | None, flags: list[str]) -> None:
    """`ls --json` and `show --json` carry the incident's flags (none before grading knows it)."""
    assert summary_json(view(grade))["flags"] == flags
    assert show_json(view(grade))["flags"] == flags


def _event(cls: type[ev.Event], **kw: object) -> ev.Event:
    return cls(id="E1", incident_id="I1", at=T0, actor="wang", **kw)  # type: ignore[call-arg]


@pytest.mark.parametrize(("event", "text"), [
    (_event(ev.IncidentFlagged, kind="rumour", reason="经核实为谣言"), "flagged rumour: 经核实为谣言"),
    (_event(ev.IncidentUnflagged, kind="illegal", reason="误判"), "illegal flag removed: 误判"),
    (_event(ev.IncidentGraded, grade="II", previous=None, source="rules", reasons=["转发合计 150 ≥ 100 → II 重大"],
            reasons_en=["reposts 150 ≥ 100 → II Major"]), "graded II Major (rules): reposts 150 ≥ 100 → II Major"),
    # An event written before reasons_en existed still reads.
    (_event(ev.IncidentGraded, grade="III", previous="IV", source="rules", reasons=["rule → III"]),
     "grade IV → III Large (rules): rule → III"),
])
def test_timeline_text(event: ev.Event, text: str) -> None:
    """The (English) timeline says what grading did: flags with their reason, grades with English reasons."""
    assert describe(event) == text
