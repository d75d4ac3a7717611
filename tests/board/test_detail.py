"""The detail's sections: each a pure function of (part of) an incident and a `Reading`, table-tested."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text

from tests.board.support import NOW, ZONE
from watchboard.board.follow import evidence_section
from watchboard.board.format import (
    Reading,
    UnitNames,
    ack_fact,
    clock_line,
    clocks_section,
    closed_fact,
    core_facts,
    grade_facts,
    headline,
    mentions_section,
    notices_section,
    owner_facts,
    slip_facts,
    summary_section,
    timeline_section,
)
from watchboard.board.styles import SIXTEEN_COLOURS, TRUE_COLOUR
from watchboard.domain.views import (
    ClocksView,
    ClockView,
    CoreView,
    GradeView,
    IncidentView,
    MentionView,
    NoteView,
    NoticesView,
    NoticeView,
    SlipView,
)

CONSOLE = Console()
H = timedelta(hours=1)
M = timedelta(minutes=1)
UNITS = {"education": UnitNames("县教育局", "County Education Bureau", "教育局", "Education")}
CORE = CoreView(id="X1", title="食堂", reported_at=NOW - 2 * H, stage="handling", region="仲山镇", topic="food_drug",
                posted_at=NOW - 3 * H, observed_at=NOW - 150 * M, summary="摘要", evidence=["截图1"],
                closed_at=NOW, close_summary="已澄清", notes=[NoteView(at=NOW - H, actor="li", text="已联系")],
                mention_count=1, mentions=[MentionView(platform="weibo", url="https://e.x/1", posted_at=NOW - 3 * H,
                                                       media_level="provincial", title="帖子")])
GRADE = GradeView(grade="II", reasons=["微博转发 160 ≥ 100 → II 重大"], reasons_en=["reposts 160 → II Major"],
                  owner="education", owner_reason="属地", owner_reason_en="local", assisting=["education", "police"],
                  flags=["rumour"], updated_at=NOW - 90 * M, source="rules")
SLIPS = ClocksView(reminders=3, flagged=True, slips=[
    SlipView(unit="education", clock="first_response", count=2, flagged=True, last_at=NOW),
    SlipView(unit="x", clock="formal_reply", count=1)])
NOTICES = NoticesView(notices=[NoticeView(to="p-li", channel="webhook:wecom", status="failed", cause="incident.graded",
                                          reason="refused", at=NOW)], escalation_tier=2)


def reading(lang: str, **kw: object) -> Reading:
    return Reading(lang=lang, zone=ZONE, now=NOW, units=UNITS, **kw)  # type: ignore[arg-type]


def style_of(text: Text, part: str) -> Style:
    """The style the first character of `part` is drawn in."""
    return text.get_style_at_offset(CONSOLE, text.plain.index(part))


@pytest.mark.parametrize(("lang", "expected"), [("zh", " II 重大   谣言  食堂"), ("en", " II Major   rumour  食堂")])
def test_headline(lang: str, expected: str) -> None:
    """Grade badge with its label, a badge per flag, the title."""
    text = headline(IncidentView(id="X1", core=CORE, grade=GRADE), reading(lang))
    assert text.plain == expected
    assert style_of(text, "II").bgcolor == TRUE_COLOUR.grade["II"].bgcolor


def test_headline_without_core_or_grade_shows_the_id() -> None:
    assert headline(IncidentView(id="X9"), reading("en")).plain == " ungraded  X9"


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "\n编号：X1\n阶段：处置中\n接报时间：11-22 08:00（发帖 11-22 07:00 · 发现 11-22 07:30）\n地区：仲山镇\n领域：食品药品"),
    ("en", "\nID: X1\nStage: handling\nReported: 11-22 08:00  (posted 11-22 07:00 · observed 11-22 07:30)\n"
           "Region: 仲山镇\nTopic: food and drug safety"),
])
def test_core_facts(lang: str, expected: str) -> None:
    """Id, stage, reported in the board's zone with when it was posted and observed, region, topic."""
    assert core_facts(IncidentView(id="X1", core=CORE), reading(lang)).plain == expected


def test_core_facts_of_an_incident_intake_has_not_written_yet() -> None:
    assert core_facts(IncidentView(id="X1"), reading("zh")).plain == "\n编号：X1"


@pytest.mark.parametrize(("grade", "lang", "expected"), [
    (GRADE, "zh", "\n责任单位：县教育局（属地）\n协办：县教育局、police"),
    (GRADE, "en", "\nOwner: County Education Bureau  (local)\nAssisting: County Education Bureau, police"),
    (GradeView(grade="IV"), "zh", "\n责任单位：未分派"),
    (GradeView(grade="IV", owner="env", owner_name="县环境局", owner_reason="属地"), "en",
     "\nOwner: 县环境局  (属地)"),  # no English twin: the Chinese names grading sent
])
def test_owner_facts(grade: GradeView, lang: str, expected: str) -> None:
    """The owner by name (this board's units.toml, else grading's names), why, and the assisting units."""
    assert owner_facts(grade, reading(lang)).plain == expected


