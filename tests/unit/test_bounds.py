"""domain.bounds: effects refused before they are written, views summarised to fit one message."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from watchboard.domain import events as ev
from watchboard.domain.bounds import HEADER_ROOM, check_effects, fit_view, room, too_large
from watchboard.domain.commands import Note, StatementDraft
from watchboard.domain.errors import Invalid
from watchboard.domain.views import (
    ClocksView,
    ClockView,
    CoreView,
    GradeView,
    MentionView,
    NoteView,
    NoticesView,
    NoticeView,
    SlipView,
    SupervisionDayView,
    TaskView,
    encode_view,
)

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
MIB = 1024 * 1024


@pytest.mark.parametrize(("max_payload", "expected"), [
    (MIB, MIB - HEADER_ROOM),
    (64 * 1024, 64 * 1024 - HEADER_ROOM),
    (HEADER_ROOM, 0),
    (10, 0),
])
def test_room_sets_the_headers_aside(max_payload: int, expected: int) -> None:
    assert room(max_payload) == expected


@pytest.mark.parametrize(("size", "max_payload", "expected"), [
    (100, 2048, False),
    (2048 - HEADER_ROOM, 2048, False),
    (2048 - HEADER_ROOM + 1, 2048, True),
    (MIB, MIB, True),  # exactly max_payload is too large once headers come along
])
def test_too_large(size: int, max_payload: int, expected: bool) -> None:
    assert too_large(b"x" * size, max_payload) is expected


def _noted(text: str) -> ev.NoteAdded:
    return ev.NoteAdded(id="N1", incident_id="INC", at=AT, actor="duty", text=text)


@pytest.mark.parametrize(("text", "max_payload", "refused"), [
    ("short", MIB, False),
    ("字" * 2_000, MIB, False),
    ("字" * 2_000, 4 * 1024, True),  # 6,000 bytes of text on a 4 KiB bus
    ("x" * 2_900, 4 * 1024, False),
    ("x" * 3_100, 4 * 1024, True),
])
def test_check_effects(text: str, max_payload: int, refused: bool) -> None:
    command = Note(actor="duty", incident_id="INC", text=text)
    if not refused:
        check_effects([_noted(text)], max_payload, command)
        return
    with pytest.raises(Invalid) as info:
        check_effects([_noted(text)], max_payload, command)
    assert info.value.field == "text"  # the command's largest field
    message = info.value.message
    assert "incident.noted" in message and f"{room(max_payload):,} bytes" in message
    assert text[:50] not in message  # never the input itself


def test_check_effects_names_the_largest_field_of_any_command() -> None:
    command = StatementDraft(actor="a" * 100, incident_id="INC", text="字" * 10_000)
    event = ev.StatementDrafted(id="S1", incident_id="INC", at=AT, actor=command.actor, version=1,
                                text=command.text, sha256="0" * 64)
    with pytest.raises(Invalid) as info:
        check_effects([event], 16 * 1024, command)
    assert info.value.field == "text" and "statement.drafted" in info.value.message


def _huge_core() -> CoreView:
    """An incident of legal reports that together outgrow 1 MiB: 100 evidence items of 2,000
    characters, 50 mentions with long titles and links, 50 notes of 2,000 characters."""
    mentions = [MentionView(platform="weibo", url="https://weibo.example/" + "p" * 1_900, title="标题" * 250,
                            observed_at=AT + timedelta(minutes=i)) for i in range(50)]
    notes = [NoteView(at=AT, actor="duty", text="记" * 2_000) for _ in range(50)]
    tasks = [TaskView(id=f"T{i}", unit="edu", text="办" * 2_000, due="2wd", due_at=AT,
                      status="open" if i % 2 else "fed_back") for i in range(30)]
    return CoreView(id="INC", title="网传某地" * 100, stage="handling", reported_at=AT, platforms=["weibo", "douyin"],
                    mention_count=321, mentions=mentions, notes=notes,
                    evidence=[f"{i}:" + "证" * 1_998 for i in range(100)], tasks=tasks)


def test_a_view_that_fits_is_left_alone() -> None:
    view = CoreView(id="INC", title="t", reported_at=AT)
    data, summarised = fit_view(view, MIB)
    assert data == encode_view(view) and not summarised
    assert msgspec.json.decode(data, type=CoreView).summarised is False


@pytest.mark.parametrize("limit", [MIB - HEADER_ROOM, 256 * 1024, 32 * 1024, 4 * 1024])
def test_an_incident_past_1_mib_is_summarised_to_fit(limit: int) -> None:
    view = _huge_core()
    assert len(encode_view(view)) > MIB
    data, summarised = fit_view(view, limit)
    assert summarised and len(data) <= limit
    out = msgspec.json.decode(data, type=CoreView)
    # The headline survives every summary: the board still lists it, with its stage and counts.
    assert (out.id, out.stage, out.mention_count, out.summarised) == ("INC", "handling", 321, True)
    assert out.title.startswith("网传某地")
    assert out.platforms == ["weibo", "douyin"]
    # The latest mentions are those kept, and the earliest evidence.
    if out.mentions:
        assert out.mentions[-1].observed_at == view.mentions[-1].observed_at
    if out.evidence:
        assert out.evidence[0].startswith("0:")
    if out.tasks:  # open tasks are kept before done ones
        assert any(t.status == "open" for t in out.tasks)


def test_the_mildest_summary_that_fits_is_used() -> None:
    view = _huge_core()
    data, _ = fit_view(view, MIB - HEADER_ROOM)
    out = msgspec.json.decode(data, type=CoreView)
    assert len(out.mentions) == 50 and len(out.notes) == 50  # texts cut, items all kept
    assert all(len(n.text) <= 300 for n in out.notes)


@pytest.mark.parametrize(("view", "limit"), [
    (NoticesView(notices=[NoticeView(to=f"p{i}", channel="webhook", status="sent", cause="incident.graded",
                                     reason="r" * 500) for i in range(5_000)]), 64 * 1024),
    (ClocksView(clocks=[ClockView(name="report_up", due_at=AT, basis="calendar", status="breached")],
                slips=[SlipView(unit=f"u{i}" * 20, clock="report_up", count=3) for i in range(2_000)]), 8 * 1024),
    (GradeView(grade="II", reasons=["理由" * 500] * 40, owner_reason="x" * 5_000), 4 * 1024),
    (SupervisionDayView(day=date(2026, 11, 23), working_day=True, due=[f"01M8{i:022d}" for i in range(40_000)],
                        unsupervised=[f"01M8{i:022d}" for i in range(0, 40_000, 2)]), MIB - HEADER_ROOM),
])
def test_every_view_type_is_summarised_to_fit(view: msgspec.Struct, limit: int) -> None:
    assert len(encode_view(view)) > limit
    data, summarised = fit_view(view, limit)
    assert summarised and len(data) <= limit
    out = msgspec.json.decode(data, type=type(view))
    assert out.summarised is True


def test_notices_keep_the_latest() -> None:
    view = NoticesView(notices=[NoticeView(to=f"p{i}", channel="c", status="sent") for i in range(5_000)],
                       acknowledged_by="p-li")
    data, _ = fit_view(view, 32 * 1024)
    out = msgspec.json.decode(data, type=NoticesView)
    assert out.notices[-1].to == "p4999" and out.acknowledged_by == "p-li"


@pytest.mark.parametrize(("limit", "kept"), [(MIB - HEADER_ROOM, 5_000), (64 * 1024, 500), (1024, 0)])
def test_supervision_keeps_its_counts_when_ids_are_left_out(limit: int, kept: int) -> None:
    """40,000 open I/II incidents (ULIDs) do not fit in one message: the ids the view keeps are
    the first of each list, and the counts the board shows stay whole."""
    view = SupervisionDayView(day=date(2026, 11, 23), working_day=True, due=[f"01M8{i:022d}" for i in range(40_000)],
                              unsupervised=[f"01M8{i:022d}" for i in range(0, 40_000, 2)])
    data, summarised = fit_view(view, limit)
    out = msgspec.json.decode(data, type=SupervisionDayView)
    assert summarised and len(data) <= limit
    assert (len(out.due), len(out.unsupervised)) == (kept, kept)
    assert (out.due_count, out.unsupervised_count) == (40_000, 20_000)
