"""The scheduled reports, end to end: the scripted week in a real nats-server, notify run with a
controlled clock, a local SMTP server (aiosmtpd) and a local webhook. The daily report goes out
at 17:00 once — not again after a restart, nor from a second notify — e-mailed with the Word
file, which python-docx opens; the robot gets the summary and the file's path; two notify
instances at the Monday 09:00 circular send it once between them."""

from __future__ import annotations

import asyncio
import email
import io
import socket
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docx
import pytest
from aiosmtpd.controller import Controller
from nats.aio.client import Client

from tests.reports_week import ZONE, later_event, week
from tests.support import FakeClock, eventually, kv_get, running, webhook
from watchboard.bus.jetstream import EventPublisher, ensure_stream
from watchboard.bus.reader import scan
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.config import ConfigSource, WatchboardConfig, defaults_dir
from watchboard.domain.events import ReportDispatched, decode_event
from watchboard.services.notify.service import build as build_notify

TICK = 0.05  # reports.check_every 30 s → 1.5 s; the delivery loop every 25 ms
DAILY_SUBJECT = "【每日舆情汇报】2026年11月18日"
WEEKLY_SUBJECT = "【督查通报】2026年第47周"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """An SMTP server that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def reports(self, subject: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Subject"] == subject]


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
async def robot() -> Any:
    """A webhook receiver (tests/support.py): what it received, (Idempotency-Key, JSON body) each."""
    async with webhook() as (url, received):
        yield received, url


def config_dir(tmp_path: Path, smtp_port: int, hook: str) -> ConfigSource:
    """The shipped notify.toml with the leaders on e-mail and a robot, the office on e-mail."""
    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    leaders = 'name = "舆情工作领导小组"\nroles = ["leader_group"]\ncontacts = [{ channel = "board" }]'
    office = 'name = "办公室"\nroles = ["office"]\ncontacts = [{ channel = "board" }]'
    assert leaders in text and office in text
    text = text.replace(leaders, leaders[:-1] + ', { channel = "email", address = "leaders@example.gov.cn" }, '
                        f'{{ channel = "webhook", url = "{hook}", format = "json" }}]')
    text = text.replace(office, office[:-1] + ', { channel = "email", address = "office@example.gov.cn" }]')
    text = text.replace('port = 587\nsecurity = "starttls"', f'port = {smtp_port}\nsecurity = "none"')
    text = text.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"')
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    (folder / "notify.toml").write_text(text, encoding="utf-8")
    return ConfigSource(folder)


async def publish_week(nc: Client) -> None:
    await ensure_stream(nc.jetstream(timeout=5), WatchboardConfig())
    publisher = EventPublisher(nc, Subjects())
    events = [*week(), later_event()]
    for i in range(0, len(events), 20):
        await publisher.publish_all(events[i:i + 20])


def local(day: int, hhmm: str, seconds: int = 0) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2026, 11, day, int(h), int(m), seconds, tzinfo=ZONE)


def word_file(message: EmailMessage) -> tuple[str, docx.document.Document]:
    parts = [p for p in message.iter_attachments()]
    assert len(parts) == 1, [p.get_filename() for p in parts]
    return parts[0].get_filename() or "", docx.Document(io.BytesIO(parts[0].get_content()))


async def claims(nc: Client) -> list[ReportDispatched]:
    found = await scan(nc, STREAM, "wb.ev.notify._.report.dispatched", timeout=5)
    return [e for m in found if isinstance(e := decode_event(m.data), ReportDispatched)]


async def _quiet(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_daily_report_at_17_once_across_a_restart_and_a_second_notify(
        nats_server: NatsServer, nc: Client, tmp_path: Path, smtp: tuple[Sink, int], robot: Any) -> None:
    sink, port = smtp
    received, hook = robot
    source = config_dir(tmp_path, port, hook)
    await publish_week(nc)
    clock = FakeClock(local(18, "16:59"))
    first = tmp_path / "notify-a"

    async with running(build_notify(source), nats_server.url, first, source=source, now=clock, tick=TICK):
        await _quiet(4 * 30 * TICK)  # a few checks before 17:00: nothing is due
        assert sink.reports(DAILY_SUBJECT) == [] and await claims(nc) == []
        clock.set(local(18, "17:00", 10))

        async def both() -> list[EmailMessage] | None:
            got = sink.reports(DAILY_SUBJECT)
            return got if len(got) >= 2 else None

        mails = await eventually(both, timeout=30, what="the daily report to the leaders and the office")
        assert sorted(m["To"].addresses[0].addr_spec for m in mails) == ["leaders@example.gov.cn",
                                                                          "office@example.gov.cn"]
        for mail in mails:
            name, document = word_file(mail)
            assert name == "每日舆情汇报-2026-11-18.docx"
            paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
            assert paragraphs[0] == "关于2026年11月18日网络舆情情况的汇报"
            assert "截至17时00分" in paragraphs[2]  # as of the scheduled moment
            assert "七、交办任务" in paragraphs and len(document.tables) >= 5
            assert "现将2026年11月18日" in mail.get_body(("plain",)).get_content()  # the summary in the body
        robots = [b for _, b in received if b["subject"] == DAILY_SUBJECT]
        assert len(robots) == 1 and robots[0]["body"].endswith("每日舆情汇报-2026-11-18.docx")
        assert "新增网络舆情" in robots[0]["body"]
        kept = first / "reports" / "每日舆情汇报-2026-11-18.docx"
        assert kept.exists() and docx.Document(str(kept)).paragraphs[0].text.startswith("关于2026年11月18日")
        [claim] = await claims(nc)
        assert claim.key == "report:daily:2026-11-18" and claim.id == claim.key

        async def on_board() -> dict | None:
            view = await kv_get(nc, "sys.notices")
            return view if view and any(n["cause"] == "report.daily" and n["channel"] == "board"
                                        for n in view["notices"]) else None

        await eventually(on_board, timeout=10, what="the report's line for the board (sys.notices)")
        await _quiet(4 * 30 * TICK)
        assert len(sink.reports(DAILY_SUBJECT)) == 2

    clock.set(local(18, "17:05"))
    async with running(build_notify(source), nats_server.url, first, source=source, now=clock, tick=TICK):
        await _quiet(5 * 30 * TICK)  # the same notify again: it knows it queued this report
    async with running(build_notify(source), nats_server.url, tmp_path / "notify-b", source=source, now=clock,
                       tick=TICK):
        await _quiet(5 * 30 * TICK)  # another notify: the stream says who sends it
    assert len(sink.reports(DAILY_SUBJECT)) == 2
    assert len(await claims(nc)) == 1


async def test_two_notify_instances_send_the_monday_circular_once(
        nats_server: NatsServer, nc: Client, tmp_path: Path, smtp: tuple[Sink, int], robot: Any) -> None:
    sink, port = smtp
    received, hook = robot
    source = config_dir(tmp_path, port, hook)
    await publish_week(nc)
    clock = FakeClock(local(23, "08:59", 50))
    async with running(build_notify(source), nats_server.url, tmp_path / "a", source=source, now=clock, tick=TICK), \
            running(build_notify(source), nats_server.url, tmp_path / "b", source=source, now=clock, tick=TICK):
        clock.set(local(23, "09:00", 5))

        async def both() -> list[EmailMessage] | None:
            got = sink.reports(WEEKLY_SUBJECT)
            return got if len(got) >= 2 else None

        mails = await eventually(both, timeout=40, what="the weekly circular")
        await _quiet(6 * 30 * TICK)  # both notify looked again: still one each
        assert len(sink.reports(WEEKLY_SUBJECT)) == 2
        assert [b["subject"] for _, b in received].count(WEEKLY_SUBJECT) == 1
        name, document = word_file(mails[0])
        assert name == "督查通报-2026-W47.docx"
        assert document.paragraphs[0].text == "关于2026年第47周网络舆情处置时限落实情况的督查通报"
        assert any(p.text == "六、交办任务落实情况" for p in document.paragraphs)
        [claim] = await claims(nc)
        assert claim.key == "report:weekly:2026-W47"
        senders = {(tmp_path / d / "notify.instance").read_text().strip() for d in ("a", "b")}
        assert len(senders) == 2 and claim.instance in senders
        # Sunday's daily report (22 Nov 17:00) was due 16 hours before: past catch_up, left alone.
        assert sink.reports("【每日舆情汇报】2026年11月22日") == []
