"""Every key on one page, in the board's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from watchboard.board.format import fit
from watchboard.board.i18n import Lang, t
from watchboard.board.styles import Colours, colours_of

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp

# (keys, label key, hint key): the single list the help screen shows, every word from i18n.
KEYS: tuple[tuple[str, str, str], ...] = (
    ("↑ ↓ j k", "", "help.move"),
    ("PgUp PgDn Home End", "", "help.page"),
    ("Enter", "action.detail", ""),
    ("Esc", "", "help.back_clear"),
    ("a", "action.ack", ""),
    ("o", "action.assign", ""),
    ("g", "action.regrade", ""),
    ("s", "action.stage", ""),
    ("m", "action.done", ""),
    ("x", "action.extend", ""),
    ("n", "action.note", ""),
    ("c", "action.close", ""),
    ("f", "action.task_feedback", ""),
    ("v", "action.statement_approve", "help.approve"),
    ("/", "action.filter", ""),
    ("1 2 3 4", "", "help.only"),
    ("t", "action.sort", "help.sort_order"),
    ("w", "action.wall", ""),
    ("Ctrl+P", "action.palette", ""),
    ("? F1", "action.help", ""),
    ("q", "action.quit", ""),
)
ACTION_KEYS = "a o g s m x n c f v"


def help_text(lang: Lang, read_only: bool, colours: Colours) -> Text:
    out = Text(t("help.title", lang), style="bold underline")
    for keys, label, hint in KEYS:
        out.append("\n")
        out.append(fit(keys, 20), style=colours.key)
        if label:
            out.append(t(label, lang))
        if hint:
            out.append(f"  {t(hint, lang)}" if label else t(hint, lang), style="dim" if label else "")
    out.append(f"\n\n{t('help.ack_col', lang)}")
    out.append(f"\n{t('help.tasks_col', lang)}")
    if read_only:
        out.append(f"\n\n{t('help.readonly', lang, keys=ACTION_KEYS)}", style=colours.warn_soft)
    out.append(f"\n\n{t('help.close', lang)}", style="dim")
    return out


class HelpScreen(ModalScreen[None]):
    app: BoardApp
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 60; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q,f1", "dismiss", "Close", id="help.close",
                        tooltip="Close this help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(self.app.lang, self.app.read_only, colours_of(self)), id="help-body")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
