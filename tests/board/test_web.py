"""`watchboard board --web`: the listen spec, the per-session command, and the board in headless Chromium.

The end-to-end test runs the real CLI against a real nats-server holding two incidents,
opens the page in Chromium over the DevTools protocol, and checks what the browser got:
the terminal started (textual-serve's `-first-byte`), the board's title and an incident
title arrived over the page's websocket, and the screenshot of the terminal is not blank.
xterm.js draws with WebGL/canvas here, so there is no DOM text to read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest

from watchboard.board.sample import incident_items
from watchboard.board.web import ListenError, board_command, parse_listen
from watchboard.bus.jetstream import ensure_board_bucket
from watchboard.bus.server import NatsServer, free_port
from watchboard.config import load_watchboard

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")


@pytest.mark.parametrize(("spec", "expected"), [
    ("8080", ("127.0.0.1", 8080)),
    (":8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("wall.local:8000", ("wall.local", 8000)),
    ("[::1]:9000", ("::1", 9000)),
])
def test_parse_listen(spec: str, expected: tuple[str, int]) -> None:
    """A bare port listens on loopback; a host is taken as given."""
    assert parse_listen(spec) == expected


@pytest.mark.parametrize("spec", ["", "web", "host:", "1:2:3", "70000", "0"])
def test_parse_listen_refuses(spec: str) -> None:
    """Anything but PORT, HOST:PORT or [IPv6]:PORT is refused with the value quoted."""
    with pytest.raises(ListenError, match="--web"):
        parse_listen(spec)


@pytest.mark.parametrize(("wall", "operator", "has_wall"), [
    (False, False, True), (True, False, True), (False, True, False), (True, True, True),
])
def test_board_command_is_read_only_without_operator(wall: bool, operator: bool, has_wall: bool) -> None:
    """Each browser session gets the wall unless the server has operator rights."""
    cmd = board_command(nats="nats://h:4222", lang="en", wall=wall, operator=operator,
                        config=Path("/etc/wb conf"), profile="plan-003", python="/opt/py")
    argv = shlex.split(cmd)
    assert argv[:4] == ["/opt/py", "-m", "watchboard.cli", "board"]
    assert argv[argv.index("--nats") + 1] == "nats://h:4222"
    assert argv[argv.index("--config") + 1] == "/etc/wb conf"  # quoted for the shell
    assert argv[argv.index("--profile") + 1] == "plan-003"
    assert ("--wall" in argv) is has_wall
    assert "--web" not in argv


def test_board_command_quotes_hostile_url() -> None:
    """A NATS URL with shell syntax stays one argument (textual-serve runs a shell)."""
    cmd = board_command(nats="nats://x;touch /tmp/pwned", lang="zh", wall=False, operator=False)
    assert shlex.split(cmd)[5] == "nats://x;touch /tmp/pwned"


# --- headless Chromium -----------------------------------------------------------------


def chromium() -> str:
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail("headless Chromium is needed for the web board test and was not found: "
                "install it with `apt-get update && apt-get install -y chromium` (Debian/Ubuntu), "
                "or put a chromium on PATH")


def png_stats(png: bytes) -> tuple[int, int, int, float]:
    """(width, height, distinct colours, share of pixels unlike the most common one) of an RGB(A) PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    counts: dict[bytes, int] = {}
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        for x in range(0, stride, bpp * 2):  # every other pixel is plenty
            key = bytes(line[x:x + 3])
            counts[key] = counts.get(key, 0) + 1
        prev = line
    total = sum(counts.values())
    top = max(counts.values())
    return width, height, len(counts), 1 - top / total


class DevTools:
    """The smallest DevTools-protocol client: one page, commands and the events we ask for."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(fut, 20)
        assert "error" not in reply, reply
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def websocket_text(self) -> str:
        """Everything the page's websocket received, escape sequences removed."""
        out = []
        for event in self.events:
            if event["method"] != "Network.webSocketFrameReceived":
                continue
            frame = event["params"]["response"]
            data = frame["payloadData"]
            raw = base64.b64decode(data) if frame.get("opcode") == 2 else data.encode()
            out.append(raw.decode("utf-8", "replace"))
        return ANSI.sub("", "".join(out))


