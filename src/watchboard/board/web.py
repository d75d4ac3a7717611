"""The board in a browser: `watchboard board --web [HOST:]PORT` (textual-serve).

textual-serve starts one board process per browser session and relays its screen over a
websocket to xterm.js. Each session runs

    python -m watchboard.cli board --nats URL --lang L [--config DIR] [--profile P] --wall

Read-only by default: a browser session is the wall (`--wall`: no `send`, nothing to press
but `q`, `w`, `?`), because anyone who can reach the port can use it. `--operator` serves the
desk with its actions instead (add `--wall` as well for an operator-rights wall). The server
listens on 127.0.0.1 unless a host is given: exposing it is a deliberate choice.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from watchboard.board.i18n import t
from watchboard.config import ConfigSource, load_watchboard

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


def make_server(args: argparse.Namespace, source: ConfigSource):  # -> textual_serve.server.Server
    import aiohttp_jinja2
    import textual_serve
    from aiohttp import web
    from textual_serve.server import Server

    class BoardServer(Server):
        """textual-serve with watchboard's page (nothing loaded from outside; fonts from the
        package and the machine; the page's words in the board's language), and the page's
        websocket pointed at the host the browser used, not at the bind address (a server bound
        to 0.0.0.0 would otherwise send browsers to ws://0.0.0.0/…)."""

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
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

    host, port = parse_listen(args.web)
    lang = args.lang or load_watchboard(source).language
    operator = bool(getattr(args, "operator", False))
    credentials = getattr(args, "credentials", None)
    command = board_command(nats=args.nats, lang=lang, wall=bool(args.wall), operator=operator,
                            creds=credentials.seed if credentials is not None else None,
                            tls_ca=getattr(args, "tls_ca", None),
                            config=getattr(args, "config", None), profile=getattr(args, "profile", None))
    title = t("app.title" if operator else "app.wall_title", "en" if lang == "en" else "zh")
    public = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    # textual-serve's static files (its JavaScript and the Roboto Mono font) with our page
    static = Path(textual_serve.__file__).parent / "static"
    return BoardServer(command, host=host, port=port, title=title, public_url=public,
                       statics_path=static, templates_path=PAGE_DIR)


def serve_web(args: argparse.Namespace, source: ConfigSource) -> int:
    """Serve until interrupted; 2 on a bad `--web` value."""
    try:
        server = make_server(args, source)
    except ListenError as exc:
        print(f"watchboard: {exc}", file=sys.stderr)
        return 2
    server.serve()
    return 0


__all__ = ["ListenError", "board_command", "make_server", "parse_listen", "serve_web"]
