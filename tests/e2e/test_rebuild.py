"""State rebuilt from the stream (issue 12): each service, its SQLite deleted, comes back with
everything it had — the board's views as before, no event published twice (the duplicate
window is 2 s here and the restart waits it out, so a re-published event would be stored
again), and it works on: the same URL merges into its incident, commands on existing incidents
are not `not_found`, clocks keep their due times and slips, notify sends nothing again.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nats.aio.client import Client

from tests.stream_truth import board, read_stream, stored_ids
from tests.support import FakeClock, eventually, kv_get, request, running
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import STREAM
from watchboard.config import ConfigSource
from watchboard.domain import events as ev
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

SH = ZoneInfo("Asia/Shanghai")
PARTS = ("core", "grade", "clocks", "notices")
BUILD = {"intake": build_intake, "grading": build_grading, "deadlines": build_deadlines, "notify": build_notify}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


@pytest.fixture
def source(tmp_path: Path) -> ConfigSource:
    from watchboard.config import defaults_dir

    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "watchboard.toml").write_text('[stream]\nduplicate_window = "2s"\n[recovery]\nreconcile_every = "2s"\n',
                                            encoding="utf-8")
    notify = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    (folder / "notify.toml").write_text(notify.replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'),
                                        encoding="utf-8")
    return ConfigSource(folder)


@contextlib.asynccontextmanager
async def system(url: str, data: Path, source: ConfigSource, clock: FakeClock) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for name, build in BUILD.items():
            tick = 0.05 if name in ("deadlines", "notify") else 1.0
            await stack.enter_async_context(running(build(source), url, data / name, source=source, now=clock,
                                                    tick=tick))
        yield


async def last_seq(nc: Client) -> int:
    return (await nc.jetstream().stream_info(STREAM)).state.last_seq


async def quiet(nc: Client, seconds: float = 1.5) -> int:
    """Wait until the stream has stopped growing for `seconds`; its last sequence."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    seen, since = await last_seq(nc), loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(0.2)
        now = await last_seq(nc)
        if now != seen:
            seen, since = now, loop.time()
        elif loop.time() - since >= seconds:
            return seen
    raise AssertionError("the stream kept growing")


def normal(part: str, value: dict[str, Any]) -> Any:
    """A view as compared: `updated_at` aside; notices as a sorted list (their queue times are
    not in the stream)."""
    value = {k: v for k, v in value.items() if k != "updated_at"}
    if part == "notices":
        value["notices"] = sorted((n["to"], n["channel"], n["status"], n["cause"], n.get("reason", ""))
                                  for n in value["notices"])
    return value


async def views(nc: Client) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in PARTS:
        out.update({k: normal(part, v) for k, v in (await board(nc, part)).items()})
    for key in ("sys.sweep", "sys.supervision"):
        value = await kv_get(nc, key)
        out[key] = {k: v for k, v in (value or {}).items() if k != "updated_at"}
    return out


