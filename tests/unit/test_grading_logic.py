"""grading's pure step and commands: flag/unflag (seed 004 第六篇 具体方法 5, referral of rumours to
the police), and the bilingual reasons that step writes on the event and the view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchboard.config import ConfigSource
from watchboard.config.grading import GradingConfig
from watchboard.config.units import load_units
from watchboard.domain import events as ev
from watchboard.domain.commands import Ctx, Flag, Unflag
from watchboard.domain.errors import Conflict, DomainError, Invalid, NotFound
from watchboard.domain.report import Metrics
from watchboard.services.grading.logic import (
    FLAG_REASON_MAX,
    IncidentState,
    command_flag,
    command_unflag,
    step,
    view_of,
)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
UNITS = load_units(ConfigSource(profile="default"))
ID = "01JINCIDENT0000000000000000"


def reported(reposts: int = 0) -> ev.IncidentReported:
    mention = ev.Mention(platform="weibo", url="https://weibo.com/1/a", metrics=Metrics(reposts=reposts))
    return ev.IncidentReported(id="e1", incident_id=ID, at=T0, actor="intake", title="网传食堂使用过期食材",
                               mention=mention)


def graded_state(flags: list[str] | None = None) -> IncidentState:
    state, _ = step(None, reported(), GradingConfig(), UNITS, T0)
    assert state is not None
    state.flags = list(flags or [])
    return state


FLAG_CASES = [
    # (id, flags before, kind, flags after)
    ("rumour on a clean incident", [], "rumour", ["rumour"]),
    ("illegal on a clean incident", [], "illegal", ["illegal"]),
    ("illegal beside rumour", ["rumour"], "illegal", ["rumour", "illegal"]),
]


@pytest.mark.parametrize(("before", "kind", "after"), [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_flag(before: list[str], kind: str, after: list[str]) -> None:
    """A flag is kept in the state and published with the actor, the kind and the reason."""
    new, effects = command_flag(graded_state(before), Flag(incident_id=ID, kind=kind, reason="  经核实为谣言  ",
                                                           actor="wang"), Ctx(T0, "REQ1"))
    assert new.flags == after
    [event] = effects
    assert isinstance(event, ev.IncidentFlagged)
    assert (event.incident_id, event.actor, event.kind, event.reason) == (ID, "wang", kind, "经核实为谣言")
    assert (event.id, event.causation_id, event.at) == (ev.effect_id("REQ1", "flagged"), "REQ1", T0)
    view = view_of(new)
    assert view is not None and view.flags == after


UNFLAG_CASES = [
    ("the only flag", ["rumour"], "rumour", []),
    ("one of two", ["rumour", "illegal"], "rumour", ["illegal"]),
]


@pytest.mark.parametrize(("before", "kind", "after"), [c[1:] for c in UNFLAG_CASES], ids=[c[0] for c in UNFLAG_CASES])
def test_unflag(before: list[str], kind: str, after: list[str]) -> None:
    """Unflag takes one kind off and says who and why."""
    new, effects = command_unflag(graded_state(before), Unflag(incident_id=ID, kind=kind, reason="误判,撤回",
                                                               actor="li"), Ctx(T0, "REQ2"))
    assert new.flags == after
    [event] = effects
    assert isinstance(event, ev.IncidentUnflagged)
    assert (event.actor, event.kind, event.reason, event.id) == ("li", kind, "误判,撤回", ev.effect_id("REQ2", "unflagged"))
    assert view_of(new).flags == after  # type: ignore[union-attr]


REFUSED = [
    # (id, command, flags before (None: unknown incident), kind, reason, actor, error, field, message part)
    ("flag unknown incident", command_flag, None, "rumour", "r", "wang", NotFound, "incident_id", "no incident"),
    ("unflag unknown incident", command_unflag, None, "rumour", "r", "wang", NotFound, "incident_id", "no incident"),
    ("flag kind unknown", command_flag, [], "gossip", "r", "wang", Invalid, "kind",
     "'gossip' is not a flag; one of rumour, illegal"),
    ("unflag kind unknown", command_unflag, ["rumour"], "RUMOUR", "r", "wang", Invalid, "kind", "not a flag"),
    ("flag without reason", command_flag, [], "rumour", "   ", "wang", Invalid, "reason", "a reason is required"),
    ("unflag without reason", command_unflag, ["rumour"], "rumour", "", "wang", Invalid, "reason",
     "a reason is required"),
    ("reason over 2,000", command_flag, [], "rumour", "长" * (FLAG_REASON_MAX + 1), "wang", Invalid, "reason",
     "reason is 2,001 characters; at most 2,000"),
    ("flag without actor", command_flag, [], "illegal", "r", " ", Invalid, "actor", "actor is empty"),
    ("actor over 100", command_flag, [], "illegal", "r", "x" * 101, Invalid, "actor", "at most 100"),
    ("flag twice", command_flag, ["rumour"], "rumour", "r", "wang", Conflict, "kind", "already flagged rumour"),
    ("unflag what is not set", command_unflag, ["illegal"], "rumour", "r", "wang", Conflict, "kind",
     "not flagged rumour; flags: illegal"),
    ("unflag a clean incident", command_unflag, [], "illegal", "r", "wang", Conflict, "kind",
     "not flagged illegal; flags: none"),
]


@pytest.mark.parametrize(("command", "before", "kind", "reason", "actor", "error", "field", "message"),
                         [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_flag_refused(command, before: list[str] | None, kind: str, reason: str, actor: str,
                      error: type[DomainError], field: str, message: str) -> None:
    """Bad input is `invalid`, a repeat or a missing flag `conflict`, an unknown incident `not_found`;
    each names the field."""
    state = None if before is None else graded_state(before)
    with pytest.raises(error) as info:
        type_ = Flag if command is command_flag else Unflag
        command(state, type_(incident_id=ID, kind=kind, reason=reason, actor=actor), Ctx(T0, "REQ"))
    assert info.value.field == field
    assert message in info.value.message
    if state is not None:
        assert state.flags == before  # untouched


def test_reported_event_carries_both_languages() -> None:
    """Seed 003 三(三) default reposts rule: incident.graded and <id>.grade carry reasons in Chinese and English."""
    state, effects = step(None, reported(reposts=150), GradingConfig(), UNITS, T0)
    graded = [e for e in effects if isinstance(e, ev.IncidentGraded)]
    assert len(graded) == 1
    assert graded[0].reasons[0].startswith("转发合计 150 ≥ 100(较宽读法,各来源相加;原文「微博转发达100条以上」")
    assert graded[0].reasons_en[0].startswith('reposts 150 ≥ 100 (a looser reading, sources added up, of "reposted 100+ times on Weibo"')
    view = view_of(state)  # type: ignore[arg-type]
    assert view is not None
    assert (view.reasons, view.reasons_en) == (graded[0].reasons, graded[0].reasons_en)


def test_the_view_carries_the_profiles_grade_names() -> None:
    """Under plan-001 the grade view names the profile's grades (II collapsed away), so a board
    without the config shows 一级/二级/三级."""
    from watchboard.config import ConfigSource
    from watchboard.config.grading import load_grading
    from watchboard.domain.grading.grades import grade_labels

    labels = grade_labels(load_grading(ConfigSource(profile="plan-001")))
    view = view_of(graded_state([]), None, labels)
    assert view is not None and list(view.grade_labels) == ["I", "III", "IV"]
    assert view.grade_labels["I"] == {"zh": "一级 (重大)", "en": "Level 1 (major)"}
