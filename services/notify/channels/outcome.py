"""Every send outcome is classified here, and only here (Alertmanager's `Retrier.Check`).

Retryable: the other side may accept the same message later — 5xx, 429, timeouts,
connection refused or reset, a robot's "too many requests" code, an SMTP 4xx reply.
Final: retrying cannot help — other 4xx, a robot's error code (bad signature, bad key),
refused SMTP login, refused recipients, a message the channel cannot build.
Each reason names what a person can act on: the contact and what the other side said.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, NamedTuple

import aiohttp
import aiosmtplib


class SendResult(NamedTuple):
    ok: bool
    retryable: bool
    reason: str


SENT = SendResult(True, False, "")

# Robot error codes that mean "slow down" (retry later), by webhook format.
_ROBOT_RATE_LIMITED = {
    "wecom": {45009},  # api freq out of limit
    "dingtalk": {130101, 660026},  # send too fast
    "feishu": {11232, 9499},  # frequency limited
}


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_outcome(status: int, body: Any, *, fmt: str, target: str) -> SendResult:
    """Classify a webhook reply: HTTP status first, then a robot's own error code."""
    if status == 429 or status >= 500:
        return SendResult(False, True, f"{target}: HTTP {status}")
    if status >= 400:
        return SendResult(False, False, f"{target}: HTTP {status} {_short(str(body))}")
    if fmt in _ROBOT_RATE_LIMITED and isinstance(body, dict):
        # WeCom and DingTalk answer {"errcode": 0}; Feishu {"code": 0} (older: StatusCode).
        code = body.get("errcode", body.get("code", body.get("StatusCode", 0)))
        if isinstance(code, int) and code != 0:
            message = body.get("errmsg") or body.get("msg") or body.get("StatusMessage") or ""
            retry = code in _ROBOT_RATE_LIMITED[fmt]
            return SendResult(False, retry, f"{target}: {fmt} robot refused: code {code} {_short(str(message))}")
    if status >= 300:
        return SendResult(False, False, f"{target}: HTTP {status} (redirects are not followed)")
    return SENT


def exception_outcome(exc: BaseException, *, target: str) -> SendResult:
    """Classify an exception raised while sending over HTTP or SMTP."""
    name = type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendResult(False, False, f"{target}: SMTP login refused: {exc.code} {_short(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{r.recipient}: {r.code} {_short(r.message)}" for r in exc.recipients)
        return SendResult(False, False, f"{target}: SMTP recipient refused: {codes}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        retry = 400 <= exc.code < 500
        return SendResult(False, retry, f"{target}: SMTP {exc.code} {_short(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SendResult(False, False, f"{target}: SMTP server does not support it: {_short(str(exc))}")
    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):
        return SendResult(False, False, f"{target}: TLS failed: {_short(str(exc))}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return SendResult(False, True, f"{target}: timed out")
    if isinstance(exc, aiosmtplib.SMTPException | ConnectionError | aiohttp.ClientConnectionError | OSError):
        return SendResult(False, True, f"{target}: unreachable: {name}: {_short(str(exc))}")
    if isinstance(exc, aiohttp.InvalidURL):
        return SendResult(False, False, f"{target}: invalid url: {_short(str(exc))}")
    if isinstance(exc, aiohttp.ClientError):
        return SendResult(False, True, f"{target}: {name}: {_short(str(exc))}")
    return SendResult(False, False, f"{target}: {name}: {_short(str(exc))}")
