"""The follow-through sections' words (issue 14 item 4), in the report's language: tasks,
statements, supervision and evidence in the daily report; tasks and statements per unit in the
weekly circular; statement history, tasks, supervision, meetings and evidence in a review.

Each renderer takes its section's figures (follow_figures.py) and adds blocks to the document;
`sections.py` puts them in order. What people typed (task texts, notes, file names) is printed
as they typed it.
"""

from __future__ import annotations

from typing import Any

from watchboard.reports import follow_figures as ff
from watchboard.reports.daily import until_text
from watchboard.reports.document import Builder
from watchboard.reports.period import Period
from watchboard.reports.text import Lang

DIGEST = 12  # hex characters of a SHA-256 printed (as the CLI and the board show them)


def _quoted(titles: list[str], lang: Lang) -> str:
    return lang.join([f"“{t}”" for t in titles])


def _digest_column(lang: Lang) -> str:
    return lang.pick("校验值（前12位）", "Digest (SHA-256, first 12)")


def _outcome(x: ff.TaskRow, lang: Lang) -> str:
    return lang.t(f"task.{x.outcome}")


# --- daily -------------------------------------------------------------------------------------


def daily_tasks(figs: ff.DailyTasks, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("交办任务", "Tasks"))
    if not (figs.open or figs.added or figs.fed_back):
        b.para(lang.pick("目前无待反馈的交办任务。", "No task awaits feedback."))
        return
    until = until_text(period, lang)
    late = lang.pick(f"（其中逾期反馈{figs.fed_back_late}项）", f" ({figs.fed_back_late} late)") if figs.fed_back_late else ""
    b.para(lang.pick(
        f"当日交办任务{figs.added}项，收到责任单位反馈{figs.fed_back}项{late}；{until}，尚待反馈{figs.open}项，"
        f"其中已超期{figs.overdue}项，今日到期{figs.due_today}项，明日到期{figs.due_tomorrow}项。",
        f"{figs.added} tasks were handed out and {figs.fed_back} fed back{late}. {until.capitalize()}, "
        f"{figs.open} await feedback: {figs.overdue} overdue, {figs.due_today} due today, "
        f"{figs.due_tomorrow} due tomorrow."))
    b.table([lang.t("no."), lang.pick("责任单位", "Unit"), lang.pick("任务", "Task"), lang.pick("所属舆情", "Incident"),
             lang.pick("交办时间", "Handed out"), lang.pick("反馈期限", "Due"), lang.pick("状态", "Status")],
            [[str(i), lang.unit(x.unit), x.text, x.title, lang.time(x.added_at), lang.time(x.due_at), _outcome(x, lang)]
             for i, x in enumerate(figs.items, 1)], numeric={0}, widths=[0.6, 2.0, 3.2, 2.6, 1.6, 1.6, 1.4])


def daily_statements(figs: ff.DailyStatements, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("通稿审核与发布", "Statements"))
    until = until_text(period, lang)
    b.para(lang.pick(
        f"当日审核同意通稿{figs.approved}稿，退回{figs.rejected}稿，发布{len(figs.published)}次；{until}，"
        f"待审核通稿{len(figs.awaiting)}篇。",
        f"Statement versions approved: {figs.approved}; sent back: {figs.rejected}; publications: "
        f"{len(figs.published)}. {until.capitalize()}, awaiting approval: {len(figs.awaiting)}."))
    if figs.awaiting:
        b.table([lang.pick("待审核通稿", "Awaiting approval"), lang.pick("稿次", "Version"),
                 lang.pick("起草人", "Drafted by"), lang.pick("起草时间", "Drafted"), lang.pick("责任单位", "Owner")],
                [[x.title, str(x.version), lang.person(x.drafted_by), lang.time(x.drafted_at), lang.unit(x.owner)]
                 for x in figs.awaiting], numeric={1}, widths=[3.6, 0.8, 1.6, 1.8, 2.4])
    if figs.published:
        b.table([lang.pick("已发布通稿", "Published"), lang.pick("稿次", "Version"), lang.pick("渠道", "Channel"),
                 lang.pick("发布时间", "Published at"), lang.pick("审核人", "Approved by")],
                [[x.title, str(x.version), x.channel, lang.time(x.at), lang.person(x.approved_by)]
                 for x in figs.published], numeric={1}, widths=[3.6, 0.8, 1.8, 1.8, 1.6])


