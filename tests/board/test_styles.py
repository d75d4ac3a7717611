"""The board's colours: defined once as theme variables, read back as Rich styles, written nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import textual.constants
from rich.color import ColorType

from tests.board.support import RecordingSender, ScriptedFeed, incident, make_app, settle, snapshot
from watchboard.board.styles import (
    SIXTEEN_COLOURS,
    THEME_VARIABLES,
    THEME_VARIABLES_16,
    TRUE_COLOUR,
    Colours,
    rich_colour,
)

BOARD = Path(__file__).parents[2] / "src" / "watchboard" / "board"
# A colour written as a literal: a hex value, an ANSI name, or a Rich colour word inside a style string.
COLOUR = r"(?:red|green|yellow|blue|cyan|magenta|white|black|orange|grey\d*|dark_red|bright_[a-z]+)"
LITERAL = re.compile(r"#[0-9a-fA-F]{6}\b"  # a hex value
                     r"|\bansi_(?!color\b)[a-z_]+"  # a Textual ANSI name
                     rf"|\"(?:[a-z]+ )*{COLOUR}(?: on [a-z_]+)?\""  # a whole Rich style string: "bold red"
                     rf"|(?:color|bgcolor)=\"[^\"]*\b{COLOUR}\b")  # Style(color="green")


@pytest.mark.parametrize(("value", "expected"), [
    ("#e60012", "#e60012"), ("ansi_bright_white", "bright_white"), (" ansi_red ", "red"),
])
def test_rich_colour(value: str, expected: str) -> None:
    """A theme variable's CSS colour becomes the Rich colour of the same name."""
    assert rich_colour(value) == expected


@pytest.mark.parametrize("value", ["red", "#e600", "rgb(1,2,3)", "$error"])
def test_rich_colour_refuses_what_it_cannot_read(value: str) -> None:
    """Only hex and ANSI names are board colours; anything else is refused with the value named."""
    with pytest.raises(ValueError, match=re.escape(repr(value.strip()))):
        rich_colour(value)


@pytest.mark.parametrize("variables", [THEME_VARIABLES, THEME_VARIABLES_16], ids=["true", "sixteen"])
def test_every_variable_is_a_board_colour(variables: dict[str, str]) -> None:
    """Both sets define the same variables, each readable as a Rich colour."""
    assert set(variables) == set(THEME_VARIABLES)
    for value in variables.values():
        rich_colour(value)


def test_sixteen_colours_use_the_terminal_palette() -> None:
    """In 16 colours every grade style is an ANSI colour, four different fills."""
    fills = [SIXTEEN_COLOURS.grade[g].bgcolor for g in ("I", "II", "III", "IV")]
    assert all(c is not None and c.type == ColorType.STANDARD for c in fills)
    assert [c.name for c in fills] == ["red", "magenta", "bright_yellow", "blue"]  # type: ignore[union-attr]
    assert TRUE_COLOUR.grade["I"].bgcolor.triplet.hex == "#e60012"  # type: ignore[union-attr]


def test_a_theme_can_recolour_the_board() -> None:
    """The styles come from the variables given: change one and the style follows."""
    colours = Colours.from_variables({**THEME_VARIABLES, "grade-i": "#00ff00", "status-alarm": "ansi_blue"})
    assert colours.grade["I"].bgcolor.triplet.hex == "#00ff00"  # type: ignore[union-attr]
    assert colours.clock["breached"].bgcolor.name == "blue"  # type: ignore[union-attr]
    assert colours.alarm_text.color.name == "blue"  # type: ignore[union-attr]


def test_no_colour_is_written_outside_styles() -> None:
    """Widgets, screens and the app's CSS use the variables (`$grade-i`) or `Colours`, never a colour of their own."""
    found = []
    for path in sorted([*BOARD.rglob("*.py"), *BOARD.rglob("*.tcss")]):
        if path.name in ("styles.py", "sample.py"):  # the definitions; the sample's hostile markup is data
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if LITERAL.search(line):
                found.append(f"{path.relative_to(BOARD)}:{n}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize("system", ["standard", "truecolor"])
async def test_the_app_gives_css_and_widgets_the_same_colours(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    """The variables reach the CSS ($grade-i) and the app's `Colours` for the terminal's colours."""
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)
    feed = ScriptedFeed(*snapshot(incident(1, "I")))
    app = make_app(feed, RecordingSender(), wall=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        expected = THEME_VARIABLES_16 if system == "standard" else THEME_VARIABLES
        assert app.theme_variables["grade-i"] == expected["grade-i"]
        assert app.colours == (SIXTEEN_COLOURS if system == "standard" else TRUE_COLOUR)
        border = app.screen.query_one("#count-I").styles.border_top[1]
        assert (border.ansi is not None) is (system == "standard")
