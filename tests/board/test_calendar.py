"""The calendar coverage notice (`sys.calendar`) and provisional clocks, in the model and on screen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.board.support import (
    NOW,
    RecordingSender,
    ScriptedFeed,
    incident,
    make_app,
    settle,
    snapshot,
    static_text,
    table_lines,
)
from watchboard.board.model import BoardModel
from watchboard.board.screens.detail import DetailScreen
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import CALENDAR_KEY, ClockView

WARN = (b'{"warning_zh": "\xe8\xaf\xb7\xe8\xa1\xa5\xe5\x85\xa5 2027", "warning_en": "add 2027 from the State '
        b'Council notice to calendar.toml", "covered_until": "2026-12-31", "from_the_future": [1, 2]}')


@pytest.mark.parametrize(("value", "zh", "en", "until"), [
    (WARN, "请补入 2027", "add 2027 from the State Council notice to calendar.toml", date(2026, 12, 31)),
    (b'{}', None, None, None),
    (b'{"warning_en": "only english"}', None, "only english", None),
])
def test_model_decodes_calendar_defensively(value: bytes, zh: str | None, en: str | None,
                                            until: date | None) -> None:
    """Unknown fields are ignored and missing ones take defaults; no incident is touched."""
    model = BoardModel()
    assert model.ingest(KVChange(CALENDAR_KEY, value)) == set()
    assert model.calendar is not None
    assert (model.calendar.warning_zh, model.calendar.warning_en, model.calendar.covered_until) == (zh, en, until)
    assert model.incidents == {}


@pytest.mark.parametrize("value", [b"not json", b'{"covered_until": "someday"}', None])
def test_model_unreadable_or_deleted_calendar_clears_notice(value: bytes | None) -> None:
    """A value the board cannot read, or a deleted key, shows no notice (never a crash)."""
    model = BoardModel()
    model.ingest(KVChange(CALENDAR_KEY, WARN))
    model.ingest(KVChange(CALENDAR_KEY, value))
    assert model.calendar is None


@pytest.mark.parametrize(("wall", "lang", "expected"), [
    (False, "zh", "工作日历：请补入 2027"),
    (True, "zh", "工作日历：请补入 2027"),
    (False, "en", "Working calendar: add 2027 from the State Council notice to calendar.toml"),
    (True, "en", "Working calendar: add 2027 from the State Council notice to calendar.toml"),
])
async def test_calendar_notice_on_wall_and_desk(wall: bool, lang: str, expected: str) -> None:
    """The warning shows in the board's language on both layouts, and goes when the warning is cleared."""
    feed = ScriptedFeed(*snapshot(incident(1, "II"), [KVChange(CALENDAR_KEY, WARN)]))
    app = make_app(feed, RecordingSender(), wall=wall, lang=lang)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        notice = app.screen.query_one("#calendar")
        assert notice.display and static_text(app, "#calendar") == expected
        feed.push(KVChange(CALENDAR_KEY, b'{"covered_until": "2027-12-31", "warning_zh": "", "warning_en": ""}'))
        await settle(pilot, app)
        assert not notice.display


async def test_calendar_notice_hostile_text_is_plain() -> None:
    """Markup and escape sequences in the warning are shown as harmless text."""
    value = b'{"warning_en": "[bold red]x[/] \\u001b]52;c;aGk=\\u0007 \\u202eevil"}'
    feed = ScriptedFeed(*snapshot([KVChange(CALENDAR_KEY, value)]))
    app = make_app(feed, RecordingSender(), lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        text = static_text(app, "#calendar")
        assert "[bold red]x[/]" in text
        assert not any(ch in text for ch in "\x1b\x07\u202e")


def _clocks(provisional: bool) -> list[ClockView]:
    return [ClockView(name="first_response", due_at=NOW + timedelta(hours=2), basis="working",
                      status="running", provisional=provisional)]


@pytest.mark.parametrize(("provisional", "due"), [(True, "~2h00m"), (False, "2h00m")])
async def test_provisional_clock_marked_in_list_and_detail(provisional: bool, due: str) -> None:
    """A clock resting on an unknown calendar shows `~` in the countdown and a line in the detail."""
    feed = ScriptedFeed(*snapshot(incident(1, "II", title="暂定时限", clocks=_clocks(provisional))))
    app = make_app(feed, RecordingSender(), lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        row = next(line for line in table_lines(app) if "暂定时限" in line)
        assert row.split()[1] == due
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DetailScreen)
        body = static_text(app, "#detail-body")
        assert f"  {due}  (working time)" in body
        assert ("provisional: the working calendar does not cover this date yet" in body) is provisional
