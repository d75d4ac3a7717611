"""One incident in full (the sections are pure functions in format.py), and the actions on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from watchboard.board.follow import (
    evidence_section,
    meetings_section,
    statements_section,
    supervisions_section,
    tasks_section,
)
from watchboard.board.format import (
    Reading,
    ack_fact,
    clocks_section,
    closed_fact,
    core_facts,
    grade_facts,
    heading,
    headline,
    mentions_section,
    notices_section,
    owner_facts,
    slip_facts,
    summary_section,
    timeline_section,
)
from watchboard.board.i18n import t
from watchboard.board.screens.actions import ACTION_BINDINGS, IncidentActions
from watchboard.board.screens.common import BoardScreen, localize_bindings
from watchboard.board.styles import colours_of
from watchboard.board.widgets.status import CalendarNotice, ConnectionBanner, TopBar
from watchboard.domain.views import IncidentView

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp


def detail_text(view: IncidentView, r: Reading, supervision_owed: bool | None = None) -> Text:
    """Everything the board knows about one incident, as one Text (no markup anywhere): the
    headline, then facts, summary, clocks, statements, tasks, supervision, meetings, mentions,
    evidence, notices and the timeline. `supervision_owed`: `BoardModel.supervision_owed`."""
    core, grade = view.core, view.grade
    facts = [heading(t("detail.facts", r.lang)), core_facts(view, r)]
    if grade:
        facts += [owner_facts(grade, r), grade_facts(grade, r)]
    facts += [ack_fact(view.notices, r), slip_facts(view.clocks, r)]
    if core:
        facts.append(closed_fact(core, r))
    sections: list[Text | None] = [headline(view, r), Text().join(facts)]
    if core:
        sections.append(summary_section(core, r))
    sections.append(clocks_section(view.clocks, r))
    if core:
        sections += [statements_section(core, r), tasks_section(core, view.clocks, r),
                     supervisions_section(core, r, supervision_owed), meetings_section(core, r),
                     mentions_section(core, r), evidence_section(core, r)]
    sections += [notices_section(view.notices, r), timeline_section(view, r)]
    return Text("\n\n").join(s for s in sections if s is not None)


class DetailScreen(IncidentActions, BoardScreen):
    """Full view of one incident; Esc goes back to the list."""

    app: BoardApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", id="detail.back", tooltip="Back to the list"),
        *ACTION_BINDINGS,
        # Approving reads the statement first: only here, where its text and history are shown.
        Binding("v", "approve", "Approve", show=False, id="detail.statement_approve",
                tooltip="Approve the latest statement version"),
    ]
    APPROVES = True
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
            reading = Reading(lang=app.lang, zone=app.zone, now=app.now(), units=app.model.units,
                              colours=colours_of(self), labels=app.model.grade_labels())
            body.update(detail_text(view, reading, app.model.supervision_owed(self.incident_id)))
        self.refresh_status()

    def data_changed(self) -> None:
        self.refresh_detail()

    def ticked(self) -> None:
        self.refresh_detail()  # countdowns move

    def target_id(self) -> str | None:
        return self.incident_id

    def action_back(self) -> None:
        self.app.pop_screen()
