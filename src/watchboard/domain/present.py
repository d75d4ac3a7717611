"""Pure presentation of an incident: the JSON of `watchboard show/ls --json` (DESIGN.md §4.4)
and one-line timeline texts in Chinese or English. No I/O: the CLI gathers the KV parts and
the events.

Times: JSON keeps ISO 8601, in the configured zone with its offset (`+08:00`); the texts
people read give the local time to the minute (`11-27 16:14`, with the year where it is not
this year's). Words come from the board's label table (`watchboard.board.i18n`, plain data),
so the CLI, `show` and the board name things alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from watchboard.board.i18n import Lang, named, t
from watchboard.domain import events as ev
from watchboard.domain.evidence import human_size
from watchboard.domain.views import IncidentView

CLOCK_ORDER = ("report_up", "first_response", "statement", "formal_reply", "final")
# Meeting these clocks records what was done (to whom it was reported; what the formal reply
# said): the deadlines service refuses `done` without a note, so the board and CLI ask first.
NOTE_REQUIRED = frozenset({"report_up", "formal_reply"})
SHANGHAI = ZoneInfo("Asia/Shanghai")
# An ISO 8601 time with an offset, as services write them in messages ("… past the final cap
# 2026-12-11T09:30:00+00:00"): `localize_times` rewrites them for people.
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})")
_TIME_OR_EXAMPLE = re.compile(r"`[^`\n]*`|" + ISO_TIME.pattern)


def _iso(dt: datetime | None, zone: ZoneInfo = SHANGHAI) -> str | None:
    return None if dt is None else dt.astimezone(zone).isoformat()


def local(dt: datetime | None, zone: ZoneInfo = SHANGHAI, now: datetime | None = None, *,
          year: bool = False) -> str:
    """`11-27 16:14` in `zone`; `2026-11-27 16:14` when asked or when not in `now`'s year."""
    if dt is None:
        return "-"
    at = dt.astimezone(zone)
    if year or (now is not None and now.astimezone(zone).year != at.year):
        return at.strftime("%Y-%m-%d %H:%M")
    return at.strftime("%m-%d %H:%M")


def localize_times(text: str, zone: ZoneInfo = SHANGHAI) -> str:
    """Every ISO 8601 time with an offset in `text` → `2026-12-31 17:30` in `zone`; a time in
    backticks is an example of what to type (`2026-11-22T08:30:00+08:00`) and stays as written."""
    def one(m: re.Match[str]) -> str:
        if m.group(0).startswith("`"):
            return m.group(0)
        try:
            at = datetime.fromisoformat(m.group(0).replace("Z", "+00:00"))
        except ValueError:
            return m.group(0)
        return local(at, zone, year=True)

    return _TIME_OR_EXAMPLE.sub(one, text)


def clock_sort_key(name: str) -> tuple[int, str]:
    # Profile-specific clocks (e.g. simple_answer) sit before `final`, after the known ones.
    if name in CLOCK_ORDER:
        index = CLOCK_ORDER.index(name)
        return (index if name != "final" else 99, name)
    return (50, name)


def reasons_in(grade: Any, lang: Lang) -> list[str]:
    """A grade's reasons in `lang`: the English twin on the English side when grading wrote one."""
    if grade is None:
        return []
    english = list(getattr(grade, "reasons_en", None) or [])
    return english if lang == "en" and english else list(grade.reasons)


