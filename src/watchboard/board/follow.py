"""The detail's follow-through sections (issue 14): statements and their history, evidence
files, tasks with their clocks, meetings and supervision — each a pure function of part of an
incident and a `Reading`, like the sections of format.py, table-tested in
`tests/board/test_follow.py`. Also what the desk's list shows of them (`statement_mark`,
`task_counts`).

Every string from outside (texts, names, notes, URLs) is cleaned and bounded; nothing is
parsed as markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text

from watchboard.board.format import (
    Reading,
    clock_countdown,
    clock_state,
    heading,
    local_time,
    unit_label,
)
from watchboard.board.i18n import Lang, named, t
from watchboard.board.styles import DIM
from watchboard.domain.sanitize import clean, clean_line
from watchboard.domain.views import (
    ClocksView,
    ClockView,
    CoreView,
    EvidenceFileView,
    MeetingView,
    SlipView,
    StatementView,
    TaskView,
)

DIGEST_SHOWN = 12  # hex characters of a SHA-256 a person compares (as the CLI prints them)
TEXT_SHOWN = 600  # of the latest statement's text: what an approver reads before approving
MINUTES_SHOWN = 200


def digest_prefix(sha256: str) -> str:
    return clean_line(sha256, 64)[:DIGEST_SHOWN]


def size_text(n: int, lang: Lang) -> str:
    """`52,428,800` → `50M` / `50 MB` (binary units, as file managers show them)."""
    if n < 1024:
        return t("size.bytes", lang, n=f"{n:,}")
    value, unit = n / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return t(f"size.{unit}", lang, v=f"{value:.1f}".removesuffix(".0"))


# --- the desk's marks ---------------------------------------------------------------------

def statement_mark(core: CoreView | None) -> str:
    """The latest statement version's state (drafted | approved | rejected | published), "" for none."""
    return core.statements[-1].state if core and core.statements else ""


def task_clock(clocks: ClocksView | None, task_id: str) -> ClockView | None:
    if clocks is None:
        return None
    name = f"task:{task_id}"
    return next((c for c in clocks.tasks if c.name == name), None)


def task_status(task: TaskView, clock: ClockView | None) -> str:
    """open | fed_back | late | breached | cancelled: the record's status with deadlines' verdict."""
    if task.status == "fed_back":
        late = clock is not None and (clock.status == "breached" or
                                      (clock.met_at is not None and clock.met_at > clock.due_at))
        return "late" if late else "fed_back"
    if clock is not None and clock.status in ("breached", "cancelled"):
        return clock.status
    return "open"


def task_counts(core: CoreView | None, clocks: ClocksView | None) -> tuple[int, int]:
    """(tasks awaiting feedback, of which overdue) — overdue as deadlines judged it (breached)."""
    if core is None:
        return 0, 0
    waiting = [task_status(task, task_clock(clocks, task.id)) for task in core.tasks if task.status == "open"]
    return sum(s != "cancelled" for s in waiting), sum(s == "breached" for s in waiting)


# --- statements ---------------------------------------------------------------------------

def _state_style(state: str, r: Reading) -> Style | str:
    colours = r.colours
    return {"drafted": colours.warn, "approved": colours.ok_soft, "rejected": colours.alarm_text,
            "published": colours.ok}.get(state, "")


def _step_line(step_at: datetime, actor: str, action: str, detail: str, url: str, r: Reading) -> Text:
    colon = "：" if r.lang == "zh" else ": "
    out = Text("\n    ")
    out.append(f"{local_time(step_at, r.zone)} ", style=DIM)
    out.append(f"{clean_line(actor, 40)} ", style="bold")
    out.append(named("step", action, r.lang))
    if action == "published":
        out.append(f" {clean_line(detail, 60)}")
        if url:
            out.append(f"  {clean_line(url, 300)}", style=r.colours.link)
    elif detail:
        out.append(f"{colon}{clean_line(detail, 300)}")
    return out


