"""Pure formatting for the board: countdowns, ages, labels, cell-width truncation, and the
sections of one incident's detail.

Every function here is pure (no clock reads, no I/O) so tables and screens stay thin and
the awkward cases (CJK double-width characters, overdue clocks, a clock met late) are tested
directly. The detail's sections take a `Reading` (language, zone, now, unit names, colours)
and return `rich.text.Text` with no markup anywhere: untrusted text is cleaned, never parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text

from watchboard.board.i18n import Lang, code_word, named, t
from watchboard.board.styles import DIM, TRUE_COLOUR, Colours
from watchboard.domain.errors import message_in
from watchboard.domain.present import channel_label, localize_times, reasons_in
from watchboard.domain.sanitize import clean, clean_line
from watchboard.domain.views import ClocksView, ClockView, CoreView, GradeView, IncidentView, NoticesView

ELLIPSIS = "…"
GRADE_ORDER: dict[str, int] = {"I": 0, "II": 1, "III": 2, "IV": 3}
GRADES: tuple[str, ...] = ("I", "II", "III", "IV")
LABEL_MAX = 40  # a unit's name, a person's id: never longer on the board


def grade_rank(grade: str | None) -> int:
    """I → 0 … IV → 3; unknown or not yet graded sorts last."""
    return GRADE_ORDER.get(grade or "", 4)


def countdown(due_at: datetime, now: datetime, lang: Lang = "en") -> str:
    """`2h05m` (`2时05分`) until due, `-0h12m` overdue; days shown as `3d04h` (`3天04时`) past 48 hours."""
    seconds = int((due_at - now).total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return sign + t("countdown.days", lang, d=days, h=hours)
    return sign + t("countdown.hours", lang, h=hours, m=minutes)


def span(delta: timedelta, lang: Lang = "en") -> str:
    """A length of time people read in a sentence: `2h10m` / `2小时10分`, `45m` / `45分钟`, `3d4h`."""
    minutes = max(0, int(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return t("span.dh", lang, d=hours // 24, h=hours % 24)
    if hours:
        return t("span.hm", lang, h=hours, m=minutes)
    return t("span.m", lang, m=minutes)


PROVISIONAL_MARK = "~"  # ASCII on purpose: `≈` is ambiguous-width and doubles in CJK terminals


def clock_countdown(due_at: datetime, now: datetime, provisional: bool, lang: Lang = "en") -> str:
    """The countdown, marked `~` when the due time rests on a calendar not yet known."""
    return (PROVISIONAL_MARK if provisional else "") + countdown(due_at, now, lang)


def age(since: datetime, now: datetime, lang: Lang = "en") -> str:
    """Relative age, compact: `45s`, `12m`, `3h`, `2d` (`45秒`, `12分`, `3时`, `2天`)."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return t("age.s", lang, n=seconds)
    if seconds < 3600:
        return t("age.m", lang, n=seconds // 60)
    if seconds < 86400 * 2:
        return t("age.h", lang, n=seconds // 3600)
    return t("age.d", lang, n=seconds // 86400)


@dataclass(frozen=True)
class GradeLabels:
    """The grades a profile uses (those it does not collapse into another), worst first, and what
    it calls them: grading sends them with each grade (`GradeView.grade_labels`); until it does,
    the board's own config; failing both, the default names of the four grades."""

    names: Mapping[str, Mapping[str, str]]  # grade → {"zh": …, "en": …}

    @classmethod
    def of(cls, names: Mapping[str, Mapping[str, str]] | None, fallback: GradeLabels | None = None) -> GradeLabels:
        """From untrusted data: unknown grades and languages dropped, labels cleaned and bounded;
        nothing usable gives `fallback` (the defaults)."""
        kept = {g: {lang: clean_line(label, LABEL_MAX) for lang, label in per.items()
                    if lang in ("zh", "en") and isinstance(label, str) and label.strip()}
                for g, per in (names or {}).items() if g in GRADE_ORDER and isinstance(per, Mapping)}
        if not kept:
            return fallback or DEFAULT_GRADE_LABELS
        return cls(dict(sorted(kept.items(), key=lambda item: grade_rank(item[0]))))

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(self.names)

    def name(self, grade: str, lang: Lang) -> str:
        """The profile's name for `grade` in `lang`, else the default one ("" for no grade)."""
        label = self.names.get(grade, {}).get(lang)
        if label:
            return label
        default = t(f"grade.{grade}", lang)
        return "" if default == f"grade.{grade}" else default

    def shown(self, counts: Mapping[str, int]) -> tuple[str, ...]:
        """The grades to count: the profile's, and any other that still has incidents (graded
        before the profile changed), worst first."""
        return tuple(g for g in GRADES if g in self.names or counts.get(g, 0))


DEFAULT_GRADE_LABELS = GradeLabels({g: {"zh": t(f"grade.{g}", "zh"), "en": t(f"grade.{g}", "en")} for g in GRADES})


def grade_label(grade: str | None, lang: Lang, labels: GradeLabels = DEFAULT_GRADE_LABELS) -> str:
    """`II 重大`: the roman numeral always shows (16-colour terminals, colour-blind readers),
    then the profile's name for the grade."""
    if not grade:
        return t("ungraded", lang)
    name = labels.name(grade, lang)
    return f"{grade} {name}" if name else grade


def stage_label(stage: str | None, lang: Lang) -> str:
    key = f"stage.{stage or 'reported'}"
    label = t(key, lang)
    return stage or "" if label == key else label


def clock_label(name: str, lang: Lang) -> str:
    """A plan's clock by its name in `lang`; a task's clock (`task:<id>`) as `任务 <id>` / `task <id>`."""
    if name.startswith("task:"):
        return t("clock.task", lang, id=clean_line(name[5:], 40))
    key = f"clock.{name}"
    label = t(key, lang)
    return name if label == key else label


def local_time(at: datetime | None, zone: ZoneInfo, *, with_date: bool = True,
               year: bool = False) -> str:
    """`11-27 16:14` in the board's zone (`2026-11-27 16:14` with `year`; `16:14:05` without date)."""
    if at is None:
        return "—"
    local = at.astimezone(zone)
    if not with_date:
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


def truncate(text: str, width: int) -> str:
    """Cut `text` to at most `width` cells; a cut ends in `…` and never halves a wide character."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    out: list[str] = []
    used = 0
    limit = width - 1  # room for the ellipsis
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > limit:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def fit(text: str, width: int, *, right: bool = False) -> str:
    """Truncate then pad with spaces to exactly `width` cells (CJK-aware alignment)."""
    cut = truncate(text, width)
    pad = " " * (width - cell_len(cut))
    return pad + cut if right else cut + pad


def compact_number(n: int) -> str:
    """12345 → `12.3k`; keeps metric columns short."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def error_text(reply: Mapping[str, Any], lang: Lang, zone: ZoneInfo) -> str:
    """The service's `{"ok": false, "error": {code, field, message, message_zh}}` as one plain
    line in the board's language (`错误（冲突）[kind]：…`, the code in words; in English as
    before); the UTC times services write in messages are shown in the board's zone, to the minute."""
    err = reply.get("error") or {}
    if not isinstance(err, dict):
        err = {"message": str(err)}
    field = clean_line(str(err.get("field") or ""), 60)
    return t("sent.error", lang, code=clean_line(code_word(str(err.get("code") or "error"), lang), 30),
             field=t("sent.error.field", lang, field=field) if field else "",
             message=clean_line(localize_times(message_in(err, lang), zone), 300))


# --- units, owners and clocks as people name them -------------------------------------

class UnitNames(NamedTuple):
    """How people name one unit (units.toml), in both languages, long and short."""

    name: str
    name_en: str = ""
    short: str = ""
    short_en: str = ""

    def full(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name

    def brief(self, lang: str) -> str:
        if lang == "en":
            return self.short_en or self.name_en or self.short or self.name
        return self.short or self.name


Units = dict[str, UnitNames]


def unit_names(cfg: object) -> Units:
    """The names of every unit of a `UnitsConfig` (duck-typed: the board does not need grading)."""
    return {u.id: UnitNames(u.name, u.name_en, u.short, u.short_en)  # type: ignore[attr-defined]
            for u in getattr(cfg, "units", [])}


def unit_label(unit_id: str, lang: str = "zh", units: Units | None = None, *, short: bool = False) -> str:
    """A unit as people name it (units.toml), else its id."""
    names = (units or {}).get(unit_id)
    if names is None:
        return clean_line(unit_id, LABEL_MAX)
    return clean_line(names.brief(lang) if short else names.full(lang), LABEL_MAX)


def owner_label(grade: GradeView | None, lang: str = "zh", units: Units | None = None, *,
                short: bool = False) -> str:
    """The owning unit as people name it: this board's units.toml, else the names grading sent
    with the owner, else its id."""
    if grade is None or not grade.owner:
        return ""
    if units and grade.owner in units:
        return unit_label(grade.owner, lang, units, short=short)
    name = (grade.owner_name_en or grade.owner_name) if lang == "en" else grade.owner_name
    return clean_line(name or grade.owner, LABEL_MAX)


def clock_state(clock: ClockView, now: datetime, warn: timedelta = timedelta(minutes=30)) -> str:
    """running | warning | breached | met | extended | cancelled, for colouring."""
    if clock.status == "running":
        if clock.due_at <= now:
            return "breached"
        if clock.warned or clock.due_at - now <= warn:
            return "warning"
    return clock.status


# --- one incident in full, section by section (the detail screen composes them) -------

@dataclass(frozen=True)
class Reading:
    """How this board reads an incident: its language, zone and clock, the units' and grades' names, its colours."""

    lang: Lang
    zone: ZoneInfo
    now: datetime
    units: Units = field(default_factory=dict)
    colours: Colours = TRUE_COLOUR
    labels: GradeLabels = DEFAULT_GRADE_LABELS

    def paren(self, text: str) -> str:
        """An aside: `  (text)` in English, `（text）` in Chinese."""
        return f"  ({text})" if self.lang == "en" else f"（{text}）"

    def joined(self, items: Iterable[str], *, clause: bool = False) -> str:
        """`a、b` / `a, b`; a clause list `a；b` / `a; b`."""
        if clause:
            return ("；" if self.lang == "zh" else "; ").join(items)
        return ("、" if self.lang == "zh" else ", ").join(items)


def heading(text: str) -> Text:
    """A section's heading; what the section appends after it is plain."""
    return Text().append(text, style="bold underline")


def fact(label: str, value: str | Text, r: Reading, *, style: Style | str = "") -> Text:
    """`\\n标签：value` / `\\nLabel: value`, the label bold."""
    out = Text().append(f"\n{label}{'：' if r.lang == 'zh' else ': '}", style="bold")
    if isinstance(value, Text):
        out.append_text(value)
    else:
        out.append(value, style=style)
    return out


def posted_observed(posted: datetime | None, observed: datetime | None, r: Reading) -> str:
    """`发帖 11-27 08:10 · 发现 11-27 08:40`: when it appeared online and when a monitor saw it."""
    parts = []
    if posted is not None:
        parts.append(f"{t('detail.posted', r.lang)} {local_time(posted, r.zone)}")
    if observed is not None:
        parts.append(f"{t('detail.observed', r.lang)} {local_time(observed, r.zone)}")
    return " · ".join(parts)


def headline(view: IncidentView, r: Reading) -> Text:
    """The grade badge, a badge per flag (rumour, illegal), the title."""
    grade = view.grade
    g = grade.grade if grade else ""
    out = Text()
    out.append(f" {grade_label(g, r.lang, r.labels)} ", style=r.colours.grade.get(g, r.colours.grade[""]))
    for flag in (grade.flags if grade else []):
        out.append(" ")
        out.append(f" {named('flag', clean_line(flag, 20), r.lang)} ", style=r.colours.flag)
    out.append(" ")
    out.append(clean_line(view.core.title, 500) if view.core else view.id, style="bold")
    return out


def core_facts(view: IncidentView, r: Reading) -> Text:
    """Id, stage, reported (posted, observed), region and topic."""
    out = fact(t("detail.id", r.lang), view.id, r)
    core = view.core
    if core is None:
        return out
    out.append_text(fact(t("detail.stage", r.lang), stage_label(core.stage, r.lang), r))
    out.append_text(fact(t("detail.reported", r.lang), local_time(core.reported_at, r.zone), r))
    seen = posted_observed(core.posted_at, core.observed_at, r)
    if seen:
        out.append(r.paren(seen), style=DIM)
    if core.region:
        out.append_text(fact(t("detail.region", r.lang), clean_line(core.region, 80), r))
    if core.topic:
        out.append_text(fact(t("detail.topic", r.lang), named("topic", clean_line(core.topic, 40), r.lang, other="other"), r))
    return out


def owner_facts(grade: GradeView, r: Reading) -> Text:
    """The owning unit (or unassigned) and why, and the assisting units by name."""
    lang = r.lang
    owner = owner_label(grade, lang, r.units) if grade.owner else t("unassigned", lang)
    out = fact(t("detail.owner", lang), owner, r, style="" if grade.owner else r.colours.unassigned)
    reason = (grade.owner_reason_en or grade.owner_reason) if lang == "en" else grade.owner_reason
    if reason:
        out.append(r.paren(clean_line(reason, 200)), style=DIM)
    if grade.assisting:
        names = r.joined(unit_label(a, lang, r.units) for a in grade.assisting)
        out.append_text(fact(t("detail.assisting", lang), clean_line(names, 200), r))
    return out


def grade_facts(grade: GradeView, r: Reading) -> Text:
    """Sentiment, the grade's reasons in the board's language (and who graded), the flags."""
    lang = r.lang
    out = fact(t("detail.sentiment", lang), named("sentiment", clean_line(grade.sentiment, 20), lang), r)
    reasons = reasons_in(grade, lang)
    if reasons:
        source = named("source", clean_line(grade.source, 20), lang)
        out.append_text(fact(t("detail.reasons", lang), clean_line(r.joined(reasons, clause=True), 400)
                             + r.paren(source), r))
    if grade.flags:
        flags = r.joined(named("flag", clean_line(f, 20), lang) for f in grade.flags)
        out.append_text(fact(t("detail.flags", lang), flags, r, style=r.colours.alarm_text))
    return out


def ack_fact(notices: NoticesView | None, r: Reading) -> Text:
    """Who acknowledged and when, or that nobody has (in the colour that stands out)."""
    if notices and notices.acknowledged_by:
        return fact(t("detail.acked", r.lang), f"{clean_line(notices.acknowledged_by, 40)} "
                    f"{local_time(notices.acknowledged_at, r.zone)}", r, style=r.colours.ok_soft)
    return Text(f"\n{t('detail.not_acked', r.lang)}", style=r.colours.warn)


def slip_facts(clocks: ClocksView | None, r: Reading) -> Text:
    """Reminders sent and each unit's reminder slips per task, flagged units marked; empty if none."""
    out = Text()
    if not clocks or not (clocks.reminders or clocks.flagged or clocks.slips):
        return out
    alarm = r.colours.alarm_text
    out.append_text(fact(t("detail.reminders", r.lang), str(clocks.reminders), r,
                         style=alarm if clocks.flagged else ""))
    if clocks.flagged:
        out.append(f"  ⚑ {t('detail.flagged', r.lang)}", style=alarm)
    for slip in clocks.slips:
        out.append(f"\n  • {unit_label(slip.unit, r.lang, r.units)} {clock_label(slip.clock, r.lang)} ×{slip.count}",
                   style=alarm if slip.flagged else "")
        if slip.last_at is not None:
            out.append(f"  {local_time(slip.last_at, r.zone)}", style=DIM)
        if slip.flagged:
            out.append(f"  ⚑ {t('detail.slip_flagged', r.lang)}", style=alarm)
    return out


def closed_fact(core: CoreView, r: Reading) -> Text:
    """When it was closed and the summary it was closed with; empty while open."""
    if not core.closed_at:
        return Text()
    return fact(t("detail.closed", r.lang), f"{local_time(core.closed_at, r.zone)}  {clean_line(core.close_summary, 500)}", r)


def summary_section(core: CoreView, r: Reading) -> Text | None:
    if not core.summary:
        return None
    out = heading(t("detail.summary", r.lang))
    out.append("\n")
    out.append(clean(core.summary, 2000))
    return out


def clock_line(clock: ClockView, r: Reading) -> Text:
    """One clock: status, name, due time, countdown or how it was met, then basis, start, extendable."""
    lang, zone, colours = r.lang, r.zone, r.colours
    state = clock_state(clock, r.now)
    out = Text("\n")
    out.append(f" {named('clock.status', clock.status, lang)} ", style=colours.clock.get(state, ""))
    out.append(f" {clock_label(clock.name, lang)}  ", style="bold")
    out.append(local_time(clock.due_at, zone))
    if clock.status in ("running", "extended"):
        out.append(f"  {clock_countdown(clock.due_at, r.now, clock.provisional, lang)}",
                   style=colours.clock.get(state, "bold"))
    if clock.met_at is not None:
        who = t("clock.by", lang, who=clean_line(clock.met_by or "", 40)) if clock.met_by else ""
        if clock.met_at > clock.due_at:
            out.append(f"  {t('clock.met_late', lang, span=span(clock.met_at - clock.due_at, lang))}{who}",
                       style=colours.alarm_text)
        else:
            out.append(f"  {t('clock.met_at', lang, at=local_time(clock.met_at, zone))}{who}", style=colours.ok_soft)
    elif clock.on_arrival and clock.status == "breached":
        out.append(f"  {t('clock.on_arrival', lang)}", style=colours.alarm_text)
    extra = [named("basis", clean_line(clock.basis, 20), lang)]
    if clock.counted_from:
        extra.append(named("from", clean_line(clock.counted_from, 20), lang))
    if clock.start_at is not None:
        extra.append(t("clock.started", lang, at=local_time(clock.start_at, zone)))
    if clock.extendable:
        extra.append(t("clock.extendable", lang))
    sep = "，" if lang == "zh" else ", "
    out.append(f"  ({sep.join(extra)})" if lang == "en" else f"  （{sep.join(extra)}）", style=DIM)
    if clock.provisional:
        out.append(f"\n    {PROVISIONAL_MARK} {t('clock.provisional', lang)}", style=colours.warn_soft)
    return out


def clocks_section(clocks: ClocksView | None, r: Reading) -> Text:
    out = heading(t("detail.clocks", r.lang))
    if not clocks or not clocks.clocks:
        out.append(f"\n{t('detail.missing', r.lang)}", style=DIM)
        return out
    for clock in sorted(clocks.clocks, key=lambda c: c.due_at):
        out.append_text(clock_line(clock, r))
    return out


def mentions_section(core: CoreView, r: Reading) -> Text:
    """Every mention: platform, when posted and observed, media level, metrics, title, link."""
    lang = r.lang
    out = heading(t("detail.mentions", lang) + (f"（{core.mention_count}）" if lang == "zh" else f" ({core.mention_count})"))
    if not core.mentions:
        out.append(f"\n{t('detail.missing', lang)}", style=DIM)
    for m in core.mentions:
        out.append(f"\n• {named('platform', clean_line(m.platform, 20), lang)}", style="bold")
        seen = posted_observed(m.posted_at, m.observed_at, r)
        out.append(f"  {seen}" if seen else "")
        if m.media_level and m.media_level != "none":
            out.append(f"  [{named('media', clean_line(m.media_level, 20), lang)}]", style=r.colours.media)
        out.append("  " + "  ".join(f"{t(f'metric.{k}', lang)} {compact_number(getattr(m.metrics, k))}"
                                    for k in ("reposts", "comments", "likes", "views")), style=DIM)
        if m.title:
            out.append(f"\n    {clean_line(m.title, 300)}")
        if m.url:
            out.append(f"\n    {clean_line(m.url, 300)}", style=r.colours.link)
    return out


def notices_section(notices: NoticesView | None, r: Reading) -> Text:
    """Each notice: when, status, to whom by which channel, why; then the escalation tier."""
    lang, colours = r.lang, r.colours
    out = heading(t("detail.notices", lang))
    if not notices or not notices.notices:
        out.append(f"\n{t('detail.missing', lang)}", style=DIM)
        return out
    status_style = {"sent": colours.ok_soft, "failed": colours.alarm_text, "pending": colours.warn_soft}
    for n in notices.notices:
        out.append(f"\n• {local_time(n.at, r.zone)} ")
        out.append(named("notice", clean_line(n.status, 12), lang), style=status_style.get(n.status, ""))
        out.append(f"  {clean_line(n.to, 60)} / {channel_label(clean_line(n.channel, 30), lang)}")
        if n.cause:
            out.append(r.paren(named("cause", clean_line(n.cause, 60), lang, other="other")), style=DIM)
        if n.reason:
            out.append(f"  {clean_line(n.reason, 200)}", style=colours.alarm_soft)
    if notices.escalation_tier:
        out.append(f"\n⇧ {t('detail.escalation', lang, tier=notices.escalation_tier)}", style=colours.alarm_text)
    return out


def timeline_section(view: IncidentView, r: Reading) -> Text:
    """Reported, notes, graded, acknowledged, closed: in time order, who and what."""
    lang = r.lang
    core, grade, notices = view.core, view.grade, view.notices
    events: list[tuple[datetime, str, str]] = []
    if core:
        events.append((core.reported_at, t("actor.system", lang), t("stage.reported", lang)))
        events += [(n.at, clean_line(n.actor, 40), clean(n.text, 2000)) for n in core.notes]
        if core.closed_at:
            events.append((core.closed_at, "", t("stage.closed", lang)))
    if grade and grade.updated_at:
        events.append((grade.updated_at, t("actor.grading", lang), grade_label(grade.grade, lang, r.labels)))
    if notices and notices.acknowledged_at:
        events.append((notices.acknowledged_at, clean_line(notices.acknowledged_by or "", 40), t("detail.acked", lang)))
    out = heading(t("detail.notes", lang))
    colon = "：" if lang == "zh" else ": "
    for at, actor, text in sorted(events, key=lambda e: e[0]):
        out.append(f"\n{local_time(at, r.zone)} ", style=DIM)
        if actor:
            out.append(f"{actor}{colon}", style="bold")
        out.append(text)
    return out