def test_unassigned_stands_out() -> None:
    text = owner_facts(GradeView(grade="IV"), reading("zh"))
    assert style_of(text, "未分派") == TRUE_COLOUR.unassigned


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "\n倾向：负面\n定级依据：微博转发 160 ≥ 100 → II 重大（规则）\n标记：谣言"),
    ("en", "\nSentiment: negative\nGrade reasons: reposts 160 → II Major  (rules)\nFlags: rumour"),
])
def test_grade_facts(lang: str, expected: str) -> None:
    """Sentiment, the reasons in the board's language with who graded, the flags (in alarm colours)."""
    text = grade_facts(GRADE, reading(lang))
    assert text.plain == expected
    assert style_of(text, "谣言" if lang == "zh" else "rumour") == TRUE_COLOUR.alarm_text


@pytest.mark.parametrize(("notices", "lang", "expected", "part", "style"), [
    (NoticesView(acknowledged_by="li", acknowledged_at=NOW), "zh", "\n已签收：li 11-22 10:00", "li", "ok_soft"),
    (NoticesView(acknowledged_by="li", acknowledged_at=NOW), "en", "\nAcknowledged: li 11-22 10:00", "li", "ok_soft"),
    (None, "zh", "\n未签收", "未签收", "warn"),
    (NoticesView(), "en", "\nNot acknowledged", "Not", "warn"),
])
def test_ack_fact(notices: NoticesView | None, lang: str, expected: str, part: str, style: str) -> None:
    """Who acknowledged and when (in green), or a line in the warning colours."""
    text = ack_fact(notices, reading(lang))
    assert text.plain == expected
    assert style_of(text, part) == getattr(TRUE_COLOUR, style)


def test_nobody_acknowledged_is_drawn_in_the_warning_colour_of_the_terminal() -> None:
    assert style_of(ack_fact(None, reading("en", colours=SIXTEEN_COLOURS)), "Not") == SIXTEEN_COLOURS.warn


@pytest.mark.parametrize(("clocks", "lang", "expected"), [
    (SLIPS, "zh", "\n提醒单：3  ⚑ 已通报\n  • 县教育局 首次回应 ×2  11-22 10:00  ⚑ 已列入通报\n  • x 正式答复 ×1"),
    (SLIPS, "en", "\nReminder slips: 3  ⚑ Flagged\n  • County Education Bureau first response ×2  11-22 10:00  "
                  "⚑ flagged for the circular\n  • x formal reply ×1"),
    (ClocksView(), "zh", ""),
    (None, "en", ""),
])
def test_slip_facts(clocks: ClocksView | None, lang: str, expected: str) -> None:
    """Reminders, and each unit's slips per task; nothing at all when there are none."""
    text = slip_facts(clocks, reading(lang))
    assert text.plain == expected
    if clocks is SLIPS:  # the flagged unit's line is in alarm colours, the other plain
        assert style_of(text, "  • 县" if lang == "zh" else "  • C") == TRUE_COLOUR.alarm_text
        assert style_of(text, "  • x") == Style()


@pytest.mark.parametrize(("core", "lang", "expected"), [
    (CORE, "zh", "\n结案：11-22 10:00  已澄清"), (CORE, "en", "\nClosed: 11-22 10:00  已澄清"),
    (CoreView(id="X", title="t", reported_at=NOW), "zh", ""),
])
def test_closed_fact(core: CoreView, lang: str, expected: str) -> None:
    assert closed_fact(core, reading(lang)).plain == expected


@pytest.mark.parametrize(("core", "lang", "expected"), [
    (CORE, "zh", "摘要\n摘要"), (CORE, "en", "Summary\n摘要"), (CoreView(id="X", title="t", reported_at=NOW), "en", None),
])
def test_summary_section(core: CoreView, lang: str, expected: str | None) -> None:
    text = summary_section(core, reading(lang))
    assert (None if text is None else text.plain) == expected


RUNNING = ClockView(name="first_response", due_at=NOW + 2 * H, basis="working", status="running", counted_from="observed",
                    start_at=NOW - H, extendable=True, provisional=True)
MET_LATE = ClockView(name="report_up", due_at=NOW - H, basis="calendar", status="breached", met_at=NOW - 50 * M, met_by="li")
MET = ClockView(name="statement", due_at=NOW - H, basis="calendar", status="met", met_at=NOW - 2 * H)
ON_ARRIVAL = ClockView(name="final", due_at=NOW - H, basis="calendar", status="breached", on_arrival=True)
SOON = ClockView(name="statement", due_at=NOW + 20 * M, basis="calendar", status="running")


