"""What screens share: the status lines and the trend drawn one way, the footer's words."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets.option_list import Option

from watchboard.board.i18n import LABELS, Lang, t
from watchboard.board.widgets.status import CalendarNotice, ConnectionBanner, HealthLine, TopBar
from watchboard.board.widgets.trend import TrendChart

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp


class BoardScreen(Screen[None]):
    """A screen of the board: it follows the App's state and draws the parts every screen has
    the same way — the top bar, the connection banner, the calendar notice, the health line
    and the trend (each where the screen has it). The App computes the trend once for all
    screens (`BoardApp.trend`); a screen only draws it."""

    app: BoardApp

    def follow_app(self) -> None:
        """Call from `on_mount`: redraw on new data and every second, the status lines when the
        connection or the services' health change, the trend when the App has a new one."""
        app = self.app
        self.watch(app, "version", self.data_changed, init=False)
        self.watch(app, "tick", self.ticked, init=False)
        self.watch(app, "connection", self.refresh_status, init=False)
        self.watch(app, "health", self.refresh_status, init=False)
        self.watch(app, "trend", self.show_trend, init=True)

    def data_changed(self) -> None:
        """The model changed (a redraw of everything that shows it)."""

    def ticked(self) -> None:
        """A second passed: countdowns and the clock move."""
        self.refresh_status()

    def status_extra(self) -> Text | None:
        """What the top bar adds after the connection state (the wall: the open count)."""
        return None

    def refresh_status(self) -> None:
        app = self.app
        self.query_one(TopBar).show(title=app.title, conn=app.connection, sweep=app.model.sweep,
                                    now=app.now(), zone=app.zone, lang=app.lang, extra=self.status_extra())
        self.query_one(ConnectionBanner).show(app.connection, app.last_data_at, app.zone, app.lang,
                                              health=app.health, loaded=app.snapshot_loaded)
        self.query_one(CalendarNotice).show(app.model.calendar, app.lang)
        for line in self.query(HealthLine):
            line.show(app.health, app.lang)

    def show_trend(self) -> None:
        trend = self.app.trend
        if trend is not None:
            for chart in self.query(TrendChart):
                chart.show(trend.per_grade, trend.breached, self.app.lang, self.app.model.grade_labels())

_SPECIAL = {"desk.clear": "action.clear_filter", "wall.readonly": "readonly"}


def localize_bindings(node: DOMNode, lang: Lang) -> None:
    """Give the footer the labels in the board's language: binding `x.verb` → `action.verb`."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        out = []
        for binding in items:
            label_key = _SPECIAL.get(binding.id or "", f"action.{(binding.id or '').rpartition('.')[2]}")
            if binding.id and label_key in LABELS[lang]:
                # the footer's hover text too: ours in the board's language, else none
                verb = (binding.id or "").rpartition(".")[2]
                tooltip = t(f"palette.act.{verb}", lang) if f"palette.act.{verb}" in LABELS[lang] else ""
                binding = dataclasses.replace(binding, description=t(label_key, lang), tooltip=tooltip)
            out.append(binding)
        bindings[key] = out


class LocalPalette(CommandPalette):
    """Textual's command palette with its prompt and its "no matches" line in the board's language."""

    def __init__(self, lang: Lang) -> None:
        super().__init__(placeholder=t("palette.placeholder", lang), id="--command-palette")
        self.lang = lang

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # Textual writes "No matches found" itself; ours says it in the board's language.
        self._stop_no_matches_countdown()

        def show() -> None:
            if search_value:
                command_list = self.query_one(CommandList)
                command_list.add_option(Option(Align.center(Text(t("palette.none", self.lang), style="not bold")),
                                               disabled=True, id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show)
