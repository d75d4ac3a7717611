"""Acknowledgement links: the signing secret, the used-nonce ledger and the small HTTP endpoint.

Tokens are acktoken.py's. A link works once (its nonce is recorded in SQLite when used) and
until it expires. GET shows a confirm page with a POST button, so mail scanners and chat
previews that fetch the URL acknowledge nothing; POST acknowledges through the service's
`on_ack(incident_id, person_id)` callback.
A forged, expired or reused token gets a refusal page (zh and en) and changes nothing.
With `[ack] tls_cert` and `tls_key` it serves HTTPS itself (`tls_context`); behind the
office's reverse proxy it may instead listen on loopback in HTTP and the proxy's `base_url`
is what the links name (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import html
import os
import secrets
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
from aiohttp import web

from watchboard.services.notify.acktoken import AckClaim, AckRefused, AckSigner
from watchboard.services.notify.settings import AckLink

NONCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS ack_nonces (
    nonce TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    used_at REAL NOT NULL
) WITHOUT ROWID;
"""

SECRET_FILE = "ack.secret"


def tls_context(cfg: AckLink) -> ssl.SSLContext | None:
    """The HTTPS side of the ack link (None without a certificate); ValueError saying which
    file cannot be used."""
    if not cfg.https:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot use {cfg.tls_cert} with key {cfg.tls_key} ({exc})") from None
    return ctx


def load_secret(cfg: AckLink, data_dir: Path) -> bytes:
    """The signing secret: config, else the env var, else `<data>/ack.secret` (made if absent)."""
    if cfg.secret:
        return cfg.secret.encode()
    if cfg.secret_env and os.environ.get(cfg.secret_env):
        return os.environ[cfg.secret_env].encode()
    path = data_dir / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip().encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    return value.encode()


class NonceLedger:
    """Used nonces, in the notify database: a link acknowledges at most once. `lock` is the
    connection's writer lock when others write on it too (a commit commits all of theirs)."""

    def __init__(self, db: aiosqlite.Connection, *, lock: asyncio.Lock | None = None) -> None:
        self.db = db
        self.lock = lock or asyncio.Lock()

    async def init(self) -> None:
        await self.db.executescript(NONCE_SCHEMA)
        await self.db.commit()

    async def use(self, claim: AckClaim, now: datetime) -> bool:
        """Record the nonce; False if it was used before."""
        async with self.lock:
            cur = await self.db.execute("INSERT OR IGNORE INTO ack_nonces VALUES (?,?,?,?)",
                                        (claim.nonce, claim.incident_id, claim.person_id, now.timestamp()))
            await self.db.commit()
        return cur.rowcount == 1

    async def release(self, claim: AckClaim) -> None:
        """Undo `use` when the acknowledgement itself could not be recorded (try again later)."""
        async with self.lock:
            await self.db.execute("DELETE FROM ack_nonces WHERE nonce = ?", (claim.nonce,))
            await self.db.commit()


# --- pages ------------------------------------------------------------------------------

_REFUSALS = {
    "forged": (403, "链接无效", "This link is not valid",
               "该确认链接不是本系统签发的，或已被改动。未做任何更改。",
               "This acknowledgement link was not issued by watchboard, or it was altered. Nothing was changed."),
    "expired": (410, "链接已过期", "This link has expired",
                "该确认链接已过期。未做任何更改。请在值班看板或命令行中确认。",
                "This acknowledgement link has expired. Nothing was changed. Acknowledge on the board or with `watchboard ack`."),
    "reused": (409, "链接已使用", "This link was already used",
               "该确认链接已经使用过一次。未做任何更改。",
               "This acknowledgement link has already been used once. Nothing was changed."),
    "unavailable": (503, "暂时无法确认", "Cannot acknowledge right now",
                    "确认未能记录（服务暂不可用）。请稍后重试。",
                    "The acknowledgement could not be recorded (service unavailable). Please try again shortly."),
}


def _page(title_zh: str, title_en: str, body: str) -> str:
    return (
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        "<meta name=\"robots\" content=\"noindex\"><meta name=\"viewport\" content=\"width=device-width\">"
        f"<title>{html.escape(title_zh)} / {html.escape(title_en)}</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}"
        "button{font-size:1.2em;padding:.5em 1.5em}</style></head><body>"
        f"<h1>{html.escape(title_zh)}<br><small>{html.escape(title_en)}</small></h1>{body}</body></html>"
    )


def refusal_page(kind: str) -> tuple[int, str]:
    status, tzh, ten, zh, en = _REFUSALS[kind]
    return status, _page(tzh, ten, f"<p>{html.escape(zh)}</p><p lang=\"en\">{html.escape(en)}</p>")


OnAck = Callable[[str, str], Awaitable[bool]]
Describe = Callable[[str], Awaitable[str | None]]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}


class AckServer:
    """GET /ack/{token} → confirm page; POST /ack/{token} → acknowledge once."""

    def __init__(self, signer: AckSigner, ledger: NonceLedger, on_ack: OnAck, *,
                 host: str = "127.0.0.1", port: int = 8765,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 describe: Describe | None = None,
                 person_name: Callable[[str], str] | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.signer, self.ledger, self.on_ack = signer, ledger, on_ack
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.clock = clock
        self.describe = describe
        self.person_name = person_name or (lambda pid: pid)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ack/{token}", self._get)
        app.router.add_post("/ack/{token}", self._post)
        return app

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server  # aiohttp exposes the bound socket only here
        if server is not None and server.sockets:  # type: ignore[union-attr]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _respond(self, status: int, text: str) -> web.Response:
        return web.Response(status=status, text=text, content_type="text/html", charset="utf-8",
                            headers=_HEADERS)

    def _refuse(self, kind: str) -> web.Response:
        return self._respond(*refusal_page(kind))

    async def _get(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            claim = self.signer.verify(token, self.clock())
        except AckRefused as exc:
            return self._refuse(exc.kind)
        async with self.ledger.db.execute("SELECT 1 FROM ack_nonces WHERE nonce = ?", (claim.nonce,)) as cur:
            if await cur.fetchone():
                return self._refuse("reused")
        title = await self.describe(claim.incident_id) if self.describe else None
        who = html.escape(self.person_name(claim.person_id))
        what = html.escape(title or claim.incident_id)  # the title is untrusted text
        body = (f"<p>{who}：确认已收到舆情事件 <b>{what}</b> 的通知？</p>"
                f"<p lang=\"en\">{who}: acknowledge the notice of incident <b>{what}</b>?</p>"
                f"<form method=\"post\" action=\"/ack/{html.escape(token)}\">"
                "<button type=\"submit\">确认收到 / Acknowledge</button></form>")
        return self._respond(200, _page("确认收到", "Acknowledge", body))

    async def _post(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        now = self.clock()
        try:
            claim = self.signer.verify(token, now)
        except AckRefused as exc:
            return self._refuse(exc.kind)
        if not await self.ledger.use(claim, now):
            return self._refuse("reused")
        try:
            first = await self.on_ack(claim.incident_id, claim.person_id)
        except Exception:
            await self.ledger.release(claim)
            return self._refuse("unavailable")
        zh = "已确认，谢谢。升级通知已停止。" if first else "此事件此前已被确认，无需再次确认。"
        en = ("Acknowledged, thank you. Escalation has stopped." if first
              else "This incident had already been acknowledged; nothing more to do.")
        return self._respond(200, _page("已确认", "Acknowledged",
                                        f"<p>{html.escape(zh)}</p><p lang=\"en\">{html.escape(en)}</p>"))