def daily_supervision(figs: ff.DailySupervision, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("督办情况", "Supervision"))
    day = lang.date(figs.day, year=False)
    if not figs.working_day:
        b.para(lang.pick(f"{day}不是工作日，无需督办。", f"{day} is not a working day: no supervision is owed."))
    elif not figs.due:
        b.para(lang.pick("当日无在办的I、II级舆情，无需督办。", "No grade I or II incident was open: none was owed."))
    elif not figs.unsupervised:
        b.para(lang.pick(f"当日在办I、II级舆情{figs.due}起，均已督办。",
                         f"All {figs.due} open grade I and II incidents were supervised."))
    else:
        titles = _quoted([x.title for x in figs.unsupervised], lang)
        b.para(lang.pick(f"当日在办I、II级舆情{figs.due}起，已督办{figs.supervised}起，尚未督办{len(figs.unsupervised)}起：{titles}。",
                         f"Of {figs.due} open grade I and II incidents, {figs.supervised} were supervised and "
                         f"{len(figs.unsupervised)} were not: {titles}."))
    b.table([lang.pick("时间", "Time"), lang.pick("舆情", "Incident"), lang.pick("督办人", "By"),
             lang.pick("督办情况", "Note")],
            [[lang.time(x.at), x.title, lang.person(x.actor), x.note] for x in figs.records], widths=[1.6, 3.0, 1.4, 4.0])


def daily_evidence(figs: ff.DailyEvidence, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("固定证据", "Evidence kept"))
    if not figs.total:
        b.para(lang.pick("当日未固定证据文件。", "No evidence file was kept."))
        return
    b.para(lang.pick(f"当日固定证据文件{figs.total}个，共{lang.size(figs.bytes)}，均已按校验值保存。",
                     f"{figs.total} evidence files were kept, {lang.size(figs.bytes)} in all, each under its digest."))
    b.table([lang.pick("时间", "Time"), lang.pick("舆情", "Incident"), lang.pick("文件", "File"),
             lang.pick("大小", "Size"), _digest_column(lang), lang.pick("固定人", "By")],
            [[lang.time(x.at), x.title, x.name, lang.size(x.size), x.sha256[:DIGEST], lang.person(x.actor)]
             for x in figs.items], widths=[1.6, 2.6, 2.2, 1.2, 1.8, 1.4])


# --- weekly ------------------------------------------------------------------------------------


def _task_cells(u: ff.UnitTasks) -> list[str]:
    return [str(u.handed_out), str(u.fed_back), str(u.on_time), str(u.late), str(u.open), str(u.overdue),
            str(u.cancelled)]


def weekly_tasks(figs: ff.WeeklyTasks, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("交办任务落实情况", "Tasks handed out and fed back"))
    t = figs.total
    if not figs.items:
        b.para(lang.pick("本周无交办任务。", "No task was handed out or awaited feedback this week."))
        return
    b.para(lang.pick(
        f"本周交办任务{t.handed_out}项，收到反馈{t.fed_back}项，其中按时反馈{t.on_time}项、逾期反馈{t.late}项；"
        f"尚未反馈{t.open}项，其中超期{t.overdue}项；因结案撤销{t.cancelled}项。",
        f"{t.handed_out} tasks were handed out and {t.fed_back} fed back ({t.on_time} on time, {t.late} late); "
        f"{t.open} await feedback, {t.overdue} of them overdue; {t.cancelled} were cancelled when their incident "
        "closed."))
    overdue = [x for x in figs.items if x.outcome == "overdue"]
    if overdue:
        named = lang.join([lang.pick(f"{lang.unit(x.unit)}（“{x.title}”：{x.text}）",
                                     f"{lang.unit(x.unit)} (“{x.title}”: {x.text})") for x in overdue])
        b.para(lang.pick(f"超期未反馈的单位：{named}。", f"Units with a task overdue: {named}."))
    rows = [[lang.unit(u.unit), *_task_cells(u)] for u in figs.units]
    rows.append([lang.t("total"), *_task_cells(t)])
    b.table([lang.pick("单位", "Unit"), lang.pick("交办", "Handed out"), lang.pick("反馈", "Fed back"),
             lang.pick("按时", "On time"), lang.pick("逾期", "Late"), lang.pick("未反馈", "Open"),
             lang.pick("其中超期", "Overdue"), lang.pick("结案撤销", "Cancelled")], rows,
            numeric=set(range(1, 8)), widths=[3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], total_row=True)
    b.table([lang.pick("单位", "Unit"), lang.pick("所属舆情", "Incident"), lang.pick("任务", "Task"),
             lang.pick("交办时间", "Handed out"), lang.pick("反馈期限", "Due"), lang.pick("结果", "Outcome"),
             lang.pick("反馈时间", "Fed back")],
            [[lang.unit(x.unit), x.title, x.text, lang.time(x.added_at), lang.time(x.due_at), _outcome(x, lang),
              lang.time(x.fed_back_at)] for x in figs.items], widths=[2.0, 2.4, 2.8, 1.6, 1.6, 1.4, 1.6])


