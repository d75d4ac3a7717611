"""The detail's follow-through sections and the desk's marks (board/follow.py, the table's new
columns, `sys.supervision` in the model and its panel): pure functions, table-tested."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from rich.console import Console
from rich.text import Text

from tests.board.support import NOW, ZONE
from watchboard.board.follow import (
    evidence_section,
    meetings_section,
    size_text,
    statement_mark,
    statements_section,
    supervisions_section,
    task_counts,
    task_status,
    tasks_section,
)
from watchboard.board.format import Reading, UnitNames, clock_label
from watchboard.board.model import BoardModel, make_row
from watchboard.board.styles import TRUE_COLOUR
from watchboard.board.widgets.incident_table import cell_text, layout
from watchboard.board.widgets.supervision import owed_count, supervision_text
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import (
    SUPERVISION_KEY,
    ClocksView,
    ClockView,
    CoreView,
    EvidenceFileView,
    IncidentView,
    MeetingView,
    NoteView,
    SlipView,
    StatementStepView,
    StatementView,
    SupervisionDayView,
    TaskView,
    encode_view,
    kv_key,
)

CONSOLE = Console()
H = timedelta(hours=1)
M = timedelta(minutes=1)
UNITS = {"health": UnitNames("县卫健委", "County Health Commission", "卫健委", "Health")}
D1, D2 = "a" * 64, "b1c2d3e4f5a6" + "0" * 52


def reading(lang: str) -> Reading:
    return Reading(lang=lang, zone=ZONE, now=NOW, units=UNITS)  # type: ignore[arg-type]


def style_of(text: Text, part: str):  # type: ignore[no-untyped-def]
    return text.get_style_at_offset(CONSOLE, text.plain.index(part))


def core(**kw: object) -> CoreView:
    return CoreView(id="X1", title="食堂", reported_at=NOW - 5 * H, **kw)  # type: ignore[arg-type]


REJECTED = StatementView(version=1, state="rejected", sha256=D1, drafted_by="li", drafted_at=NOW - 3 * H,
                         rejected_reason="补充数据", history=[
                             StatementStepView(at=NOW - 3 * H, actor="li", action="drafted", sha256=D1),
                             StatementStepView(at=NOW - 2 * H, actor="chen", action="rejected", sha256=D1,
                                               detail="补充数据")])
DRAFTED = StatementView(version=2, state="drafted", sha256=D2, text="通报：已封存送检。\n请关注后续。", drafted_by="li",
                        drafted_at=NOW - H, history=[StatementStepView(at=NOW - H, actor="li", action="drafted",
                                                                       sha256=D2)])
PUBLISHED = StatementView(version=1, state="published", sha256=D2, text="说明", drafted_by="wang",
                          drafted_at=NOW - 3 * H, approved_by="chen", approved_at=NOW - 2 * H, url="https://w.x/1",
                          channel="官方微博", published_at=NOW - H, history=[
                              StatementStepView(at=NOW - 3 * H, actor="wang", action="drafted", sha256=D2),
                              StatementStepView(at=NOW - 2 * H, actor="chen", action="approved", sha256=D2),
                              StatementStepView(at=NOW - H, actor="wang", action="published", sha256=D2,
                                                detail="官方微博", url="https://w.x/1")])


@pytest.mark.parametrize(("statements", "lang", "expected"), [
    ([REJECTED, DRAFTED], "zh",
     "通稿\n 待审核  第 2 稿  摘要 b1c2d3e4f5a6  li 起草 11-22 09:00  按 v 审核同意\n    通报：已封存送检。\n    请关注后续。\n"
     " 已退回  第 1 稿  摘要 aaaaaaaaaaaa  li 起草 11-22 07:00\n    11-22 08:00 chen 退回：补充数据"),
    ([REJECTED, DRAFTED], "en",
     "Statements\n awaiting approval  version 2  digest b1c2d3e4f5a6  drafted by li 11-22 09:00  press v to approve\n"
     "    通报：已封存送检。\n    请关注后续。\n sent back  version 1  digest aaaaaaaaaaaa  drafted by li 11-22 07:00\n"
     "    11-22 08:00 chen sent back: 补充数据"),
    ([PUBLISHED], "zh", "通稿\n 已发布  第 1 稿  摘要 b1c2d3e4f5a6  wang 起草 11-22 07:00\n    说明\n"
                        "    11-22 08:00 chen 审核同意\n    11-22 09:00 wang 发布 官方微博  https://w.x/1"),
    ([PUBLISHED], "en", "Statements\n published  version 1  digest b1c2d3e4f5a6  drafted by wang 11-22 07:00\n    说明\n"
                        "    11-22 08:00 chen approved\n    11-22 09:00 wang published 官方微博  https://w.x/1"),
])
def test_statements_section(statements: list[StatementView], lang: str, expected: str) -> None:
    """Latest version first with its text (what an approver reads) and the key to approve it while
    it awaits approval; each version's state, digest prefix, drafter, and who approved, sent back
    or published it, where."""
    text = statements_section(core(statements=statements), reading(lang))
    assert text is not None and text.plain == expected


def test_statement_states_are_coloured_and_no_statement_means_no_section() -> None:
    text = statements_section(core(statements=[REJECTED, DRAFTED]), reading("zh"))
    assert text is not None
    assert style_of(text, "待审核") == TRUE_COLOUR.warn
    assert style_of(text, "已退回") == TRUE_COLOUR.alarm_text
    published = statements_section(core(statements=[PUBLISHED]), reading("en"))
    assert published is not None and style_of(published, "https") == TRUE_COLOUR.link
    assert style_of(published, " published") == TRUE_COLOUR.ok
    assert statements_section(core(), reading("zh")) is None


FILE = EvidenceFileView(name="截图.png", sha256="3f2a9c1b2d4e" + "f" * 52, size=1_258_291, media_type="image/png",
                        object="o", added_by="monitor-01", added_at=NOW - 2 * H)
SMALL = EvidenceFileView(name="page.mhtml", sha256=D1, size=900, media_type="message/rfc822", object="o2")


@pytest.mark.parametrize(("files", "texts", "lang", "expected"), [
    ([FILE, SMALL], [], "zh", "证据\n• 截图.png  1.2M  摘要 3f2a9c1b2d4e  monitor-01 11-22 08:00\n"
                              "• page.mhtml  900字节  摘要 aaaaaaaaaaaa  —"),
    ([FILE], ["https://e.x/post"], "en", "Evidence\n• 截图.png  1.2 MB  digest 3f2a9c1b2d4e  monitor-01 11-22 08:00\n"
                                         "Material in the reports\n• https://e.x/post"),
    ([], ["截图1"], "en", "Evidence\n• 截图1"),
    ([], [], "zh", None),
])
def test_evidence_section(files: list[EvidenceFileView], texts: list[str], lang: str, expected: str | None) -> None:
    """Each kept file: name, size, digest prefix, who, when; then what the reports carried."""
    text = evidence_section(core(evidence_files=files, evidence=texts), reading(lang))
    assert (None if text is None else text.plain) == expected


@pytest.mark.parametrize(("n", "zh", "en"), [
    (0, "0字节", "0 bytes"), (1023, "1,023字节", "1,023 bytes"), (1024, "1K", "1 KB"), (1536, "1.5K", "1.5 KB"),
    (52_428_800, "50M", "50 MB"), (3 * 1024**3, "3G", "3 GB"), (5000 * 1024**3, "5000G", "5000 GB"),
])
def test_size_text(n: int, zh: str, en: str) -> None:
    assert (size_text(n, "zh"), size_text(n, "en")) == (zh, en)


def task(task_id: str, **kw: object) -> TaskView:
    base: dict[str, object] = {"unit": "health", "text": "核实并书面反馈", "due": "2wd", "due_at": NOW + 2 * H,
                               "added_by": "li", "added_at": NOW - 3 * H}
    return TaskView(id=task_id, **{**base, **kw})  # type: ignore[arg-type]


def tclock(task_id: str, status: str, due: timedelta, met: timedelta | None = None) -> ClockView:
    return ClockView(name=f"task:{task_id}", due_at=NOW + due, basis="working", status=status,
                     met_at=NOW + met if met is not None else None, unit="health")


OPEN = task("T1", source="县委书记批示", meeting_id="M1")
LATE = task("T2", status="fed_back", feedback="已核实", fed_back_by="zhao", fed_back_at=NOW - 10 * M, due_at=NOW - H)
OVERDUE = task("T3", due_at=NOW - H)
ON_TIME = task("T4", status="fed_back", feedback="已办", fed_back_by="zhao", fed_back_at=NOW - 2 * H)
CANCELLED = task("T5")
CLOCKS = ClocksView(tasks=[tclock("T1", "running", 2 * H), tclock("T2", "breached", -H, met=-10 * M),
                           tclock("T3", "breached", -H), tclock("T4", "met", H, met=-2 * H),
                           tclock("T5", "cancelled", H)],
                    slips=[SlipView(unit="health", clock="task:T3", count=3, flagged=True, last_at=NOW)])


@pytest.mark.parametrize(("t", "expected"), [
    (OPEN, "open"), (LATE, "late"), (OVERDUE, "breached"), (ON_TIME, "fed_back"), (CANCELLED, "cancelled"),
])
def test_task_status(t: TaskView, expected: str) -> None:
    """The record's status with deadlines' verdict on the task's clock."""
    clock = next(c for c in CLOCKS.tasks if c.name == f"task:{t.id}")
    assert task_status(t, clock) == expected


