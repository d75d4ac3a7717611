"""Each language wholly: every screen of the Chinese board has no English word, and every
screen of the English board no Chinese character, except inside the data (titles, summaries,
regions, people's ids, URLs) and key caps, grade numerals, file names and commands.

The walk: the loading screen with no system, the desk at 80×24 and 160×40 (side panel), a
toast after Ctrl-C, the command palette (listed, and searched for nothing), help, every action
form (and its confirmation and the toast after sending), the filter form, the detail of the
incident that has every fact (statements, tasks, evidence, a meeting, supervision) and the
confirmation of approving its statement, the read-only wall at 80×24 and 200×50 and its read-only toast,
and the banner of a lost connection. What is checked is what a person sees: the text of the
exported screen, plus the whole text of the scrolled detail and help.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.board.support import (
    NOW,
    RecordingSender,
    ScriptedFeed,
    default_board_config,
    fixed_app,
    sample_feed,
    settle,
    static_text,
)
from watchboard.board.app import BoardApp
from watchboard.board.sample import sample_items
from watchboard.bus.feed_types import Connection
from watchboard.domain.views import GradeView, MeetingView, decode_view, split_key

# Latin tokens a Chinese screen may show: grade numerals, key caps, the time format hint,
# the file and the command a notice names.
ALLOWED_LATIN = {w.casefold() for w in (
    "I", "II", "III", "IV", "Enter", "Esc", "PgUp", "PgDn", "Home", "End", "Ctrl", "F1",
    "YYYY", "MM", "DD", "HH", "calendar", "toml", "watchboard", "up", "nats",
)}
LATIN = re.compile(r"[A-Za-z]{2,}")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")


# Fields of one kind of value the board names in its own words (a task's `source` is what a
# person typed, a grade's `source` is rules | person; a meeting's kind is 会商 | 联席会议 | 会办).
OWN_WORDS = {("source", GradeView), ("kind", MeetingView)}


def data_strings() -> list[str]:
    """Every string of the sample feed that came from outside the board (people, services)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif hasattr(value, "__struct_fields__"):
            for name in value.__struct_fields__:
                if name in ("reasons", "reasons_en", "owner_reason", "owner_reason_en", "owner_name",
                            "owner_name_en", "warning_zh", "warning_en", "flags", "status", "basis",
                            "counted_from", "stage", "sentiment", "channel", "cause", "platform",
                            "platforms", "media_level", "topic", "grade", "state", "action") \
                        or (name, type(value)) in OWN_WORDS:
                    continue  # the board must show these in its own words, or the right twin
                walk(getattr(value, name))

    for item in sample_items(NOW):
        parts = split_key(item.key)
        if parts is not None and item.value is not None:
            walk(decode_view(parts[1], item.value))
    return out


DATA = data_strings()


def screen_text(app: BoardApp) -> str:
    svg = app.export_screenshot()
    runs = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    return " ".join(html.unescape(r).replace("\xa0", " ") for r in runs)


def foreign(text: str, lang: str) -> list[str]:
    """The bits of `text` in the other language that are not part of the data."""
    def in_data(bit: str) -> bool:
        core = bit.strip("…")
        return any(core in d for d in DATA)

    if lang == "zh":
        return sorted({w for w in LATIN.findall(text) if w.casefold() not in ALLOWED_LATIN and not in_data(w)})
    return sorted({w for w in CJK.findall(text) if not in_data(w)})


async def loaded(pilot: Pilot[Any], app: BoardApp) -> None:
    for _ in range(100):
        await pilot.pause(0.02)
        if app.snapshot_loaded and app.health is not None:
            break
    await settle(pilot, app)