def statement_block(s: StatementView, r: Reading, *, latest: bool) -> Text:
    """One version: state badge, version, digest prefix, who drafted it and when; the latest
    version's text (what an approver approves); then each step after the draft."""
    lang = r.lang
    out = Text("\n")
    out.append(f" {named('statement', clean_line(s.state, 20), lang)} ", style=_state_style(s.state, r))
    out.append(f" {t('statement.version', lang, version=s.version)}", style="bold")
    out.append(f"  {t('statement.digest', lang, digest=digest_prefix(s.sha256))}")
    if s.drafted_by:
        out.append(f"  {t('statement.drafted_by', lang, who=clean_line(s.drafted_by, 40))} "
                   f"{local_time(s.drafted_at, r.zone)}", style=DIM)
    if latest and s.state == "drafted":
        out.append(f"  {t('statement.press', lang)}", style=r.colours.warn_text)
    if latest and s.text:
        for line in clean(s.text, TEXT_SHOWN).splitlines():
            out.append(f"\n    {line}")
    for step in s.history:
        if step.action != "drafted":
            out.append_text(_step_line(step.at, step.actor, step.action, step.detail, step.url, r))
    return out


def statements_section(core: CoreView, r: Reading) -> Text | None:
    """Every version kept, the latest first; None when the incident has no statement."""
    if not core.statements:
        return None
    out = heading(t("detail.statements", r.lang))
    ordered = sorted(core.statements, key=lambda s: s.version, reverse=True)
    for i, s in enumerate(ordered):
        out.append_text(statement_block(s, r, latest=i == 0))
    return out


# --- evidence -----------------------------------------------------------------------------

def evidence_line(f: EvidenceFileView, r: Reading) -> Text:
    """`• 截图.png  1.2M  摘要 3f2a9c1b2d4e  li 11-22 09:00`."""
    out = Text(f"\n• {clean_line(f.name, 120)}", style="bold")
    out.append(f"  {size_text(f.size, r.lang)}  {t('statement.digest', r.lang, digest=digest_prefix(f.sha256))}")
    who = " ".join(p for p in (clean_line(f.added_by, 40), local_time(f.added_at, r.zone)) if p)
    out.append(f"  {who}", style=DIM)
    return out


def evidence_section(core: CoreView, r: Reading) -> Text | None:
    """The files kept in the evidence bucket (name, size, digest, who, when), then what the
    reports carried as evidence (links, notes); None when there is neither."""
    if not core.evidence_files and not core.evidence:
        return None
    out = heading(t("detail.evidence", r.lang))
    for f in core.evidence_files:
        out.append_text(evidence_line(f, r))
    if core.evidence and core.evidence_files:
        out.append(f"\n{t('detail.evidence_texts', r.lang)}", style=DIM)
    for item in core.evidence:
        out.append(f"\n• {clean_line(item, 300)}")
    return out


# --- tasks --------------------------------------------------------------------------------

TASK_STYLE = {"open": "", "fed_back": "ok_soft", "late": "alarm_text", "breached": "alarm_text", "cancelled": ""}


