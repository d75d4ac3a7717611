"""One incident in full: facts, mentions, clocks, notices, notes; and the actions on it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from watchboard.board.format import (
    PROVISIONAL_MARK,
    clock_countdown,
    clock_label,
    compact_number,
    grade_label,
    local_time,
    span,
    stage_label,
)
from watchboard.board.i18n import Lang, named, t
from watchboard.board.model import Units, clock_state, owner_label, unit_label
from watchboard.board.screens.actions import ACTION_BINDINGS, IncidentActions
from watchboard.board.screens.common import BoardScreen, localize_bindings
from watchboard.board.styles import DIM, TRUE_COLOUR, Colours, colours_of
from watchboard.board.widgets.status import CalendarNotice, ConnectionBanner, TopBar
from watchboard.domain.present import channel_label, reasons_in
from watchboard.domain.sanitize import clean, clean_line
from watchboard.domain.views import ClockView, IncidentView

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp


def _head(text: str) -> Text:
    return Text(text, style="bold underline")


def _fact(out: Text, label: str, value: str | Text, *, style: str = "", lang: Lang = "en") -> None:
    out.append(f"\n{label}{'：' if lang == 'zh' else ': '}", style="bold")
    if isinstance(value, Text):
        out.append_text(value)
    else:
        out.append(value, style=style)


def _posted_observed(posted: datetime | None, observed: datetime | None, zone: ZoneInfo, lang: Lang) -> str:
    """`发帖 11-27 08:10 · 发现 11-27 08:40`: when it appeared online and when a monitor saw it."""
    parts = []
    if posted is not None:
        parts.append(f"{t('detail.posted', lang)} {local_time(posted, zone)}")
    if observed is not None:
        parts.append(f"{t('detail.observed', lang)} {local_time(observed, zone)}")
    return " · ".join(parts)


def _clock_line(out: Text, clock: ClockView, now: datetime, zone: ZoneInfo, lang: Lang,
                colours: Colours) -> None:
    state = clock_state(clock, now)
    out.append("\n")
    out.append(f" {named('clock.status', clock.status, lang)} ", style=colours.clock.get(state, ""))
    out.append(f" {clock_label(clock.name, lang)}  ", style="bold")
    out.append(local_time(clock.due_at, zone))
    if clock.status in ("running", "extended"):
        out.append(f"  {clock_countdown(clock.due_at, now, clock.provisional, lang)}",
                   style=colours.clock.get(state, "bold"))
    if clock.met_at is not None:
        who = t("clock.by", lang, who=clean_line(clock.met_by or "", 40)) if clock.met_by else ""
        if clock.met_at > clock.due_at:
            late = span(clock.met_at - clock.due_at, lang)
            out.append(f"  {t('clock.met_late', lang, span=late)}{who}", style=colours.alarm_text)
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


def detail_text(view: IncidentView, now: datetime, zone: ZoneInfo, lang: Lang,
                units: Units | None = None, colours: Colours = TRUE_COLOUR) -> Text:
    """Everything the board knows about one incident, as one Text (no markup anywhere)."""
    core, grade, clocks, notices = view.core, view.grade, view.clocks, view.notices
    out = Text()
    g = grade.grade if grade else ""
    out.append(f" {grade_label(g, lang)} ", style=colours.grade.get(g, colours.grade[""]))
    for flag in (grade.flags if grade else []):
        out.append(" ")
        out.append(f" {named('flag', clean_line(flag, 20), lang)} ", style=colours.flag)
    out.append(" ")
    out.append(clean_line(core.title, 500) if core else view.id, style="bold")
    out.append("\n\n")
    out.append_text(_head(t("detail.facts", lang)))
    fact = lambda label, value, **kw: _fact(out, t(label, lang), value, lang=lang, **kw)  # noqa: E731
    fact("detail.id", view.id)
    if core:
        fact("detail.stage", stage_label(core.stage, lang))
        fact("detail.reported", local_time(core.reported_at, zone))
        seen = _posted_observed(core.posted_at, core.observed_at, zone, lang)
        if seen:
            out.append(f"  ({seen})" if lang == "en" else f"（{seen}）", style=DIM)
        if core.region:
            fact("detail.region", clean_line(core.region, 80))
        if core.topic:
            fact("detail.topic", named("topic", clean_line(core.topic, 40), lang, other="other"))
    if grade:
        owner = owner_label(grade, lang, units) if grade.owner else t("unassigned", lang)
        fact("detail.owner", owner, style="" if grade.owner else colours.unassigned)
        owner_reason = (grade.owner_reason_en or grade.owner_reason) if lang == "en" else grade.owner_reason
        if owner_reason:
            out.append(f"  ({clean_line(owner_reason, 200)})" if lang == "en"
                       else f"（{clean_line(owner_reason, 200)}）", style=DIM)
        if grade.assisting:
            names = [unit_label(a, lang, units) for a in grade.assisting]
            fact("detail.assisting", clean_line(("、" if lang == "zh" else ", ").join(names), 200))
        fact("detail.sentiment", named("sentiment", clean_line(grade.sentiment, 20), lang))
        reasons = reasons_in(grade, lang)
        if reasons:
            source = named("source", clean_line(grade.source, 20), lang)
            fact("detail.reasons", clean_line(("；" if lang == "zh" else "; ").join(reasons), 400)
                 + (f"（{source}）" if lang == "zh" else f"  ({source})"))
        if grade.flags:
            fact("detail.flags", "、".join(named("flag", clean_line(f, 20), lang) for f in grade.flags)
                 if lang == "zh" else ", ".join(named("flag", clean_line(f, 20), lang) for f in grade.flags),
                 style=colours.alarm_text)
    if notices and notices.acknowledged_by:
        fact("detail.acked", f"{clean_line(notices.acknowledged_by, 40)} {local_time(notices.acknowledged_at, zone)}",
             style=colours.ok_soft)
    else:
        out.append(f"\n{t('detail.not_acked', lang)}", style=colours.warn)
    if clocks and (clocks.reminders or clocks.flagged or clocks.slips):
        fact("detail.reminders", str(clocks.reminders), style=colours.alarm_text if clocks.flagged else "")
        if clocks.flagged:
            out.append(f"  ⚑ {t('detail.flagged', lang)}", style=colours.alarm_text)
        for slip in clocks.slips:
            out.append(f"\n  • {unit_label(slip.unit, lang, units)} {clock_label(slip.clock, lang)} ×{slip.count}",
                       style=colours.alarm_text if slip.flagged else "")
            if slip.last_at is not None:
                out.append(f"  {local_time(slip.last_at, zone)}", style=DIM)
            if slip.flagged:
                out.append(f"  ⚑ {t('detail.slip_flagged', lang)}", style=colours.alarm_text)
    if core and core.closed_at:
        fact("detail.closed", f"{local_time(core.closed_at, zone)}  {clean_line(core.close_summary, 500)}")

    if core and core.summary:
        out.append("\n\n")
        out.append_text(_head(t("detail.summary", lang)))
        out.append("\n")
        out.append(clean(core.summary, 2000))

    out.append("\n\n")
    out.append_text(_head(t("detail.clocks", lang)))
    if not clocks or not clocks.clocks:
        out.append(f"\n{t('detail.missing', lang)}", style=DIM)
    else:
        for clock in sorted(clocks.clocks, key=lambda c: c.due_at):
            _clock_line(out, clock, now, zone, lang, colours)

    if core:
        out.append("\n\n")
        count = f"（{core.mention_count}）" if lang == "zh" else f" ({core.mention_count})"
        out.append_text(_head(t("detail.mentions", lang) + count))
        if not core.mentions:
            out.append(f"\n{t('detail.missing', lang)}", style=DIM)
        for m in core.mentions:
            out.append(f"\n• {named('platform', clean_line(m.platform, 20), lang)}", style="bold")
            seen = _posted_observed(m.posted_at, m.observed_at, zone, lang)
            out.append(f"  {seen}" if seen else "")
            if m.media_level and m.media_level != "none":
                out.append(f"  [{named('media', clean_line(m.media_level, 20), lang)}]", style=colours.media)
            mt = m.metrics
            out.append("  " + "  ".join(
                f"{t(f'metric.{k}', lang)} {compact_number(getattr(mt, k))}"
                for k in ("reposts", "comments", "likes", "views")), style=DIM)
            if m.title:
                out.append(f"\n    {clean_line(m.title, 300)}")
            if m.url:
                out.append(f"\n    {clean_line(m.url, 300)}", style=colours.link)
        if core.evidence:
            out.append("\n\n")
            out.append_text(_head(t("detail.evidence", lang)))
            for item in core.evidence:
                out.append(f"\n• {clean_line(item, 300)}")

    out.append("\n\n")
    out.append_text(_head(t("detail.notices", lang)))
    if not notices or not notices.notices:
        out.append(f"\n{t('detail.missing', lang)}", style=DIM)
    else:
        for n in notices.notices:
            style = {"sent": colours.ok_soft, "failed": colours.alarm_text, "pending": colours.warn_soft}.get(n.status, "")
            out.append(f"\n• {local_time(n.at, zone)} ")
            out.append(named("notice", clean_line(n.status, 12), lang), style=style)
            out.append(f"  {clean_line(n.to, 60)} / {channel_label(clean_line(n.channel, 30), lang)}")
            if n.cause:
                cause = named("cause", clean_line(n.cause, 60), lang, other="other")
                out.append(f"  ({cause})" if lang == "en" else f"（{cause}）", style=DIM)
            if n.reason:
                out.append(f"  {clean_line(n.reason, 200)}", style=colours.alarm_soft)
        if notices.escalation_tier:
            out.append(f"\n⇧ {t('detail.escalation', lang, tier=notices.escalation_tier)}", style=colours.alarm_text)

    out.append("\n\n")
    out.append_text(_head(t("detail.notes", lang)))
    events = []
    if core:
        events.append((core.reported_at, t("actor.system", lang), t("stage.reported", lang)))
        events += [(n.at, clean_line(n.actor, 40), clean(n.text, 2000)) for n in core.notes]
        if core.closed_at:
            events.append((core.closed_at, "", t("stage.closed", lang)))
    if grade and grade.updated_at:
        events.append((grade.updated_at, t("actor.grading", lang), grade_label(grade.grade, lang)))
    if notices and notices.acknowledged_at:
        events.append((notices.acknowledged_at, clean_line(notices.acknowledged_by or "", 40),
                       t("detail.acked", lang)))
    colon = "：" if lang == "zh" else ": "
    for at, actor, text in sorted(events, key=lambda e: e[0]):
        out.append(f"\n{local_time(at, zone)} ", style=DIM)
        if actor:
            out.append(f"{actor}{colon}", style="bold")
        out.append(text)
    return out


class DetailScreen(IncidentActions, BoardScreen):
    """Full view of one incident; Esc goes back to the list."""

    app: BoardApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", id="detail.back", tooltip="Back to the list"),
        *ACTION_BINDINGS,
    ]
    DEFAULT_CSS = """
    DetailScreen #detail-body { padding: 0 1; }
    """

    def __init__(self, incident_id: str) -> None:
        super().__init__()
        self.incident_id = incident_id

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield ConnectionBanner(id="banner")
        yield CalendarNotice(id="calendar")
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.follow_app()
        self.query_one("#detail-scroll").focus()
        localize_bindings(self, self.app.lang)
        self.refresh_bindings()
        self.refresh_detail()

    def refresh_detail(self) -> None:
        app = self.app
        view = app.model.get(self.incident_id)
        body = self.query_one("#detail-body", Static)
        if view is None:
            body.update(Text(f"{self.incident_id}  {t('detail.missing', app.lang)}"))
        else:
            body.update(detail_text(view, app.now(), app.zone, app.lang, app.model.units, colours_of(self)))
        self.refresh_status()

    def data_changed(self) -> None:
        self.refresh_detail()

    def ticked(self) -> None:
        self.refresh_detail()  # countdowns move

    def target_id(self) -> str | None:
        return self.incident_id

    def action_back(self) -> None:
        self.app.pop_screen()
