"""Pictures of the board for the docs: the sample feed at a fixed time, as SVG and PNG.

    python -m watchboard.board.screenshot docs/screenshots [--lang zh]

Writes `board-operator.svg/png` and `board-wall.svg/png`. The PNG is drawn by headless
Chromium from the SVG. Textual's SVG gives every run of text a `textLength` counted in
characters, which squeezes CJK (two cells a character) to half width; runs with wide
characters lose that attribute and get a CJK monospace font instead, so the columns line up.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import textual.constants
from rich.cells import cell_len

from watchboard.board.app import BoardApp
from watchboard.board.sample import sample_items, sample_send, scripted
from watchboard.bus.feed_types import Connection, ServiceHealth, SnapshotDone

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
FONTS = '"DejaVu Sans Mono", "Noto Sans Mono CJK SC", "WenQuanYi Zen Hei Mono", monospace'
TEXT_RUN = re.compile(r'(<text [^>]*?) textLength="[0-9.]+"([^>]*>)([^<]*)(</text>)')


def _feed():
    items = sample_items(NOW)
    health = ServiceHealth(services={"intake": True, "grading": True, "deadlines": True, "notify": False}, at=NOW)
    return scripted([Connection(state="connected", at=NOW, url="nats://127.0.0.1:4222"), *items,
                     SnapshotDone(count=len(items)), health])


async def render_svg(*, wall: bool, lang: str, size: tuple[int, int]) -> str:
    textual.constants.COLOR_SYSTEM = "truecolor"  # type: ignore[misc]  # the picture, not $TERM's guess
    from watchboard.board.launch import board_config
    from watchboard.config import ConfigSource

    app = BoardApp(_feed, None if wall else sample_send, lang=lang, wall=wall,  # type: ignore[arg-type]
                   zone=ZoneInfo("Asia/Shanghai"), now=lambda: NOW, actor="demo", flush_interval=0.02,
                   page_seconds=3600, **board_config(ConfigSource()))
    async with app.run_test(size=size) as pilot:
        for _ in range(100):
            await pilot.pause(0.02)
            if app.snapshot_loaded and app.health is not None:
                break
        await pilot.pause(0.1)
        return app.export_screenshot()


def fix_wide_text(svg: str) -> str:
    """Drop `textLength` from runs holding wide characters; use fonts that have CJK glyphs."""
    def one(m: re.Match[str]) -> str:
        text = m.group(3)
        plain = re.sub(r"&#?\w+;", " ", text)
        if cell_len(plain) == len(plain):
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{text}{m.group(4)}"

    svg = TEXT_RUN.sub(one, svg)
    return svg.replace('font-family: Fira Code, monospace;', f"font-family: {FONTS};")


def to_png(svg_path: Path, png_path: Path, chromium: str = "/usr/bin/chromium") -> None:
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"',
                                                  svg_path.read_text()).groups())  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--hide-scrollbars", "--default-background-color=00000000",
                        f"--window-size={int(width)},{int(height)}", f"--screenshot={png_path.resolve()}",
                        svg_path.resolve().as_uri()], check=True, capture_output=True, timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    parser.add_argument("--no-png", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, wall, size in (("operator", False, (120, 32)), ("wall", True, (160, 42))):
        svg = fix_wide_text(asyncio.run(render_svg(wall=wall, lang=args.lang, size=size)))
        svg_path = args.out / f"board-{name}.svg"
        svg_path.write_text(svg, encoding="utf-8")
        if not args.no_png:
            to_png(svg_path, args.out / f"board-{name}.png")
        print(svg_path)


if __name__ == "__main__":
    main()
