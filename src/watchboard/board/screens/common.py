"""Helpers shared by screens."""

from __future__ import annotations

import dataclasses

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.dom import DOMNode
from textual.widgets.option_list import Option

from watchboard.board.i18n import LABELS, Lang, t

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
