"""Pure pieces of the duty officer's day: timeline words, local times, the 80-column layout,
the wall's figures, the no-system hint, and what a lower grade does to the clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rich.cells import cell_len

from watchboard.board.format import countdown, span
from watchboard.board.screens.actions import lowered_clocks
from watchboard.board.widgets.counters import big_figure, figure_scale
from watchboard.board.widgets.incident_table import layout
from watchboard.board.widgets.status import no_system_text
from watchboard.bus.feed_types import Connection, ServiceHealth
from watchboard.cli_ops import clock_consequences
from watchboard.domain import events as ev
from watchboard.domain.events import Mention
from watchboard.domain.present import describe, local, localize_times
from watchboard.domain.views import ClocksView, ClockView, IncidentView

ZONE = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 30, 2, 5, 57, 358368, tzinfo=UTC)  # 10:05 in Beijing
BASE = {"id": "E1", "incident_id": "01J0000000000000000000000A", "at": AT, "actor": "li"}


@pytest.mark.parametrize(("event", "zh", "en"), [
    (ev.IncidentReported(**BASE, title="t", mention=Mention(platform="weibo", region="仲山镇")),
     "接报：微博（仲山镇）", "reported on Weibo (仲山镇)"),
    (ev.ClockStarted(**BASE, clock="first_response", due_at=AT + timedelta(hours=3), basis="working"),
     "时限 首次回应 截止 11-30 13:05（工作时间）", "clock first response due 11-30 13:05 (working time)"),
    (ev.ClockExtended(**BASE, clock="formal_reply", due_at=datetime(2027, 1, 4, 9, 30, tzinfo=UTC),
                      previous_due_at=AT, reason="等待调查"),
     "时限 正式答复 延期至 2027-01-04 17:30：等待调查", "clock formal reply extended to 2027-01-04 17:30: 等待调查"),
    (ev.NoticeSent(**BASE, to="p-li", channel="board", cause="incident.graded"),
     "通知 p-li（看板，定级）", "notice to p-li by board (graded)"),
    (ev.NoticeSent(**BASE, to="p-li", channel="webhook:robot", cause="something.new"),
     "通知 p-li（网络推送:robot，其他）", "notice to p-li by webhook:robot (other)"),
    (ev.IncidentAcknowledged(**BASE, by="张三", via="link"), "张三 签收（通知链接）", "acknowledged by 张三 (notice link)"),
    (ev.UnitReminded(**BASE, unit="education", clock="first_response", count=2),
     "向 县教育局 发第 2 张提醒单（首次回应）", "reminder slip 2 to 县教育局 (first response)"),
])
def test_timeline_words(event: ev.Event, zh: str, en: str) -> None:
    """Each event reads in Chinese or English, times in Beijing time to the minute."""
    units = {"education": "县教育局"}
    assert describe(event, "zh", ZONE, units) == zh
    assert describe(event, "en", ZONE, units) == en


@pytest.mark.parametrize(("text", "expected"), [
    ("new due time 2026-12-31T09:30:00+00:00 is past the final cap 2026-12-11T09:30:00+00:00",
     "new due time 2026-12-31 17:30 is past the final cap 2026-12-11 17:30"),
    ("at 2026-11-30T02:05:57.358368+00:00.", "at 2026-11-30 10:05."),
    ("at 2026-11-30T10:05:00+08:00 and 2026-11-30T02:05Z", "at 2026-11-30 10:05 and 2026-11-30 10:05"),
    ("no time here, 2026-11-30 alone", "no time here, 2026-11-30 alone"),
    # An example of what to type stays as written; the moment beside it does not.
    ("add an offset, like `2026-11-22T08:30:00+08:00`; now is 2026-11-22T02:00:00+00:00",
     "add an offset, like `2026-11-22T08:30:00+08:00`; now is 2026-11-22 10:00"),
])
def test_localize_times(text: str, expected: str) -> None:
    """UTC times in a service's message become Beijing time to the minute."""
    assert localize_times(text, ZONE) == expected


def test_local_shows_the_year_only_when_it_differs() -> None:
    assert local(AT, ZONE, AT) == "11-30 10:05"
    assert local(AT + timedelta(days=40), ZONE, AT) == "2027-01-09 10:05"
    assert local(AT, ZONE, year=True) == "2026-11-30 10:05"


