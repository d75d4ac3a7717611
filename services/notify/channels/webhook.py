"""Webhook channel: a generic JSON body, or the chat-group robots of WeCom, DingTalk, Feishu.

Every POST carries `Idempotency-Key: <notice key>`, the same on every retry and after a
restart, so a receiver that honours it drops copies. Robots ignore it; for them the
outbox's "sent" record is what prevents a second message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

import aiohttp

from watchboard.services.notify.channels.outcome import SendResult, exception_outcome, http_outcome
from watchboard.services.notify.settings import Contact
from watchboard.services.notify.templates import (
    MARKDOWN,
    PLAIN,
    TEXT,
    Outgoing,
    TemplateError,
    bound_bytes,
    render,
)

# Message size limits the robots document (bytes of UTF-8 content).
_LIMITS = {("wecom", True): 4096, ("wecom", False): 2048, ("dingtalk", True): 20000,
           ("dingtalk", False): 20000, ("feishu", False): 30000, ("json", False): 60000}


ROBOTS = ("wecom", "dingtalk", "feishu")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), url-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def build_request(message: Outgoing, contact: Contact, *, now_ms: int | None = None) -> tuple[str, dict[str, Any]]:
    """(url, JSON body) for `contact`'s format; raises TemplateError for an unusable template."""
    fmt = contact.format
    markdown = contact.markdown and fmt in ("wecom", "dingtalk")
    # A robot's text message is escaped too: Feishu reads `<at user_id="all">` in plain text.
    style = MARKDOWN if markdown else TEXT if fmt in ROBOTS else PLAIN
    subject, body = render(message, style=style)
    limit = _LIMITS.get((fmt, markdown), 20000)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    url = contact.url
    if fmt == "wecom":
        if markdown:
            return url, {"msgtype": "markdown", "markdown": {"content": bound_bytes(f"### {subject}\n{body}", limit)}}
        return url, {"msgtype": "text", "text": {"content": bound_bytes(f"{subject}\n{body}", limit)}}
    if fmt == "dingtalk":
        secret = contact.signing_secret()
        if secret:
            url = _with_query(url, f"timestamp={now_ms}&sign={dingtalk_sign(secret, now_ms)}")
        if markdown:
            return url, {"msgtype": "markdown", "markdown": {
                "title": bound_bytes(subject, 200), "text": bound_bytes(f"### {subject}\n\n{body}", limit)}}
        return url, {"msgtype": "text", "text": {"content": bound_bytes(f"{subject}\n{body}", limit)}}
    if fmt == "feishu":
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": bound_bytes(f"{subject}\n{body}", limit)}}
        secret = contact.signing_secret()
        if secret:
            ts = now_ms // 1000
            payload = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **payload}
        return url, payload
    return url, {
        "key": message.key, "incident_id": message.incident_id, "event_id": message.event_id,
        "cause": message.cause, "to": message.person_id, "lang": message.lang,
        "subject": subject, "body": bound_bytes(body, limit), "ack_url": message.ack_url,
        "items": message.items,
    }


def _target(contact: Contact, person: str) -> str:
    parts = urlsplit(contact.url)
    # The path of a robot url holds its key: show host and format only.
    return f"webhook {contact.format} {parts.scheme}://{parts.netloc} for {person}"


class WebhookChannel:
    """Sends with one shared aiohttp session (created lazily, closed by `close`)."""

    def __init__(self, *, timeout: float = 10.0, session: aiohttp.ClientSession | None = None) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own = session is None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()

    async def send(self, message: Outgoing, contact: Contact) -> SendResult:
        target = _target(contact, message.person_id)
        try:
            url, payload = build_request(message, contact)
        except TemplateError as exc:
            return SendResult(False, False, f"{target}: bad template: {exc}")
        headers = {"Idempotency-Key": message.key}
        try:
            session = await self._client()
            async with session.post(url, json=payload, headers=headers, allow_redirects=False) as resp:
                text = await resp.text(errors="replace")
                try:
                    body: Any = await resp.json(content_type=None)
                except ValueError:
                    body = text
                return http_outcome(resp.status, body, fmt=contact.format, target=target)
        except Exception as exc:  # classified in one place
            return exception_outcome(exc, target=target)