def _statement_cells(u: ff.UnitStatements) -> list[str]:
    return [str(u.drafted), str(u.approved), str(u.rejected), str(u.published)]


def weekly_statements(figs: ff.WeeklyStatements, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("通稿审核发布情况", "Statements approved and published"))
    t = figs.total
    awaiting = len(figs.awaiting)
    if not figs.units and not awaiting:
        b.para(lang.pick("本周无通稿起草、审核或发布。", "No statement was drafted, approved or published this week."))
        return
    b.para(lang.pick(
        f"本周起草通稿{t.drafted}稿，审核同意{t.approved}稿，退回{t.rejected}稿，发布{t.published}次；"
        f"待审核通稿{awaiting}篇。",
        f"Statement versions drafted: {t.drafted}; approved: {t.approved}; sent back: {t.rejected}; publications: "
        f"{t.published}; awaiting approval: {awaiting}."))
    if figs.units:
        rows = [[lang.unit(u.unit), *_statement_cells(u)] for u in figs.units]
        rows.append([lang.t("total"), *_statement_cells(t)])
        b.table([lang.pick("单位", "Unit"), lang.pick("起草", "Drafted"), lang.pick("审核同意", "Approved"),
                 lang.pick("退回", "Sent back"), lang.pick("发布", "Published")], rows, numeric={1, 2, 3, 4},
                widths=[3.0, 1.2, 1.2, 1.2, 1.2], total_row=True)
    if figs.published:
        b.table([lang.pick("已发布通稿", "Published"), lang.pick("责任单位", "Owner"), lang.pick("稿次", "Version"),
                 lang.pick("渠道", "Channel"), lang.pick("发布时间", "Published at"), lang.pick("审核人", "Approved by")],
                [[x.title, lang.unit(x.owner), str(x.version), x.channel, lang.time(x.at), lang.person(x.approved_by)]
                 for x in figs.published], numeric={2}, widths=[3.0, 2.2, 0.8, 1.6, 1.6, 1.4])


# --- review ------------------------------------------------------------------------------------