@pytest.mark.parametrize(("delta", "lang", "expected"), [
    (timedelta(hours=2, minutes=5), "zh", "2时05分"), (-timedelta(minutes=20), "zh", "-0时20分"),
    (timedelta(days=3, hours=4), "zh", "3天04时"), (timedelta(hours=2, minutes=5), "en", "2h05m"),
])
def test_countdown_in_each_language(delta: timedelta, lang: str, expected: str) -> None:
    assert countdown(AT + delta, AT, lang) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("delta", "lang", "expected"), [
    (timedelta(hours=2, minutes=10), "zh", "2小时10分"), (timedelta(minutes=45), "zh", "45分钟"),
    (timedelta(hours=2, minutes=10), "en", "2h10m"), (timedelta(days=3, hours=1), "en", "3d1h"),
])
def test_span(delta: timedelta, lang: str, expected: str) -> None:
    assert span(delta, lang) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width", [79, 100, 153, 199])
def test_layout_keeps_the_desk_columns_and_fills_the_width(lang: str, width: int) -> None:
    """From 80 columns: grade, countdown, acknowledged, title, owner, stage, filling the width exactly."""
    cols = layout(width, lang, owner_need=20)  # type: ignore[arg-type]
    keys = [c.key for c, _ in cols]
    assert keys[:6] == ["grade", "due", "ack", "title", "owner", "stage"]
    assert sum(w + 1 for _, w in cols) == width
    widths = dict((c.key, w) for c, w in cols)
    assert widths["owner"] >= 8 and widths["title"] >= 16


def test_wider_gives_owner_a_share_until_names_fit() -> None:
    """The owner column grows with the width until the longest full name fits; the title takes the rest."""
    narrow = dict((c.key, w) for c, w in layout(79, "zh", owner_need=20))
    wide = dict((c.key, w) for c, w in layout(153, "zh", owner_need=20))
    assert narrow["owner"] < wide["owner"] == 20
    assert wide["title"] > narrow["title"]
    assert dict((c.key, w) for c, w in layout(153, "zh", owner_need=6))["owner"] == 8


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_big_figure_size(scale: int) -> None:
    """Three figures at scale s: 3s columns each plus s between, 5s/2 rows (half blocks)."""
    lines = big_figure("120", scale).splitlines()
    assert len(lines) == -(-5 * scale // 2)
    assert {cell_len(line) for line in lines} == {3 * 3 * scale + 2 * scale}


@pytest.mark.parametrize(("size", "expected"), [((80, 24), 0), ((120, 32), 2), ((160, 42), 3), ((200, 50), 4)])
def test_figures_grow_with_the_screen(size: tuple[int, int], expected: int) -> None:
    assert figure_scale(*size) == expected


@pytest.mark.parametrize(("conn", "health", "loaded", "expected"), [
    (None, None, False, None),
    (Connection(state="reconnecting", at=AT, url="nats://h:4222"), None, False, "No watchboard system at nats://h:4222"),
    (Connection(state="reconnecting", at=AT, url="nats://h:4222"), None, True, None),  # the lost-connection banner
    (Connection(state="connected", at=AT), ServiceHealth(services={"intake": False}, at=AT), False,
     "NATS is up but no watchboard service answers"),
    (Connection(state="connected", at=AT), ServiceHealth(services={"intake": True}, at=AT), False, None),
])
def test_no_system_hint(conn: Connection | None, health: ServiceHealth | None, loaded: bool,
                        expected: str | None) -> None:
    text = no_system_text(conn, health, loaded, "en")
    assert (text is None) if expected is None else (text is not None and text.startswith(expected))


def _view(*clocks: tuple[str, str]) -> IncidentView:
    return IncidentView(id="X", clocks=ClocksView(clocks=[
        ClockView(name=n, due_at=AT, basis="calendar", status=s) for n, s in clocks]))


GRADE_CLOCKS = {"II": ["report_up", "first_response", "statement", "formal_reply", "final"],
                "III": ["first_response", "formal_reply", "final"]}


@pytest.mark.parametrize(("clocks", "grade", "cancelled", "lines"), [
    ((("report_up", "running"), ("first_response", "running"), ("final", "running")), "III", ["report_up"],
     ["III 级不设的时限 上报 将取消，并记录原因", "共有的时限 首次回应、最终时限 保持原截止时间（不会放宽）"]),
    ((("report_up", "breached"), ("statement", "running"), ("final", "running")), "III", ["statement"],
     ["III 级不设的时限 权威发布 将取消，并记录原因", "共有的时限 最终时限 保持原截止时间（不会放宽）",
      "已超时的 上报 仍记为超时"]),
    ((("first_response", "running"),), "II", [], []),  # raising: nothing is cancelled
])
def test_lowering_a_grade_says_what_happens_to_its_clocks(clocks, grade, cancelled, lines) -> None:  # type: ignore[no-untyped-def]
    view = _view(*clocks)
    assert lowered_clocks(view, grade, GRADE_CLOCKS) == cancelled
    assert clock_consequences(view, grade, GRADE_CLOCKS, "zh") == lines
