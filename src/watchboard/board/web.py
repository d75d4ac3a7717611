"""The board in a browser: `watchboard board --web [HOST:]PORT` (textual-serve).

textual-serve starts one board process per browser session and relays its screen over a
websocket to xterm.js. Each session runs

    python -m watchboard.cli board --nats URL --lang L [--config DIR] [--profile P] --wall

Read-only by default: a browser session is the wall (`--wall`: no `send`, nothing to press
but `q`, `w`, `?`). The server listens on 127.0.0.1 unless a host is given. Who may use it
(`webauth.py`): the wall is served to anyone only on loopback; `--operator` (the desk with its
actions) or a bind beyond loopback needs a person's login, and each logged-in session runs
with that person's credentials, so the NATS server proves who acted; beyond loopback it is
served over HTTPS (`--https-cert/--https-key`, or `[web]` in watchboard.toml) or not at all,
unless `--insecure`.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from watchboard.board.i18n import t
from watchboard.board.webauth import (
    COOKIE,
    HEADERS,
    Logins,
    WebRefused,
    login_page,
    logout_page,
    policy,
    same_origin,
)
from watchboard.config import ConfigSource, load_watchboard
from watchboard.config.loader import parse_seconds

DEFAULT_HOST = "127.0.0.1"
PAGE_DIR = Path(__file__).with_name("webpage")
PAGE_WORDS = {
    "zh": {"start": "开始", "ended": "会话已结束。", "restart": "重新打开"},
    "en": {"start": "Start", "ended": "Session ended.", "restart": "Restart"},
}


class ListenError(ValueError):
    """`--web` was not `PORT`, `HOST:PORT` or `[IPv6]:PORT`."""


def parse_listen(spec: str) -> tuple[str, int]:
    """`8080` → (127.0.0.1, 8080); `0.0.0.0:8080`; `[::1]:8080` → (::1, 8080)."""
    spec = spec.strip()
    host, sep, port_text = spec.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, spec
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenError(f"--web {spec!r}: write an IPv6 address in brackets, e.g. [::1]:8080")
    if not host:
        host = DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise ListenError(f"--web {spec!r}: the port must be a number") from None
    if not 0 < port < 65536:
        raise ListenError(f"--web {spec!r}: the port must be between 1 and 65535")
    return host, port


def board_command(*, nats: str, lang: str, wall: bool, operator: bool,
                  config: Path | None = None, profile: str | None = None,
                  python: str = sys.executable, creds: Path | None = None, tls_ca: Path | None = None) -> str:
    """The shell command textual-serve runs for each browser session (every part quoted)."""
    argv = [python, "-m", "watchboard.cli", "board", "--nats", nats, "--lang", lang]
    if creds is not None:  # the session connects as the identity `board --web` was given
        argv += ["--creds", str(Path(creds).resolve())]
    if tls_ca is not None:
        argv += ["--tls-ca", str(Path(tls_ca).resolve())]
    if config is not None:
        argv += ["--config", str(Path(config).resolve())]
    if profile:
        argv += ["--profile", profile]
    if wall or not operator:  # without operator rights a browser only ever gets the wall
        argv.append("--wall")
    return shlex.join(argv)


def https_context(cert: str, key: str) -> ssl.SSLContext:
    """The server side of HTTPS; WebRefused naming the file that cannot be used."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise WebRefused(f"HTTPS certificate {cert} with key {key}: cannot use them ({exc})") from None
    return ctx