def test_task_status_without_a_clock_yet() -> None:
    assert task_status(OPEN, None) == "open"
    assert task_status(ON_TIME, None) == "fed_back"


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "交办任务\n• 县卫健委  已超期  11-22 09:00 前反馈  -1时00分  提醒单 ×3  ⚑\n    核实并书面反馈\n"
           "    T3  li 11-22 07:00\n"
           "• 县卫健委  待反馈  11-22 12:00 前反馈  2时00分\n    核实并书面反馈\n"
           "    依据：县委书记批示 · 会议 M1 · T1  li 11-22 07:00\n"
           "• 县卫健委  逾期反馈  11-22 09:00 前反馈\n    核实并书面反馈\n    T2  li 11-22 07:00\n"
           "    zhao 反馈：已核实  11-22 09:50"),
    ("en", "Tasks\n• County Health Commission  overdue  feedback due 11-22 09:00  -1h00m  slips ×3  ⚑\n"
           "    核实并书面反馈\n    T3  li 11-22 07:00\n"
           "• County Health Commission  awaiting feedback  feedback due 11-22 12:00  2h00m\n    核实并书面反馈\n"
           "    from: 县委书记批示 · meeting M1 · T1  li 11-22 07:00\n"
           "• County Health Commission  fed back late  feedback due 11-22 09:00\n    核实并书面反馈\n"
           "    T2  li 11-22 07:00\n    zhao fed back: 已核实  11-22 09:50"),
])
def test_tasks_section(lang: str, expected: str) -> None:
    """Open tasks first, due first: the unit, the status, the due time and countdown, the slips
    (flagged marked); the text, where it came from; the feedback of one fed back."""
    text = tasks_section(core(tasks=[LATE, OPEN, OVERDUE]), CLOCKS, reading(lang))
    assert text is not None and text.plain == expected
    assert style_of(text, "已超期" if lang == "zh" else "overdue") == TRUE_COLOUR.alarm_text
    assert style_of(text, "-1") == TRUE_COLOUR.clock["breached"]