def summary_json(view: IncidentView, zone: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    """The object of `ls --json`: everything of §4.4 but mentions, notices and timeline."""
    core, grade, clocks, notices = view.core, view.grade, view.clocks, view.notices
    return {
        "id": view.id,
        "title": core.title if core else "",
        "grade": grade.grade if grade else None,
        "grade_reasons": list(grade.reasons) if grade else [],
        "grade_reasons_en": reasons_in(grade, "en"),
        "grade_source": grade.source if grade else None,
        "flags": list(grade.flags) if grade else [],
        "sentiment": grade.sentiment if grade else None,
        "owner": grade.owner if grade else None,
        "owner_name": (grade.owner_name or None) if grade else None,
        "stage": core.stage if core else "reported",
        "acknowledged_by": notices.acknowledged_by if notices else None,
        "acknowledged_at": _iso(notices.acknowledged_at, zone) if notices else None,
        "clocks": [clock_json(c, zone) for c in sorted(clocks.clocks, key=lambda c: clock_sort_key(c.name))]
        if clocks else [],
        "reminders": clocks.reminders if clocks else 0,
        "flagged": clocks.flagged if clocks else False,
        "slips": [{"unit": s.unit, "clock": s.clock, "count": s.count, "flagged": s.flagged,
                   "last_at": _iso(s.last_at, zone)} for s in clocks.slips] if clocks else [],
        "reported_at": _iso(core.reported_at, zone) if core else None,
        "posted_at": _iso(core.posted_at, zone) if core else None,
        "observed_at": _iso(core.observed_at, zone) if core else None,
        # Follow-through at a glance: the latest statement version's state (None: no draft),
        # tasks not yet fed back, the latest supervision.
        "statement_state": core.statements[-1].state if core and core.statements else None,
        "tasks_open": sum(1 for t in core.tasks if t.status == "open") if core else 0,
        "supervised_at": _iso(_last_supervision(view), zone),
    }


def _last_supervision(view: IncidentView) -> datetime | None:
    times = [n.at for n in view.core.supervisions] if view.core else []
    if view.clocks is not None and view.clocks.supervised_at is not None:
        times.append(view.clocks.supervised_at)
    return max(times) if times else None


def clock_json(c: Any, zone: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    """One clock; the optional facts only where they are true (as `provisional` always was)."""
    out: dict[str, Any] = {"name": c.name, "due_at": _iso(c.due_at, zone), "basis": c.basis, "status": c.status}
    if c.provisional:
        out["provisional"] = True
    if c.start_at is not None:
        out["start_at"] = _iso(c.start_at, zone)
    if c.counted_from:
        out["counted_from"] = c.counted_from
    if c.extendable:
        out["extendable"] = True
    if c.on_arrival:
        out["on_arrival"] = True
    if c.met_at is not None:
        out["met_at"] = _iso(c.met_at, zone)
        out["met_by"] = c.met_by
    return out


def show_json(view: IncidentView, history: Iterable[ev.Event] = (), zone: ZoneInfo = SHANGHAI,
              lang: Lang = "en", units: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The object of `show --json`: the summary, mentions, notices and the timeline (texts in `lang`)."""
    out = summary_json(view, zone)
    core, notices = view.core, view.notices
    out["mentions"] = [
        {"platform": m.platform, "url": m.url, "posted_at": _iso(m.posted_at, zone),
         "observed_at": _iso(m.observed_at, zone), "media_level": m.media_level,
         "metrics": {"reposts": m.metrics.reposts, "comments": m.metrics.comments,
                     "likes": m.metrics.likes, "views": m.metrics.views}}
        for m in (core.mentions if core else [])
    ]
    out["notices"] = [
        {"to": n.to, "channel": n.channel, "status": n.status, "cause": n.cause, "at": _iso(n.at, zone),
         **({"reason": n.reason} if n.reason else {})}
        for n in (notices.notices if notices else [])
    ]
    out["timeline"] = [
        {"at": _iso(e.at, zone), "type": ev.event_type(e), "actor": e.actor,
         "text": describe(e, lang, zone, units)}
        for e in sorted(history, key=lambda e: e.at)
    ]
    out |= follow_through_json(view, zone)
    return out


def follow_through_json(view: IncidentView, zone: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    """`show --json`'s statements (each version, its state and history), evidence files,
    tasks (the record's, with deadlines' clock of each), meetings and supervision records."""
    core = view.core
    if core is None:
        return {"statements": [], "evidence": [], "tasks": [], "meetings": [], "supervisions": []}
    clocks = {c.name: c for c in view.clocks.tasks} if view.clocks else {}
    slips = list(view.clocks.slips) if view.clocks else []
    return {
        "statements": [
            {"version": s.version, "state": s.state, "sha256": s.sha256, "text": s.text,
             "drafted_by": s.drafted_by, "drafted_at": _iso(s.drafted_at, zone),
             "approved_by": s.approved_by, "approved_at": _iso(s.approved_at, zone),
             **({"rejected_reason": s.rejected_reason} if s.rejected_reason else {}),
             **({"url": s.url, "channel": s.channel, "published_at": _iso(s.published_at, zone)} if s.url else {}),
             "history": [{"at": _iso(h.at, zone), "actor": h.actor, "action": h.action, "sha256": h.sha256,
                          **({"detail": h.detail} if h.detail else {}), **({"url": h.url} if h.url else {})}
                         for h in s.history]}
            for s in core.statements],
        "evidence": [
            {"name": f.name, "sha256": f.sha256, "size": f.size, "media_type": f.media_type,
             "bucket": f.bucket, "object": f.object, "added_by": f.added_by, "added_at": _iso(f.added_at, zone)}
            for f in core.evidence_files],
        "evidence_texts": list(core.evidence),
        "tasks": [task_json(t, clocks.get(f"task:{t.id}"), [s for s in slips if s.clock == f"task:{t.id}"], zone)
                  for t in core.tasks],
        "meetings": [
            {"id": m.id, "kind": m.kind, "incidents": list(m.incidents), "attendees": list(m.attendees),
             "held_at": _iso(m.held_at, zone), "recorded_by": m.recorded_by, "tasks": list(m.tasks),
             "minutes": m.minutes}
            for m in core.meetings],
        "supervisions": [{"at": _iso(n.at, zone), "actor": n.actor, "note": n.text} for n in core.supervisions],
    }


def task_json(task: Any, clock: Any, slips: Iterable[Any] = (), zone: ZoneInfo = SHANGHAI,
              incident_id: str | None = None) -> dict[str, Any]:
    """One task with its clock: `status` is the record's (open | fed_back), `clock` deadlines'
    (running | met | breached | cancelled; `late` when fed back after its due time)."""
    out: dict[str, Any] = {"id": task.id, **({"incident_id": incident_id} if incident_id else {}),
                           "unit": task.unit, "text": task.text, "due": task.due,
                           "due_at": _iso(clock.due_at if clock is not None else task.due_at, zone),
                           "basis": task.basis, "source": task.source, "meeting_id": task.meeting_id or None,
                           "added_by": task.added_by, "added_at": _iso(task.added_at, zone), "status": task.status,
                           "clock": clock.status if clock is not None else None}
    if clock is not None and clock.met_at is not None and clock.met_at > clock.due_at:
        out["late"] = True
    if task.status == "fed_back":
        out |= {"feedback": task.feedback, "fed_back_by": task.fed_back_by, "fed_back_at": _iso(task.fed_back_at, zone)}
    slips = list(slips)
    if slips:
        out["slips"] = sum(s.count for s in slips)
        out["flagged"] = any(s.flagged for s in slips)
    return out


def _clock(name: str, lang: Lang) -> str:
    return _task_clock(name, lang) or named("clock", name, lang)


def _unit(unit_id: str | None, units: Mapping[str, str] | None) -> str:
    return (units or {}).get(unit_id or "", unit_id or "")


def describe(e: ev.Event, lang: Lang = "en", zone: ZoneInfo = SHANGHAI,
             units: Mapping[str, str] | None = None) -> str:
    """One line a person reads in the timeline, in `lang`, times in `zone`."""
    zh = lang == "zh"
    at = lambda dt: local(dt, zone, e.at)  # noqa: E731 - the year only where it differs from the event's
    match e:
        case ev.IncidentReported():
            m = e.mention
            where = f"（{m.region}）" if zh and m.region else (f" ({m.region})" if m.region else "")
            platform = named("platform", m.platform, lang)
            return f"接报：{platform}{where}" if zh else f"reported on {platform}{where}"
        case ev.MentionAdded():
            m = e.mention
            platform = named("platform", m.platform, lang)
            how = named("merged", e.merged_by, lang)
            if zh:
                return (f"新增来源：{platform}（按{how}合并）；转发 {m.metrics.reposts}，"
                        f"评论 {m.metrics.comments}")
            return (f"new mention on {platform} (merged by {how}); reposts {m.metrics.reposts}, "
                    f"comments {m.metrics.comments}")
        case ev.StageChanged():
            prev, stage = named("stage", e.previous, lang), named("stage", e.stage, lang)
            note = (f"：{e.note}" if zh else f": {e.note}") if e.note else ""
            return (f"阶段 {prev} → {stage}" if zh else f"stage {prev} → {stage}") + note
        case ev.NoteAdded():
            return e.text
        case ev.IncidentClosed():
            if zh:
                return "结案" + (f"：{e.summary}" if e.summary else "")
            return "closed" + (f": {e.summary}" if e.summary else "")
        case ev.IncidentGraded():
            label = f"{e.grade} {t(f'grade.{e.grade}', lang)}"
            source = named("source", e.source, lang)
            reasons = "; ".join(reasons_in(e, lang))
            if zh:
                head = f"定级 {label}" if e.previous is None else f"级别 {e.previous} → {label}"
                return f"{head}（{source}）：{reasons}"
            head = f"graded {label}" if e.previous is None else f"grade {e.previous} → {label}"
            return f"{head} ({source}): {reasons}"
        case ev.IncidentAssigned():
            owner, prev = _unit(e.owner, units), _unit(e.previous, units)
            if zh:
                return f"责任单位 {owner}" + (f"（原 {prev}）" if e.previous else "") + f"：{e.reason}"
            return f"owner {owner}" + (f" (was {prev})" if e.previous else "") + f": {e.reason_en or e.reason}"
        case ev.ClockStarted():
            clock, basis = _clock(e.clock, lang), named("basis", e.basis, lang)
            if zh:
                text = f"时限 {clock} 截止 {at(e.due_at)}（{basis}）"
                if e.previous_due_at is not None:
                    text += f"，由 {at(e.previous_due_at)} 提前"
                return text + ("，暂定" if e.provisional else "")
            text = f"clock {clock} due {at(e.due_at)} ({basis})"
            if e.previous_due_at is not None:
                text += f", tightened from {at(e.previous_due_at)}"
            return text + (", provisional" if e.provisional else "")
        case ev.ClockWarning():
            clock = _clock(e.clock, lang)
            if zh:
                return f"时限 {clock} 预警（{e.point}），截止 {at(e.due_at)}"
            return f"clock {clock} warning at {e.point}, due {at(e.due_at)}"
        case ev.ClockBreached():
            clock = _clock(e.clock, lang)
            if zh:
                text = f"时限 {clock} 已超时（截止 {at(e.due_at)}）"
                if getattr(e, "on_arrival", False):
                    text += "，到达时已超时"
                return text + ("，服务恢复后补记" if e.late else "")
            text = f"clock {clock} breached (due {at(e.due_at)})"
            if getattr(e, "on_arrival", False):
                text += ", late on arrival"
            return text + (" — recorded late" if e.late else "")
        case ev.ClockMet():
            clock = _clock(e.clock, lang)
            note = (f"：{e.note}" if zh else f": {e.note}") if e.note else ""
            late = ("（逾期完成）" if zh else " (late)") if getattr(e, "late", False) else ""
            return (f"时限 {clock} 已完成{late}" if zh else f"clock {clock} met{late}") + note
        case ev.ClockExtended():
            clock = _clock(e.clock, lang)
            if zh:
                return f"时限 {clock} 延期至 {at(e.due_at)}：{e.reason}"
            return f"clock {clock} extended to {at(e.due_at)}: {e.reason}"
        case ev.ClockCancelled():
            clock = _clock(e.clock, lang)
            if zh:
                return f"时限 {clock} 取消" + (f"：{e.reason}" if e.reason else "")
            return f"clock {clock} cancelled" + (f": {e.reason}" if e.reason else "")
        case ev.UnitReminded():
            unit, clock = _unit(e.unit, units), _clock(e.clock, lang)
            if zh:
                return f"向 {unit} 发第 {e.count} 张提醒单（{clock}）"
            return f"reminder slip {e.count} to {unit} ({clock})"
        case ev.UnitFlagged():
            unit = _unit(e.unit, units)
            if zh:
                return f"{unit} 累计 {e.count} 张提醒单，列入通报"
            return f"{unit} flagged for the circular after {e.count} reminders"
        case ev.IncidentFlagged():
            kind = named("flag", e.kind, lang)
            return f"标记为{kind}：{e.reason}" if zh else f"flagged {kind}: {e.reason}"
        case ev.IncidentUnflagged():
            kind = named("flag", e.kind, lang)
            return f"取消{kind}标记：{e.reason}" if zh else f"{kind} flag removed: {e.reason}"
        case ev.NoticeSent():
            channel, cause = channel_label(e.channel, lang), named("cause", e.cause, lang, other="other")
            return f"通知 {e.to}（{channel}，{cause}）" if zh else f"notice to {e.to} by {channel} ({cause})"
        case ev.NoticeFailed():
            channel = channel_label(e.channel, lang)
            return (f"通知 {e.to}（{channel}）失败：{e.reason}" if zh
                    else f"notice to {e.to} by {channel} failed: {e.reason}")
        case ev.NoticeEscalated():
            return (f"升级通知到第 {e.tier} 级：{'、'.join(e.to)}" if zh
                    else f"escalated to tier {e.tier}: {', '.join(e.to)}")
        case ev.IncidentAcknowledged():
            via = named("via", e.via, lang)
            return f"{e.by} 签收（{via}）" if zh else f"acknowledged by {e.by} ({via})"
        case ev.SweepRecorded():
            if zh:
                return "记录巡查" + (f"：{e.note}" if e.note else "")
            return "monitoring sweep recorded" + (f": {e.note}" if e.note else "")
        case ev.SweepMissed():
            return f"漏巡（{e.window}）" if zh else f"monitoring sweep missed ({e.window})"
    follow = describe_follow_through(e, lang, zone, units)
    return follow if follow is not None else ev.event_type(e)


MEETING_KINDS_EN = {"会商": "consultation", "联席会议": "joint meeting", "会办": "joint handling meeting"}
STATEMENT_STATES = {"drafted": ("待审核", "awaiting approval"), "approved": ("已审核", "approved"),
                    "rejected": ("已退回", "rejected"), "published": ("已发布", "published")}


def statement_state(state: str | None, lang: Lang) -> str:
    if state is None:
        return "无通稿" if lang == "zh" else "no statement"
    zh, en = STATEMENT_STATES.get(state, (state, state))
    return zh if lang == "zh" else en


def meeting_kind(kind: str, lang: Lang) -> str:
    return kind if lang == "zh" else MEETING_KINDS_EN.get(kind, kind)


def _task_clock(name: str, lang: Lang) -> str | None:
    if not name.startswith("task:"):
        return None
    return f"任务 {name[5:]}" if lang == "zh" else f"task {name[5:]}"


def describe_follow_through(e: ev.Event, lang: Lang = "en", zone: ZoneInfo = SHANGHAI,
                            units: Mapping[str, str] | None = None) -> str | None:
    """Timeline texts of statements, evidence, tasks, meetings and supervision; None for others."""
    zh = lang == "zh"
    at = lambda dt: local(dt, zone, e.at)  # noqa: E731
    match e:
        case ev.StatementDrafted():
            return (f"通稿第 {e.version} 稿待审核（摘要 {e.sha256[:12]}）" if zh
                    else f"statement version {e.version} drafted for approval (digest {e.sha256[:12]})")
        case ev.StatementApproved():
            note = (f"：{e.note}" if zh else f": {e.note}") if e.note else ""
            return (f"通稿第 {e.version} 稿经 {e.actor} 审核同意{note}" if zh
                    else f"statement version {e.version} approved by {e.actor}{note}")
        case ev.StatementRejected():
            return (f"通稿第 {e.version} 稿被 {e.actor} 退回：{e.reason}" if zh
                    else f"statement version {e.version} sent back by {e.actor}: {e.reason}")
        case ev.StatementPublished():
            return (f"通稿第 {e.version} 稿已发布（{e.channel}）：{e.url}" if zh
                    else f"statement version {e.version} published on {e.channel}: {e.url}")
        case ev.EvidenceAdded():
            return (f"固定证据 {e.name}（{human_size(e.size)}，SHA-256 {e.sha256[:12]}）" if zh
                    else f"evidence kept: {e.name} ({human_size(e.size)}, SHA-256 {e.sha256[:12]})")
        case ev.TaskAdded():
            unit = _unit(e.unit, units)
            source = (f"（{e.source}）" if zh else f" ({e.source})") if e.source else ""
            return (f"交办 {unit}{source}：{e.text}，{at(e.due_at)} 前反馈（任务 {e.task_id}）" if zh
                    else f"task {e.task_id} handed to {unit}{source}: {e.text}; feedback due {at(e.due_at)}")
        case ev.TaskFedBack():
            unit = _unit(e.unit, units)
            return (f"{unit} 反馈任务 {e.task_id}：{e.text}" if zh
                    else f"{unit} fed back on task {e.task_id}: {e.text}")
        case ev.MeetingHeld():
            kind = meeting_kind(e.kind, lang)
            who = ("、" if zh else ", ").join(e.attendees)
            tasks = (f"，交办 {len(e.tasks)} 项" if zh else f", {len(e.tasks)} tasks handed out") if e.tasks else ""
            return (f"召开{kind}（{at(e.held_at or e.at)}）：{who}{tasks}" if zh
                    else f"{kind} held {at(e.held_at or e.at)}: {who}{tasks}")
        case ev.IncidentSupervised():
            return f"督办：{e.note}" if zh else f"supervised: {e.note}"
    return None


def channel_label(channel: str, lang: Lang) -> str:
    """`email` → 邮件; `webhook:duty-robot` → 网络推送:duty-robot (the contact's name is an id)."""
    kind, sep, name = channel.partition(":")
    return named("channel", kind, lang) + (f":{name}" if sep else "")
