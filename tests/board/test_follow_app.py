"""The follow-through on the running board (Textual's pilot): approving a statement from the
detail, a unit's feedback on a task, the `done` form without the clocks it cannot meet, the
desk's statement and task columns, and the open I/II incidents not supervised today."""

from __future__ import annotations

from datetime import date, timedelta

from textual.widgets import Select

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
from watchboard.board.sample import Follow
from watchboard.board.screens.detail import DetailScreen
from watchboard.board.screens.forms import ActionForm, ConfirmScreen
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import (
    SUPERVISION_KEY,
    ClockView,
    StatementStepView,
    StatementView,
    SupervisionDayView,
    TaskView,
    encode_view,
)

ID1 = "01JTEST0000000000000000001"
DIGEST = "c0ffee" + "1" * 58
DRAFT = StatementView(version=3, state="drafted", sha256=DIGEST, text="通报全文", drafted_by="li", drafted_at=NOW,
                      history=[StatementStepView(at=NOW, actor="li", action="drafted", sha256=DIGEST)])
TASK = TaskView(id="T0000000000000001", unit="health", text="核实并反馈", due="2wd", due_at=NOW + timedelta(hours=3))
TASK_CLOCK = ClockView(name="task:T0000000000000001", due_at=NOW + timedelta(hours=3), basis="working",
                       status="running", unit="health")


async def open_detail(pilot, app) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot, app)
    await pilot.press("enter")
    await settle(pilot, app)
    assert isinstance(app.screen, DetailScreen)


async def test_approve_from_the_detail_sends_the_digest_after_a_confirmation() -> None:
    """`v` in the detail asks to confirm, naming the version and the digest prefix; yes sends
    `statement_approve` with the full digest the approver read."""
    send = RecordingSender()
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II", title="某事件", follow=Follow(statements=[DRAFT])))), send)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app)
        assert "第 3 稿" in static_text(app, "#detail-body") and "通报全文" in static_text(app, "#detail-body")
        await pilot.press("v")
        await settle(pilot, app, rounds=2)
        assert isinstance(app.screen, ConfirmScreen)
        message = str(app.screen.message)
        assert "第 3 稿" in message and "c0ffee111111" in message and DIGEST not in message
        await pilot.press("y")
        await settle(pilot, app)
        assert send.calls == [("statement_approve", {"incident_id": ID1, "sha256": DIGEST, "actor": "tester"})]
        assert any("已提交：审核通稿" in n for n in notifications(app))


async def test_a_refused_approval_shows_the_services_message() -> None:
    send = RecordingSender({"ok": False, "error": {"code": "forbidden", "field": "actor", "message":
                                                   "'tester' is not a person of notify.toml and may not approve"}})
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II", follow=Follow(statements=[DRAFT])))), send, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app)
        await pilot.press("v")
        await settle(pilot, app, rounds=2)
        await pilot.press("y")
        await settle(pilot, app)
        assert [verb for verb, _ in send.calls] == ["statement_approve"]
        assert any("forbidden, actor" in n and "may not approve" in n for n in notifications(app))


async def test_nothing_to_approve_is_said_and_nothing_is_sent() -> None:
    """No statement, or one already approved: a warning in the board's words, no confirmation."""
    approved = StatementView(version=1, state="approved", sha256=DIGEST, approved_by="chen", approved_at=NOW)
    send = RecordingSender()
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II", follow=Follow(statements=[approved])),
                                          incident(2, "III", minutes_ago=90))), send)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("通稿第 1 稿已审核，无需再审核" in n for n in notifications(app))
        await pilot.press("escape", "down", "enter")
        await settle(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        assert any("该舆情还没有通稿" in n for n in notifications(app))
        assert send.calls == []


async def test_task_feedback_names_the_task_not_the_incident() -> None:
    """`f` offers the open tasks and sends `task_feedback` with the task's id and the text."""
    send = RecordingSender()
    follow = Follow(tasks=[TASK], task_clocks=[TASK_CLOCK])
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II", follow=follow))), send)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f")
        await settle(pilot, app, rounds=2)
        assert isinstance(app.screen, ActionForm)
        select = app.screen.query_one("#f-task_id", Select)
        assert select.value == TASK.id
        app.screen.query_one("#f-text").value = "已核实，书面报告已报送"  # type: ignore[attr-defined]
        await pilot.click("#submit")
        await settle(pilot, app)
        assert send.calls == [("task_feedback", {"task_id": TASK.id, "text": "已核实，书面报告已报送",
                                                 "actor": "tester"})]


async def test_no_open_task_no_form() -> None:
    send = RecordingSender()
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II"))), send, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f")
        await settle(pilot, app)
        assert not isinstance(app.screen, ActionForm)
        assert any("no task awaiting feedback" in n for n in notifications(app)) and send.calls == []


async def test_done_offers_no_statement_clock() -> None:
    """The statement clock is met by publishing an approved statement: `m` does not offer it."""
    app = make_app(ScriptedFeed(*snapshot(incident(1, "II"))), RecordingSender())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        running = {c.name for c in app.model.get(ID1).clocks.clocks if c.status == "running"}  # type: ignore[union-attr]
        assert "statement" in running
        await pilot.press("m")
        await settle(pilot, app, rounds=2)
        offered = {value for _, value in app.screen.query_one("#f-clock", Select)._options if value != Select.BLANK}
        assert offered == running - {"statement"} and offered


async def test_desk_columns_and_unsupervised_incidents() -> None:
    """Wide enough, the list shows the statement mark and the task counts; the counters line
    and the side panel name the open I/II incidents not supervised today."""
    overdue = ClockView(name="task:T0000000000000001", due_at=NOW - timedelta(hours=1), basis="working",
                        status="breached", unit="health")
    day = SupervisionDayView(day=date(2026, 11, 23), working_day=True, due=[ID1, "01JTEST0000000000000000002"],
                             unsupervised=[ID1])
    feed = ScriptedFeed(*snapshot(
        incident(1, "II", title="待督办事件", follow=Follow(statements=[DRAFT], tasks=[TASK], task_clocks=[overdue])),
        incident(2, "I", title="已督办事件"), [KVChange(SUPERVISION_KEY, encode_view(day))]))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lines = table_lines(app)
        assert "通稿" in lines[0] and "任务" in lines[0]
        row = next(line for line in lines if "待督办事件" in line)
        assert "待审" in row and "1/1" in row
        assert "未督办 1" in static_text(app, "#counters")
        await pilot.resize_terminal(160, 40)
        await settle(pilot, app)
        panel = static_text(app, "#supervision")
        assert "尚未督办 1/2 起" in panel and "待督办事件" in panel and "已督办事件" not in panel
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        assert "通稿" not in table_lines(app)[0]  # 80 columns: the six essential columns only
