"""The board driven through its input contract (feed items) with Textual's pilot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import Digits, Input, Select

from tests.board.support import (
    NOW,
    RecordingSender,
    ScriptedFeed,
    incident,
    make_app,
    notifications,
    settle,
    snapshot,
    static_text,
    table_lines,
)
from watchboard.board.screens.detail import DetailScreen
from watchboard.board.screens.forms import ActionForm, ConfirmScreen
from watchboard.board.screens.help import HelpScreen
from watchboard.board.widgets.incident_table import IncidentTable
from watchboard.bus.feed_types import Connection, ServiceHealth, SnapshotDone

HOSTILE = "[bold red]x[/] \x1b]52;c;aGVsbG8=\x07 \x1b[31mRED \u202eevil " + "长" * 30 + "A" * 10_000


async def test_snapshot_then_submitted_incident_appears() -> None:
    """The snapshot fills the list; an incident submitted afterwards shows up."""
    feed = ScriptedFeed(*snapshot(incident(1, "III", title="路灯不亮")))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert any("路灯不亮" in line for line in table_lines(app))
        feed.push(*incident(2, "II", title="化工厂排放刺鼻气体"))
        await settle(pilot, app)
        lines = table_lines(app)
        assert any("化工厂排放刺鼻气体" in line for line in lines)
        assert lines[1].split()[0] == "II"  # grade II sorts above III


async def test_rows_sorted_by_grade_then_age_and_sort_key_cycles() -> None:
    """I first, oldest first within a grade; `t` switches to the due-clock order."""
    feed = ScriptedFeed(*snapshot(incident(1, "IV", minutes_ago=500, title="四级"),
                                  incident(2, "I", minutes_ago=10, title="一级新"),
                                  incident(3, "I", minutes_ago=50, title="一级旧"),
                                  incident(4, "II", minutes_ago=20, title="二级")))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        titles = [line.split()[3] for line in table_lines(app)[1:5]]  # grade, due, ack (!), title
        assert titles == ["一级旧", "一级新", "二级", "四级"]
        await pilot.press("t")
        assert app.model.sort == "due"


async def test_counters_and_matrix() -> None:
    """The counters bar and the grade × owner matrix count open incidents."""
    feed = ScriptedFeed(*snapshot(incident(1, "I", owner="教育局"), incident(2, "I", owner="教育局"),
                                  incident(3, "III", owner="环境"), incident(4, "IV", owner=None),
                                  incident(5, "II", owner="环境", stage="closed")))
    app = make_app(feed)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        counters = static_text(app, "#counters")
        assert "I 特别重大  2" in counters and "II 重大  0" in counters and "未结 4" in counters
        matrix = static_text(app, "#matrix").splitlines()
        edu = next(line for line in matrix if line.startswith("教育局"))
        assert edu.split()[1:] == ["2", "·", "·", "·", "2"]
        assert any(line.startswith("未分派") for line in matrix)


async def test_hostile_title_renders_literally_and_harmlessly() -> None:
    """Markup shows as text; escape sequences, BEL and bidi overrides never reach the screen."""
    feed = ScriptedFeed(*snapshot(incident(1, "I", title=HOSTILE, owner="[red]evil[/]")))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        row = table_lines(app)[1]
        assert "[bold red]x[/]" in row and "[red]evil[/]"[:10] in row
        for bad in ("\x1b", "\x07", "\u202e"):
            assert bad not in row
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\u202e" not in svg and "\x07" not in svg
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        body = static_text(app, "#detail-body")
        assert "[bold red]x[/]" in body and "\x1b" not in body and "\u202e" not in body
        assert len(body) < 5000  # 10,000 characters are cut short


async def test_disconnect_banner_appears_and_clears() -> None:
    """A lost connection shows a banner with the time of the last data; reconnecting clears it."""
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        banner = app.screen.query_one("#banner")
        assert not banner.has_class("-shown")
        feed.push(Connection(state="disconnected", at=NOW, error="connection refused"))
        await settle(pilot, app)
        assert banner.has_class("-shown") and banner.display
        text = static_text(app, "#banner")
        assert "已断开" in text and "11-22 10:00" in text and "connection refused" in text
        feed.push(Connection(state="connected", at=NOW))
        await settle(pilot, app)
        assert not banner.has_class("-shown")


async def test_feed_that_fails_is_restarted_and_resyncs() -> None:
    """An iterator that raises is shown as reconnecting and the factory is called again."""
    feed = ScriptedFeed(*snapshot(incident(1, "II", title="留下"), incident(2, "III", title="已删除")))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        feed.push(ConnectionError("socket closed"))
        await settle(pilot, app, rounds=4)
        assert feed.calls == 2
        assert app.connection is not None and app.connection.state == "reconnecting"
        feed.push(Connection(state="connected", at=NOW), *incident(1, "II", title="留下"),
                  SnapshotDone(count=4))
        await settle(pilot, app)
        lines = " ".join(table_lines(app))
        assert "留下" in lines and "已删除" not in lines


async def test_detail_screen_opens_and_goes_back() -> None:
    """Enter opens the detail with facts, clocks and mentions; Esc returns."""
    feed = ScriptedFeed(*snapshot(incident(1, "I", title="食堂过期食材", mentions=3, owner="教育局")))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        body = static_text(app, "#detail-body")
        for expected in ("食堂过期食材", "教育局", "上报", "来源（3）", "https://example.com", "首次回应"):
            assert expected in body
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


def _set(app, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    widget = app.screen.query_one(f"#f-{name}")
    if isinstance(widget, Select):
        widget.value = value
    else:
        assert isinstance(widget, Input)
        widget.value = value


ACTIONS = [
    ("a", "ack", {}, {}),
    ("o", "assign", {"owner": "环境局", "reason": "属地"}, {"owner": "环境局", "reason": "属地"}),
    ("g", "regrade", {"grade": "I", "reason": "央媒转载"}, {"grade": "I", "reason": "央媒转载"}),
    ("s", "stage", {"stage": "handling", "note": "已联系"}, {"stage": "handling", "note": "已联系"}),
    ("m", "done", {"note": "已上报"}, {"clock": "first_response", "note": "已上报"}),
    ("x", "extend", {"due_at": "2026-11-22 18:30", "reason": "等待调查"},
     {"clock": "first_response", "due_at": "2026-11-22T18:30:00+08:00", "reason": "等待调查"}),
    ("n", "note", {"text": "家长代表已到场"}, {"text": "家长代表已到场"}),
    ("c", "close", {"summary": "已澄清"}, {"summary": "已澄清"}),
]


@pytest.mark.parametrize(("key", "verb", "fields", "expected"), ACTIONS, ids=[a[1] for a in ACTIONS])
async def test_action_sends_verb_and_payload(key: str, verb: str, fields: dict[str, str],
                                             expected: dict[str, str]) -> None:
    """Each action key opens its form, (confirms,) and sends exactly the documented payload."""
    send = RecordingSender()
    feed = ScriptedFeed(*snapshot(incident(1, "II", title="某事件")))
    app = make_app(feed, send)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press(key)
        await settle(pilot, app, rounds=2)
        if fields or verb != "ack":
            assert isinstance(app.screen, ActionForm)
            for name, value in fields.items():
                _set(app, name, value)
            await pilot.click("#submit")
            await settle(pilot, app, rounds=2)
        if verb in ("close", "regrade"):
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
        await settle(pilot, app)
        assert send.calls == [(verb, {"incident_id": "01JTEST0000000000000000001", "actor": "tester",
                                      **expected})]
        assert any("已提交" in n for n in notifications(app))


async def test_error_reply_is_shown_and_cancel_sends_nothing() -> None:
    """The service's error reply appears in a notification; a declined confirmation sends nothing."""
    send = RecordingSender({"ok": False, "error": {"code": "invalid", "field": "reason",
                                                   "message": "[b]reason[/b] is required"}})
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed, send)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        assert any("错误（无效）[reason]" in n and "[b]reason[/b] is required" in n for n in notifications(app))
        await pilot.press("c")
        await settle(pilot, app, rounds=2)
        _set(app, "summary", "x")
        await pilot.click("#submit")
        await settle(pilot, app, rounds=2)
        await pilot.press("n")
        await settle(pilot, app)
        assert [verb for verb, _ in send.calls] == ["ack"]


