"""总结评估 — an incident's review after closing (seeds 000 六, 003 三(五)): the facts, each clock
met or breached and by how much, the timeline, who acted when, notices and acknowledgements.
"""

from __future__ import annotations

import re
from typing import Any

from watchboard.reports import figures as f
from watchboard.reports.document import Builder
from watchboard.reports.period import Period
from watchboard.reports.text import Lang


def title(facts: f.Facts, lang: Lang) -> str:
    return lang.pick(f"关于“{facts.title}”网络舆情处置情况的总结评估",
                     f"Review of the handling of the incident “{facts.title}”")


def addressee(lang: Lang) -> str:
    return lang.pick("领导小组：", "To the leadership group:")


def lead(figs: dict[str, Any], period: Period, lang: Lang) -> str:
    facts: f.Facts = figs["facts"].facts
    reported = lang.said(facts.reported_at) if facts.reported_at else lang.pick("（接报记录已不在事件流中）",
                                                                                 "(report no longer in the stream)")
    if facts.closed_at is not None:
        state = lang.pick(f"于{lang.said(facts.closed_at)}结案，历时{lang.span(facts.duration_minutes)}",
                          f"closed on {lang.said(facts.closed_at)} after {lang.span(facts.duration_minutes)}")
    else:
        state = lang.pick(f"目前处于“{lang.stage(facts.stage)}”阶段，已历时{lang.span(facts.duration_minutes)}",
                          f"still open, at stage “{lang.stage(facts.stage)}”, after "
                          f"{lang.span(facts.duration_minutes)}")
    return lang.pick(f"“{facts.title}”网络舆情（编号{facts.id}）于{reported}接报，{state}。现将处置情况总结评估如下。",
                     f"The incident “{facts.title}” (id {facts.id}) was reported on {reported} and {state}. "
                     "This review sets out how it was handled.")


def facts(figs: FactsFigures, b: Builder, period: Period) -> None:
    lang, x = b.lang, figs.facts
    b.heading(lang.pick("基本情况", "Facts"))
    reasons = x.grade_reasons if lang.zh else (x.grade_reasons_en or x.grade_reasons)
    rows = [
        [lang.pick("编号", "Id"), x.id],
        [lang.pick("标题", "Title"), x.title],
        [lang.pick("接报时间", "Reported"), lang.time(x.reported_at)],
        [lang.pick("报送人", "Reported by"), lang.person(x.reported_by) if x.reported_by else lang.t("dash")],
        [lang.pick("地区", "Region"), x.region or lang.t("dash")],
        [lang.pick("领域", "Topic"), lang.t(f"topic.{x.topic}") if x.topic else lang.t("dash")],
        [lang.pick("级别", "Grade"), lang.grade(x.grade)],
        [lang.pick("定级依据", "Grounds"), "；".join(reasons) if lang.zh else "; ".join(reasons)],
        [lang.pick("倾向", "Sentiment"), lang.t(f"sentiment.{x.sentiment}") if x.sentiment else lang.t("dash")],
        [lang.pick("责任单位", "Owner"), lang.unit(x.owner)],
        [lang.pick("协办单位", "Assisting"), lang.join([lang.unit(u) for u in x.assisting]) or lang.t("none")],
        [lang.pick("来源平台", "Platforms"), lang.join([lang.t(f"platform.{p}") for p in x.platforms])],
        [lang.pick("信息条数", "Mentions"), str(x.mentions)],
        [lang.pick("标记", "Flags"), lang.join([lang.t(f"flag.{k}") for k in x.flags]) or lang.t("none")],
        [lang.pick("阶段", "Stage"), lang.stage(x.stage)],
        [lang.pick("结案时间", "Closed"), lang.time(x.closed_at)],
        [lang.pick("结案说明", "Closing summary"), x.close_summary or lang.t("dash")],
    ]
    b.table([lang.pick("项目", "Item"), lang.pick("内容", "Detail")], rows, widths=[1.0, 4.0])
    if len(figs.grades) > 1:
        b.subheading(lang.pick("级别变化", "Grade changes"))
        b.table([lang.pick("时间", "Time"), lang.pick("级别", "Grade"), lang.pick("原级别", "Before"),
                 lang.pick("来源", "By")],
                [[lang.time(g.at), lang.grade(g.value), lang.grade(g.previous) if g.previous else lang.t("dash"),
                  _by(g, lang)] for g in figs.grades], widths=[1.6, 1.6, 1.6, 2.0])
    if len(figs.owners) > 1:
        b.subheading(lang.pick("责任单位变化", "Owner changes"))
        b.table([lang.pick("时间", "Time"), lang.pick("责任单位", "Owner"), lang.pick("原责任单位", "Before"),
                 lang.pick("来源", "By")],
                [[lang.time(o.at), lang.unit(o.value), lang.unit(o.previous) if o.previous else lang.t("dash"),
                  _by(o, lang)] for o in figs.owners], widths=[1.6, 2.2, 2.2, 1.6])


