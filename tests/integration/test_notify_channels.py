"""The real channels against real local servers: an aiohttp receiver and an aiosmtpd server."""

from __future__ import annotations

import email
import random
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from watchboard.services.notify.channels import Channels
from watchboard.services.notify.channels.email import EmailChannel
from watchboard.services.notify.channels.webhook import WebhookChannel
from watchboard.services.notify.queue import DeliveryQueue
from watchboard.services.notify.settings import Contact, Delivery, NotifyConfig, Person, Smtp
from watchboard.services.notify.templates import Outgoing

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FAST = Delivery(max_attempts=4, backoff_initial="1s", backoff_max="2s", jitter=0.0, rate_limit=0, timeout="2s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(key: str = "EKEY0001", contact: str = "webhook") -> Outgoing:
    return Outgoing(key=key, incident_id="INC1", event_id="EV1", cause="incident.graded", person_id="p-li",
                    person_name="李值班", contact=contact, subject="【{grade}级】{title}",
                    body="{person}：{title}", values={"title": "网传*食堂*", "grade": "I", "person": "李值班"},
                    ack_url="http://127.0.0.1:8765/ack/T")


class Receiver:
    """A webhook receiver on loopback answering from a script of (status, json) replies."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, Any], str]] = []  # (Idempotency-Key, body, query)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.headers.get("Idempotency-Key", ""), body, request.query_string))
        status, reply = self.script.pop(0) if self.script else (200, {"errcode": 0, "errmsg": "ok"})
        return web.json_response(reply, status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver([])
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def config(url: str, fmt: str = "json", smtp: Smtp | None = None, address: str = "li@example.org") -> NotifyConfig:
    return NotifyConfig(
        people=[Person(id="p-li", name="李值班", contacts=[
            Contact(channel="webhook", url=url, format=fmt),  # type: ignore[arg-type]
            Contact(channel="email", address=address), Contact(channel="board")])],
        delivery=FAST, smtp=smtp or Smtp())


async def test_webhook_500_then_success_delivers_once(tmp_path: Path, receiver) -> None:  # type: ignore[no-untyped-def]
    """Two 500s then 200: three requests, one Idempotency-Key, recorded sent once."""
    rec, url = receiver
    rec.script = [(500, {"error": "x"}), (500, {"error": "x"})]
    channels = Channels(config(url))
    box = await DeliveryQueue.open(tmp_path / "o.sqlite", FAST, rng=random.Random(0))
    try:
        await box.enqueue([message()], T0)
        now, statuses = T0, []
        for _ in range(6):
            statuses += [d.status for d in await box.deliver_due(now, channels.send)]
            now += timedelta(seconds=5)
        assert statuses == ["pending", "pending", "sent"]
        assert [k for k, _, _ in rec.requests] == ["EKEY0001"] * 3
        assert rec.requests[-1][1]["subject"] == "【I级】网传*食堂*" and rec.requests[-1][1]["key"] == "EKEY0001"
        (row,) = await box.rows("INC1")
        assert (row.status, row.attempts) == ("sent", 3)
    finally:
        await channels.close()
        await box.close()


@pytest.mark.parametrize(("fmt", "status", "reply", "ok", "retryable", "reason"), [
    ("json", 404, {"error": "no such hook"}, False, False, "HTTP 404"),
    ("json", 429, {}, False, True, "HTTP 429"),
    ("json", 503, {}, False, True, "HTTP 503"),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, False, False, "code 93000"),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, False, True, "code 45009"),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, False, False, "sign not match"),
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}, False, True, "code 130101"),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, False, False, "sign match fail"),
    ("feishu", 200, {"code": 0, "msg": "success"}, True, False, ""),
    ("wecom", 200, {"errcode": 0, "errmsg": "ok"}, True, False, ""),
])
async def test_webhook_outcomes_are_classified(receiver, fmt: str, status: int, reply: Any, ok: bool,  # type: ignore[no-untyped-def]
                                               retryable: bool, reason: str) -> None:
    """HTTP status and robot error codes are classified once: retryable or final, with the reason."""
    rec, url = receiver
    rec.script = [(status, reply)]
    channel = WebhookChannel(timeout=2)
    try:
        result = await channel.send(message(), Contact(channel="webhook", url=url, format=fmt, secret="s3cret"))  # type: ignore[arg-type]
    finally:
        await channel.close()
    assert (result.ok, result.retryable) == (ok, retryable)
    assert reason in result.reason
    if not ok:
        assert f"webhook {fmt} http://127.0.0.1" in result.reason and "for p-li" in result.reason
    assert rec.requests[0][0] == "EKEY0001"
    if fmt == "dingtalk":
        assert "timestamp=" in rec.requests[0][2] and "sign=" in rec.requests[0][2]
    if fmt == "feishu":
        assert {"timestamp", "sign", "msg_type"} <= set(rec.requests[0][1])


async def test_webhook_unreachable_is_retryable_with_reason() -> None:
    """Connection refused is retryable and says which contact was unreachable."""
    channel = WebhookChannel(timeout=2)
    try:
        result = await channel.send(message(), Contact(channel="webhook", url=f"http://127.0.0.1:{free_port()}/h"))
    finally:
        await channel.close()
    assert (result.ok, result.retryable) == (False, True)
    assert "unreachable" in result.reason and "127.0.0.1" in result.reason


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


async def test_email_received_with_stable_message_id(smtp_server) -> None:  # type: ignore[no-untyped-def]
    """A real SMTP server receives the notice; a resend carries the same Message-ID."""
    sink, port = smtp_server
    smtp = Smtp(host="127.0.0.1", port=port, security="none", sender="wb@example.org",
                message_id_domain="watchboard.test")
    channel = EmailChannel(smtp, timeout=5)
    contact = Contact(channel="email", address="li@example.org")
    assert (await channel.send(message(contact="email"), contact)).ok
    assert (await channel.send(message(contact="email"), contact)).ok  # e.g. resent after a crash
    assert [m["Message-ID"] for m in sink.messages] == ["<EKEY0001@watchboard.test>"] * 2
    mail = sink.messages[0]
    assert mail["Subject"] == "【I级】网传*食堂*" and "li@example.org" in mail["To"]
    assert "http://127.0.0.1:8765/ack/T" in mail.get_content()


async def test_smtp_down_is_recorded_failed_with_reason(tmp_path: Path) -> None:
    """Connection refused is retried, then recorded failed naming the server and the contact."""
    smtp = Smtp(host="127.0.0.1", port=free_port(), security="none")
    delivery = msgspec.structs.replace(FAST, max_attempts=2)
    channels = Channels(msgspec.structs.replace(config("http://127.0.0.1:9/h", smtp=smtp), delivery=delivery))
    box = await DeliveryQueue.open(tmp_path / "o.sqlite", delivery)
    try:
        await box.enqueue([message(contact="email")], T0)
        first = await box.deliver_due(T0, channels.send)
        second = await box.deliver_due(T0 + timedelta(seconds=5), channels.send)
        assert [d.status for d in first + second] == ["pending", "failed"]
        (row,) = await box.rows("INC1")
        assert row.status == "failed"
        assert "email li@example.org via 127.0.0.1" in row.last_error and "unreachable" in row.last_error
        assert "gave up after 2 attempts" in row.last_error
    finally:
        await channels.close()
        await box.close()


class Refuser:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)


async def test_smtp_login_refused_is_final_with_reason() -> None:
    """A refused SMTP login is a final failure that quotes the server's answer."""
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=Refuser(),
                            auth_require_tls=False)
    controller.start()
    try:
        smtp = Smtp(host="127.0.0.1", port=port, security="none", username="wb", password="wrong")
        result = await EmailChannel(smtp, timeout=5).send(message(contact="email"),
                                                         Contact(channel="email", address="li@example.org"))
    finally:
        controller.stop()
    assert (result.ok, result.retryable) == (False, False)
    assert "SMTP login refused: 535" in result.reason and "li@example.org" in result.reason
    assert sink.messages == []


async def test_removed_contact_is_a_final_failure() -> None:
    """A queued notice whose contact was removed from notify.toml fails, naming it."""
    channels = Channels(config("http://127.0.0.1:9/h"))
    result = await channels.send(message(contact="webhook:gone"))
    await channels.close()
    assert (result.ok, result.retryable) == (False, False) and "webhook:gone" in result.reason