async def test_form_requires_fields() -> None:
    """An empty required field keeps the form open with a message."""
    send = RecordingSender()
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed, send)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await settle(pilot, app, rounds=2)
        await pilot.click("#submit")
        await settle(pilot, app)
        assert isinstance(app.screen, ActionForm) and send.calls == []


async def test_read_only_board_sends_nothing() -> None:
    """With send=None the action keys do nothing."""
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("c", "a")
        await settle(pilot, app)
        assert not isinstance(app.screen, ActionForm)


async def test_wall_counters_and_flash_on_new_grade_one() -> None:
    """The wall shows big counters; a new grade I after the snapshot flashes and rings, the snapshot does not."""
    feed = ScriptedFeed(*snapshot(incident(1, "I"), incident(2, "IV"), incident(3, "IV")))
    app = make_app(feed, wall=True)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        digits = {d.parent.id: d.value for d in app.screen.query(Digits)}  # type: ignore[union-attr]
        assert digits == {"count-I": "1", "count-II": "0", "count-III": "0", "count-IV": "2"}
        assert bells == [] and not app.screen.has_class("-flash")
        feed.push(*incident(9, "I", minutes_ago=0, title="桥梁垮塌"))
        await settle(pilot, app)
        assert bells == [1] and app.screen.has_class("-flash")
        assert any("桥梁垮塌" in n for n in notifications(app))
        assert any("桥梁垮塌" in line for line in table_lines(app, "#urgent-table"))
        feed.push(*incident(10, "IV", minutes_ago=0))
        await settle(pilot, app)
        assert bells == [1]


