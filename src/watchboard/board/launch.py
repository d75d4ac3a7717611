"""Start the board against NATS: the only place the board's process touches the bus.

The app itself never talks to NATS: it gets a feed factory (KV snapshot + changes,
connection state, service health) and a command sender, both built here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from watchboard.board.app import BoardApp
from watchboard.bus.connection import ConnectionWatch, connect
from watchboard.bus.feed import make_sender, watch_board
from watchboard.bus.subjects import Subjects
from watchboard.config import ConfigSource, load_watchboard


class NatsBoard:
    """Owns the board's one NATS connection, made lazily by the first feed."""

    def __init__(self, url: str, subjects: Subjects) -> None:
        self.url = url
        self.subjects = subjects
        self.watch = ConnectionWatch(url)
        self.nc = None

    async def feed(self):
        if self.nc is None or self.nc.is_closed:
            self.nc = await connect(self.url, "watchboard-board", watch=self.watch)
        async for item in watch_board(self.nc, self.watch):
            yield item

    async def send(self, verb: str, payload: dict) -> dict:
        if self.nc is None or not self.nc.is_connected:
            return {"ok": False, "error": {"code": "unavailable", "message": f"not connected to NATS at {self.url}"}}
        return await make_sender(self.nc, self.subjects)(verb, payload)

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


def make_app(url: str, source: ConfigSource, *, lang: str | None, wall: bool) -> tuple[BoardApp, NatsBoard]:
    wb = load_watchboard(source)
    link = NatsBoard(url, Subjects(wb.subject_prefix))
    app = BoardApp(link.feed, None if wall else link.send, lang=(lang or wb.language),  # type: ignore[arg-type]
                   wall=wall, zone=wb.zone())
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


async def run_board_async(url: str, source: ConfigSource, *, lang: str | None = None, wall: bool = False) -> None:
    _quiet_logs()
    app, link = make_app(url, source, lang=lang, wall=wall)
    try:
        await app.run_async()
    finally:
        await link.close()


def run_board_cli(args: argparse.Namespace, source: ConfigSource) -> int:
    if args.web:
        from watchboard.board.web import serve_web

        return serve_web(args, source)
    _quiet_logs()
    app, _link = make_app(args.nats, source, lang=args.lang, wall=args.wall)
    app.run()  # the connection ends with the process
    return 0 if app.return_code in (None, 0) else int(app.return_code or 0)


__all__ = ["NatsBoard", "make_app", "run_board_async", "run_board_cli"]
