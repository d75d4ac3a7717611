"""Grade and state colours: the national warning colours, named so 16-colour terminals map them.

Colour is never the only signal: the grade numeral and the countdown's sign are always shown.
"""

from __future__ import annotations

from rich.style import Style

# True colour (and 256): the national warning colours as hex, which Textual passes through
# untouched (named ANSI colours are remapped through its Monokai palette: blue turns violet).
GRADE_HEX = {"I": "#e60012", "II": "#ff8c00", "III": "#ffd400", "IV": "#1e6fd9"}
GRADE_STYLE_TRUE: dict[str, Style] = {
    "I": Style(color="#ffffff", bgcolor=GRADE_HEX["I"], bold=True),
    "II": Style(color="#000000", bgcolor=GRADE_HEX["II"], bold=True),
    "III": Style(color="#000000", bgcolor=GRADE_HEX["III"], bold=True),
    "IV": Style(color="#ffffff", bgcolor=GRADE_HEX["IV"], bold=True),
    "": Style(color="white", bgcolor="grey37"),
}
GRADE_FG_TRUE: dict[str, Style] = {
    "I": Style(color="#ff4040", bold=True),
    "II": Style(color=GRADE_HEX["II"], bold=True),
    "III": Style(color=GRADE_HEX["III"], bold=True),
    "IV": Style(color="#5b9bff", bold=True),  # lighter than the fill: readable on black
    "": Style(dim=True),
}
# 16 colours have no orange, and red/bright red or yellow/bright yellow look alike in many
# palettes: grade II takes magenta so the four grades stay four different colours.
GRADE_STYLE_16: dict[str, Style] = {
    "I": Style(color="bright_white", bgcolor="red", bold=True),
    "II": Style(color="bright_white", bgcolor="magenta", bold=True),
    "III": Style(color="black", bgcolor="bright_yellow", bold=True),
    "IV": Style(color="bright_white", bgcolor="blue", bold=True),
    "": Style(color="black", bgcolor="white"),
}
GRADE_FG_16: dict[str, Style] = {
    "I": Style(color="bright_red", bold=True),
    "II": Style(color="bright_magenta", bold=True),
    "III": Style(color="bright_yellow", bold=True),
    "IV": Style(color="bright_blue", bold=True),
    "": Style(dim=True),
}
GRADE_STYLE: dict[str, Style] = dict(GRADE_STYLE_TRUE)
GRADE_FG: dict[str, Style] = dict(GRADE_FG_TRUE)


def use_palette(sixteen: bool) -> None:
    """Switch the grade styles for this process's board (every app sets it when it mounts)."""
    GRADE_STYLE.clear()
    GRADE_STYLE.update(GRADE_STYLE_16 if sixteen else GRADE_STYLE_TRUE)
    GRADE_FG.clear()
    GRADE_FG.update(GRADE_FG_16 if sixteen else GRADE_FG_TRUE)


CLOCK_STYLE: dict[str, Style] = {
    "breached": Style(color="bright_white", bgcolor="red", bold=True),
    "warning": Style(color="black", bgcolor="yellow", bold=True),
    "running": Style(),
    "met": Style(color="green"),
    "extended": Style(color="cyan"),
    "cancelled": Style(dim=True, strike=True),
}
GOOD = Style(color="green", bold=True)
BAD = Style(color="bright_white", bgcolor="red", bold=True)
DIM = Style(dim=True)