def start_chromium(exe: str, profile: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,800",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_web(nats_url: str, port: int, home: Path) -> subprocess.Popen[bytes]:
    """`watchboard board --web PORT` as a user would type it; its output goes to home/web.log."""
    env = {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with (home / "web.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "watchboard.cli", "board", "--nats", nats_url, "--lang", "en",
             "--web", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)


@contextlib.asynccontextmanager
async def browser(url: str) -> AsyncIterator[DevTools]:
    exe = chromium()
    # Chromium may still be writing its profile as it exits: a failed clean-up is no test failure.
    with tempfile.TemporaryDirectory(prefix="wb-chromium-", ignore_cleanup_errors=True) as profile:
        proc = start_chromium(exe, profile)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            # Bounded but generous: Chromium's first start on a loaded 2-core machine took > 10 s in CI.
            for _ in range(1200):
                if port_file.exists() and port_file.read_text().strip():
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"{exe} did not open its DevTools port within 60 s")
            port = int(port_file.read_text().split()[0])
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                    targets = await resp.json()
                page = next(t for t in targets if t["type"] == "page")
                async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    tools = DevTools(ws)
                    await tools.call("Network.enable")
                    await tools.call("Page.enable")
                    await tools.call("Page.navigate", url=url)
                    try:
                        yield tools
                    finally:
                        tools.reader.cancel()
        finally:
            proc.kill()
            proc.wait(10)


async def wait_for(check, what: str, timeout: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def put_incidents(url: str) -> None:
    now = datetime.now(UTC)
    nc = await nats.connect(url, connect_timeout=2)
    try:
        kv = await ensure_board_bucket(nc.jetstream(), load_watchboard())
        items = incident_items("01JWEB00000000000000000001", title="Chemical plant fumes at night",
                               grade="I", owner="environment", reported_at=now - timedelta(minutes=30),
                               now=now)
        items += incident_items("01JWEB00000000000000000002", title="Bus route change complaints",
                                grade="IV", owner="transport", reported_at=now - timedelta(hours=3),
                                now=now)
        for item in items:
            assert item.value is not None
            await kv.put(item.key, item.value)
    finally:
        await nc.close()


async def test_web_board_in_headless_chromium(nats_server: NatsServer, tmp_path: Path) -> None:
    """The browser loads the terminal and shows the read-only wall with the incidents from NATS."""
    await put_incidents(nats_server.url)
    port = free_port()
    server = start_web(nats_server.url, port, tmp_path)
    try:
        async def index() -> str | None:
            if server.poll() is not None:
                out = (tmp_path / "web.log").read_text(errors="replace")
                pytest.fail(f"the web server exited with {server.returncode}: {out[-2000:]}")
            try:
                async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as r:
                    return await r.text() if r.status == 200 else None
            except aiohttp.ClientError:
                return None

        page = await wait_for(index, "the web server on 127.0.0.1")
        assert f"ws://127.0.0.1:{port}/ws" in page  # the websocket the browser will use
        # Offline: the page loads nothing from another host (an office network may have no internet).
        loaded = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert loaded and all(u.startswith(f"http://127.0.0.1:{port}/") for u in loaded), loaded
        assert "googleapis" not in page and "Session ended." in page  # --lang en: the page's words too
        async with browser(f"http://127.0.0.1:{port}/") as tools:
            await wait_for(lambda: tools.evaluate("document.body.classList.contains('-first-byte')"),
                           "the terminal's first byte")
            assert await tools.evaluate("document.querySelectorAll('.xterm-screen').length") == 1
            await wait_for(lambda: _has(tools, "Chemical plant fumes at night"), "an incident title")
            # the terminal's font came from this server, and nothing was asked of any other host
            faces = await tools.evaluate("document.fonts.load('16px \"Roboto Mono\"', 'W').then(f => f.length)")
            assert faces >= 1
            requested = [e["params"]["request"]["url"] for e in tools.events
                         if e["method"] == "Network.requestWillBeSent"]
            assert requested and all(u.startswith((f"http://127.0.0.1:{port}/", "data:")) for u in requested), \
                requested
            text = tools.websocket_text()
            assert "Watchboard · wall" in text  # read-only: the wall, not the desk
            assert "Bus route change complaints" in text or "Bus route change" in text
            assert "NATS connected" in text
            await asyncio.sleep(0.5)  # let xterm paint the last frame
            shot = await tools.call("Page.captureScreenshot", format="png")
            png = base64.b64decode(shot["data"])
            if keep := os.environ.get("WB_WEB_SCREENSHOT"):  # to look at it by hand
                with open(keep, "wb") as fh:  # noqa: ASYNC230 - a debugging aid, tiny
                    fh.write(png)
            width, height, colours, inked = png_stats(png)
            assert width == 1280 and height > 400
            assert colours >= 8, f"screenshot looks blank: {colours} colours"
            assert inked > 0.05, f"screenshot looks blank: {inked:.1%} of pixels drawn"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


async def _has(tools: DevTools, needle: str) -> bool:
    return needle in tools.websocket_text()