async def test_wall_health_turns_red_and_pages_rotate() -> None:
    """A service that stops answering is marked; more rows than fit rotate through pages."""
    feed = ScriptedFeed(*snapshot(*(incident(i, "IV", minutes_ago=i) for i in range(40))),
                        ServiceHealth(services={"intake": True, "notify": False}, at=NOW))
    app = make_app(feed, wall=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        health = static_text(app, "#health")
        assert "● 接报" in health and "✗ 通知" in health  # intake, notify: service names in Chinese
        screen = app.screen
        assert screen.pages() > 1
        first = table_lines(app, "#urgent-table")[1]
        screen.next_page()  # type: ignore[attr-defined]
        await settle(pilot, app)
        assert table_lines(app, "#urgent-table")[1] != first
        assert "2/" in static_text(app, "#urgent-title")


async def test_resize_small_to_large_keeps_working() -> None:
    """80×24 → 200×60 → 60×20: no crash; the side panel appears only when wide."""
    feed = ScriptedFeed(*snapshot(*(incident(i, ["I", "II", "III", "IV"][i % 4]) for i in range(30))))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert app.screen.has_class("-narrow")
        for size in ((200, 60), (60, 20), (300, 80)):
            await pilot.resize_terminal(*size)
            await settle(pilot, app)
            assert app.screen.has_class("-narrow") is (size[0] < 120)
            assert all(len(line) <= size[0] for line in table_lines(app))
        await pilot.press("w")
        await settle(pilot, app)
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        assert app.current_mode == "wall"


@pytest.mark.parametrize(("lang", "labels"), [
    ("zh", ["级别", "时限", "标题", "责任单位", "未结"]),
    ("en", ["Grade", "Due", "Title", "Owner", "open"]),
])
async def test_labels_in_both_languages(lang: str, labels: list[str]) -> None:
    """Column headers and counters follow --lang."""
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        text = table_lines(app)[0] + static_text(app, "#counters")
        for label in labels:
            assert label in text


async def test_cjk_columns_align() -> None:
    """Mixed CJK and Latin titles keep the owner column at the same cell offset."""
    from rich.cells import cell_len
    feed = ScriptedFeed(*snapshot(incident(1, "II", title="中文标题很长很长很长很长很长很长很长很长很长很长", owner="教育局"),
                                  incident(2, "II", title="latin title", owner="env", minutes_ago=70)))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        lines = table_lines(app)[1:3]
        offsets = [cell_len(line[: line.index(owner)]) for owner in ("教育局", "env")
                   for line in lines if owner in line]
        assert len(offsets) == 2 and offsets[0] == offsets[1]
        assert all(cell_len(line) == 80 for line in lines)


async def test_help_screen_lists_every_action_key() -> None:
    """`?` opens the help listing each action key."""
    feed = ScriptedFeed(*snapshot(incident(1, "II")))
    app = make_app(feed, RecordingSender(), lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app, "#help-body")
        for label in ("Ack", "Assign", "Regrade", "Stage", "Clock met", "Extend", "Note", "Close", "Filter"):
            assert label in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_grade_filter_keys_and_clear() -> None:
    """`1` shows only grade I; Esc shows everything again."""
    feed = ScriptedFeed(*snapshot(incident(1, "I"), incident(2, "III"), incident(3, "IV")))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("1")
        await settle(pilot, app)
        assert len(app.screen.query_one(IncidentTable).rows) == 1
        assert "筛选" in static_text(app, "#counters")
        await pilot.press("escape")
        await settle(pilot, app)
        assert len(app.screen.query_one(IncidentTable).rows) == 3


async def test_countdown_overdue_shows_minus() -> None:
    """An overdue clock reads negative in the due column."""
    feed = ScriptedFeed(*snapshot(incident(1, "I", minutes_ago=200)))
    app = make_app(feed)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        # 200 min old grade I: report-up (2 h) and first response (3 h) breached, statement in 20h40m
        assert "20时40分" in table_lines(app)[1]  # the Chinese board counts in 时/分
        app.now = lambda: NOW + timedelta(hours=21)  # type: ignore[method-assign]
        app.screen.query_one(IncidentTable).refresh()
        await settle(pilot, app)
        assert "-0时20分" in table_lines(app)[1]


@pytest.mark.parametrize("wall", [False, True])
async def test_trend_drawn_from_the_snapshot_not_left_empty(wall: bool) -> None:
    """The trend drawn at start (empty) is redrawn as soon as the snapshot is in, not 5 s later."""
    feed = ScriptedFeed()
    app = make_app(feed, RecordingSender(), wall=wall)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        assert static_text(app, "#trend").splitlines()[1].split()[-1] == "0"
        feed.push(*snapshot(incident(1, "I", minutes_ago=30), incident(2, "I", minutes_ago=90)))
        await settle(pilot, app)
        line_i = static_text(app, "#trend").splitlines()[1]
        assert line_i.split()[0] == "I" and line_i.split()[-1] == "2"


async def test_one_trend_for_desk_and_wall(monkeypatch: pytest.MonkeyPatch) -> None:
    """The App computes the trend once per redraw for every screen; the desk and the wall both draw it."""
    import watchboard.board.app as app_module

    monkeypatch.setattr(app_module, "TREND_EVERY_S", 0.0)  # no pause between trends: count them all
    feed = ScriptedFeed(*snapshot(incident(1, "I", minutes_ago=30)))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("w")  # the wall is mounted beside the desk from now on
        await settle(pilot, app)
        calls: list[object] = []
        trend = app.model.trend
        app.model.trend = lambda now, hours=24: calls.append(now) or trend(now, hours)  # type: ignore[method-assign]
        version = app.version
        feed.push(*incident(2, "I", minutes_ago=10))
        await settle(pilot, app)
        assert app.version > version and len(calls) == app.version - version  # not once per screen
        wall = static_text(app, "#trend").splitlines()[1]
        await pilot.press("w")
        await settle(pilot, app)
        desk = static_text(app, "#trend").splitlines()[1]
        assert wall.split()[-1] == desk.split()[-1] == "2"
