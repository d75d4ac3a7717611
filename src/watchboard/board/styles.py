"""Grade and state colours: the national warning colours, named so 16-colour terminals map them.

Colour is never the only signal: the grade numeral and the countdown's sign are always shown.
"""

from __future__ import annotations

from rich.style import Style

GRADE_STYLE: dict[str, Style] = {
    "I": Style(color="bright_white", bgcolor="red", bold=True),
    "II": Style(color="black", bgcolor="dark_orange", bold=True),
    "III": Style(color="black", bgcolor="yellow", bold=True),
    "IV": Style(color="bright_white", bgcolor="blue", bold=True),
    "": Style(color="white", bgcolor="grey37"),
}
GRADE_FG: dict[str, Style] = {
    "I": Style(color="red", bold=True),
    "II": Style(color="dark_orange", bold=True),
    "III": Style(color="yellow", bold=True),
    "IV": Style(color="blue", bold=True),
    "": Style(dim=True),
}
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
