"""The browser board with a login, roles on, in headless Chromium: an anonymous browser gets no
operator desk (a login page; no websocket), a person who logs in gets the desk running with
their own credentials, and an acknowledgement pressed in the browser is recorded under that
person — the NATS server proves who acted, not the web server. Also: beyond loopback without
HTTPS it is refused unless --insecure; with web.crt of `auth init --tls` it serves HTTPS."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.board.test_web import DevTools, browser, wait_for
from tests.support import eventually, running
from watchboard.auth.folder import AuthFolder
from watchboard.bus.connection import connect
from watchboard.bus.credentials import Credentials, resolve
from watchboard.bus.jetstream import setup
from watchboard.bus.server import NatsServer, free_port
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history, load_view, request
from watchboard.config import ConfigSource, load_watchboard
from watchboard.domain import events as ev
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

PASSWORD = "correct horse battery"
REPORT = {"title": "网传某镇中学食堂使用过期食材", "platform": "weibo", "region": "仲山镇", "metrics": {"reposts": 500}}
WATCHBOARD = [sys.executable, "-m", "watchboard.cli"]


@dataclass
class Site:
    server: NatsServer
    auth: AuthFolder

    def creds(self, stem: str) -> Credentials:
        found = resolve(self.auth.creds(stem))
        assert found is not None
        return found


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Roles on, with a second operator, 李四, who will use the browser."""
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员")
    auth.add_person("李四", "operator")
    server = NatsServer(tmp_path / "nats", port=0, include=auth.conf)
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield Site(server, auth)
    finally:
        server.stop()


