"""每日舆情汇报 — the daily report's words: its title, lead and one renderer per section.

Each renderer takes its section's figures (from `figures`) and adds blocks to the document in
the report's language; `sections.DAILY` lists them in order.
"""

from __future__ import annotations

from typing import Any

from watchboard.reports import figures as f
from watchboard.reports.document import Builder
from watchboard.reports.period import Period
from watchboard.reports.text import Lang


def title(period: Period, lang: Lang) -> str:
    day = period.start
    return lang.pick(f"关于{lang.date(day)}网络舆情情况的汇报", f"Daily report on online public opinion, {lang.date(day)}")


def addressee(lang: Lang) -> str:
    return lang.pick("领导小组：", "To the leadership group:")


def as_of_text(period: Period, lang: Lang) -> str:
    if period.as_of >= period.end:
        return lang.pick("全天", "the whole day")
    return lang.pick(f"截至{lang.clock_time(period.as_of)}", f"up to {lang.clock_time(period.as_of)}")


def until_text(period: Period, lang: Lang) -> str:
    """When the open figures are taken: the day's end, or now for a day not over."""
    if period.as_of >= period.end:
        return lang.pick("截至当日24时", "at the end of the day")
    return lang.pick(f"截至{lang.clock_time(period.as_of)}", f"at {lang.clock_time(period.as_of)}")


def lead(figs: dict[str, Any], period: Period, lang: Lang) -> str:
    """The opening paragraph: what follows, and its figures in one sentence."""
    day, until = lang.date(period.start), as_of_text(period, lang)
    parts: list[str] = []
    new: f.NewIncidents | None = figs.get("new_incidents")
    if new is not None:
        parts.append(lang.pick(f"新增网络舆情{new.total}起", f"{new.total} new incidents"))
    opened: f.OpenIncidents | None = figs.get("open_incidents")
    if opened is not None:
        parts.append(lang.pick(f"在办{opened.total}起", f"{opened.total} still open"))
    br: f.Breaches | None = figs.get("breaches")
    if br is not None:
        parts.append(lang.pick(f"超时{br.total}项", f"{br.total} clocks breached"))
    slips: f.Slips | None = figs.get("reminder_slips")
    if slips is not None:
        parts.append(lang.pick(f"下发提醒单{slips.total}张", f"{slips.total} reminder slips"))
    # The follow-through where there is any (follow_figures.py): what still waits on someone.
    tasks = figs.get("tasks")
    if tasks is not None and tasks.open:
        parts.append(lang.pick(f"交办任务待反馈{tasks.open}项", f"tasks awaiting feedback: {tasks.open}"))
    statements = figs.get("statements")
    if statements is not None and statements.awaiting:
        parts.append(lang.pick(f"通稿待审核{len(statements.awaiting)}篇",
                               f"statements awaiting approval: {len(statements.awaiting)}"))
    owed = figs.get("supervision_owed")
    if owed is not None and owed.unsupervised:
        parts.append(lang.pick(f"未督办{len(owed.unsupervised)}起", f"incidents not supervised: {len(owed.unsupervised)}"))
    summary = lang.join(parts)
    return lang.pick(f"现将{day}（{until}）网络舆情情况汇报如下：{summary}。",
                     f"This report covers {day} ({until}): {summary}.")


def _incident(title: str) -> str:
    return f"“{title}”"


def new_incidents(figs: f.NewIncidents, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("新增舆情", "New incidents"))
    if not figs.total:
        b.para(lang.pick("当日无新增网络舆情。", "No new incident was reported."))
        return
    b.para(lang.pick(f"当日新增网络舆情{figs.total}起，其中{lang.count_list(figs.by_grade)}。",
                     f"{figs.total} new incidents were reported: {lang.count_list(figs.by_grade)}."))
    b.table([lang.t("no."), lang.pick("标题", "Title"), lang.pick("级别", "Grade"), lang.pick("责任单位", "Owner"),
             lang.pick("接报时间", "Reported")],
            [[str(i), row.title, lang.grade(row.grade), lang.unit(row.owner), lang.time(row.reported_at)]
             for i, row in enumerate(figs.items, 1)], numeric={0}, widths=[0.6, 4.2, 1.4, 2.4, 1.8])