async def scenario(nc: Client, clock: FakeClock) -> dict[str, str]:
    """Reports merged and not, a regrade, a flag, a clock met, breaches and slips across two
    working days, escalation tiers, notices, an acknowledgement, a note, a stage, a close."""
    a = (await request(nc, "wb.intake.submit", {"title": "网传某校食堂使用过期食材", "platform": "weibo",
                                                "url": "https://weibo.example/a", "metrics": {"reposts": 300},
                                                "region": "城关镇"}))["incident_id"]
    b = (await request(nc, "wb.intake.submit", {"title": "某小区噪声扰民", "platform": "forum",
                                                "url": "https://bbs.example/b", "region": "城关镇"}))["incident_id"]
    merged = await request(nc, "wb.intake.submit", {"title": "过期食材", "platform": "douyin",
                                                    "url": "https://weibo.example/a"})
    assert merged["incident_id"] == a and merged["merged"]
    await eventually(lambda: kv_get(nc, f"{a}.clocks"), what="clocks of a")
    await eventually(lambda: kv_get(nc, f"{b}.grade"), what="grade of b")
    assert (await request(nc, "wb.cmd.regrade", {"incident_id": b, "grade": "III", "reason": "多站点出现",
                                                 "actor": "li"}))["ok"]
    assert (await request(nc, "wb.cmd.flag", {"incident_id": a, "kind": "rumour", "reason": "不实", "actor": "li"}))["ok"]
    assert (await request(nc, "wb.cmd.note", {"incident_id": b, "text": "已联系物业", "actor": "li"}))["ok"]
    assert (await request(nc, "wb.cmd.stage", {"incident_id": b, "stage": "handling", "actor": "li"}))["ok"]
    await quiet(nc)
    clock.set(local("2026-11-23 12:01"))  # a's first_response (12:00) breaches; tiers escalate
    await eventually(lambda: _status(nc, a, "first_response", "breached"), what="breach")
    clock.set(local("2026-11-23 12:10"))
    assert (await request(nc, "wb.cmd.done", {"incident_id": a, "clock": "report_up", "note": "电话报告县网信办",
                                              "actor": "li"}))["ok"]
    await quiet(nc)
    clock.set(local("2026-11-24 17:31"))  # one working day on: a second slip about first_response
    await eventually(lambda: _slips(nc, a, 2), what="second slip")
    assert (await request(nc, "wb.cmd.ack", {"incident_id": a, "actor": "p-li"}))["ok"]
    assert (await request(nc, "wb.cmd.close", {"incident_id": b, "summary": "已解决", "actor": "li"}))["ok"]
    await quiet(nc)
    return {"a": a, "b": b}


async def _status(nc: Client, incident: str, name: str, status: str) -> bool:
    view = await kv_get(nc, f"{incident}.clocks")
    return bool(view) and any(c["name"] == name and c["status"] == status for c in view["clocks"])


async def _slips(nc: Client, incident: str, count: int) -> bool:
    view = await kv_get(nc, f"{incident}.clocks")
    return bool(view) and any(s["count"] >= count for s in view["slips"])


def _store(data: Path, name: str) -> list[Path]:
    return [p for p in (data / name).glob(f"{name}.sqlite*")]


@pytest.mark.parametrize("name", ["intake", "grading", "deadlines", "notify"])
async def test_a_service_whose_store_is_deleted_comes_back_with_everything(
        nats_server: NatsServer, nc: Client, tmp_path: Path, source: ConfigSource, name: str) -> None:
    clock = FakeClock(local("2026-11-23 09:00"))
    data = tmp_path / "data"
    async with system(nats_server.url, data, source, clock):
        ids = await scenario(nc, clock)
        await asyncio.sleep(2 * 2.0 * 0.05 + 0.5)  # a reconcile round of each service, to be sure
        before = await views(nc)
        events_before = await read_stream(nc)
    assert any(k.endswith(".notices") for k in before) and before["sys.sweep"]["missed"]
    for path in _store(data, name):
        path.unlink()
    await asyncio.sleep(2.5)  # past the duplicate window: a re-published event would be stored twice
    async with system(nats_server.url, data, source, clock):
        assert _store(data, name), "the store is back"

        async def same() -> dict | None:
            now = await views(nc)
            return now if now == before else None

        try:
            await eventually(same, timeout=10, interval=0.3, what="the views as before")
        except AssertionError:
            now = await views(nc)
            diff = {k: (before.get(k), now.get(k)) for k in set(before) | set(now) if before.get(k) != now.get(k)}
            raise AssertionError(f"{name}: views differ after the rebuild: {diff}") from None
        await quiet(nc)
        ids_stored = await stored_ids(nc)
        twice = {i: n for i, n in Counter(ids_stored).items() if n > 1}
        assert not twice, f"published again: {twice}"
        assert len(ids_stored) == len(events_before), "no event at all was added by the restart"
        # It works on.
        a, b = ids["a"], ids["b"]
        again = await request(nc, "wb.intake.submit", {"title": "网传某校食堂", "platform": "wechat",
                                                       "url": "https://weibo.example/a"})
        assert again["incident_id"] == a and again["merged"]
        assert (await request(nc, "wb.cmd.stage", {"incident_id": a, "stage": "handling", "actor": "li"}))["ok"]
        assert (await request(nc, "wb.cmd.assign", {"incident_id": a, "owner": "education", "reason": "主管",
                                                    "actor": "li"}))["ok"]
        extended = await request(nc, "wb.cmd.extend", {"incident_id": a, "clock": "formal_reply",
                                                       "due_at": "2026-12-01T17:30:00+08:00", "reason": "待核实",
                                                       "actor": "li"})
        assert extended["ok"], extended
        assert (await request(nc, "wb.cmd.note", {"incident_id": b, "text": "回访", "actor": "li"}))["ok"]
        assert (await request(nc, "wb.cmd.regrade", {"incident_id": b, "grade": "IV", "reason": "已平息",
                                                     "actor": "li"}))["ok"]
        acked = await request(nc, "wb.cmd.ack", {"incident_id": a, "actor": "p-wang"})
        assert acked["error"]["code"] == "conflict"  # it remembers: acknowledged already
        await quiet(nc)
        sent = Counter(e.key for e in await read_stream(nc, "wb.ev.notify.>") if isinstance(e, ev.NoticeSent))
        assert all(n == 1 for n in sent.values()), "a notice went out twice"