def test_task_counts_and_statement_mark() -> None:
    """The desk's marks: tasks awaiting feedback (a cancelled one is not) and of them overdue;
    the latest statement version's state."""
    c = core(tasks=[OPEN, LATE, OVERDUE, ON_TIME, CANCELLED], statements=[REJECTED, DRAFTED])
    assert task_counts(c, CLOCKS) == (2, 1)
    assert task_counts(None, None) == (0, 0)
    assert statement_mark(c) == "drafted" and statement_mark(core()) == ""
    row = make_row(IncidentView(id="X1", core=c, clocks=CLOCKS), "zh")
    assert (row.statement, row.tasks_open, row.tasks_overdue) == ("drafted", 2, 1)
    assert [cell_text(col, row, NOW, "zh") for col in ("statement", "tasks")] == ["待审", "2/1"]
    assert [cell_text(col, row, NOW, "en") for col in ("statement", "tasks")] == ["awaiting", "2/1"]
    quiet = make_row(IncidentView(id="X2", core=core()), "en")
    assert [cell_text(col, quiet, NOW, "en") for col in ("statement", "tasks")] == ["", ""]


@pytest.mark.parametrize(("width", "shown"), [(80, False), (91, False), (92, True), (160, True)])
def test_follow_through_columns_only_where_there_is_room(width: int, shown: bool) -> None:
    """At 80 columns the six essential columns keep their room; from 92 the statement mark and
    the task counts come in, beside them."""
    for lang in ("zh", "en"):
        cols = [c.key for c, _ in layout(width, lang)]  # type: ignore[arg-type]
        assert cols[:6] == ["grade", "due", "ack", "title", "owner", "stage"]
        assert ("statement" in cols and "tasks" in cols) is shown


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "会商与联席会议\n• 会商  11-22 09:00  王主任、赵科长  交办 1 项（li 记录）\n    纪要"),
    ("en", "Meetings\n• consultation  11-22 09:00  王主任, 赵科长  1 tasks handed out  (recorded by li)\n    纪要"),
])
def test_meetings_section(lang: str, expected: str) -> None:
    m = MeetingView(id="M1", kind="会商", attendees=["王主任", "赵科长"], held_at=NOW - H, recorded_by="li",
                    tasks=["T1"], minutes="纪要")
    text = meetings_section(core(meetings=[m]), reading(lang))
    assert text is not None and text.plain == expected
    assert meetings_section(core(), reading(lang)) is None


