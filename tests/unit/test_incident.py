"""The intake-owned incident record: the fold into CoreView and the stage/note/close deciders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from watchboard.domain.errors import Conflict, DomainError, Invalid, NotFound
from watchboard.domain.events import (
    ClockStarted,
    IncidentClosed,
    IncidentGraded,
    IncidentReported,
    Mention,
    MentionAdded,
    NoteAdded,
    StageChanged,
    decode_event,
    encode_event,
)
from watchboard.domain.incident import (
    MAX_EVIDENCE_IN_VIEW,
    NOTE_MAX,
    SETTABLE_STAGES,
    apply,
    decide_close,
    decide_note,
    decide_report,
    decide_stage,
    fold,
    mention_from_report,
    start,
)
from watchboard.domain.merge import MergeDecision
from watchboard.domain.report import STAGES, Metrics, Report, ReportMetrics
from watchboard.domain.views import MAX_MENTIONS_IN_VIEW, MAX_NOTES_IN_VIEW, CoreView

T0 = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
ID = "01JD3X7K2M9Q4R5S6T7V8W9XA0"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reported(**mention: object) -> IncidentReported:
    fields = {"platform": "weibo", "title": "食堂过期食材", "summary": "网友称…", "region": "仲山镇",
              "url": "https://weibo.com/1", "evidence": ["https://archive/1"]}
    fields.update(mention)
    return IncidentReported(id="E0", incident_id=ID, at=T0, actor="monitor-01", title="食堂过期食材",
                            mention=Mention(**fields))  # type: ignore[arg-type]


def mention(n: int, platform: str = "weibo", **kw: object) -> MentionAdded:
    return MentionAdded(id=f"M{n}", incident_id=ID, at=at(n), actor="monitor-02", merged_by="url",
                        mention=Mention(platform=platform, url=f"https://x/{n}",
                                        metrics=Metrics(reposts=n), **kw))  # type: ignore[arg-type]


def core_at(stage: str) -> CoreView:
    return msgspec.structs.replace(start(reported()), stage=stage)


# --- decide_report ------------------------------------------------------------------------

def test_new_report_becomes_incident_reported() -> None:
    """A report the merge did not place opens an incident with the new id."""
    report = Report(title="食堂过期食材", platform="weibo", reporter="monitor-01",
                    metrics=ReportMetrics(reposts=150), evidence=["a"])
    event = decide_report(report, MergeDecision(incident_id=None, merged_by=None), now=T0,
                          event_id="E1", new_incident_id=ID, causation_id="REQ1")
    assert isinstance(event, IncidentReported)
    assert (event.id, event.incident_id, event.at, event.actor, event.causation_id) == (
        "E1", ID, T0, "monitor-01", "REQ1")
    assert event.title == "食堂过期食材" and event.mention.metrics.reposts == 150
    assert type(event.mention.metrics) is Metrics  # not the report's strict subclass
    assert decode_event(encode_event(event)) == event


def test_merged_report_becomes_mention_added() -> None:
    """A merged report is a mention of the chosen incident, recording how it merged."""
    report = Report(title="t", platform="douyin")
    event = decide_report(report, MergeDecision(incident_id=ID, merged_by="title", score=0.9),
                          now=T0, event_id="E2", new_incident_id="unused")
    assert isinstance(event, MentionAdded)
    assert (event.incident_id, event.merged_by, event.actor) == (ID, "title", "intake")


def test_mention_from_report_copies_every_fact() -> None:
    """Every field of the report except incident_id reaches the mention."""
    report = Report(title="t", platform="tv", summary="s", url="https://u", region="r", unit_hint="u",
                    topic="transport", observed_at=T0, media_level="city", sentiment="neutral",
                    cross_region=True, emergency=True, stability_risk=True, reporter="m",
                    evidence=["e"], incident_id=ID)
    m = msgspec.to_builtins(mention_from_report(report))
    r = msgspec.to_builtins(report)
    del r["incident_id"]
    assert m == r


# --- the fold -----------------------------------------------------------------------------

def test_start_builds_the_core_view() -> None:
    """incident.reported gives a view at stage reported with one mention."""
    core = start(reported())
    assert (core.id, core.title, core.stage, core.reported_at, core.updated_at) == (ID, "食堂过期食材", "reported", T0, T0)
    assert core.platforms == ["weibo"] and core.mention_count == 1 and len(core.mentions) == 1
    assert core.region == "仲山镇" and core.summary == "网友称…" and core.evidence == ["https://archive/1"]


def test_mentions_count_all_keep_latest_and_platforms_distinct() -> None:
    """mention_count counts every mention; the view keeps the latest; platforms in first-seen order."""
    platforms = ["douyin", "weibo", "wechat", "douyin"]
    n = MAX_MENTIONS_IN_VIEW + 10
    core = fold([reported(), *(mention(i + 1, platforms[i % 4]) for i in range(n))])
    assert core is not None
    assert core.mention_count == n + 1
    assert len(core.mentions) == MAX_MENTIONS_IN_VIEW
    assert core.mentions[-1].url == f"https://x/{n}" and core.mentions[0].url == f"https://x/{n - MAX_MENTIONS_IN_VIEW + 1}"
    assert core.platforms == ["weibo", "douyin", "wechat"]
    assert core.updated_at == at(n)


def test_evidence_accumulates_distinct_and_bounded() -> None:
    """Evidence gathers across mentions without duplicates, up to the bound, earliest first."""
    events = [reported(), mention(1, evidence=["https://archive/1", "shot-1"])]
    events += [mention(i, evidence=[f"e{i}a", f"e{i}b"]) for i in range(2, 100)]
    core = fold(events)
    assert core is not None
    assert core.evidence[:3] == ["https://archive/1", "shot-1", "e2a"]
    assert len(core.evidence) == MAX_EVIDENCE_IN_VIEW == len(set(core.evidence))


def test_later_mention_fills_missing_facts_only() -> None:
    """Region, topic, unit hint and summary come from the first report; gaps are filled later."""
    core = fold([reported(region=None, summary=""),
                 mention(1, region="仲山镇", topic="education", summary="补充", unit_hint="edu"),
                 mention(2, region="别处", topic="transport", summary="另一个")])
    assert core is not None
    assert (core.region, core.topic, core.unit_hint, core.summary) == ("仲山镇", "education", "edu", "补充")


def test_the_view_keeps_the_earliest_post_and_observation() -> None:
    """posted_at / observed_at are the earliest any report gave (the clocks' moments, DOMAIN.md §4)."""
    core = fold([reported(observed_at=at(30)),
                 mention(1, posted_at=at(-60), observed_at=at(40)),
                 mention(2, posted_at=at(-30), observed_at=at(10))])
    assert core is not None
    assert (core.posted_at, core.observed_at) == (at(-60), at(10))
    assert [m.posted_at for m in core.mentions] == [None, at(-60), at(-30)]


def test_stage_note_and_close_update_the_view() -> None:
    """Stage changes, notes and closing land in the view, with notes in order."""
    core = fold([
        reported(),
        StageChanged(id="S1", incident_id=ID, at=at(5), actor="duty", stage="handling",
                     previous="reported", note="交教育局"),
        NoteAdded(id="N1", incident_id=ID, at=at(6), actor="duty", text="已电话联系"),
        StageChanged(id="S2", incident_id=ID, at=at(7), actor="duty", stage="following", previous="handling"),
        IncidentClosed(id="C1", incident_id=ID, at=at(9), actor="lead", summary="已回应，平息"),
    ])
    assert core is not None
    assert core.stage == "closed" and core.closed_at == at(9) and core.close_summary == "已回应，平息"
    assert [(n.actor, n.text) for n in core.notes] == [("duty", "交教育局"), ("duty", "已电话联系")]
    assert core.updated_at == at(9)


def test_notes_are_bounded_to_the_latest() -> None:
    """Only the latest MAX_NOTES_IN_VIEW notes are kept."""
    notes = [NoteAdded(id=f"N{i}", incident_id=ID, at=at(i), actor="a", text=f"n{i}")
             for i in range(MAX_NOTES_IN_VIEW + 5)]
    core = fold([reported(), *notes])
    assert core is not None
    assert len(core.notes) == MAX_NOTES_IN_VIEW and core.notes[-1].text == f"n{MAX_NOTES_IN_VIEW + 4}"
    assert core.notes[0].text == "n5"


def test_fold_is_pure() -> None:
    """Applying an event returns a new view and leaves the old one untouched."""
    before = start(reported())
    snapshot = msgspec.json.encode(before)
    after = apply(before, mention(1, "douyin"))
    assert after is not before and msgspec.json.encode(before) == snapshot
    assert after is not None and after.mention_count == 2


def test_other_services_events_are_ignored() -> None:
    """grading's and deadlines' events leave intake's view as it was."""
    core = start(reported())
    graded = IncidentGraded(id="G", incident_id=ID, at=at(1), actor="grading", grade="II",
                            previous=None, reasons=[], source="rules")
    clock = ClockStarted(id="K", incident_id=ID, at=at(1), actor="deadlines", clock="report_up",
                         due_at=at(120), basis="calendar")
    assert apply(apply(core, graded), clock) is core  # type: ignore[arg-type]


def test_events_before_reported_leave_no_view() -> None:
    """A mention with no incident.reported before it has nothing to fold into."""
    assert fold([mention(1)]) is None


def test_repeated_reported_is_ignored() -> None:
    """A replayed incident.reported does not reset the view."""
    core = fold([reported(), mention(1), reported()])
    assert core is not None and core.mention_count == 2


def test_event_of_another_incident_is_refused() -> None:
    """Folding another incident's event into this view is a caller's bug."""
    other = NoteAdded(id="N", incident_id="01JD3X7K2M9Q4R5S6T7V8W9XB0", at=T0, actor="a", text="x")
    with pytest.raises(ValueError, match="not 01JD3X7K2M9Q4R5S6T7V8W9XA0"):
        apply(start(reported()), other)


# --- deciders -----------------------------------------------------------------------------

ALLOWED = [(a, b) for a in STAGES if a != "closed" for b in SETTABLE_STAGES if a != b]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_stage_moves(current: str, target: str) -> None:
    """Any open stage may move to any other settable stage, forwards or back."""
    event = decide_stage(core_at(current), target, " 说明 ", "duty", at(1), "S1", causation_id="R")
    assert (event.stage, event.previous, event.note, event.actor, event.at, event.id, event.causation_id) == (
        target, current, "说明", "duty", at(1), "S1", "R")
    after = apply(core_at(current), event)
    assert after is not None and after.stage == target


REFUSED: list[tuple[str | None, str, str, str, type[DomainError], str, str]] = [
    # (current stage or None for missing, target, note, actor, error, field, fragment)
    (None, "handling", "", "duty", NotFound, "incident_id", "no such incident"),
    ("reported", "handling", "", "  ", Invalid, "actor", "actor is empty"),
    ("reported", "handling", "", "x" * 101, Invalid, "actor", "at most 100"),
    ("reported", "done", "", "duty", Invalid, "stage", "unknown stage 'done'; one of: assessing"),
    ("reported", "closed", "", "duty", Invalid, "stage", "closed with `close`"),
    ("handling", "reported", "", "duty", Invalid, "stage", "cannot go back to 'reported'"),
    ("handling", "following", "n" * (NOTE_MAX + 1), "duty", Invalid, "note", "at most 2,000"),
    ("handling", "handling", "", "duty", Conflict, "stage", "already at stage 'handling'"),
    ("closed", "handling", "", "duty", Conflict, "stage", "is closed"),
]


@pytest.mark.parametrize(("current", "target", "note", "actor", "error", "field", "fragment"), REFUSED)
def test_refused_stage_moves(current: str | None, target: str, note: str, actor: str,
                             error: type[DomainError], field: str, fragment: str) -> None:
    """Refused stage changes raise the right error class, field and message."""
    core = None if current is None else core_at(current)
    with pytest.raises(error) as info:
        decide_stage(core, target, note, actor, at(1), "S1")
    assert info.value.field == field
    assert fragment in info.value.message


def test_decide_note() -> None:
    """A note is trimmed and emitted, also on a closed incident."""
    for stage in ("reported", "closed"):
        event = decide_note(core_at(stage), "  已联系教育局  ", "duty", at(2), "N1")
        assert (event.text, event.incident_id, event.actor, event.at) == ("已联系教育局", ID, "duty", at(2))


@pytest.mark.parametrize(("core", "text", "error", "field"), [
    (None, "x", NotFound, "incident_id"),
    ("reported", "   ", Invalid, "text"),
    ("reported", "x" * (NOTE_MAX + 1), Invalid, "text"),
])
def test_decide_note_refusals(core: str | None, text: str, error: type[DomainError], field: str) -> None:
    """Empty or overlong notes, or a missing incident, are refused."""
    with pytest.raises(error) as info:
        decide_note(None if core is None else core_at(core), text, "duty", at(2), "N1")
    assert info.value.field == field


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "closed"])
def test_decide_close_from_any_open_stage(stage: str) -> None:
    """Any open incident can be closed; the summary is kept."""
    event = decide_close(core_at(stage), " 已平息 ", "lead", at(3), "C1")
    assert (event.summary, event.actor, event.id) == ("已平息", "lead", "C1")
    after = apply(core_at(stage), event)
    assert after is not None and after.stage == "closed" and after.closed_at == at(3)


@pytest.mark.parametrize(("core", "summary", "error", "field", "fragment"), [
    ("closed", "", Conflict, "incident_id", "already closed"),
    (None, "", NotFound, "incident_id", "no such incident"),
    ("handling", "s" * 5001, Invalid, "summary", "at most 5,000"),
    ("handling", "", Invalid, "summary", "summary is empty"),
    ("following", "  \n ", Invalid, "summary", "summary is empty"),
])
def test_decide_close_refusals(core: str | None, summary: str, error: type[DomainError],
                               field: str, fragment: str) -> None:
    """Closing twice is a conflict; a missing incident, an empty or overlong summary is refused."""
    with pytest.raises(error) as info:
        decide_close(None if core is None else core_at(core), summary, "lead", at(3), "C1")
    assert info.value.field == field and fragment in info.value.message


def test_errors_reply_in_the_wire_form() -> None:
    """A decider's error turns into the DESIGN.md §4.2 reply."""
    with pytest.raises(Conflict) as info:
        decide_close(core_at("closed"), "", "lead", at(3), "C1")
    assert info.value.to_reply()["error"]["code"] == "conflict"
