"""Start the board against NATS: the only place the board's process touches the bus.

The app itself never talks to NATS: it gets a feed factory (KV snapshot + changes,
connection state, service health) and a command sender, both built here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from watchboard.board.app import BoardApp
from watchboard.board.format import unit_names
from watchboard.bus.connection import ConnectionWatch, connect
from watchboard.bus.credentials import Credentials
from watchboard.bus.feed import make_sender, ping_services, watch_board
from watchboard.bus.feed_types import Connection
from watchboard.bus.reader import board_exists
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource, load_watchboard
from watchboard.config.deadlines import load_deadlines
from watchboard.config.grading import load_grading
from watchboard.config.units import load_units
from watchboard.domain.grading.grades import describe_grades


class NatsBoard:
    """Owns the board's one NATS connection, made lazily by the first feed."""

    def __init__(self, url: str, subjects: Subjects, creds: Credentials | None = None) -> None:
        self.url = url
        self.subjects = subjects
        self.creds = creds
        self.watch = ConnectionWatch(url)
        self.nc = None

    async def feed(self):
        if self.nc is None or self.nc.is_closed:
            # Connect in the background and pass on each failed attempt: the board's loading
            # screen can then say there is no system at this URL and what to run.
            states: asyncio.Queue[Connection] = asyncio.Queue()
            self.watch.listen(states.put_nowait)
            task = asyncio.create_task(connect(self.url, "watchboard-board", watch=self.watch, creds=self.creds))
            try:
                while not task.done():
                    getter = asyncio.ensure_future(states.get())
                    await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield getter.result()
                    else:
                        getter.cancel()
                self.nc = task.result()
            finally:
                task.cancel()
                self.watch._listeners = [cb for cb in self.watch._listeners if cb != states.put_nowait]
        if not await self._bucket_exists():
            # NATS answers but no service ever made the bucket: say who is (not) there, then
            # end this feed; the board starts it again after its pause.
            yield self.watch.state
            yield await ping_services(self.nc)
            await asyncio.sleep(2.0)
            return
        async for item in watch_board(self.nc, self.watch):
            yield item

    async def _bucket_exists(self) -> bool:
        try:
            return await board_exists(self.nc)
        except Exception:  # anything else is the feed's to report
            return True

    async def send(self, verb: str, payload: dict) -> dict:
        if self.nc is None or not self.nc.is_connected:
            return {"ok": False, "error": {"code": "unavailable", "message": f"not connected to NATS at {self.url}",
                                           "message_zh": f"未连接到总线 {self.url}"}}
        return await make_sender(self.nc, self.subjects)(verb, payload)

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


def board_config(source: ConfigSource) -> dict[str, Any]:
    """What the board reads from the config beside watchboard.toml: unit names (for short names
    and assisting units), each grade's clocks (to say what lowering a grade cancels), and the
    profile's grades and their names (until grading sends them with each grade)."""
    deadlines = load_deadlines(source)
    grades = describe_grades(load_grading(source))
    return {"units": unit_names(load_units(source)),
            "grade_clocks": {g: [name for name, _ in deadlines.clocks_for(g)] for g in ("I", "II", "III", "IV")},
            "grade_labels": {g: {"zh": d["zh"], "en": d["en"]} for g, d in grades.items()}}


def make_app(url: str, source: ConfigSource, *, lang: str | None, wall: bool,
             creds: Credentials | None = None) -> tuple[BoardApp, NatsBoard]:
    wb = load_watchboard(source)
    link = NatsBoard(url, Subjects(wb.subject_prefix), creds)
    app = BoardApp(link.feed, None if wall else link.send, lang=(lang or wb.language),  # type: ignore[arg-type]
                   wall=wall, zone=wb.zone(), **board_config(source))
    return app, link


def _quiet_logs(data_dir: Path | None = None) -> None:
    # The board owns the terminal: log lines would tear the screen, so they go to a file.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    target = (data_dir or Path.home() / ".cache" / "watchboard") / "board.log"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        root.addHandler(logging.FileHandler(target, encoding="utf-8"))
    except OSError:
        root.addHandler(logging.NullHandler())


async def run_board_async(url: str, source: ConfigSource, *, lang: str | None = None, wall: bool = False,
                          creds: Credentials | None = None) -> None:
    _quiet_logs()
    app, link = make_app(url, source, lang=lang, wall=wall, creds=creds)
    try:
        await app.run_async()
    finally:
        await link.close()


def run_board_cli(args: argparse.Namespace, source: ConfigSource) -> int:
    if args.web:
        from watchboard.board.web import serve_web

        return serve_web(args, source)
    _quiet_logs()
    app, _link = make_app(args.nats, source, lang=args.lang, wall=args.wall,
                          creds=getattr(args, "credentials", None))
    app.run()  # the connection ends with the process
    return 0 if app.return_code in (None, 0) else int(app.return_code or 0)


__all__ = ["NatsBoard", "make_app", "run_board_async", "run_board_cli"]
