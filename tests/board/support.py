"""Helpers for board tests: a feed the test drives item by item, a recording sender, screen text."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from textual.pilot import Pilot

from watchboard.board.app import BoardApp
from watchboard.board.sample import incident_items
from watchboard.board.widgets.incident_table import IncidentTable
from watchboard.bus.feed_types import Connection, FeedItem, KVChange, SnapshotDone

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ZONE = ZoneInfo("Asia/Shanghai")


class ScriptedFeed:
    """The board's input contract driven by hand: each factory call reads the next queue."""

    def __init__(self, *first: FeedItem) -> None:
        self.queues: list[asyncio.Queue[FeedItem | BaseException | None]] = []
        self.calls = 0
        self._first = list(first)

    def factory(self) -> AsyncIterator[FeedItem]:
        self.calls += 1
        queue: asyncio.Queue[FeedItem | BaseException | None] = asyncio.Queue()
        if self.calls == 1:
            for item in self._first:
                queue.put_nowait(item)
        self.queues.append(queue)
        return self._iterate(queue)

    async def _iterate(self, queue: asyncio.Queue[FeedItem | BaseException | None]) -> AsyncIterator[FeedItem]:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def push(self, *items: FeedItem | BaseException | None) -> None:
        for item in items:
            self.queues[-1].put_nowait(item)


class RecordingSender:
    """A `CommandSender` that records each call and answers with `reply`."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply = reply or {"ok": True}

    async def __call__(self, verb: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((verb, payload))
        return self.reply


def incident(n: int, grade: str | None, *, minutes_ago: int = 60, owner: str | None = "education",
             title: str | None = None, **kw: Any) -> list[KVChange]:
    return incident_items(f"01JTEST{n:019d}", title=title or f"事件{n}", grade=grade, owner=owner,
                          reported_at=NOW - timedelta(minutes=minutes_ago), now=NOW, **kw)


def snapshot(*groups: list[KVChange]) -> list[FeedItem]:
    items: list[FeedItem] = [Connection(state="connected", at=NOW)]
    for group in groups:
        items += group
    items.append(SnapshotDone(count=sum(len(g) for g in groups)))
    return items


@functools.cache
def default_board_config() -> dict[str, Any]:
    """Unit names and each grade's clocks from the default config, as `watchboard board` has them."""
    from watchboard.board.launch import board_config
    from watchboard.config import ConfigSource

    return board_config(ConfigSource())


@functools.cache
def profile_board_config(profile: str) -> dict[str, Any]:
    """The same, under a profile (`watchboard board` with `profile = "plan-001"` in watchboard.toml)."""
    from watchboard.board.launch import board_config
    from watchboard.config import ConfigSource

    return board_config(ConfigSource(profile=profile))


def make_app(feed: ScriptedFeed, send: Any = None, *, wall: bool = False, lang: str = "zh",
             profile: str | None = None) -> BoardApp:
    config = profile_board_config(profile) if profile else default_board_config()
    return BoardApp(feed.factory, send, lang=lang, wall=wall, zone=ZONE, now=lambda: NOW,
                    actor="tester", flush_interval=0.02, retry_delay=0.05, **config)


async def settle(pilot: Pilot[Any], app: BoardApp, rounds: int = 3) -> None:
    """Let the feed worker, the flush timer and the screens catch up."""
    for _ in range(rounds):
        await asyncio.sleep(0.05)
        await pilot.pause()


def table_lines(app: BoardApp, selector: str = "#incidents") -> list[str]:
    table = app.screen.query_one(selector, IncidentTable)
    return [table.render_line(y).text for y in range(table.size.height)]


def notifications(app: BoardApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def static_text(app: BoardApp, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render())


def sample_feed(*, hostile: bool = False) -> ScriptedFeed:
    """The sample board at NOW with every service answering: the fixed picture for snapshots."""
    from watchboard.board.sample import sample_items
    from watchboard.bus.feed_types import ServiceHealth

    items = sample_items(NOW, hostile=hostile)
    health = ServiceHealth(services={s: s != "notify" for s in ("intake", "grading", "deadlines", "notify")},
                           at=NOW)
    return ScriptedFeed(Connection(state="connected", at=NOW, url="nats://127.0.0.1:4222"), *items,
                        SnapshotDone(count=len(items)), health)


def fixed_app(*, wall: bool, lang: str, send: Any = None) -> BoardApp:
    """A board whose every pixel is a function of the sample feed and NOW (pages never turn)."""
    return BoardApp(sample_feed().factory, None if wall else (send or RecordingSender()), lang=lang,
                    wall=wall, zone=ZONE, now=lambda: NOW, actor="tester", flush_interval=0.02,
                    retry_delay=0.05, page_seconds=3600, **default_board_config())