def cli(*args: str, stdin: str = "", home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"HOME": str(home), "WATCHBOARD_DATA": str(home / "data")} if home else {})}
    return subprocess.run([*WATCHBOARD, *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)


def start_web(home: Path, *args: str) -> subprocess.Popen[bytes]:
    """`watchboard board --web …` as typed; no credentials of its own (HOME has none)."""
    env = {**os.environ, "HOME": str(home), "WATCHBOARD_DATA": str(home / "data"), "PYTHONUNBUFFERED": "1"}
    with (home / "web.log").open("ab") as log:
        return subprocess.Popen([*WATCHBOARD, "board", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def until_up(proc: subprocess.Popen[bytes], home: Path, url: str, ssl_context: ssl.SSLContext | None = None) -> None:
    async def answers() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the web server exited with {proc.returncode}: {(home / 'web.log').read_text()[-2000:]}")
        try:
            async with aiohttp.ClientSession() as http, http.get(url, ssl=ssl_context, allow_redirects=False) as r:
                return r.status in (200, 302)
        except aiohttp.ClientError:
            return False

    await wait_for(answers, "the web server")


async def key(tools: DevTools, name: str, code: int, text: str = "") -> None:
    params = {"key": name, "code": name if len(name) > 1 else f"Key{name.upper()}", "windowsVirtualKeyCode": code}
    await tools.call("Input.dispatchKeyEvent", type="keyDown", **params, **({"text": text} if text else {}))
    await tools.call("Input.dispatchKeyEvent", type="keyUp", **params)


async def test_login_gives_the_desk_as_that_person(site: Site, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(
        (Path(__file__).parents[2] / "examples" / "local-webhook" / "notify.toml").read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'), encoding="utf-8")
    source = ConfigSource(config)
    url = site.server.url
    admin = await connect(url, "test-admin", retry_for=5, creds=site.creds("admin"))
    await setup(admin.jetstream(timeout=5), load_watchboard(ConfigSource()))
    await admin.close()
    set_pw = cli("auth", "set-password", "李四", "--dir", str(site.auth.path), "--lang", "en", stdin=PASSWORD + "\n")
    assert set_pw.returncode == 0 and "set 李四's web board password" in set_pw.stdout, set_pw.stderr
    home = tmp_path / "home"
    home.mkdir()
    async with running(build_intake(source), url, tmp_path / "intake", creds=site.creds("intake")), \
            running(build_grading(source), url, tmp_path / "grading", creds=site.creds("grading")), \
            running(build_notify(source), url, tmp_path / "notify", creds=site.creds("notify")):
        operator = await connect(url, "test-operator", retry_for=5, creds=site.creds("operator"))
        try:
            reply = await request(operator, Subjects().submit, json.dumps(REPORT, ensure_ascii=False).encode())
            incident = reply["incident_id"]

            async def notified():
                view = await load_view(operator, incident)
                return view if view is not None and view.notices is not None else None

            await eventually(notified, timeout=20, what="notify knows the incident")
            port = free_port()
            web = start_web(home, "--nats", url, "--web", str(port), "--operator", "--auth-dir", str(site.auth.path),
                            "--lang", "en")
            base = f"http://127.0.0.1:{port}"
            try:
                await until_up(web, home, f"{base}/login")
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{base}/", allow_redirects=False) as r:
                        assert r.status == 302 and r.headers["Location"] == "/login"  # anonymous: no desk
                    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                        await http.ws_connect(f"{base}/ws")
                    assert refused.value.status == 403
                    async with http.post(f"{base}/login", data={"name": "李四", "password": "not it at all"},
                                         allow_redirects=False) as r:
                        assert r.status == 403 and "Set-Cookie" not in r.headers
                        assert "Wrong name or password." in await r.text()
                    async with http.post(f"{base}/login", data={"name": "李四", "password": PASSWORD},
                                         allow_redirects=False) as r:
                        assert r.status == 302 and "HttpOnly" in r.headers["Set-Cookie"]
                        assert "SameSite=Strict" in r.headers["Set-Cookie"]
                    # Logged in, but from a page of another site: no websocket.
                    with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                        await http.ws_connect(f"{base}/ws", headers={"Origin": "http://evil.example"})
                    assert foreign.value.status == 403

                async with browser(f"{base}/") as tools:
                    await wait_for(lambda: tools.evaluate("location.pathname === '/login' && !!document.forms[0]"),
                                   "the login page")
                    assert await tools.evaluate("document.querySelectorAll('.xterm-screen').length") == 0
                    await tools.evaluate("document.querySelector('input[name=name]').value = '李四';"
                                         f"document.querySelector('input[name=password]').value = '{PASSWORD}';"
                                         "document.forms[0].submit(); true")
                    await wait_for(lambda: tools.evaluate("document.body.classList.contains('-first-byte')"),
                                   "the terminal's first byte")
                    await wait_for(lambda: _has(tools, "食堂"), "the incident on the desk")
                    assert "Watchboard · wall" not in tools.websocket_text()  # the desk, not the wall
                    await tools.evaluate("document.querySelector('.xterm-helper-textarea').focus(); true")
                    await asyncio.sleep(0.5)
                    await key(tools, "Home", 36)
                    await asyncio.sleep(0.3)
                    await key(tools, "a", 65, "a")
                    await asyncio.sleep(0.8)  # the confirmation
                    await key(tools, "Enter", 13, "\r")

                    async def acked():
                        view = await load_view(operator, incident)
                        return view if view and view.notices and view.notices.acknowledged_by else None

                    view = await eventually(acked, timeout=20, what="acknowledged from the browser")
                assert view.notices.acknowledged_by == "李四"  # the person who logged in, proven by NATS
                events = [e for e in await load_history(operator, Subjects(), incident)
                          if isinstance(e, ev.IncidentAcknowledged)]
                assert [e.actor for e in events] == ["李四"]
            finally:
                stop(web)
        finally:
            await operator.close()


async def _has(tools: DevTools, needle: str) -> bool:
    return needle in tools.websocket_text()


async def test_beyond_loopback_needs_https_and_serves_it(tmp_path: Path) -> None:
    """0.0.0.0 without HTTPS is refused (unless --insecure, which still asks for a login); with
    the web.crt `auth init --tls` made it serves HTTPS, verified against the site's CA."""
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员", tls=True, web_hosts=["127.0.0.1", "localhost"])
    auth.set_password("wall", PASSWORD)
    home = tmp_path / "home"
    home.mkdir()
    base = ("--nats", "nats://127.0.0.1:1", "--auth-dir", str(auth.path), "--lang", "en")
    refused = cli("board", "--web", f"0.0.0.0:{free_port()}", *base, home=home)
    assert refused.returncode == 2 and "needs HTTPS" in refused.stderr and "--insecure" in refused.stderr

    port = free_port()
    insecure = start_web(home, "--web", f"0.0.0.0:{port}", "--insecure", *base)
    try:
        await until_up(insecure, home, f"http://127.0.0.1:{port}/")
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/login"  # even the wall needs a login there
    finally:
        stop(insecure)

    port = free_port()
    https = start_web(home, "--web", f"0.0.0.0:{port}", "--https-cert", str(auth.path / "web.crt"),
                      "--https-key", str(auth.path / "web.key"), *base)
    ca = ssl.create_default_context(cafile=str(auth.path / "ca.crt"))
    try:
        await until_up(https, home, f"https://127.0.0.1:{port}/login", ca)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://127.0.0.1:{port}/login", ssl=ca) as r:
                assert r.status == 200 and "Log in to the duty board" in await r.text()
            async with http.post(f"https://127.0.0.1:{port}/login", data={"name": "wall", "password": PASSWORD},
                                 ssl=ca, allow_redirects=False) as r:
                assert r.status == 302 and "Secure" in r.headers["Set-Cookie"]
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # not our CA: refused
                async with http.get(f"https://127.0.0.1:{port}/login", ssl=ssl.create_default_context()):
                    pass
    finally:
        stop(https)