@pytest.mark.parametrize(("owed", "lang", "expected"), [
    (True, "zh", "督办\n今日尚未督办\n• 11-22 09:00 li：电话督办\n• 11-21 09:00 wang：已督办"),
    (False, "en", "Supervision\nsupervised today\n• 11-22 09:00 li: 电话督办\n• 11-21 09:00 wang: 已督办"),
    (None, "en", "Supervision\n• 11-22 09:00 li: 电话督办\n• 11-21 09:00 wang: 已督办"),
])
def test_supervisions_section(owed: bool | None, lang: str, expected: str) -> None:
    """Newest first, under whether today's supervision is still owed (sys.supervision)."""
    notes = [NoteView(at=NOW - 25 * H, actor="wang", text="已督办"), NoteView(at=NOW - H, actor="li", text="电话督办")]
    text = supervisions_section(core(supervisions=notes), reading(lang), owed)
    assert text is not None and text.plain == expected
    if owed is True:
        assert style_of(text, "今日") == TRUE_COLOUR.warn_text


def test_supervisions_section_owed_without_any_record_and_nothing_at_all() -> None:
    assert supervisions_section(core(), reading("zh"), True).plain == "督办\n今日尚未督办"  # type: ignore[union-attr]
    assert supervisions_section(core(), reading("zh"), None) is None


def test_task_clock_label() -> None:
    assert clock_label("task:T1ABC", "zh") == "任务 T1ABC"
    assert clock_label("task:T1ABC", "en") == "task T1ABC"
    assert clock_label("statement", "zh") == "权威发布"


