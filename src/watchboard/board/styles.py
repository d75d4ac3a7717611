"""The board's colours, defined once as Textual theme variables, and the Rich styles made from them.

The variables (`$grade-i`, `$status-alarm`, …) are what the widgets' CSS and board.tcss use;
`BoardApp.get_theme_variable_defaults` supplies them, so a theme may override any of them.
What a widget draws itself (the incident list, the counters, the detail) takes its styles from
`Colours`, read from the same variables, never from a colour written in the widget.

Colour is never the only signal: the grade numeral and the countdown's sign are always shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style
from textual.dom import DOMNode

GRADE_VARS = {"I": "grade-i", "II": "grade-ii", "III": "grade-iii", "IV": "grade-iv", "": "grade-none"}

# Every value is a Textual CSS colour, either `#rrggbb` or `ansi_<name>` (read back by
# `rich_colour`). True colour (and 256): the national warning colours as hex, which Textual
# passes through untouched; the status colours as ANSI names, which Textual maps through its
# theme's ANSI palette (named ANSI colours would turn grade IV's blue violet).
THEME_VARIABLES: dict[str, str] = {
    # the grade's fill (`-ink` the numeral on it) and its colour as text on the board
    "grade-i": "#e60012", "grade-i-ink": "#ffffff", "grade-i-text": "#ff4040",
    "grade-ii": "#ff8c00", "grade-ii-ink": "#000000", "grade-ii-text": "#ff8c00",
    "grade-iii": "#ffd400", "grade-iii-ink": "#000000", "grade-iii-text": "#ffd400",
    "grade-iv": "#1e6fd9", "grade-iv-ink": "#ffffff", "grade-iv-text": "#5b9bff",  # text lighter: readable on black
    "grade-none": "#5f5f5f", "grade-none-ink": "ansi_white",
    # what is wrong now: a breached clock, a failed delivery, a service that stopped answering
    "status-alarm": "ansi_red", "status-alarm-ink": "ansi_bright_white",
    # what needs a person soon: a clock due soon, nobody acknowledged, reconnecting, provisional
    "status-warn": "ansi_yellow", "status-warn-ink": "ansi_black",
    "status-ok": "ansi_green",  # met, acknowledged, sent, connected, answering
    "status-extended": "ansi_cyan",  # an extended clock
    "status-flag": "#870000", "status-flag-ink": "ansi_white",  # rumour / illegal badges
    "status-link": "ansi_cyan",  # links and key caps
    "status-media": "ansi_magenta",  # the media level of a mention
    # a wall counter at zero in 16 colours (in true colour it takes the theme's $surface)
    "counter-zero": "ansi_black", "counter-zero-ink": "ansi_white",
}
# 16 colours: the terminal's own palette. It has no orange, and red/bright red or yellow/bright
# yellow look alike in many palettes: grade II takes magenta so the four grades stay four colours.
THEME_VARIABLES_16: dict[str, str] = {
    **THEME_VARIABLES,
    "grade-i": "ansi_red", "grade-i-ink": "ansi_bright_white", "grade-i-text": "ansi_bright_red",
    "grade-ii": "ansi_magenta", "grade-ii-ink": "ansi_bright_white", "grade-ii-text": "ansi_bright_magenta",
    "grade-iii": "ansi_bright_yellow", "grade-iii-ink": "ansi_black", "grade-iii-text": "ansi_bright_yellow",
    "grade-iv": "ansi_blue", "grade-iv-ink": "ansi_bright_white", "grade-iv-text": "ansi_bright_blue",
    "grade-none": "ansi_white", "grade-none-ink": "ansi_black",
}


def theme_variables(sixteen: bool) -> dict[str, str]:
    return dict(THEME_VARIABLES_16 if sixteen else THEME_VARIABLES)


def rich_colour(value: str) -> str:
    """A variable's CSS colour as Rich names it: `ansi_bright_white` → `bright_white`, hex as is.

    Rich's own names reach a 16-colour terminal's palette as they are, which the tests check
    (grade I's cell is `red`, not an RGB value squeezed to the nearest of 16)."""
    value = value.strip()
    if value.startswith("ansi_"):
        return value.removeprefix("ansi_")
    if value.startswith("#") and len(value) == 7:
        return value
    raise ValueError(f"board colour {value!r}: expected #rrggbb or ansi_<name>")


@dataclass(frozen=True)
class Colours:
    """Rich styles for what widgets draw themselves, every colour from a theme variable."""

    grade: dict[str, Style]  # the grade's fill with its numeral in ink ("" = not graded)
    grade_text: dict[str, Style]  # the grade's colour as text
    clock: dict[str, Style]  # by `format.clock_state`
    alarm: Style  # white on red: breached, failed, missed sweeps
    alarm_text: Style  # bold red text
    alarm_soft: Style  # red text
    warn: Style  # black on yellow: due soon, unacknowledged
    warn_text: Style  # bold yellow text
    warn_soft: Style  # yellow text
    unassigned: Style  # italic yellow: no owner yet
    ok: Style  # bold green
    ok_soft: Style  # green
    extended: Style
    flag: Style  # a rumour / illegal badge
    link: Style
    key: Style  # a key cap in the help
    media: Style

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> Colours:
        def c(name: str) -> str:
            return rich_colour(variables[name])

        alarm = Style(color=c("status-alarm-ink"), bgcolor=c("status-alarm"), bold=True)
        warn = Style(color=c("status-warn-ink"), bgcolor=c("status-warn"), bold=True)
        ok_soft = Style(color=c("status-ok"))
        extended = Style(color=c("status-extended"))
        grade = {g: Style(color=c(f"{v}-ink"), bgcolor=c(v), bold=True if g else None) for g, v in GRADE_VARS.items()}
        grade_text = {g: Style(color=c(f"{v}-text"), bold=True) for g, v in GRADE_VARS.items() if g}
        return cls(
            grade=grade,
            grade_text={**grade_text, "": Style(dim=True)},
            clock={"breached": alarm, "warning": warn, "running": Style(), "met": ok_soft,
                   "extended": extended, "cancelled": Style(dim=True, strike=True)},
            alarm=alarm,
            alarm_text=Style(color=c("status-alarm"), bold=True),
            alarm_soft=Style(color=c("status-alarm")),
            warn=warn,
            warn_text=Style(color=c("status-warn"), bold=True),
            warn_soft=Style(color=c("status-warn")),
            unassigned=Style(color=c("status-warn"), italic=True),
            ok=Style(color=c("status-ok"), bold=True),
            ok_soft=ok_soft,
            extended=extended,
            flag=Style(color=c("status-flag-ink"), bgcolor=c("status-flag"), bold=True),
            link=Style(color=c("status-link"), underline=True),
            key=Style(color=c("status-link"), bold=True),
            media=Style(color=c("status-media"), bold=True),
        )


TRUE_COLOUR = Colours.from_variables(THEME_VARIABLES)
SIXTEEN_COLOURS = Colours.from_variables(THEME_VARIABLES_16)
DIM = Style(dim=True)  # not a colour: the terminal's faint text


def colours_of(node: DOMNode) -> Colours:
    """The colours of the board `node` is part of (true colour in an app that is not the board)."""
    colours = getattr(node.app, "colours", None)
    return colours if isinstance(colours, Colours) else TRUE_COLOUR
