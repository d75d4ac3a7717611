"""Snapshot tests (pytest-textual-snapshot): the wall and the desk at 80×24 and 200×50, zh and en.

Every picture comes from the fixed sample feed and the fixed clock NOW, so the SVGs under
`__snapshots__/` change only when the board's look does. After a deliberate change, review
and accept with `pytest tests/board/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from typing import Any

import pytest
import textual.constants
from textual.pilot import Pilot

from tests.board.support import fixed_app

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


@pytest.fixture(autouse=True)
def true_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same picture whatever $TERM says (TERM=xterm alone would pick the 16-colour palette)."""
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait until the snapshot is folded in and drawn (bounded: the feed is in memory)."""
    app = pilot.app
    for _ in range(100):
        await pilot.pause(0.02)
        if getattr(app, "snapshot_loaded", False) and getattr(app, "health", None) is not None:
            break
    await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("mode", ["wall", "operator"])
def test_board_snapshot(snap_compare: Any, mode: str, lang: str, size: str) -> None:
    """The board looks as accepted: counters, list, matrix, trend, health, clock."""
    app = fixed_app(wall=mode == "wall", lang=lang)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=loaded)