def _by(change: f.ChangeRow, lang: Lang) -> str:
    """'规则' for the rules, '人工（王值班）' for a person."""
    source = lang.t(f"source.{change.source}")
    if change.source == "rules":
        return source
    return lang.pick(f"{source}（{lang.person(change.actor)}）", f"{source} ({lang.person(change.actor)})")


class FactsFigures(f.Struct):
    facts: f.Facts
    grades: list[f.ChangeRow]
    owners: list[f.ChangeRow]
    stages: list[f.ChangeRow]


def _difference(c: f.ClockOutcome, lang: Lang) -> str:
    if c.minutes is None:
        return lang.t("dash")
    if c.outcome == "on_time":
        return lang.pick(f"提前{lang.span(c.minutes)}", f"{lang.span(c.minutes)} ahead")
    if c.outcome == "breached":
        return lang.pick(f"已超时{lang.span(c.minutes)}", f"{lang.span(c.minutes)} overdue")
    return lang.pick(f"超时{lang.span(c.minutes)}", f"{lang.span(c.minutes)} late")


def clocks(figs: list[f.ClockOutcome], b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("时限落实情况", "Clocks"))
    if not figs:
        b.para(lang.pick("该舆情未计时限。", "The incident ran no clock."))
        return
    counts: dict[str, int] = {}
    for c in figs:
        counts[c.outcome] = counts.get(c.outcome, 0) + 1
    parts = [f"{lang.t(f'outcome.{k}')}{n}项" if lang.zh else f"{n} {lang.t(f'outcome.{k}')}"
             for k, n in counts.items()]
    b.para(lang.pick(f"共计时限{len(figs)}项：{lang.join(parts)}。", f"{len(figs)} clocks: {lang.join(parts)}."))
    b.table([lang.pick("时限", "Clock"), lang.pick("起算时间", "Counted from"), lang.pick("到期时间", "Due"),
             lang.pick("结果", "Outcome"), lang.pick("完成时间", "Done"), lang.pick("相差", "Difference"),
             lang.pick("办理人", "By")],
            [[lang.clock(c.clock) + (lang.pick(f"（自{lang.t('from.' + c.counted_from)}）",
                                                f" (from {lang.t('from.' + c.counted_from)})") if c.counted_from else ""),
              lang.time(c.start_at or c.started_at),
              lang.time(c.due_at), lang.t(f"outcome.{c.outcome}"),
              lang.time(c.at) if c.outcome in ("on_time", "met_late", "cancelled") else lang.t("dash"),
              _difference(c, lang), lang.person(c.met_by) if c.met_by else lang.t("dash")] for c in figs],
            widths=[2.2, 1.6, 1.6, 1.4, 1.6, 1.6, 1.2])


_CANCEL_GRADE = re.compile(r"^grade (\S+) → (\S+): ")


def _cancel_reason(reason: str, lang: Lang) -> str:
    """deadlines writes its cancel reasons in English; the Chinese report says them in Chinese."""
    if lang.zh and reason == "incident closed":
        return "结案"
    if lang.zh and (m := _CANCEL_GRADE.match(reason)):
        return f"级别{m[1]}→{m[2]}，新级别无此时限"
    return reason