def task_block(task: TaskView, clock: ClockView | None, slips: list[SlipView], r: Reading) -> Text:
    """`• 县卫健委  待反馈  11-24 17:30 前反馈  2时05分  提醒单 ×1` then the text, where it came
    from and the feedback."""
    lang = r.lang
    status = task_status(task, clock)
    due = clock.due_at if clock is not None else task.due_at
    out = Text(f"\n• {unit_label(task.unit, lang, r.units)}", style="bold")
    style = TASK_STYLE.get(status, "")
    out.append(f"  {t(f'task.{status}', lang)}", style=getattr(r.colours, style) if style else "")
    out.append(f"  {t('task.due', lang, at=local_time(due, r.zone))}")
    if status in ("open", "breached") and task.status == "open":
        provisional = bool(clock and clock.provisional)
        state = clock_state(clock, r.now) if clock is not None else ("breached" if due <= r.now else "running")
        out.append(f"  {clock_countdown(due, r.now, provisional, lang)}", style=r.colours.clock.get(state, ""))
    count = sum(s.count for s in slips)
    if count:
        flagged = any(s.flagged for s in slips)
        out.append(f"  {t('task.slips', lang, n=count)}" + ("  ⚑" if flagged else ""),
                   style=r.colours.alarm_text if flagged else r.colours.warn_soft)
    out.append(f"\n    {clean_line(task.text, 300)}")
    origin = []
    if task.source:
        origin.append(t("task.source", lang, source=clean_line(task.source, 100)))
    if task.meeting_id:
        origin.append(t("task.meeting", lang, id=clean_line(task.meeting_id, 40)))
    origin.append(f"{clean_line(task.id, 40)}  {clean_line(task.added_by, 40)} {local_time(task.added_at, r.zone)}")
    out.append("\n    " + " · ".join(origin), style=DIM)
    if task.status == "fed_back":
        out.append(f"\n    {t('task.feedback', lang, who=clean_line(task.fed_back_by or '', 40), text=clean_line(task.feedback, 300))}"
                   f"  {local_time(task.fed_back_at, r.zone)}", style=r.colours.ok_soft)
    return out


def tasks_section(core: CoreView, clocks: ClocksView | None, r: Reading) -> Text | None:
    """Every task: open ones first (the one due first on top), then those settled."""
    if not core.tasks:
        return None
    out = heading(t("detail.tasks", r.lang))
    slips = clocks.slips if clocks else []

    def order(task: TaskView) -> tuple[bool, datetime]:
        clock = task_clock(clocks, task.id)
        return task.status != "open", clock.due_at if clock else task.due_at

    for task in sorted(core.tasks, key=order):
        out.append_text(task_block(task, task_clock(clocks, task.id),
                                   [s for s in slips if s.clock == f"task:{task.id}"], r))
    return out


# --- meetings and supervision -------------------------------------------------------------

def meeting_line(m: MeetingView, r: Reading) -> Text:
    from watchboard.domain.present import meeting_kind

    lang = r.lang
    out = Text(f"\n• {meeting_kind(clean_line(m.kind, 20), lang)}", style="bold")
    out.append(f"  {local_time(m.held_at, r.zone)}" if m.held_at else "")
    if m.attendees:
        out.append(f"  {clean_line(r.joined(m.attendees), 200)}")
    if m.tasks:
        out.append(f"  {t('meeting.tasks', lang, n=len(m.tasks))}")
    if m.recorded_by:
        out.append(r.paren(t("meeting.recorded", lang, who=clean_line(m.recorded_by, 40))), style=DIM)
    if m.minutes:
        out.append(f"\n    {clean_line(m.minutes, MINUTES_SHOWN)}", style=DIM)
    return out


def meetings_section(core: CoreView, r: Reading) -> Text | None:
    if not core.meetings:
        return None
    out = heading(t("detail.meetings", r.lang))
    for m in sorted(core.meetings, key=lambda m: m.held_at or datetime.min.replace(tzinfo=r.zone)):
        out.append_text(meeting_line(m, r))
    return out


def supervisions_section(core: CoreView, r: Reading, owed: bool | None = None) -> Text | None:
    """Each supervision record (督办), newest first, under whether today's is owed: `owed` is
    True when `sys.supervision` lists the incident as not supervised today, False when it is
    due today and done, None when nothing is owed of it (or the board does not know)."""
    if not core.supervisions and owed is None:
        return None
    out = heading(t("detail.supervisions", r.lang))
    if owed is True:
        out.append(f"\n{t('supervision.owed_here', r.lang)}", style=r.colours.warn_text)
    elif owed is False:
        out.append(f"\n{t('supervision.done_here', r.lang)}", style=r.colours.ok_soft)
    colon = "：" if r.lang == "zh" else ": "
    for note in sorted(core.supervisions, key=lambda n: n.at, reverse=True):
        out.append(f"\n• {local_time(note.at, r.zone)} ", style=DIM)
        out.append(f"{clean_line(note.actor, 40)}{colon}", style="bold")
        out.append(clean_line(note.text, 300))
    return out