def open_incidents(figs: f.OpenIncidents, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("在办舆情", "Incidents still open"))
    if not figs.total:
        b.para(lang.pick("目前无在办网络舆情。", "No incident is open."))
        return
    stages = [s for s in figs.stages if figs.by_stage[s]]
    b.para(lang.pick(f"{until_text(period, lang)}，在办网络舆情{figs.total}起，按责任单位和处置阶段分列如下。",
                     f"{until_text(period, lang).capitalize()}, {figs.total} incidents are open, by owner and stage:"))
    rows = [[lang.unit(r.owner), *(str(r.stages[s]) for s in stages), str(r.total)] for r in figs.rows]
    rows.append([lang.t("total"), *(str(figs.by_stage[s]) for s in stages), str(figs.total)])
    b.table([lang.pick("责任单位", "Owner"), *(lang.stage(s) for s in stages), lang.t("total")], rows,
            numeric=set(range(1, len(stages) + 2)), widths=[3.0, *([1.2] * (len(stages) + 1))], total_row=True)


def clocks_due(figs: f.ClocksDue, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("今明两日到期时限", "Clocks due today and tomorrow"))
    if not figs.items:
        b.para(lang.pick("今明两日无到期未完成的时限。", "No open clock falls due today or tomorrow."))
        return
    b.para(lang.pick(f"今日到期尚未完成{figs.today}项，明日到期{figs.tomorrow}项，请责任单位按时办结。",
                     f"{figs.today} open clocks fall due today and {figs.tomorrow} tomorrow."))
    b.table([lang.t("no."), lang.pick("舆情", "Incident"), lang.pick("时限", "Clock"), lang.pick("到期时间", "Due"),
             lang.pick("责任单位", "Owner"), lang.pick("状态", "Status")],
            [[str(i), row.title, lang.clock(row.clock), lang.time(row.due_at), lang.unit(row.owner),
              lang.t(f"outcome.{row.status}")] for i, row in enumerate(figs.items, 1)],
            numeric={0}, widths=[0.6, 3.6, 1.8, 1.8, 2.4, 1.2])


def breaches(figs: f.Breaches, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("超时情况", "Breaches"))
    if not figs.total:
        b.para(lang.pick("当日无超时。", "No clock was breached."))
        return
    b.para(lang.pick(
        f"当日超时{figs.total}项，其中责任单位超时{figs.charged}项；到达即超时{figs.on_arrival}项"
        "（信息报送到值班室时已超过时限，延误发生在监测环节，单列统计，不计入责任单位）。",
        f"{figs.total} clocks were breached: {figs.charged} while the owning unit had the task, and "
        f"{figs.on_arrival} late on arrival (already past due when the item reached the duty room: the delay "
        "happened under monitoring, so they are counted apart and not charged to the unit)."))
    b.table([lang.t("no."), lang.pick("舆情", "Incident"), lang.pick("时限", "Clock"), lang.pick("到期时间", "Due"),
             lang.pick("责任单位", "Owner"), lang.pick("类别", "Kind"), lang.pick("完成时间", "Met")],
            [[str(i), row.title, lang.clock(row.clock), lang.time(row.due_at), lang.unit(row.owner),
              lang.t("outcome.on_arrival") if row.on_arrival else lang.pick("责任单位超时", "charged to the unit"),
              lang.time(row.met_at)] for i, row in enumerate(figs.items, 1)],
            numeric={0}, widths=[0.6, 3.2, 1.6, 1.6, 2.2, 1.6, 1.6])