def describe(row: f.TimelineRow, lang: Lang) -> str:
    """One line of the timeline in the report's language; a type of a newer version shows its name."""
    d, z = row.detail, lang.zh
    kind = row.type
    if kind == "incident.reported":
        m = d.get("mention", {})
        return lang.pick(f"接报（{lang.t('platform.' + m.get('platform', 'other'))}）：{d.get('title', '')}",
                         f"reported on {lang.t('platform.' + m.get('platform', 'other'))}: {d.get('title', '')}")
    if kind == "mention.added":
        m = d.get("mention", {})
        p = lang.t("platform." + m.get("platform", "other"))
        return lang.pick(f"新增来源（{p}，转发{m.get('reposts', 0)}，评论{m.get('comments', 0)}）",
                         f"new mention on {p} ({m.get('reposts', 0)} reposts, {m.get('comments', 0)} comments)")
    if kind == "incident.staged":
        note = d.get("note") or ""
        return (f"阶段：{lang.stage(d.get('previous', ''))} → {lang.stage(d.get('stage', ''))}" + (f"；{note}" if note else "")
                if z else f"stage {lang.stage(d.get('previous', ''))} → {lang.stage(d.get('stage', ''))}"
                + (f": {note}" if note else ""))
    if kind == "incident.noted":
        return lang.pick(f"备注：{d.get('text', '')}", f"note: {d.get('text', '')}")
    if kind == "incident.closed":
        return lang.pick(f"结案：{d.get('summary', '')}", f"closed: {d.get('summary', '')}")
    if kind == "incident.graded":
        grade, prev = lang.grade(d.get("grade")), d.get("previous")
        how = lang.t(f"source.{d.get('source', 'rules')}")
        if prev:
            return lang.pick(f"级别 {lang.grade(prev)} → {grade}（{how}）", f"grade {lang.grade(prev)} → {grade} ({how})")
        return lang.pick(f"定级为 {grade}（{how}）", f"graded {grade} ({how})")
    if kind == "incident.assigned":
        return lang.pick(f"责任单位：{lang.unit(d.get('owner'))}（{lang.t('source.' + d.get('source', 'rules'))}）",
                         f"owner: {lang.unit(d.get('owner'))} ({lang.t('source.' + d.get('source', 'rules'))})")
    if kind in ("incident.flagged", "incident.unflagged"):
        flag = lang.t(f"flag.{d.get('kind', '')}")
        verb = lang.pick("标记为" if kind == "incident.flagged" else "撤销标记：",
                         "flagged as " if kind == "incident.flagged" else "flag removed: ")
        return f"{verb}{flag}{'：' if z else ': '}{d.get('reason', '')}"
    clock = lang.clock(d.get("clock", "")) if "clock" in d else ""
    due = lang.said(_dt(d.get("due_at")))
    if kind == "clock.started":
        return lang.pick(f"{clock}开始计时，{due}到期", f"{clock} started, due {due}")
    if kind == "clock.warning":
        return lang.pick(f"{clock}时限预警（{d.get('point', '')}），{due}到期",
                         f"{clock} warning ({d.get('point', '')}), due {due}")
    if kind == "clock.breached":
        arrival = lang.pick("，到达即超时", ", late on arrival") if d.get("on_arrival") else ""
        return lang.pick(f"{clock}超时（{due}到期）{arrival}", f"{clock} breached (due {due}){arrival}")
    if kind == "clock.met":
        late = lang.pick("（超时完成）", " (late)") if d.get("late") else ""
        note = d.get("note") or ""
        return lang.pick(f"{clock}完成{late}" + (f"：{note}" if note else ""),
                         f"{clock} met{late}" + (f": {note}" if note else ""))
    if kind == "clock.extended":
        return lang.pick(f"{clock}延期至{due}：{d.get('reason', '')}", f"{clock} extended to {due}: {d.get('reason', '')}")
    if kind == "clock.cancelled":
        reason = _cancel_reason(d.get("reason") or "", lang)
        return lang.pick(f"{clock}取消计时" + (f"（{reason}）" if reason else ""),
                         f"{clock} cancelled" + (f" ({reason})" if reason else ""))
    if kind == "unit.reminded":
        return lang.pick(f"向{lang.unit(d.get('unit'))}下发提醒单（{clock}，第{d.get('count')}次）",
                         f"reminder slip {d.get('count')} to {lang.unit(d.get('unit'))} ({clock})")
    if kind == "unit.flagged":
        return lang.pick(f"{lang.unit(d.get('unit'))}经{d.get('count')}次提醒仍未整改，列入通报（{clock}）",
                         f"{lang.unit(d.get('unit'))} named after {d.get('count')} reminder slips ({clock})")
    if kind in ("notice.sent", "notice.failed"):
        to, channel = lang.person(d.get("to")), lang.t(f"channel.{d.get('channel', '')}")
        cause = lang.t(f"event.{d.get('cause', '')}")
        if kind == "notice.failed":
            return lang.pick(f"通知{to}失败（{channel}）：{d.get('reason', '')}",
                             f"notice to {to} failed ({channel}): {d.get('reason', '')}")
        return lang.pick(f"通知{to}（{channel}，事由：{cause}）", f"notice to {to} ({channel}, about: {cause})")
    if kind == "notice.escalated":
        people = lang.join([lang.person(p) for p in d.get("to", [])])
        return lang.pick(f"升级通知第{d.get('tier')}级：{people}", f"escalated to tier {d.get('tier')}: {people}")
    if kind == "incident.acknowledged":
        return lang.pick(f"{lang.person(d.get('by'))}签收（{lang.t('via.' + d.get('via', 'cli'))}）",
                         f"acknowledged by {lang.person(d.get('by'))} ({lang.t('via.' + d.get('via', 'cli'))})")
    from watchboard.reports.follow_words import describe as describe_follow

    follow = describe_follow(kind, d, lang)
    if follow is not None:
        return follow
    return lang.t(f"event.{kind}") if f"event.{kind}" in _known(lang) else kind


