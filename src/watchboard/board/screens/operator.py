"""The desk: counters, the incident list, and (when wide enough) the matrix and the trend."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer

from watchboard.board.i18n import t
from watchboard.board.model import SORTS, Filter
from watchboard.board.screens.actions import ACTION_BINDINGS, IncidentActions
from watchboard.board.screens.common import BoardScreen, localize_bindings
from watchboard.board.screens.detail import DetailScreen
from watchboard.board.screens.forms import ActionForm, FieldSpec, FormSpec
from watchboard.board.styles import colours_of
from watchboard.board.widgets.counters import CountersBar
from watchboard.board.widgets.incident_table import IncidentTable
from watchboard.board.widgets.matrix import GradeMatrix
from watchboard.board.widgets.status import AlertsPanel, CalendarNotice, ConnectionBanner, HealthLine, TopBar
from watchboard.board.widgets.supervision import SupervisionPanel, owed_count
from watchboard.board.widgets.trend import TrendChart
from watchboard.domain.report import STAGES

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp

SIDE_MIN_WIDTH = 120  # below this the side panel (matrix, trend) is hidden


class OperatorScreen(IncidentActions, BoardScreen):
    """The default layout: everything a duty officer needs, keyboard first."""

    app: BoardApp
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "detail", "Detail", id="desk.detail", tooltip="Open the highlighted incident"),
        *ACTION_BINDINGS,
        Binding("slash", "filter", "Filter", id="desk.filter", tooltip="Filter by grade, owner, stage or text"),
        Binding("escape", "clear_filter", "Clear", id="desk.clear", show=False,
                tooltip="Show every open incident again"),
        Binding("1", "grade_filter('I')", "Only I", show=False, id="desk.only1", tooltip="Toggle grade I"),
        Binding("2", "grade_filter('II')", "Only II", show=False, id="desk.only2", tooltip="Toggle grade II"),
        Binding("3", "grade_filter('III')", "Only III", show=False, id="desk.only3", tooltip="Toggle grade III"),
        Binding("4", "grade_filter('IV')", "Only IV", show=False, id="desk.only4", tooltip="Toggle grade IV"),
        Binding("t", "cycle_sort", "Sort", id="desk.sort", show=False,  # in the help; the footer is full at 80
                tooltip="Sort by grade, due clock, age or owner"),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        yield TopBar(id="topbar")
        yield ConnectionBanner(id="banner")
        yield CalendarNotice(id="calendar")
        yield CountersBar(id="counters")
        with Horizontal(id="main"):
            yield IncidentTable(lang=app.lang, now=lambda: self.app.now(), id="incidents")
            with VerticalScroll(id="side"):
                yield GradeMatrix(id="matrix")
                yield SupervisionPanel(id="supervision")
                yield TrendChart(id="trend")
                yield HealthLine(id="health")
                yield AlertsPanel(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        self.follow_app()
        self.query_one(IncidentTable).focus()
        localize_bindings(self, self.app.lang)
        self.refresh_bindings()
        self.refresh_board()

    def on_screen_resume(self) -> None:
        self.refresh_board()
        self.show_trend()

    def on_resize(self, event: events.Resize) -> None:
        was_narrow = self.has_class("-narrow")
        self.set_class(event.size.width < SIDE_MIN_WIDTH, "-narrow")
        if was_narrow and not self.has_class("-narrow"):
            self.refresh_board()  # the side panel was not drawn while hidden

    # --- drawing --------------------------------------------------------------------

    def data_changed(self) -> None:
        self.refresh_board()

    def ticked(self) -> None:
        self.query_one(IncidentTable).refresh()  # countdowns move
        self.refresh_status()

    def refresh_board(self) -> None:
        app, model = self.app, self.app.model
        self.set_class(app.size.width < SIDE_MIN_WIDTH, "-narrow")
        self.query_one(IncidentTable).set_rows(model.open_rows(), loaded=app.snapshot_loaded)
        counts, labels = model.grade_counts(), model.grade_labels()
        self.query_one(CountersBar).show(counts, model.open_count(), app.lang, self._filter_text(), labels=labels)
        if not self.has_class("-narrow"):
            owners, cells = model.matrix()
            self.query_one(GradeMatrix).show(owners, cells, app.lang, grades=labels.shown(counts))
            self.query_one(AlertsPanel).show(model.alerts(), app.zone, app.lang)
            self.query_one(SupervisionPanel).show(model.supervision, model.unsupervised(), app.lang)
        self.refresh_status()

    def _filter_text(self) -> Text:
        model, lang = self.app.model, self.app.lang
        out = Text()
        flt = model.filter
        if flt.active:
            parts = [" ".join(sorted(flt.grades, key=("I", "II", "III", "IV").index))] if flt.grades else []
            parts += [p for p in (flt.owner, flt.stage, flt.text) if p]
            colon = "：" if lang == "zh" else ": "
            out.append(f"{t('filter', lang)}{colon}", style="bold reverse")
            out.append(" ".join(parts), style="reverse")
            out.append(f" {len(model.open_rows())}", style="bold")
            out.append("  ")
        out.append(f"{t('sort', lang)}{'：' if lang == 'zh' else ': '}{t(f'sort.{model.sort}', lang)}", style="dim")
        owed = owed_count(model.supervision)
        if owed:  # open I/II incidents nobody has followed up today (sys.supervision)
            out.append(f"  {t('supervision.short', lang, n=owed)}", style=colours_of(self).warn_text)
        if self.app.read_only:
            out.append(f"  [{t('readonly', lang)}]", style=colours_of(self).warn_text)
        return out

    # --- actions --------------------------------------------------------------------

    def target_id(self) -> str | None:
        row = self.query_one(IncidentTable).highlighted
        return row.id if row else None

    def action_detail(self) -> None:
        incident_id = self.target_id()
        if incident_id:
            self._open(incident_id)

    @on(IncidentTable.Selected)
    def _selected(self, event: IncidentTable.Selected) -> None:
        self._open(event.incident_id)

    def _open(self, incident_id: str) -> None:
        self.app.push_screen(DetailScreen(incident_id))

    def action_cycle_sort(self) -> None:
        model = self.app.model
        model.set_sort(SORTS[(SORTS.index(model.sort) + 1) % len(SORTS)])
        self.refresh_board()

    def action_grade_filter(self, grade: str) -> None:
        """`1`–`4`: only that grade (as the help says); the same key again shows every grade."""
        model = self.app.model
        grades = set() if model.filter.grades == {grade} else {grade}
        model.set_filter(Filter(grades=frozenset(grades), owner=model.filter.owner,
                                stage=model.filter.stage, text=model.filter.text))
        self.refresh_board()

    def action_clear_filter(self) -> None:
        self.app.model.set_filter(Filter())
        self.refresh_board()

    def action_filter(self) -> None:
        lang, flt = self.app.lang, self.app.model.filter
        any_ = (t("any", lang), "")
        grade_value = next(iter(flt.grades)) if len(flt.grades) == 1 else ""
        spec = FormSpec(title=Text(t("action.filter", lang), style="bold"), fields=(
            FieldSpec("grade", t("field.grade", lang), "select",
                      (any_, *((g, g) for g in self.app.model.grade_labels().grades)), required=False,
                      value=grade_value if grade_value in self.app.model.grade_labels().grades else ""),
            FieldSpec("owner", t("field.owner", lang), required=False, value=flt.owner,
                      suggestions=tuple(o for o in self.app.model.matrix()[0] if o)),
            FieldSpec("stage", t("field.stage", lang), "select",
                      (any_, *((t(f"stage.{s}", lang), s) for s in STAGES if s != "closed")),
                      required=False, value=flt.stage),
            FieldSpec("text", t("field.free_text", lang), required=False, value=flt.text),
        ))

        def use_filter(values: dict[str, str] | None) -> None:
            if values is None:
                return
            grades = frozenset({values["grade"]}) if values.get("grade") else frozenset()
            self.app.model.set_filter(Filter(grades=grades, owner=values.get("owner", ""),
                                             stage=values.get("stage", ""), text=values.get("text", "")))
            self.refresh_board()

        self.app.push_screen(ActionForm(spec, lang, self.app.zone), use_filter)
