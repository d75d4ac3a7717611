"""The wall: read across a room. Big counters, the most urgent incidents (pages rotate),
the matrix, the 24-hour trend, service health, the last sweep and the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label

from watchboard.board.i18n import t
from watchboard.board.screens.common import BoardScreen
from watchboard.board.widgets.counters import BigCounters, figure_scale
from watchboard.board.widgets.incident_table import IncidentTable
from watchboard.board.widgets.matrix import GradeMatrix
from watchboard.board.widgets.status import CalendarNotice, ConnectionBanner, HealthLine, TopBar
from watchboard.board.widgets.trend import TrendChart

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp

WALL_SIDE_MIN = 110


READONLY_KEYS = ("a", "o", "g", "s", "m", "x", "n", "c", "f", "v", "slash", "1", "2", "3", "4", "t", "enter")


class WallScreen(BoardScreen):
    """Read-only; nothing here needs a key, but `q`, `w` and `?` still work, and the desk's
    keys say why they do nothing here."""

    app: BoardApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(",".join(READONLY_KEYS), "read_only", show=False, id="wall.readonly"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0

    def compose(self) -> ComposeResult:
        app = self.app
        yield TopBar(id="topbar")
        yield ConnectionBanner(id="banner")
        yield CalendarNotice(id="calendar")
        yield BigCounters(app.lang, id="big-counters")
        with Horizontal(id="wall-main"):
            with Vertical(id="urgent"):
                yield Label(id="urgent-title")
                yield IncidentTable(lang=app.lang, now=lambda: self.app.now(), show_cursor=False, id="urgent-table")
            with VerticalScroll(id="wall-side"):
                yield GradeMatrix(id="matrix")
                yield TrendChart(id="trend")
        yield HealthLine(id="health")

    def on_mount(self) -> None:
        self.follow_app()
        self.set_interval(self.app.page_seconds, self.next_page, name="pages")
        self.query_one("#urgent-table", IncidentTable).can_focus = False
        self.refresh_board()

    def on_screen_resume(self) -> None:
        self.refresh_board()
        self.show_trend()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < WALL_SIDE_MIN, "-narrow")
        self.set_class(event.size.height < 30, "-short")
        model = self.app.model
        self.query_one(BigCounters).show(model.grade_counts(), figure_scale(event.size.width, event.size.height),
                                         model.grade_labels())
        self._show_page()

    def action_read_only(self) -> None:
        """A desk key pressed on the wall: a read-only board says so; an operator's wall says
        where the actions are."""
        app = self.app
        app.notify(t("sent.readonly" if app.read_only else "wall.use_desk", app.lang), severity="warning")

    # --- pages ----------------------------------------------------------------------

    def page_size(self) -> int:
        return max(1, self.query_one("#urgent-table", IncidentTable).size.height - 1)

    def pages(self) -> int:
        rows = len(self.query_one("#urgent-table", IncidentTable).rows)
        return max(1, -(-rows // self.page_size()))

    def next_page(self) -> None:
        self.page = (self.page + 1) % self.pages()
        self._show_page()

    def _show_page(self) -> None:
        table = self.query_one("#urgent-table", IncidentTable)
        if self.page >= self.pages():
            self.page = 0
        table.scroll_to(y=self.page * self.page_size(), animate=False)
        title = Text(t("urgent.title", self.app.lang), style="bold")
        if self.pages() > 1:
            title.append(f"  {t('page', self.app.lang, page=self.page + 1, pages=self.pages())}",
                         style="dim")
        self.query_one("#urgent-title", Label).update(title)

    # --- drawing --------------------------------------------------------------------

    def data_changed(self) -> None:
        self.refresh_board()

    def ticked(self) -> None:
        self.query_one("#urgent-table", IncidentTable).refresh()  # countdowns move
        self.refresh_status()

    def status_extra(self) -> Text:
        return Text(f"{t('open', self.app.lang)} {self.app.model.open_count()}", style="bold")

    def refresh_board(self) -> None:
        app, model = self.app, self.app.model
        self.set_class(app.size.width < WALL_SIDE_MIN, "-narrow")
        self.set_class(app.size.height < 30, "-short")
        counts, labels = model.grade_counts(), model.grade_labels()
        self.query_one(BigCounters).show(counts, figure_scale(app.size.width, app.size.height), labels)
        self.query_one("#urgent-table", IncidentTable).set_rows(model.urgent_rows(), loaded=app.snapshot_loaded)
        owners, cells = model.matrix()
        self.query_one(GradeMatrix).show(owners, cells, app.lang, max_owners=10, grades=labels.shown(counts))
        self._show_page()
        self.refresh_status()
