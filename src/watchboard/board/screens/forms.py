"""Modal screens: an action's input form, a yes/no confirmation and the filter form.

Forms return plain dicts (or None when cancelled); the caller decides what to send. Every
label that may carry untrusted text (titles, owners) is passed as `rich.text.Text`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select

from watchboard.board.i18n import Lang, t


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "input"  # input | select | time
    options: tuple[tuple[str, str], ...] = ()  # (shown, value) for selects
    required: bool = True
    value: str = ""
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormSpec:
    title: Text
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)
    # A check across fields (e.g. a note required for some clocks): the problem, or None.
    check: Callable[[dict[str, str]], str | None] | None = None


def parse_local_time(text: str, zone: ZoneInfo) -> datetime | None:
    """`2026-11-22 18:00` in the board's zone → an aware datetime (None if unreadable)."""
    text = text.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%m-%d %H:%M"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%m-%d %H:%M":
            parsed = parsed.replace(year=datetime.now(zone).year)
        return parsed.replace(tzinfo=zone)
    return None


class ActionForm(ModalScreen[dict[str, str] | None]):
    """Ask for an action's fields; Enter in the last field or Submit returns them."""

    # Compact: one line per field (label beside a borderless input), so the filter form's four
    # fields, the message and the buttons fit an 80×24 terminal with room to spare.
    DEFAULT_CSS = """
    ActionForm { align: center middle; }
    ActionForm > Vertical {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ActionForm .form-title { text-style: bold; margin-bottom: 1; width: 100%; }
    ActionForm .form-row { height: auto; margin-bottom: 1; }
    ActionForm .form-label { width: 18; padding-right: 1; }
    ActionForm .form-row Input, ActionForm .form-row Select { width: 1fr; }
    /* borderless fields still need to look like fields */
    ActionForm .form-row Input, ActionForm .form-row SelectCurrent { background: $panel; }
    ActionForm .form-row Input:focus, ActionForm .form-row Select:focus > SelectCurrent { background: $panel-lighten-2; }
    ActionForm .form-error { color: $error; text-style: bold; height: auto; }
    ActionForm .form-buttons { height: auto; align-horizontal: right; }
    ActionForm .form-buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without sending")]

    def __init__(self, spec: FormSpec, lang: Lang, zone: ZoneInfo) -> None:
        super().__init__()
        self.spec = spec
        self.lang = lang
        self.zone = zone

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.spec.title, classes="form-title")
            for f in self.spec.fields:
                with Horizontal(classes="form-row"):
                    yield Label(f.label + ("" if f.required else t("form.optional", self.lang)),
                                classes="form-label")
                    if f.kind == "select":
                        yield Select(list(f.options), id=f"f-{f.name}", allow_blank=not f.value,
                                     value=f.value if f.value else Select.NULL,
                                     prompt=t("form.choose", self.lang), compact=True)
                    else:
                        yield Input(value=f.value, id=f"f-{f.name}", compact=True,
                                    placeholder="YYYY-MM-DD HH:MM" if f.kind == "time" else "",
                                    suggester=SuggestFromList(f.suggestions, case_sensitive=False)
                                    if f.suggestions else None)
            yield Label("", classes="form-error", id="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(t("form.cancel", self.lang), id="cancel", compact=True)
                yield Button(t("form.submit", self.lang), id="submit", variant="primary", compact=True)

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.spec.fields:
            widget = self.query_one(f"#f-{f.name}")
            if isinstance(widget, Select):
                out[f.name] = "" if widget.value is Select.NULL else str(widget.value)
            elif isinstance(widget, Input):
                out[f.name] = widget.value.strip()
        return out

    def validate(self, values: dict[str, str]) -> str | None:
        for f in self.spec.fields:
            if f.required and not values.get(f.name):
                return t("form.required", self.lang, field=f.label)
            if f.kind == "time" and values.get(f.name):
                due = parse_local_time(values[f.name], self.zone)
                if due is None:
                    return t("form.bad_time", self.lang)
                values[f.name] = due.isoformat()
        if self.spec.check is not None:
            return self.spec.check(values)
        return None

    def _submit(self) -> None:
        values = self.values()
        problem = self.validate(values)
        if problem:
            self.query_one("#form-error", Label).update(Text(problem))
            return
        self.dismiss(values)

    @on(Button.Pressed, "#submit")
    def _on_submit(self) -> None:
        self._submit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _on_enter(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if event.input is inputs[-1]:
            self._submit()
        else:
            self.focus_next()


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, for the actions that are hard to undo (close, regrade)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 100%; height: auto; border: thick $error; background: $surface;
        padding: 1 2;
    }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Do not send"),
    ]

    def __init__(self, message: Text, lang: Lang) -> None:
        super().__init__()
        self.message = message
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(t("confirm.title", self.lang), style="bold"))
            yield Label(self.message)
            with Horizontal():
                yield Button(f"{t('confirm.no', self.lang)} (n)", id="no", compact=True)
                yield Button(f"{t('confirm.yes', self.lang)} (y)", id="yes", variant="error", compact=True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