class Seen:
    """Screens looked at, by name, and what in them was in the other language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.problems: dict[str, list[str]] = {}
        self.names: list[str] = []

    def look(self, name: str, *texts: str) -> None:
        self.names.append(name)
        bad = foreign(" ".join(texts), self.lang)
        if bad:
            self.problems[name] = bad


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_screen_speaks_one_language(lang: str) -> None:
    """The walk over every screen finds no word of the other language outside the data."""
    seen = Seen(lang)

    # No system at the URL: the loading screen says so and what to run.
    feed = ScriptedFeed(Connection(state="reconnecting", at=NOW, url="nats://127.0.0.1:4222",
                                   error="Connect call failed"))
    app = BoardApp(feed.factory, RecordingSender(), lang=lang, zone=sample_app_zone(), now=lambda: NOW,
                   flush_interval=0.02, retry_delay=0.05, **default_board_config())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        text = screen_text(app).replace("Connect call failed", "")  # the library's own error, data
        assert "watchboard up" in text
        seen.look("loading, no system", text)

    send = RecordingSender()
    app = fixed_app(wall=False, lang=lang, send=send)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        seen.look("desk 80x24", screen_text(app))
        await pilot.resize_terminal(160, 40)
        await settle(pilot, app)
        seen.look("desk 160x40", screen_text(app))
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)

        await pilot.press("ctrl+c")
        await settle(pilot, app)
        seen.look("ctrl+c toast", screen_text(app))
        app.clear_notifications()

        await pilot.press("ctrl+p")
        await settle(pilot, app, rounds=6)
        seen.look("palette", screen_text(app))
        await pilot.press(*"zzzz")
        await pilot.pause(0.8)  # the "no matches" line comes after half a second
        seen.look("palette, no match", screen_text(app).replace("zzzz", ""))  # what was typed
        await pilot.press("escape")
        await settle(pilot, app)

        await pilot.press("question_mark")
        await settle(pilot, app)
        seen.look("help", screen_text(app), static_text(app, "#help-body"))
        await pilot.press("escape")
        await settle(pilot, app)

        for key in ("o", "g", "s", "m", "x", "n", "c", "f", "slash"):
            await pilot.press(key)
            await settle(pilot, app, rounds=2)
            seen.look(f"form {key}", screen_text(app))
            await pilot.press("escape")
            await settle(pilot, app, rounds=2)

        # One action through to its confirmation and the toast that follows.
        await pilot.press("c")
        await settle(pilot, app, rounds=2)
        app.screen.query_one("#f-summary").value = "已澄清"  # type: ignore[attr-defined]
        await pilot.click("#submit")
        await settle(pilot, app, rounds=2)
        seen.look("confirm close", screen_text(app))
        await pilot.press("y")
        await settle(pilot, app)
        seen.look("sent toast", screen_text(app))
        assert send.calls and send.calls[-1][0] == "close"
        app.clear_notifications()

        await pilot.press("a")  # ack sends at once
        await settle(pilot, app)
        seen.look("ack toast", screen_text(app))
        app.clear_notifications()

        await pilot.press("enter")
        await settle(pilot, app)
        seen.look("detail", screen_text(app), static_text(app, "#detail-body"))
        await pilot.press("v")  # approve the statement awaiting approval: the confirmation
        await settle(pilot, app, rounds=2)
        seen.look("confirm approve", screen_text(app))
        await pilot.press("n")
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)

        feed_conn = Connection(state="disconnected", at=NOW, url="nats://127.0.0.1:4222")
        app.post_message(app.ConnectionChanged(feed_conn))
        await settle(pilot, app)
        seen.look("connection lost", screen_text(app))

    for size in ((80, 24), (200, 50)):
        app = fixed_app(wall=True, lang=lang)
        async with app.run_test(size=size) as pilot:
            await loaded(pilot, app)
            seen.look(f"wall {size}", screen_text(app))
            await pilot.press("a")
            await settle(pilot, app)
            seen.look(f"wall {size} read-only toast", screen_text(app))

    assert len(seen.names) >= 20
    assert seen.problems == {}, f"{lang} board shows the other language: {seen.problems}"


def sample_app_zone():  # type: ignore[no-untyped-def]
    from tests.board.support import ZONE
    return ZONE


def test_the_check_finds_a_word_of_the_other_language() -> None:
    """The check itself: an English label on the Chinese board, or Chinese on the English one, is found."""
    assert foreign("级别 时限 Grade 标题", "zh") == ["Grade"]
    assert foreign("Grade 特别重大 Due", "en") == ["特别重大"]
    assert foreign("I II 网传仲山镇中学食堂使用过期食材，家长聚… Enter Esc", "zh") == []
    assert foreign("Title 网传仲山镇中学食堂使用过期食材，家长聚…", "en") == []
    assert sample_feed is not None