def _known(lang: Lang) -> set[str]:
    from watchboard.reports.text import LABELS

    return set(LABELS[lang.code])


def _dt(value: Any) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else None


def timeline(figs: list[f.TimelineRow], b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("处置经过", "Timeline"))
    b.table([lang.pick("时间", "Time"), lang.pick("人员", "By"), lang.pick("事项", "What happened")],
            [[lang.time(row.at), _actor(row.actor, lang), describe(row, lang)] for row in figs],
            widths=[1.5, 1.4, 5.2])


SERVICES = {"intake": ("接报服务", "intake"), "grading": ("定级服务", "grading"),
            "deadlines": ("时限服务", "deadlines"), "notify": ("通知服务", "notify")}


def _actor(actor: str, lang: Lang) -> str:
    if actor in SERVICES:
        zh, en = SERVICES[actor]
        return lang.pick(zh, f"system: {en}")
    return lang.person(actor)


def actors(figs: list[f.ActorRow], b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("人员处置情况", "Who acted when"))
    if not figs:
        b.para(lang.pick("无人员操作记录。", "No person acted on the incident."))
        return
    b.table([lang.pick("人员", "Person"), lang.pick("次数", "Acts"), lang.pick("首次", "First"),
             lang.pick("末次", "Last"), lang.pick("事项", "What")],
            [[lang.person(a.actor), str(a.count), lang.time(a.first_at), lang.time(a.last_at),
              lang.join([lang.t(f"event.{t}") for t in a.types])] for a in figs],
            numeric={1}, widths=[1.4, 0.7, 1.5, 1.5, 3.6])


def notices(figs: f.Notices, b: Builder, period: Period) -> None:
    lang = b.lang
    b.heading(lang.pick("通知与签收", "Notices and acknowledgement"))
    if figs.acks:
        first = figs.acks[0]
        ack = lang.pick(f"{lang.person(first.by)}于{lang.said(first.at)}签收（接报后{lang.span(first.minutes_after_report)}）",
                        f"acknowledged by {lang.person(first.by)} on {lang.said(first.at)} "
                        f"({lang.span(first.minutes_after_report)} after the report)")
    else:
        ack = lang.pick("无人签收", "nobody acknowledged it")
    b.para(lang.pick(f"共发出通知{figs.sent}条，发送失败{figs.failed}条，涉及{figs.recipients}名（个）接收人；{ack}。",
                     f"{figs.sent} notices were sent and {figs.failed} failed, to {figs.recipients} recipients; {ack}."))
    b.table([lang.pick("时间", "Time"), lang.pick("接收人", "To"), lang.pick("渠道", "Channel"),
             lang.pick("事由", "About"), lang.pick("状态", "Status")],
            [[lang.time(n.at), lang.person(n.to), lang.t(f"channel.{n.channel}"), lang.t(f"event.{n.cause}"),
              lang.t(f"notice.{n.status}") + (f"（{n.reason}）" if n.reason and lang.zh else f" ({n.reason})" if n.reason
                                              else "")]
             for n in figs.items], widths=[1.5, 2.0, 1.4, 1.6, 1.6])
    for e in figs.escalations:
        people = lang.join([lang.person(p) for p in e["to"]])
        b.para(lang.pick(f"{lang.said(e['at'])}未获签收，升级通知第{e['tier']}级：{people}。",
                         f"{lang.said(e['at'])}: not acknowledged, escalated to tier {e['tier']}: {people}."))


class SlipFigures(f.Struct):
    slips: list[f.SlipRow]
    unit_flags: list[f.SlipRow]


def slips(figs: SlipFigures, b: Builder, period: Period) -> None:
    lang = b.lang
    if not figs.slips and not figs.unit_flags:
        return
    b.heading(lang.pick("提醒与通报", "Reminder slips and the circular"))
    named = lang.join([lang.unit(u.unit) for u in figs.unit_flags]) or lang.t("none")
    b.para(lang.pick(f"下发提醒单{len(figs.slips)}张；经三次提醒仍未整改、列入通报的单位：{named}。",
                     f"Reminder slips sent: {len(figs.slips)}; units named after three slips: {named}."))
    b.table([lang.pick("时间", "Time"), lang.pick("单位", "Unit"), lang.pick("时限", "Clock"),
             lang.pick("提醒次数", "Slip")],
            [[lang.time(s.at), lang.unit(s.unit), lang.clock(s.clock), str(s.count)] for s in figs.slips],
            numeric={3}, widths=[1.6, 2.6, 2.0, 1.0])