def make_server(args: argparse.Namespace, source: ConfigSource):  # -> textual_serve.server.Server
    import aiohttp_jinja2
    import textual_serve
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    host, port = parse_listen(args.web)
    wb = load_watchboard(source)
    lang = args.lang or wb.language
    operator = bool(getattr(args, "operator", False))
    cert = getattr(args, "https_cert", None) or wb.web.tls_cert
    key = getattr(args, "https_key", None) or wb.web.tls_key
    if bool(cert) != bool(key):
        raise WebRefused("HTTPS needs both --https-cert and --https-key")
    tls = https_context(str(cert), str(key)) if cert else None
    rule = policy(host, operator=operator, https=tls is not None, insecure=bool(getattr(args, "insecure", False)))
    logins: Logins | None = None
    if rule.login:
        from watchboard.cli import default_data_dir

        auth_dir = getattr(args, "auth_dir", None) or wb.web.auth_dir or default_data_dir() / "auth"
        logins = Logins(Path(auth_dir).expanduser().resolve(), parse_seconds(wb.web.session) or 43200.0)
        logins.check_ready()
    credentials = getattr(args, "credentials", None)

    def command_for(person: Any | None) -> str:
        """The board a session runs: a logged-in person's own, else the server's (a wall)."""
        if person is None:
            return board_command(nats=args.nats, lang=lang, wall=bool(args.wall), operator=operator and logins is None,
                                 creds=credentials.seed if credentials is not None else None,
                                 tls_ca=getattr(args, "tls_ca", None),
                                 config=getattr(args, "config", None), profile=getattr(args, "profile", None))
        return board_command(nats=args.nats, lang=lang, wall=bool(args.wall) or not person.desk(operator),
                             operator=person.desk(operator), creds=person.creds, tls_ca=getattr(args, "tls_ca", None),
                             config=getattr(args, "config", None), profile=getattr(args, "profile", None))

    class BoardServer(Server):
        """textual-serve with watchboard's page (nothing loaded from outside; fonts from the
        package and the machine; the page's words in the board's language), and the page's
        websocket pointed at the host the browser used, not at the bind address (a server bound
        to 0.0.0.0 would otherwise send browsers to ws://0.0.0.0/…)."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.router.add_get("/login", self.handle_login_page)
            app.router.add_post("/login", self.handle_login)
            app.router.add_get("/logout", self.handle_logout_page)
            app.router.add_post("/logout", self.handle_logout)
            return app

        def _person(self, request: web.Request) -> Any | None:
            return logins.person(request.cookies.get(COOKIE)) if logins is not None else None

        def _html(self, text: str, status: int = 200) -> web.Response:
            return web.Response(status=status, text=text, content_type="text/html", charset="utf-8",
                                headers=HEADERS)

        async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
            if logins is None:
                raise web.HTTPFound("/")
            return self._html(login_page(lang))

        async def handle_login(self, request: web.Request) -> web.StreamResponse:
            if logins is None:
                raise web.HTTPFound("/")
            address = request.remote or "?"
            if logins.throttled(address):
                return self._html(login_page(lang, "throttled"), 429)
            form = await request.post()
            name, password = str(form.get("name", ""))[:100], str(form.get("password", ""))[:1000]
            # argon2 takes tens of milliseconds: off the loop, so other sessions keep flowing.
            person = await asyncio.to_thread(logins.login, name, password)
            if isinstance(person, str):
                logins.failed(address)
                return self._html(login_page(lang, person, name), 403 if person != "unavailable" else 503)
            response = web.HTTPFound("/")
            response.set_cookie(COOKIE, logins.start(person), httponly=True, samesite="Strict",
                                secure=tls is not None, path="/", max_age=int(logins.lifetime))
            raise response

        async def handle_logout_page(self, request: web.Request) -> web.StreamResponse:
            return self._html(logout_page(lang))

        async def handle_logout(self, request: web.Request) -> web.StreamResponse:
            if logins is not None:
                logins.end(request.cookies.get(COOKIE))
            response = self._html(logout_page(lang, done=True))
            response.del_cookie(COOKIE, path="/")
            return response

        async def handle_download(self, request: web.Request) -> web.StreamResponse:
            if logins is not None and self._person(request) is None:
                raise web.HTTPForbidden()
            return await super().handle_download(request)

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's, with the session's own board (and none without a session, or
            for a page of another site)."""
            person = None
            if logins is not None:
                person = self._person(request)
                if person is None or not same_origin(request.headers.get("Origin"), request.host):
                    raise web.HTTPForbidden(text="log in first (/login)")
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _int(request.query.get("width", "80"), 80)
            height = _int(request.query.get("height", "24"), 24)
            app_service: AppService | None = None
            try:
                await websocket.prepare(request)
                app_service = AppService(command_for(person), write_bytes=websocket.send_bytes,
                                         write_str=websocket.send_str, close=websocket.close,
                                         download_manager=self.download_manager, debug=self.debug)
                await app_service.start(width, height)
                try:
                    await self._process_messages(websocket, app_service)
                finally:
                    await app_service.stop()
            except asyncio.CancelledError:
                await websocket.close()
            finally:
                if app_service is not None:
                    await app_service.stop()
            return websocket

        def serve(self, debug: bool = False) -> None:
            """textual-serve's, with HTTPS when given a certificate."""
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        ssl_context=tls, print=lambda *_: None)

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            if logins is not None and self._person(request) is None:
                raise web.HTTPFound("/login")
            self.public_url = f"{request.scheme}://{request.host}"
            font_size = request.query.get("fontsize", "16")
            router = request.app.router

            def url(route: str, **kw: str) -> str:
                return f"{self.public_url}{router[route].url_for(**kw)}"

            context = {
                "font_size": int(font_size) if font_size.isdigit() else 16,
                "app_websocket_url": "ws" + url("websocket")[len("http"):],
                "config": {"static": {"url": url("static", filename="/").rstrip("/") + "/"}},
                "application": {"name": self.title},
                "lang": "zh-CN" if lang == "zh" else "en",
                "words": PAGE_WORDS.get(lang, PAGE_WORDS["en"]),
            }
            return aiohttp_jinja2.render_template("app_index.html", request, context)

    command = command_for(None)
    title = t("app.title" if operator else "app.wall_title", "en" if lang == "en" else "zh")
    scheme = "https" if tls is not None else "http"
    public = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
    # textual-serve's static files (its JavaScript and the Roboto Mono font) with our page
    static = Path(textual_serve.__file__).parent / "static"
    return BoardServer(command, host=host, port=port, title=title, public_url=public,
                       statics_path=static, templates_path=PAGE_DIR)


def _int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def serve_web(args: argparse.Namespace, source: ConfigSource) -> int:
    """Serve until interrupted; 2 on a bad `--web` value or a way of serving that is refused."""
    try:
        server = make_server(args, source)
    except (ListenError, WebRefused) as exc:
        print(f"watchboard: {exc}", file=sys.stderr)
        return 2
    server.serve()
    return 0


__all__ = ["ListenError", "board_command", "https_context", "make_server", "parse_listen", "serve_web"]
