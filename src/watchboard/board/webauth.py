"""Who may use the browser board, and as whom (`watchboard board --web`).

The rule (`policy`, pure): the read-only wall is served to anyone only on loopback; anything
else — `--operator`, or a bind beyond loopback — needs a person's login, and a bind beyond
loopback without HTTPS is refused unless `--insecure` is given (a password and a session
cookie would cross the network in clear).

A login is a watchboard identity: the person's name and their password (`watchboard auth
set-password`, an argon2id hash in `passwords.json`). The board the browser then gets runs
with that person's own credentials (`<auth>/<name>.nk`), so the NATS server, not this web
server, proves who acted: an acknowledgement pressed in the browser is recorded under the
person who logged in. Operators, approvers and leaders get the desk in `--operator` mode and
the wall otherwise; a wall identity always gets the wall; a monitor reads no board.

Sessions live in this process only (a restart logs everyone out): a random token in an
HttpOnly, SameSite=Strict cookie (Secure with HTTPS), expiring after `web.session`. A
websocket is opened only with a live session and from a page of this server (its Origin),
so another site cannot drive a logged-in person's desk. Failed logins are limited per address.
"""

from __future__ import annotations

import html
import ipaddress
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from watchboard.auth import passwords
from watchboard.auth.registry import RegistryError, load_registry
from watchboard.auth.roles import COMMAND_ROLES, READING_ROLES

COOKIE = "wb_session"
MAX_SESSIONS = 1000
FAILURES_ALLOWED = 10  # failed logins from one address …
FAILURE_WINDOW = 600.0  # … within this many seconds, then refused until the window passes