def review_statements(figs: list[ff.ReviewStatement], b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs:
        return
    b.heading(lang.pick("通稿审核与发布", "Statements"))
    last = figs[-1]
    published = sum(1 for s in figs for x in s.steps if x.action == "published")
    b.para(lang.pick(f"共起草通稿{len(figs)}稿，最新第{last.version}稿{lang.t('statement.' + last.state)}，"
                     f"发布{published}次。",
                     f"Statement versions drafted: {len(figs)}; the latest, version {last.version}, is "
                     f"{lang.t('statement.' + last.state)}; publications: {published}."))
    b.table([lang.pick("稿次", "Version"), _digest_column(lang), lang.pick("时间", "Time"), lang.pick("人员", "By"),
             lang.pick("事项", "Step"), lang.pick("说明", "Detail")],
            [[str(s.version), s.sha256[:DIGEST], lang.time(x.at), lang.person(x.actor), lang.t(f"step.{x.action}"),
              x.detail] for s in figs for x in s.steps], numeric={0}, widths=[0.8, 1.8, 1.6, 1.4, 1.2, 3.2])


def review_tasks(figs: list[ff.TaskRow], b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs:
        return
    b.heading(lang.pick("交办任务", "Tasks"))
    counts: dict[str, int] = {}
    for x in figs:
        counts[x.outcome] = counts.get(x.outcome, 0) + 1
    parts = [f"{lang.t('task.' + k)}{n}项" if lang.zh else f"{n} {lang.t('task.' + k)}" for k, n in counts.items()]
    b.para(lang.pick(f"共交办任务{len(figs)}项：{lang.join(parts)}。", f"{len(figs)} tasks: {lang.join(parts)}."))
    b.table([lang.pick("责任单位", "Unit"), lang.pick("任务", "Task"), lang.pick("依据", "From"),
             lang.pick("交办时间", "Handed out"), lang.pick("反馈期限", "Due"), lang.pick("结果", "Outcome"),
             lang.pick("反馈", "Feedback"), lang.pick("提醒单", "Slips")],
            [[lang.unit(x.unit), x.text, x.source or (lang.pick("会议交办", "a meeting") if x.meeting_id else lang.t("dash")),
              lang.time(x.added_at), lang.time(x.due_at), _outcome(x, lang),
              (f"{lang.time(x.fed_back_at)} {lang.person(x.fed_back_by)}：{x.feedback}" if lang.zh else
               f"{lang.time(x.fed_back_at)} {lang.person(x.fed_back_by)}: {x.feedback}") if x.fed_back_at else lang.t("dash"),
              str(x.slips)] for x in figs], numeric={7}, widths=[1.6, 2.2, 1.4, 1.4, 1.4, 1.2, 2.6, 0.8])


def review_supervisions(figs: list[ff.SupervisionRow], b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs:
        return
    b.heading(lang.pick("督办情况", "Supervision"))
    days = len({x.at.date() for x in figs})
    b.para(lang.pick(f"共督办{len(figs)}次，涉及{days}天。", f"Supervised {len(figs)} times on {days} days."))
    b.table([lang.pick("时间", "Time"), lang.pick("督办人", "By"), lang.pick("督办情况", "Note")],
            [[lang.time(x.at), lang.person(x.actor), x.note] for x in figs], widths=[1.6, 1.4, 5.0])


def review_meetings(figs: list[ff.MeetingRow], b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs:
        return
    b.heading(lang.pick("会商与联席会议", "Meetings"))
    b.table([lang.pick("时间", "Held"), lang.pick("类别", "Kind"), lang.pick("参加人员", "Attendees"),
             lang.pick("交办任务", "Tasks"), lang.pick("纪要", "Minutes")],
            [[lang.time(m.held_at), lang.meeting(m.kind), lang.join(m.attendees), str(len(m.tasks)), m.minutes[:300]]
             for m in figs], numeric={3}, widths=[1.6, 1.2, 2.4, 0.9, 3.9])


def review_evidence(figs: list[ff.EvidenceRow], b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs:
        return
    b.heading(lang.pick("固定证据", "Evidence kept"))
    total = sum(x.size for x in figs)
    b.para(lang.pick(f"共固定证据文件{len(figs)}个，共{lang.size(total)}。",
                     f"{len(figs)} evidence files, {lang.size(total)} in all."))
    b.table([lang.pick("时间", "Time"), lang.pick("文件", "File"), lang.pick("大小", "Size"), _digest_column(lang),
             lang.pick("固定人", "By")],
            [[lang.time(x.at), x.name, lang.size(x.size), x.sha256[:DIGEST], lang.person(x.actor)] for x in figs],
            widths=[1.6, 3.0, 1.2, 1.8, 1.4])


# --- the review's timeline ---------------------------------------------------------------------


def describe(kind: str, d: dict[str, Any], lang: Lang) -> str | None:
    """One line of the review's timeline for a follow-through event (its fields `d`, as
    `figures.detail_of` gives them); None for any other type."""
    colon = "：" if lang.zh else ": "
    if kind == "statement.drafted":
        return lang.pick(f"起草通稿第{d.get('version')}稿（校验值{str(d.get('sha256', ''))[:DIGEST]}）",
                         f"statement version {d.get('version')} drafted (digest {str(d.get('sha256', ''))[:DIGEST]})")
    if kind == "statement.approved":
        note = d.get("note") or ""
        return lang.pick(f"审核同意通稿第{d.get('version')}稿", f"statement version {d.get('version')} approved") + \
            (f"{colon}{note}" if note else "")
    if kind == "statement.rejected":
        return lang.pick(f"退回通稿第{d.get('version')}稿", f"statement version {d.get('version')} sent back") + \
            f"{colon}{d.get('reason', '')}"
    if kind == "statement.published":
        return lang.pick(f"发布通稿第{d.get('version')}稿（{d.get('channel', '')}）",
                         f"statement version {d.get('version')} published ({d.get('channel', '')})")
    if kind == "evidence.added":
        return lang.pick(f"固定证据{d.get('name', '')}（{lang.size(int(d.get('size') or 0))}）",
                         f"evidence kept: {d.get('name', '')} ({lang.size(int(d.get('size') or 0))})")
    if kind == "task.added":
        source = d.get("source") or ""
        return lang.pick(f"向{lang.unit(d.get('unit'))}交办任务" + (f"（{source}）" if source else "") +
                         f"：{d.get('text', '')}，{lang.said(_at(d.get('due_at')))}前反馈",
                         f"task handed to {lang.unit(d.get('unit'))}" + (f" ({source})" if source else "") +
                         f": {d.get('text', '')}; feedback due {lang.said(_at(d.get('due_at')))}")
    if kind == "task.fed_back":
        return lang.pick(f"{lang.unit(d.get('unit'))}反馈任务：{d.get('text', '')}",
                         f"{lang.unit(d.get('unit'))} fed back on its task: {d.get('text', '')}")
    if kind == "meeting.held":
        who = lang.join(list(d.get("attendees") or []))
        tasks = len(d.get("tasks") or [])
        return lang.pick(f"召开{lang.meeting(d.get('kind', ''))}（{who}），交办任务{tasks}项",
                         f"{lang.meeting(d.get('kind', ''))} held ({who}); {tasks} tasks handed out")
    if kind == "incident.supervised":
        return lang.pick(f"督办：{d.get('note', '')}", f"supervised: {d.get('note', '')}")
    return None


def _at(value: Any) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else None
