"""16 colours and true colour: the four grades stay four colours; the board survives resizing."""

from __future__ import annotations

from typing import Any

import pytest
import textual.constants
from rich.color import ColorType

from tests.board.support import RecordingSender, ScriptedFeed, incident, make_app, settle, snapshot
from watchboard.board.widgets.counters import GradeCounter
from watchboard.board.widgets.incident_table import IncidentTable

GRADES = ("I", "II", "III", "IV")


def grade_cells(app: Any) -> dict[str, Any]:
    """The background colour of each grade's cell in the list, as drawn."""
    table = app.screen.query_one("#incidents", IncidentTable)
    out = {}
    for y in range(1, 5):
        seg = next(iter(table.render_line(y)))
        out[seg.text.strip()] = seg.style.bgcolor
    return out


@pytest.mark.parametrize("system", ["standard", "truecolor"])
async def test_grades_stay_distinct(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    """Each grade has its own background in 16 colours (terminal palette) and in true colour."""
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)
    feed = ScriptedFeed(*snapshot(*(incident(i, g) for i, g in enumerate(GRADES))))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert app.sixteen_colours is (system == "standard")
        cells = grade_cells(app)
        assert sorted(cells) == sorted(GRADES)
        assert len({c.name if c.type == ColorType.STANDARD else c.triplet for c in cells.values()}) == 4
        if system == "standard":
            assert all(c.type == ColorType.STANDARD for c in cells.values())
            assert app.ansi_color is True
            assert cells["I"].name == "red" and cells["IV"].name == "blue"
        else:
            assert all(c.type == ColorType.TRUECOLOR for c in cells.values())
        await pilot.press("w")
        await settle(pilot, app)
        backgrounds = {c.grade: c.styles.background for c in app.screen.query(GradeCounter)}
        assert len({str(b) for b in backgrounds.values()}) == 4
        # 16 colours: the wall's counters use the terminal's palette too, not squeezed RGB
        assert all((b.ansi is not None) is (system == "standard") for b in backgrounds.values())


async def test_resize_repeatedly_between_tiny_and_wall_sizes() -> None:
    """80×24 → 40×12 → 300×80 and back, on the desk and the wall: no crash, lines fit."""
    feed = ScriptedFeed(*snapshot(*(incident(i, GRADES[i % 4], title="长标题" * 20) for i in range(40))))
    app = make_app(feed, RecordingSender())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, rounds=1)
        for mode in ("operator", "wall"):
            for size in [(80, 24), (40, 12), (300, 80)] * 3 + [(40, 12), (80, 24)]:
                await pilot.resize_terminal(*size)
                await pilot.pause()
                assert app.size == size
            await settle(pilot, app, rounds=1)
            selector = "#incidents" if mode == "operator" else "#urgent-table"
            table = app.screen.query_one(selector, IncidentTable)
            assert all(table.render_line(y).cell_length <= 80 for y in range(table.size.height))
            assert app.current_mode == mode
            await pilot.press("w")
            await settle(pilot, app, rounds=1)
        assert app.is_running