class WebRefused(ValueError):
    """`board --web` will not start this way: the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


@dataclass(frozen=True)
class Policy:
    login: bool  # a person must log in
    https: bool


def policy(host: str, *, operator: bool, https: bool, insecure: bool) -> Policy:
    """What serving on `host` demands; WebRefused for a bind beyond loopback without HTTPS."""
    local = is_loopback(host)
    if not local and not https and not insecure:
        raise WebRefused(f"--web {host}: beyond loopback the board needs HTTPS (--https-cert and "
                         "--https-key, or web.tls_cert and web.tls_key in watchboard.toml; `watchboard auth "
                         "init --tls` makes web.crt and web.key), or --insecure to send passwords in clear")
    return Policy(login=operator or not local, https=https)


@dataclass(frozen=True)
class Person:
    """Who logged in, and with which credentials their board runs."""

    name: str
    role: str
    creds: Path

    def desk(self, operator: bool) -> bool:
        return operator and self.role in COMMAND_ROLES


@dataclass
class Session:
    person: Person
    expires: float


@dataclass
class Logins:
    """The people of an auth folder who may log in, and the sessions of those who did."""

    auth_dir: Path
    lifetime: float
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def check_ready(self) -> None:
        """Refuse to serve logins nobody can use (say what to run instead)."""
        try:
            registry = load_registry(self.auth_dir / "identities.json")
        except RegistryError as exc:
            raise WebRefused(f"the web board's logins: {exc} (--auth-dir, or web.auth_dir in watchboard.toml)") \
                from None
        try:
            known = passwords.load(self.auth_dir / passwords.FILE).people
        except passwords.PasswordError as exc:
            raise WebRefused(str(exc)) from None
        if not any(p.name in known for p in registry.active()):
            raise WebRefused(f"nobody can log in: {self.auth_dir / passwords.FILE} holds no password of a "
                             "person; set one with `watchboard auth set-password NAME`")

    def throttled(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        seen = self.failures.get(address)
        while seen and now - seen[0] > FAILURE_WINDOW:
            seen.popleft()
        return bool(seen) and len(seen) >= FAILURES_ALLOWED

    def failed(self, address: str, now: float | None = None) -> None:
        self.failures.setdefault(address, deque()).append(time.monotonic() if now is None else now)

    def login(self, name: str, password: str) -> Person | str:
        """The person, or why not (one sentence for the login page; never which part was wrong)."""
        name = name.strip()
        try:
            registry = load_registry(self.auth_dir / "identities.json")
            known = passwords.load(self.auth_dir / passwords.FILE)
        except (RegistryError, passwords.PasswordError):
            return "unavailable"
        person = registry.by_name(name)
        ok = passwords.verify(known, name, password)  # always costs one argon2 verification
        if not ok or person is None or person.revoked_at is not None:
            return "wrong"
        if person.role not in READING_ROLES:
            return "no_board"
        creds = self.auth_dir / person.creds
        if not creds.is_file():
            return "no_creds"
        return Person(person.name, person.role, creds)

    def start(self, person: Person, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        for token in [t for t, s in self.sessions.items() if s.expires <= now]:
            del self.sessions[token]
        if len(self.sessions) >= MAX_SESSIONS:  # drop the oldest rather than grow without bound
            del self.sessions[min(self.sessions, key=lambda t: self.sessions[t].expires)]
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Session(person, now + self.lifetime)
        return token

    def person(self, token: str | None, now: float | None = None) -> Person | None:
        """The person of a live session; a person revoked since logging in has none."""
        session = self.sessions.get(token or "")
        now = time.monotonic() if now is None else now
        if session is None or session.expires <= now:
            self.sessions.pop(token or "", None)
            return None
        try:
            current = load_registry(self.auth_dir / "identities.json").by_name(session.person.name)
        except RegistryError:
            return None
        if current is None or current.revoked_at is not None or not session.person.creds.is_file():
            self.sessions.pop(token or "", None)
            return None
        return session.person

    def end(self, token: str | None) -> None:
        self.sessions.pop(token or "", None)


def same_origin(origin: str | None, host: str) -> bool:
    """A websocket opened by a page of this server: its Origin names the host the browser used."""
    return bool(origin) and urlsplit(origin or "").netloc.lower() == host.lower()


# --- the login page ---------------------------------------------------------------------------

WORDS = {
    "zh": {"title": "登录值班看板", "name": "姓名", "password": "密码", "submit": "登录",
           "wrong": "姓名或密码不对。", "no_board": "此身份（监测员）没有看板权限。",
           "no_creds": "本机没有此人的凭据文件：请管理员把其 .nk 文件复制到网页看板的认证目录。",
           "unavailable": "认证目录暂不可读，请联系管理员。", "throttled": "登录失败次数过多，请十分钟后再试。",
           "logout": "退出登录", "logged_out": "已退出登录。"},
    "en": {"title": "Log in to the duty board", "name": "Name", "password": "Password", "submit": "Log in",
           "wrong": "Wrong name or password.", "no_board": "This identity (a monitor) may not read the board.",
           "no_creds": "This person's credentials are not on this host: ask the admin to copy their .nk file "
                       "into the web board's auth folder.",
           "unavailable": "The auth folder cannot be read right now; tell the admin.",
           "throttled": "Too many failed logins; try again in ten minutes.",
           "logout": "Log out", "logged_out": "Logged out."},
}

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def login_page(lang: str, message: str = "", name: str = "") -> str:
    """The login form (webpage/login.html) in one language; `message` a key of WORDS."""
    w = WORDS["en" if lang == "en" else "zh"]
    note = f'<p class="note" role="alert">{html.escape(w.get(message, message))}</p>' if message else ""
    page = Template((Path(__file__).with_name("webpage") / "login.html").read_text(encoding="utf-8"))
    return page.substitute(lang="en" if lang == "en" else "zh-CN", title=html.escape(w["title"]), note=note,
                           name_label=html.escape(w["name"]), name=html.escape(name),
                           password_label=html.escape(w["password"]), submit=html.escape(w["submit"]))


def logout_page(lang: str, done: bool = False) -> str:
    w = WORDS["en" if lang == "en" else "zh"]
    body = (f"<p>{html.escape(w['logged_out'])}</p><p><a href=\"/login\">{html.escape(w['submit'])}</a></p>" if done
            else f'<form method="post" action="/logout"><button type="submit">{html.escape(w["logout"])}</button></form>')
    return (f'<!doctype html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f"<title>{html.escape(w['logout'])}</title></head><body>{body}</body></html>")