@pytest.mark.parametrize(("clock", "lang", "expected", "state"), [
    (RUNNING, "zh", "\n 计时中  首次回应  11-22 12:00  ~2时00分  （工作时间，自发现起算，起算 11-22 09:00，可延期）\n"
                    "    ~ 暂定：工作日历未覆盖该日期，补全日历后可能变动", "running"),
    (RUNNING, "en", "\n running  first response  11-22 12:00  ~2h00m  (working time, from discovery, from 11-22 09:00, "
                    "extendable)\n    ~ provisional: the working calendar does not cover this date yet", "running"),
    (MET_LATE, "zh", "\n 已超时  上报  11-22 09:00  逾期 10分钟 完成（li）  （自然时间）", "breached"),
    (MET_LATE, "en", "\n breached  report up  11-22 09:00  met late by 10m (li)  (calendar time)", "breached"),
    (MET, "en", "\n met  statement  11-22 09:00  met 11-22 08:00  (calendar time)", "met"),
    (ON_ARRIVAL, "zh", "\n 已超时  最终时限  11-22 09:00  到达时已超时  （自然时间）", "breached"),
    (SOON, "en", "\n running  statement  11-22 10:20  0h20m  (calendar time)", "warning"),
])
def test_clock_line(clock: ClockView, lang: str, expected: str, state: str) -> None:
    """Status, name, due time, countdown or how it was met, the basis; the status badge in its state's colours."""
    text = clock_line(clock, reading(lang))
    assert text.plain == expected
    assert style_of(text, text.plain[2]) == TRUE_COLOUR.clock[state]


def test_clocks_section_orders_by_due_and_says_when_there_are_none() -> None:
    assert clocks_section(None, reading("zh")).plain == "时限\n（尚无数据）"
    plain = clocks_section(ClocksView(clocks=[RUNNING, MET, SOON]), reading("en")).plain
    assert plain.index("statement  11-22 09:00") < plain.index("statement  11-22 10:20") < plain.index("first response")


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "来源（1）\n• 微博  发帖 11-22 07:00  [省级媒体]  转发 0  评论 0  点赞 0  阅读 0\n    帖子\n    https://e.x/1"),
    ("en", "Mentions (1)\n• Weibo  posted 11-22 07:00  [provincial media]  reposts 0  comments 0  likes 0  views 0\n"
           "    帖子\n    https://e.x/1"),
])
def test_mentions_section(lang: str, expected: str) -> None:
    """Platform, when, media level, metrics, title, and the link in the link colour."""
    text = mentions_section(CORE, reading(lang))
    assert text.plain == expected
    assert style_of(text, "https") == TRUE_COLOUR.link


def test_evidence_section() -> None:
    assert evidence_section(CORE, reading("en")).plain == "Evidence\n• 截图1"  # type: ignore[union-attr]
    assert evidence_section(CoreView(id="X", title="t", reported_at=NOW), reading("en")) is None


@pytest.mark.parametrize(("notices", "lang", "expected"), [
    (NOTICES, "zh", "通知\n• 11-22 10:00 发送失败  p-li / 网络推送:wecom（定级）  refused\n⇧ 已升级通知到第 2 级"),
    (NOTICES, "en", "Notices\n• 11-22 10:00 failed  p-li / webhook:wecom  (graded)  refused\n⇧ escalated to tier 2"),
    (None, "en", "Notices\n(no data yet)"),
])
def test_notices_section(notices: NoticesView | None, lang: str, expected: str) -> None:
    """Each notice with status, recipient, channel and cause in the board's words; a failure's reason in red."""
    text = notices_section(notices, reading(lang))
    assert text.plain == expected
    if notices is not None:
        assert style_of(text, "refused") == TRUE_COLOUR.alarm_soft


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "备注与经过\n11-22 08:00 系统：已接报\n11-22 08:30 定级：II 重大\n11-22 09:00 li：已联系\n"
           "11-22 09:30 wang：已签收\n11-22 10:00 已结案"),
    ("en", "Notes and timeline\n11-22 08:00 system: reported\n11-22 08:30 grading: II Major\n11-22 09:00 li: 已联系\n"
           "11-22 09:30 wang: Acknowledged\n11-22 10:00 closed"),
])
def test_timeline_section(lang: str, expected: str) -> None:
    """Reported, graded, notes, acknowledged and closed, in time order, in the board's zone."""
    view = IncidentView(id="X1", core=CORE, grade=GRADE,
                        notices=NoticesView(acknowledged_by="wang", acknowledged_at=NOW - 30 * M))
    assert timeline_section(view, reading(lang)).plain == expected
