"""One incident in full: facts, mentions, clocks, notices, notes; and the actions on it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from watchboard.board.format import (
    PROVISIONAL_MARK,
    clock_countdown,
    clock_label,
    compact_number,
    grade_label,
    local_time,
    stage_label,
)
from watchboard.board.i18n import Lang, t
from watchboard.board.model import clock_state, owner_label
from watchboard.board.screens.actions import ACTION_BINDINGS, IncidentActions
from watchboard.board.screens.common import localize_bindings
from watchboard.board.styles import CLOCK_STYLE, DIM, GRADE_STYLE
from watchboard.board.widgets.status import CalendarNotice, ConnectionBanner, TopBar
from watchboard.domain.sanitize import clean, clean_line
from watchboard.domain.views import IncidentView

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp


def _head(text: str) -> Text:
    return Text(text, style="bold underline")


def _fact(out: Text, label: str, value: str | Text, *, style: str = "") -> None:
    out.append(f"\n{label}: ", style="bold")
    if isinstance(value, Text):
        out.append_text(value)
    else:
        out.append(value, style=style)


def detail_text(view: IncidentView, now: datetime, zone: ZoneInfo, lang: Lang) -> Text:
    """Everything the board knows about one incident, as one Text (no markup anywhere)."""
    core, grade, clocks, notices = view.core, view.grade, view.clocks, view.notices
    out = Text()
    g = grade.grade if grade else ""
    out.append(f" {grade_label(g, lang)} ", style=GRADE_STYLE.get(g, GRADE_STYLE[""]))
    out.append(" ")
    out.append(clean_line(core.title, 500) if core else view.id, style="bold")
    out.append("\n\n")
    out.append_text(_head(t("detail.facts", lang)))
    _fact(out, t("detail.id", lang), view.id)
    if core:
        _fact(out, t("detail.stage", lang), stage_label(core.stage, lang))
        _fact(out, t("detail.reported", lang), local_time(core.reported_at, zone))
        if core.region:
            _fact(out, t("detail.region", lang), clean_line(core.region, 80))
        if core.topic:
            _fact(out, t("detail.topic", lang), t(f"topic.{clean_line(core.topic, 40)}", lang))
    if grade:
        owner = owner_label(grade, lang) if grade.owner else t("unassigned", lang)
        _fact(out, t("detail.owner", lang), owner,
              style="" if grade.owner else "italic yellow")
        if grade.owner_reason:
            out.append(f"  ({clean_line(grade.owner_reason, 200)})", style=DIM)
        if grade.assisting:
            _fact(out, t("detail.assisting", lang), clean_line(", ".join(grade.assisting), 200))
        _fact(out, t("detail.sentiment", lang), t(f"sentiment.{clean_line(grade.sentiment, 20)}", lang))
        if grade.reasons:
            _fact(out, t("detail.reasons", lang),
                  clean_line("; ".join(grade.reasons), 400) + f"  [{clean_line(grade.source, 20)}]")
    if notices and notices.acknowledged_by:
        _fact(out, t("detail.acked", lang),
              f"{clean_line(notices.acknowledged_by, 40)} {local_time(notices.acknowledged_at, zone)}",
              style="green")
    else:
        out.append(f"\n{t('detail.not_acked', lang)}", style="bold yellow")
    if clocks and (clocks.reminders or clocks.flagged):
        _fact(out, t("detail.reminders", lang), str(clocks.reminders),
              style="bold red" if clocks.flagged else "")
        if clocks.flagged:
            out.append(f"  ⚑ {t('detail.flagged', lang)}", style="bold red")
    if core and core.closed_at:
        _fact(out, t("detail.closed", lang),
              f"{local_time(core.closed_at, zone)}  {clean_line(core.close_summary, 500)}")

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
            state = clock_state(clock, now)
            out.append("\n")
            out.append(f" {t(f'clock.status.{clock.status}', lang)} ", style=CLOCK_STYLE.get(state, ""))
            out.append(f" {clock_label(clock.name, lang)}  ", style="bold")
            out.append(local_time(clock.due_at, zone))
            if clock.status == "running":
                out.append(f"  {clock_countdown(clock.due_at, now, clock.provisional)}",
                           style=CLOCK_STYLE.get(state, "bold"))
            out.append(f"  ({clean_line(clock.basis, 20)})", style=DIM)
            if clock.provisional:
                out.append(f"\n    {PROVISIONAL_MARK} {t('clock.provisional', lang)}", style="yellow")

    if core:
        out.append("\n\n")
        out.append_text(_head(f"{t('detail.mentions', lang)} ({core.mention_count})"))
        if not core.mentions:
            out.append(f"\n{t('detail.missing', lang)}", style=DIM)
        for m in core.mentions:
            out.append(f"\n• {clean_line(m.platform, 20)}", style="bold")
            out.append(f"  {local_time(m.observed_at, zone)}")
            if m.media_level and m.media_level != "none":
                out.append(f"  [{clean_line(m.media_level, 20)}]", style="bold magenta")
            mt = m.metrics
            out.append("  " + "  ".join(
                f"{t(f'metric.{k}', lang)} {compact_number(getattr(mt, k))}"
                for k in ("reposts", "comments", "likes", "views")), style=DIM)
            if m.title:
                out.append(f"\n    {clean_line(m.title, 300)}")
            if m.url:
                out.append(f"\n    {clean_line(m.url, 300)}", style="underline cyan")
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
            style = {"sent": "green", "failed": "bold red", "pending": "yellow"}.get(n.status, "")
            out.append(f"\n• {local_time(n.at, zone)} ")
            out.append(clean_line(n.status, 12), style=style)
            out.append(f"  {clean_line(n.to, 60)} / {clean_line(n.channel, 30)}")
            if n.cause:
                out.append(f"  ({clean_line(n.cause, 60)})", style=DIM)
            if n.reason:
                out.append(f"  {clean_line(n.reason, 200)}", style="red")
        if notices.escalation_tier:
            out.append(f"\n⇧ escalation tier {notices.escalation_tier}", style="bold red")

    out.append("\n\n")
    out.append_text(_head(t("detail.notes", lang)))
    events = []
    if core:
        events.append((core.reported_at, "system", t("stage.reported", lang)))
        events += [(n.at, clean_line(n.actor, 40), clean(n.text, 2000)) for n in core.notes]
        if core.closed_at:
            events.append((core.closed_at, "", t("stage.closed", lang)))
    if grade and grade.updated_at:
        events.append((grade.updated_at, "grading", f"{t('detail.grade', lang)} {grade.grade}"))
    if notices and notices.acknowledged_at:
        events.append((notices.acknowledged_at, clean_line(notices.acknowledged_by or "", 40),
                       t("detail.acked", lang)))
    for at, actor, text in sorted(events, key=lambda e: e[0]):
        out.append(f"\n{local_time(at, zone)} ", style=DIM)
        if actor:
            out.append(f"{actor}: ", style="bold")
        out.append(text)
    return out


class DetailScreen(IncidentActions, Screen[None]):
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
        self.watch(self.app, "version", self.refresh_detail, init=False)
        self.watch(self.app, "tick", self.refresh_detail, init=False)
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
            body.update(detail_text(view, app.now(), app.zone, app.lang))
        self.query_one(TopBar).show(title=app.title, conn=app.connection, sweep=app.model.sweep,
                                    now=app.now(), zone=app.zone, lang=app.lang)
        self.query_one(ConnectionBanner).show(app.connection, app.last_data_at, app.zone, app.lang)
        self.query_one(CalendarNotice).show(app.model.calendar, app.lang)

    def target_id(self) -> str | None:
        return self.incident_id

    def action_back(self) -> None:
        self.app.pop_screen()
