"""The scripted week published to a real nats-server, then the reports made by the command a
user types: the figures read back from `--format json` equal the hand counts, the Word file
and the HTML come out whole, and errors name the option."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import docx
import pytest
from nats.aio.client import Client

from tests.reports_week import (
    DAILY_WED,
    IDS,
    REVIEW_A,
    WEEKLY_W47,
    daily_digest,
    later_event,
    review_digest,
    week,
    weekly_digest,
)
from watchboard.bus.jetstream import EventPublisher, ensure_stream
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.config import WatchboardConfig
from watchboard.reports.replay import replay_incident, replay_window

SUBJECTS = Subjects()


async def cli(*args: str) -> tuple[int, bytes, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchboard.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out, err.decode()


@pytest.fixture
async def published(nats_server: NatsServer, nc: Client) -> str:
    """The week (and one event after it) in the stream, as the services would have put it."""
    await ensure_stream(nc.jetstream(timeout=5), WatchboardConfig())
    publisher = EventPublisher(nc, SUBJECTS)
    events = [*week(), later_event()]
    for i in range(0, len(events), 20):
        await publisher.publish_all(events[i:i + 20])
    info = await nc.jetstream().stream_info("WATCHBOARD")
    assert info.state.messages == len(events)
    return nats_server.url


async def test_weekly_json_from_the_stream_matches_the_hand_count(published: str) -> None:
    """Look-back 7 days: the window starts on 9 November, so G (reported 2 November) is found in
    the window only in part, and its earlier events are read to count its formal reply for hexi."""
    code, out, err = await cli("report", "weekly", "--week", "2026-W47", "--format", "json", "--lookback", "7",
                               "--nats", published)
    assert code == 0, err
    data = json.loads(out)
    assert weekly_digest(data["figures"]) == WEEKLY_W47
    assert data["replay"]["completed_incidents"] == 1  # G
    assert data["replay"]["earlier"] == 7  # G's events of 2 and 6 November
    assert data["replay"]["unknown"] == 0 and data["replay"]["broken"] == 0


async def test_daily_json_from_the_stream_matches_the_hand_count(published: str) -> None:
    code, out, err = await cli("report", "daily", "--date", "2026-11-18", "--format", "json", "--nats", published)
    assert code == 0, err
    assert daily_digest(json.loads(out)["figures"]) == DAILY_WED


async def test_review_json_and_docx(published: str, tmp_path: Path) -> None:
    code, out, err = await cli("review", IDS["A"], "--format", "json", "--nats", published)
    assert code == 0, err
    assert review_digest(json.loads(out)["figures"]) == REVIEW_A
    target = tmp_path / "review.docx"
    code, _, err = await cli("review", IDS["A"], "--format", "docx", "-o", str(target), "--nats", published)
    assert code == 0, err
    paragraphs = [p.text for p in docx.Document(str(target)).paragraphs if p.text.strip()]
    assert paragraphs[0] == "关于“仲山镇中学食堂使用过期食材”网络舆情处置情况的总结评估"


async def test_weekly_docx_html_and_markdown_files(published: str, tmp_path: Path) -> None:
    target = tmp_path / "w47.docx"
    code, _, err = await cli("report", "weekly", "--week", "2026-W47", "--format", "docx", "-o", str(target),
                             "--nats", published)
    assert code == 0, err
    assert f"{target}: weekly report (docx" in err
    document = docx.Document(str(target))
    assert document.paragraphs[0].text == "关于2026年第47周网络舆情处置时限落实情况的督查通报"
    assert len(document.tables) == 9 and len(document.inline_shapes) == 2
    code, out, err = await cli("report", "weekly", "--week", "2026-W47", "--format", "html", "--lang", "en",
                               "--nats", published)
    assert code == 0, err
    html = out.decode()
    assert "<h1>Supervision circular on the response clocks, week 2026-W47</h1>" in html
    assert "http://" not in html and "https://" not in html and html.count("data:image/png;base64,") == 2
    code, out, err = await cli("report", "weekly", "--week", "2026-W47", "--nats", published)
    assert code == 0, err
    assert out.decode().startswith("# 关于2026年第47周")


@pytest.mark.parametrize(("args", "code", "field"), [
    (("report", "weekly", "--week", "2026-W47", "--format", "docx"), 2, "[--format]"),
    (("report", "weekly", "--week", "47"), 2, "[--week]"),
    (("report", "daily", "--date", "18/11/2026"), 2, "[--date]"),
    (("report", "daily", "--lookback", "0"), 2, "[--lookback]"),
    (("report", "daily", "--issuer", "x" * 101), 2, "[--issuer]"),
    (("review", "01NOSUCHINCIDENT"), 1, "(not_found) [id]"),
])
async def test_errors_name_the_option(published: str, args: tuple[str, ...], code: int, field: str) -> None:
    got, _, err = await cli(*args, "--nats", published)
    assert got == code, err
    assert field in err


async def test_replay_window_stops_after_the_period(published: str, nc: Client) -> None:
    """Reading the week from the stream skips what lies past it (the Monday-23 regrade): the
    replay stops at the first event more than a day after the period's end."""
    from tests.reports_week import t

    replayed = await replay_window(nc, SUBJECTS, t(9, "00:00"), t(19, "00:00"), timeout=30)
    ats = [e.at for e in replayed.events]
    assert max(ats) <= t(20, "00:00")
    assert replayed.start_seq > 1  # the binary search skipped G's and F's earlier events…
    assert replayed.completed == 1 and replayed.earlier == 7  # …then read G's back for it


async def test_replay_incident_reads_one_incident_whole(published: str, nc: Client) -> None:
    replayed = await replay_incident(nc, SUBJECTS, IDS["B"], timeout=30)
    assert {e.incident_id for e in replayed.events} == {IDS["B"]}
    # B's 12 events of the week, its follow-through (task B1 added, its clock started, breached,
    # a slip; a statement drafted) and the regrade after it
    assert len(replayed.events) == 18
    missing = await replay_incident(nc, SUBJECTS, "01NOSUCHINCIDENT00000000000", timeout=30)
    assert missing.events == []