def reminder_slips(figs: f.Slips, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("提醒单", "Reminder slips"))
    if not figs.total:
        b.para(lang.pick("当日未下发提醒单。", "No reminder slip was sent."))
        return
    b.para(lang.pick(f"当日对未按时落实的任务下发提醒单{figs.total}张。",
                     f"{figs.total} reminder slips were sent about tasks left undone."))
    b.table([lang.t("no."), lang.pick("时间", "Time"), lang.pick("单位", "Unit"), lang.pick("舆情", "Incident"),
             lang.pick("时限", "Clock"), lang.pick("提醒次数", "Slip")],
            [[str(i), lang.time(s.at), lang.unit(s.unit), s.title, lang.clock(s.clock), str(s.count)]
             for i, s in enumerate(figs.items, 1)], numeric={0, 5}, widths=[0.6, 1.8, 2.4, 3.6, 1.8, 1.0])


def flags(figs: f.Flags, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("通报与标记", "Circular and flags"))
    if figs.units:
        units = lang.join([lang.unit(u.unit) for u in figs.units])
        b.para(lang.pick(f"经三次提醒仍未落实整改、列入通报的单位{len(figs.units)}个：{units}。",
                         f"Units named in the circular after three reminder slips about one task: {len(figs.units)} "
                         f"({units})."))
    else:
        b.para(lang.pick("当日无经三次提醒仍未落实整改、列入通报的单位。",
                         "No unit was named in the circular after three reminder slips."))
    b.table([lang.pick("单位", "Unit"), lang.pick("舆情", "Incident"), lang.pick("时限", "Clock"),
             lang.pick("提醒次数", "Slips"), lang.pick("时间", "Time")],
            [[lang.unit(u.unit), u.title, lang.clock(u.clock), str(u.count), lang.time(u.at)] for u in figs.units],
            numeric={3}, widths=[2.4, 3.4, 1.8, 1.0, 2.2])
    marked = [m for m in figs.incidents if not m.removed]
    b.para(lang.pick(f"标记为谣言或违法违规信息的舆情{len(marked)}起" +
                     (f"，撤销标记{len(figs.incidents) - len(marked)}起。" if len(marked) < len(figs.incidents) else "。"),
                     f"Incidents flagged as rumour or illegal content: {len(marked)}" +
                     (f"; flags removed: {len(figs.incidents) - len(marked)}." if len(marked) < len(figs.incidents)
                      else ".")))
    b.table([lang.pick("时间", "Time"), lang.pick("舆情", "Incident"), lang.pick("标记", "Flag"),
             lang.pick("理由", "Reason"), lang.pick("人员", "By")],
            [[lang.time(m.at), m.title, (lang.pick("撤销", "removed: ") if m.removed else "") + lang.t(f"flag.{m.kind}"),
              m.reason, lang.person(m.actor)] for m in figs.incidents], widths=[1.8, 3.0, 1.6, 3.0, 1.4])


def notable_mentions(figs: f.Notable, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("重点信息", "Notable mentions"))
    if not figs.total:
        b.para(lang.pick("当日无主流媒体报道或转发量较大的信息。",
                         "No mainstream media report and no widely reposted item."))
        return
    shown = "" if len(figs.items) == figs.total else lang.pick(f"，列出转发最多的{len(figs.items)}条",
                                                               f"; the {len(figs.items)} most reposted are listed")
    b.para(lang.pick(f"当日主流媒体报道或转发量较大的信息{figs.total}条{shown}。",
                     f"{figs.total} mentions in mainstream media or widely reposted{shown}."))
    b.table([lang.pick("时间", "Time"), lang.pick("平台", "Platform"), lang.pick("内容", "Item"),
             lang.pick("转发", "Reposts"), lang.pick("评论", "Comments"), lang.pick("媒体级别", "Media"),
             lang.pick("所属舆情", "Incident")],
            [[lang.time(m.at), lang.t(f"platform.{m.platform}"), m.title or m.incident_title, str(m.reposts),
              str(m.comments), lang.t(f"media.{m.media_level}"), m.incident_title] for m in figs.items],
            numeric={3, 4}, widths=[1.6, 1.2, 3.2, 1.0, 1.0, 1.4, 2.6])