def test_serve_rebuild_moves_the_store_aside(nats_server: NatsServer, tmp_path: Path) -> None:
    """`watchboard serve grading --rebuild`: the old store kept beside, a new one rebuilt, serving."""
    data = tmp_path / "grading"
    data.mkdir()
    (data / "grading.sqlite").write_bytes(b"not even a database")
    proc = subprocess.Popen([sys.executable, "-m", "watchboard.cli", "serve", "grading", "--rebuild", "--nats",
                             nats_server.url, "--data", str(data)], stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "grading: ready" in line:
                break
        moved = list(data.glob("grading.before-rebuild-*.sqlite"))
        assert len(moved) == 1 and moved[0].read_bytes() == b"not even a database"
        assert (data / "grading.sqlite").exists()
        text = "".join(lines)
        assert f"store moved aside to {moved[0]}" in text and "rebuilt from the stream" in text
    finally:
        proc.terminate()
        proc.wait(15)


async def test_a_new_store_stays_marked_until_its_rebuild_is_committed(tmp_path: Path) -> None:
    """Killed mid-rebuild (nothing committed), the store is rebuilt again on the next start."""
    from watchboard.store.sqlite import open_db, rebuild_pending, rebuilt

    path = tmp_path / "s.sqlite"
    db = await open_db(path)
    assert await rebuild_pending(db)
    await db.close()  # as if killed: the rebuild never committed
    db = await open_db(path)
    assert await rebuild_pending(db)
    await rebuilt(db)
    await db.commit()
    await db.close()
    db = await open_db(path)
    try:
        assert not await rebuild_pending(db)
    finally:
        await db.close()


def test_move_aside_keeps_the_store_and_its_journal(tmp_path: Path) -> None:
    from watchboard.recovery.rebuild import move_aside

    store = tmp_path / "deadlines.sqlite"
    for suffix, body in (("", b"db"), ("-wal", b"wal"), ("-shm", b"shm")):
        Path(f"{store}{suffix}").write_bytes(body)
    moved = move_aside(store, datetime(2026, 11, 23, 1, 2, 3, tzinfo=UTC))
    stem = tmp_path / "deadlines.before-rebuild-20261123T010203Z.sqlite"
    assert moved == [stem, Path(f"{stem}-wal"), Path(f"{stem}-shm")]
    assert [p.read_bytes() for p in moved] == [b"db", b"wal", b"shm"]
    assert not list(tmp_path.glob("deadlines.sqlite*"))
    assert move_aside(store) == []  # nothing there: nothing moved