def day(working: bool, due: list[str], unsupervised: list[str]) -> SupervisionDayView:
    return SupervisionDayView(day=date(2026, 11, 23), working_day=working, due=due, unsupervised=unsupervised)


def test_model_takes_sys_supervision_in_and_says_who_owes_it() -> None:
    """`sys.supervision` (deadlines) reaches the model in a batch or alone; the detail asks it per
    incident, the desk for the rows owed, in the desk's order."""
    from tests.board.support import incident

    model = BoardModel()
    changes = [*incident(1, "II", minutes_ago=30), *incident(2, "I", minutes_ago=20), *incident(3, "IV")]
    ids = ["01JTEST0000000000000000001", "01JTEST0000000000000000002"]
    changes.append(KVChange(SUPERVISION_KEY, encode_view(day(True, ids, [ids[0], ids[1]]))))
    model.ingest_all(changes)
    assert [r.id for r in model.unsupervised()] == [ids[1], ids[0]]  # grade I first
    assert model.supervision_owed(ids[0]) is True
    assert model.supervision_owed("01JTEST0000000000000000003") is None  # grade IV: nothing owed
    model.ingest(KVChange(SUPERVISION_KEY, encode_view(day(True, ids, [ids[0]]))))
    assert model.supervision_owed(ids[1]) is False and [r.id for r in model.unsupervised()] == [ids[0]]
    model.ingest(KVChange(SUPERVISION_KEY, None))
    assert model.supervision is None and model.unsupervised() == [] and model.supervision_owed(ids[0]) is None
    assert kv_key("x", "core") == "x.core"


@pytest.mark.parametrize(("value", "lang", "expected", "count"), [
    (None, "zh", None, 0),
    (day(False, [], []), "zh", "今日督办\n11月23日 不是工作日，无需督办", 0),
    (day(True, ["A", "B"], []), "en", "Supervision today\n23 Nov: all 2 grade I/II incidents supervised", 0),
    (day(True, ["A", "B", "C"], ["A", "B"]), "zh", "今日督办\n11月23日 尚未督办 2/3 起：\n• I 甲\n• II 乙", 2),
])
def test_supervision_panel_text(value: SupervisionDayView | None, lang: str, expected: str | None, count: int) -> None:
    from watchboard.board.model import Row

    rows = [Row(id="A", grade="I", title="甲", owner="", stage="reported", reported_at=None, due=None, acked=True,
                mentions=1, flagged=False),
            Row(id="B", grade="II", title="乙", owner="", stage="reported", reported_at=None, due=None, acked=True,
                mentions=1, flagged=False)]
    text = supervision_text(value, rows, lang, TRUE_COLOUR)  # type: ignore[arg-type]
    assert (None if text is None else text.plain) == expected
    assert owed_count(value) == count


def test_reports_sent_on_the_board_channel_show_among_the_board_notices() -> None:
    """`sys.notices` (notify: notices of no incident, the scheduled reports among them) joins
    the incidents' board notices and failures, named by what it was about."""
    from watchboard.domain.views import NoticesView, NoticeView

    model = BoardModel(lang="zh")
    value = NoticesView(notices=[
        NoticeView(to="g-leaders", channel="board", status="sent", cause="report.daily", at=NOW),
        NoticeView(to="p-office", channel="email", status="failed", cause="report.weekly", reason="SMTP 550",
                   at=NOW - H),
        NoticeView(to="p-office", channel="email", status="sent", cause="report.daily", at=NOW)])  # not the board's
    model.ingest_all([KVChange("sys.notices", encode_view(value))])
    assert [(a.to, a.title, a.failed) for a in model.alerts()] == [("g-leaders", "每日舆情汇报", False),
                                                                   ("p-office", "督查通报", True)]
    model.ingest(KVChange("sys.notices", None))
    assert model.alerts() == []
