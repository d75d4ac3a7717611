"""督查通报 — the weekly supervision circular (seeds 001 and 002): per unit, each clock met on
time, met late or breached, the reminder slips per task, and the units named after three slips.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from watchboard.reports import charts
from watchboard.reports import figures as f
from watchboard.reports.document import Builder, Chart
from watchboard.reports.period import Period
from watchboard.reports.text import Lang


def span_text(period: Period, lang: Lang) -> str:
    first, last = period.start, period.end - timedelta(days=1)
    if lang.zh:
        return f"{lang.date(first)}至{lang.date(last, year=first.year != last.year)}"
    return f"{lang.date(first, year=first.year != last.year)} to {lang.date(last)}"


def week_text(period: Period, lang: Lang) -> str:
    year, _, week = period.label.partition("-W")
    return lang.pick(f"{year}年第{int(week)}周", f"week {period.label}")


def title(period: Period, lang: Lang) -> str:
    return lang.pick(f"关于{week_text(period, lang)}网络舆情处置时限落实情况的督查通报",
                     f"Supervision circular on the response clocks, {week_text(period, lang)}")


def addressee(lang: Lang) -> str:
    return lang.pick("各有关单位：", "To the units concerned:")


def lead(figs: dict[str, Any], period: Period, lang: Lang) -> str:
    until = "" if period.as_of >= period.end else lang.pick(f"（截至{lang.said(period.as_of)}）",
                                                              f" (up to {lang.said(period.as_of)})")
    return lang.pick(
        f"根据网络舆情提醒单制度和督办工作要求，现将{span_text(period, lang)}{until}各单位网络舆情处置时限"
        "落实情况通报如下。",
        f"Following the reminder-slip rules and the supervision duties, this circular reports how each unit met "
        f"its response clocks from {span_text(period, lang)}{until}.")


def closing(figs: dict[str, Any], period: Period, lang: Lang) -> str:
    return lang.pick("请各单位对照通报情况，抓好整改落实。", "Each unit is asked to act on what this circular reports.")


def overview(figs: f.Trend, b: Builder, period: Period, *, supervision: f.Supervision | None = None) -> None:
    lang = b.lang
    b.heading(lang.pick("总体情况", "Overview"))
    text = lang.pick(f"本周共接报网络舆情{figs.total}起", f"{figs.total} incidents were reported this week")
    if figs.total:
        text += lang.pick(f"，其中{lang.count_list(figs.by_grade)}", f" ({lang.count_list(figs.by_grade)})")
    if supervision is not None:
        t = supervision.total
        text += lang.pick(
            f"。应办时限{t.due}项，按时完成{t.on_time}项，按时率{lang.pct(t.on_time_pct)}；超时完成{t.met_late}项，"
            f"超时未办{t.breached}项；另有到达即超时{t.on_arrival}项单列统计。下发提醒单{supervision.slips}张，"
            f"{len({u.unit for u in supervision.flagged})}个单位经三次提醒仍未落实整改",
            f". {t.due} clocks fell due: {t.on_time} met on time ({lang.pct(t.on_time_pct)}), {t.met_late} met late, "
            f"{t.breached} breached and not done; {t.on_arrival} more were late on arrival, counted apart. "
            f"{supervision.slips} reminder slips were sent; {len({u.unit for u in supervision.flagged})} units "
            "were named after three slips about one task")
    b.para(text + lang.pick("。", "."))
    grades = [g for g in figs.by_grade if g != f.UNGRADED or figs.by_grade[g]]
    b.chart(trend_chart(figs, grades, lang))
    rows = [[lang.short_date(d.date), *(str(d.by_grade[g]) for g in grades), str(d.total)] for d in figs.days]
    rows.append([lang.t("total"), *(str(figs.by_grade[g]) for g in grades), str(figs.total)])
    b.table([lang.pick("日期", "Day"), *(lang.grade(g) for g in grades), lang.t("total")], rows,
            numeric=set(range(1, len(grades) + 2)), widths=[2.2, *([1.3] * (len(grades) + 1))], total_row=True)


def trend_chart(figs: f.Trend, grades: list[str], lang: Lang) -> Chart:
    labels = [lang.grade_labels.get(g) or lang.grade(g) for g in grades]
    days = [lang.short_date(d.date) if not lang.zh else f"{d.date.month}月{d.date.day}日" for d in figs.days]
    counts = [[d.by_grade[g] for g in grades] for d in figs.days]
    title = lang.pick("本周每日新增舆情（按级别）", "New incidents by day and grade")
    png = charts.by_day_and_grade(days, grades, labels, counts, title, lang.pick("起数", "incidents"))
    alt = "; ".join(f"{day}: {d.total}" for day, d in zip(days, figs.days, strict=True))
    return Chart(png=png, caption=lang.pick("图1  ", "Figure 1. ") + title, alt=alt)


def _outcome_cells(row: f.Outcome, lang: Lang) -> list[str]:
    return [str(row.due), str(row.on_time), lang.pct(row.on_time_pct), str(row.met_late), str(row.breached),
            str(row.on_arrival)]


def _outcome_columns(lang: Lang) -> list[str]:
    return [lang.pick("应办时限", "Due"), lang.pick("按时完成", "On time"), lang.pick("按时率", "On-time rate"),
            lang.pick("超时完成", "Met late"), lang.pick("超时未办", "Breached"), lang.pick("到达即超时", "Late on arrival")]


def units(figs: f.Supervision, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("各单位时限落实情况", "Clocks by unit"))
    if not figs.units:
        b.para(lang.pick("本周无应办时限。", "No clock fell due this week."))
        return
    b.para(lang.pick("按时率 = 按时完成 ÷（按时完成 + 超时完成 + 超时未办）；到达即超时的时限延误发生在监测环节，"
                     "单列统计，不计入按时率。",
                     "On-time rate = on time ÷ (on time + met late + breached). Clocks late on arrival were already "
                     "past due when the item reached the duty room; they are counted apart and left out of the rate."))
    rows = [[lang.unit(u.unit), str(u.incidents), *_outcome_cells(u, lang), str(u.slips),
             lang.t("yes") if u.flagged else ""] for u in figs.units]
    t = figs.total
    rows.append([lang.t("total"), str(sum(u.incidents for u in figs.units)), *_outcome_cells(t, lang),
                 str(figs.slips), str(sum(u.flagged for u in figs.units)) or ""])
    b.table([lang.pick("单位", "Unit"), lang.pick("新增舆情", "New"), *_outcome_columns(lang),
             lang.pick("提醒单", "Slips"), lang.pick("通报", "Named")], rows,
            numeric=set(range(1, 10)), widths=[3.2, 0.9, 0.9, 0.9, 1.2, 0.9, 0.9, 1.0, 0.9, 0.8], total_row=True)
    rated = [u for u in figs.units if u.on_time_pct is not None]
    if rated:
        title = lang.pick("各单位时限按时率", "On-time rate by unit")
        png = charts.on_time_by_unit([lang.unit(u.unit) for u in rated], [u.on_time_pct or 0.0 for u in rated],
                                     title, lang.pick("按时率（%）", "on-time rate (%)"))
        alt = "; ".join(f"{lang.unit(u.unit)}: {lang.pct(u.on_time_pct)}" for u in rated)
        b.chart(Chart(png=png, caption=lang.pick("图2  ", "Figure 2. ") + title, alt=alt))


def clocks(figs: f.Supervision, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("各类时限落实情况", "Clocks by kind"))
    if not figs.clocks:
        b.para(lang.pick("本周无应办时限。", "No clock fell due this week."))
        return
    rows = [[lang.clock(c.clock), *_outcome_cells(c, lang)] for c in figs.clocks]
    rows.append([lang.t("total"), *_outcome_cells(figs.total, lang)])
    b.table([lang.pick("时限", "Clock"), *_outcome_columns(lang)], rows, numeric=set(range(1, 7)),
            widths=[2.4, 1.0, 1.0, 1.1, 1.0, 1.0, 1.1], total_row=True)


def slips(figs: f.Supervision, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("提醒单下发情况", "Reminder slips"))
    if not figs.tasks:
        b.para(lang.pick("本周未下发提醒单。", "No reminder slip was sent this week."))
        return
    b.para(lang.pick(f"本周对未按时落实的任务下发提醒单{figs.slips}张，涉及任务{len(figs.tasks)}项。",
                     f"{figs.slips} reminder slips were sent about {len(figs.tasks)} tasks left undone."))
    b.table([lang.pick("单位", "Unit"), lang.pick("舆情", "Incident"), lang.pick("时限", "Clock"),
             lang.pick("本周提醒", "This week"), lang.pick("累计提醒", "In all"), lang.pick("最近一次", "Last"),
             lang.pick("通报", "Named")],
            [[lang.unit(t.unit), t.title, lang.clock(t.clock), str(t.slips), str(t.count), lang.time(t.last_at),
              lang.t("yes") if t.flagged else ""] for t in figs.tasks],
            numeric={3, 4}, widths=[2.4, 3.0, 1.6, 1.0, 1.0, 2.0, 0.8])


def named(figs: f.Supervision, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("经三次提醒仍未落实整改的单位", "Units named after three reminder slips"))
    if not figs.flagged:
        b.para(lang.pick("本周无经三次提醒仍未落实整改的单位。",
                         "No unit was left with a task undone after three reminder slips this week."))
        return
    items = [lang.pick(f"{lang.unit(u.unit)}（“{u.title}”{lang.clock(u.clock)}，提醒{u.count}次）",
                       f"{lang.unit(u.unit)} ({lang.clock(u.clock)} of “{u.title}”, {u.count} slips)")
             for u in figs.flagged]
    b.para(lang.pick("依据网络舆情提醒单制度（经三次提醒仍未落实整改的单位予以通报批评），对以下单位予以通报：" +
                     "；".join(items) + "。",
                     "Under the reminder-slip rules (a unit that leaves a task undone after three reminders is named "
                     "in the circular), the following units are named: " + "; ".join(items) + "."))
    b.table([lang.pick("单位", "Unit"), lang.pick("舆情", "Incident"), lang.pick("时限", "Clock"),
             lang.pick("提醒次数", "Slips"), lang.pick("通报时间", "Named at")],
            [[lang.unit(u.unit), u.title, lang.clock(u.clock), str(u.count), lang.time(u.at)] for u in figs.flagged],
            numeric={3}, widths=[2.4, 3.4, 1.8, 1.0, 2.2])
