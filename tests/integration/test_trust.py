"""Roles on, against a real nats-server: each hostile action of issue 11 is refused by the server
or ignored by the service, and the actor recorded is the person the server authenticated.

A sniffer — a test-only user of the services' account allowed everything — listens on the
subjects the hostile clients aim at: "reaching nothing" means it saw no message there.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client

from tests.support import eventually, running
from watchboard.auth.folder import AuthFolder
from watchboard.auth.keys import new_user, write_secret
from watchboard.auth.roles import accounts_block
from watchboard.bus.connection import Refused, connect
from watchboard.bus.credentials import Credentials, resolve
from watchboard.bus.errors import NotPermitted
from watchboard.bus.jetstream import setup
from watchboard.bus.server import NatsServer
from watchboard.bus.subjects import Subjects
from watchboard.client import load_history, load_view, load_views, request
from watchboard.config import ConfigSource, load_watchboard
from watchboard.domain import events as ev
from watchboard.domain.commands import BY_VERB
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.intake.service import build as build_intake

SUBJECTS = Subjects()
REPORT = {"title": "网传某镇中学食堂使用过期食材", "platform": "weibo", "region": "仲山镇",
          "reporter": "冒名者"}


@dataclass
class Site:
    server: NatsServer
    auth: AuthFolder
    sniffer: Path

    @property
    def url(self) -> str:
        return self.server.url

    def creds(self, stem: str) -> Credentials:
        found = resolve(self.auth.creds(stem))
        assert found is not None
        return found

    async def client(self, stem: str) -> Client:
        return await connect(self.url, f"test-{stem}", retry_for=5, creds=self.creds(stem))


def write_conf(auth: AuthFolder, sniffer_key: str | None) -> None:
    registry = auth.registry()
    people = [(p.name, p.role, p.nkey) for p in registry.active()]
    block = accounts_block(registry.services, registry.services["admin"], people, registry.prefix)
    if sniffer_key:
        block["SERVICES"]["users"].append({"nkey": sniffer_key})  # no permissions: everything
    auth.conf.write_text(f"accounts: {json.dumps(block, ensure_ascii=False)}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员")
    seed, public = new_user()
    write_secret(tmp_path / "sniffer.nk", seed + "\n")
    write_conf(auth, public)
    server = NatsServer(tmp_path / "nats", port=0, include=auth.conf)
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield Site(server, auth, tmp_path / "sniffer.nk")
    finally:
        server.stop()


async def admin_setup(site: Site) -> None:
    nc = await site.client("admin")
    try:
        await setup(nc.jetstream(timeout=5), load_watchboard(ConfigSource()))
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def sniffing(site: Site, subjects: list[str]) -> AsyncIterator[list[tuple[str, str]]]:
    """(subject, KV-Operation header) of every message on `subjects` in the services' account."""
    seen: list[tuple[str, str]] = []
    nc = await nats.connect(site.url, nkeys_seed=str(site.sniffer), connect_timeout=2)

    async def note(msg) -> None:
        seen.append((msg.subject, (msg.headers or {}).get("KV-Operation", "")))

    for subject in subjects:
        await nc.subscribe(subject, cb=note)
    await nc.flush(timeout=5)
    try:
        yield seen
    finally:
        await nc.flush(timeout=5)
        await asyncio.sleep(0.2)  # anything in flight would have arrived by now on loopback
        await nc.close()


async def refused(nc: Client, subject: str, data: bytes = b"", *, reply: str = "", headers=None) -> bool:
    """Publish, and wait (bounded) for the server's permissions violation naming `subject`."""
    before = nc.last_error
    await nc.publish(subject, data, reply=reply, headers=headers)
    await nc.flush(timeout=5)
    for _ in range(40):
        err = nc.last_error
        if err is not None and err is not before and f'"{subject.lower()}"' in str(err).lower():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_wall_is_refused_everything_and_reaches_nothing(site: Site, tmp_path: Path) -> None:
    """Submit, every command, KV writes and deletes, reading the stream, a consumer delivering
    onto wb.cmd.*, a pull whose reply is redirected, joining intake's queue group, purging or
    deleting the stream: each refused by the server, and nothing reaches the services' account."""
    await admin_setup(site)
    aimed = ["wb.intake.submit", "wb.cmd.>", "wb.evidence.>", "$O.wb-evidence.>", "$KV.wb-board.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.DELETE.>",
             "$JS.API.CONSUMER.CREATE.WATCHBOARD.evil", "$JS.API.CONSUMER.CREATE.WATCHBOARD.evil.>",
             "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.grading", "$JS.API.STREAM.MSG.GET.>"]
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        operator, wall = await site.client("operator"), await site.client("wall")
        try:
            first = await request(operator, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
            assert first["ok"], first
            incident = first["incident_id"]
            await eventually(lambda: load_view(wall, incident), what="the wall reads the board")
            before = await load_view(operator, incident)
            async with sniffing(site, aimed) as seen:
                assert await refused(wall, SUBJECTS.submit, json.dumps(REPORT).encode(), reply="_INBOX.w.1")
                for verb in BY_VERB:
                    body = json.dumps({"actor": "wall", "incident_id": incident}).encode()
                    assert await refused(wall, SUBJECTS.command(verb), body, reply="_INBOX.w.2"), verb
                    reply = await request(wall, SUBJECTS.command(verb), body)  # as the CLI says it
                    assert reply["error"]["code"] == "forbidden", reply
                for op in ("begin", "chunk", "end"):  # an evidence upload: monitors and operators only
                    assert await refused(wall, SUBJECTS.evidence(op), b"{}", reply="_INBOX.w.7"), op
                assert await refused(wall, "$JS.API.DIRECT.GET.OBJ_wb-evidence", b'{"seq": 1}', reply="_INBOX.w.8")
                assert await refused(wall, "$O.wb-evidence.M.ZmFrZQ==", b"{}")
                assert await refused(wall, f"$KV.wb-board.{incident}.grade", b'{"grade": "I"}')
                assert await refused(wall, f"$KV.wb-board.{incident}.core", b"", headers={"KV-Operation": "DEL"})
                assert await refused(wall, "$KV.wb-board.sys.calendar", b"{}")
                assert await refused(wall, "$JS.API.DIRECT.GET.WATCHBOARD", b'{"seq": 1}', reply="_INBOX.w.3")
                assert await refused(wall, "$JS.API.STREAM.MSG.GET.WATCHBOARD", b'{"seq": 1}', reply="_INBOX.w.4")
                evil = {"stream_name": "WATCHBOARD", "config": {"durable_name": "evil", "deliver_subject": "wb.cmd.ack",
                                                                "ack_policy": "none"}}
                assert await refused(wall, "$JS.API.CONSUMER.CREATE.WATCHBOARD.evil", json.dumps(evil).encode(),
                                     reply="_INBOX.w.5")
                assert await refused(wall, "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.grading", b'{"batch": 10}',
                                     reply="wb.cmd.ack")
                for subject in ("$JS.API.STREAM.PURGE.WATCHBOARD", "$JS.API.STREAM.DELETE.WATCHBOARD",
                                "$JS.API.STREAM.DELETE.KV_wb-board"):
                    assert await refused(wall, subject, b"", reply="_INBOX.w.6"), subject
                with pytest.raises(NotPermitted):
                    await load_history(wall, SUBJECTS, incident)

                # A fake responder in intake's queue group: refused, and intake answers every report.
                fake: list[str] = []

                async def answer(msg) -> None:
                    fake.append(msg.subject)
                    await msg.respond(b'{"ok": true, "incident_id": "FAKE"}')

                await wall.subscribe(SUBJECTS.submit, queue="intake", cb=answer)
                await wall.flush(timeout=5)
                await eventually(lambda: _async('subscription to "wb.intake.submit"' in str(wall.last_error).lower()),
                                 timeout=2, what="the queue subscription refused")
                for n in range(6):
                    reply = await request(operator, SUBJECTS.submit,
                                          json.dumps({"title": f"报告{n}", "platform": "weibo"}).encode())
                    assert reply["ok"] and reply["incident_id"] != "FAKE", reply
                assert fake == []
            # The wall's attempts reached nothing: what the sniffer saw is the operator's reports
            # and intake's own puts of `<id>.core` for them and of the board's index (`live.<id>`),
            # no delete, no other key.
            assert {s for s, _ in seen if not s.startswith("$KV")} == {SUBJECTS.submit}
            assert len([s for s, _ in seen if s == SUBJECTS.submit]) == 6
            assert [(s, op) for s, op in seen if s.startswith("$KV") and (
                op or not (s.endswith(".core") or s.startswith("$KV.wb-board.live.")))] == []
            assert len([s for s, _ in seen if s.startswith("$KV.wb-board.live.")]) == 6
        finally:
            await wall.close()
            await operator.close()
        admin = await site.client("admin")
        try:
            js = admin.jetstream(timeout=5)
            info = await js.stream_info("WATCHBOARD")
            assert info.state.messages >= 7  # purged or deleted: neither
            with pytest.raises(nats.js.errors.NotFoundError):
                await js.consumer_info("WATCHBOARD", "evil")
        finally:
            await admin.close()
        reader = await site.client("operator")
        try:
            after = await load_view(reader, incident)
            assert after is not None and before is not None and after.core == before.core and after.grade is None
        finally:
            await reader.close()


async def _async(value: bool) -> bool:
    return value


async def test_monitor_submits_but_cannot_read_the_board(site: Site, tmp_path: Path) -> None:
    await admin_setup(site)
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        monitor = await site.client("monitor")
        try:
            reply = await request(monitor, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
            assert reply["ok"] and reply["actor"] == "monitor", reply
            with pytest.raises(NotPermitted):
                await load_views(monitor)
            await monitor.subscribe("$KV.wb-board.>")
            await monitor.flush(timeout=5)
            await eventually(lambda: _async('subscription to "$kv.wb-board.>"' in str(monitor.last_error).lower()),
                             timeout=2, what="the monitor's subscription to the board refused")
        finally:
            await monitor.close()


async def test_a_new_store_is_rebuilt_with_roles_on(site: Site, tmp_path: Path) -> None:
    """grading started on a new store after intake has written events (as `up` on a busy day):
    its rebuild's consumer is its own to create, read and delete, so it serves and grades."""
    from watchboard.services.grading.service import build as build_grading

    await admin_setup(site)
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        operator = await site.client("operator")
        try:
            reply = await request(operator, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
            assert reply["ok"], reply
            async with running(build_grading(ConfigSource()), site.url, tmp_path / "grading",
                               creds=site.creds("grading")):
                await eventually(lambda: _graded(operator, reply["incident_id"]), timeout=15,
                                 what="the incident graded after the rebuild")
        finally:
            await operator.close()


async def _graded(nc: Client, incident_id: str) -> bool:
    view = await load_view(nc, incident_id)
    return bool(view is not None and view.grade is not None)


async def test_operator_forgeries_are_overwritten(site: Site, tmp_path: Path) -> None:
    """A forged Nats-Request-Info is replaced by the server; a forged actor or reporter is
    replaced by the person; a request from inside the services' account is forbidden."""
    await admin_setup(site)
    registry = site.auth.registry()
    forged = json.dumps({"acc": "SERVICES", "user": registry.services["intake"]})
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        operator = await site.client("operator")
        sniffer = await nats.connect(site.url, nkeys_seed=str(site.sniffer), connect_timeout=2)
        try:
            reply = await request(operator, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
            incident = reply["incident_id"]
            msg = await operator.request(SUBJECTS.command("note"), json.dumps(
                {"actor": "县委书记", "incident_id": incident, "text": "已核实"}, ensure_ascii=False).encode(),
                headers={"Nats-Request-Info": forged}, timeout=5)
            answer = json.loads(msg.data)
            assert answer["ok"] and answer["actor"] == "值班员", answer
            # Inside the services' account, with the operator's identity written in by hand:
            # not through an import, so refused however good the header looks.
            operator_key = registry.by_name("值班员").nkey  # type: ignore[union-attr]
            msg = await sniffer.request(SUBJECTS.command("note"), json.dumps(
                {"actor": "x", "incident_id": incident, "text": "forged"}).encode(),
                headers={"Nats-Request-Info": json.dumps({"acc": "OPERATOR", "user": operator_key})}, timeout=5)
            assert json.loads(msg.data)["error"]["code"] == "forbidden"

            async def noted() -> list[ev.Event] | None:
                history = await load_history(operator, SUBJECTS, incident)
                return history if any(isinstance(e, ev.NoteAdded) for e in history) else None

            history = await eventually(noted, what="the note in the record")
            assert [(ev.event_type(e), e.actor) for e in history] == [("incident.reported", "值班员"),
                                                                    ("incident.noted", "值班员")]
        finally:
            await sniffer.close()
            await operator.close()


@pytest.mark.parametrize("service", ["intake", "grading", "deadlines", "notify"])
async def test_a_service_cannot_speak_for_another(site: Site, service: str) -> None:
    """Publishing another service's events or writing another's keys is refused by the server."""
    await admin_setup(site)
    nc = await site.client(service)
    try:
        other = "grading" if service != "grading" else "intake"
        kind = "incident.graded" if other == "grading" else "incident.reported"
        assert await refused(nc, f"wb.ev.{other}.01FORGED.{kind}", b"{}", reply="_INBOX.s.1")
        part = "grade" if service != "grading" else "core"
        assert await refused(nc, f"$KV.wb-board.01FORGED.{part}", b"{}", reply="_INBOX.s.2")
        assert await refused(nc, "wb.cmd.ack", b"{}", reply="_INBOX.s.3")
        assert await refused(nc, "$JS.API.STREAM.PURGE.WATCHBOARD", b"", reply="_INBOX.s.4")
        own = {"intake": "incident.reported", "grading": "incident.graded", "deadlines": "clock.started",
               "notify": "notice.sent"}[service]
        assert not await refused(nc, f"wb.ev.{service}.01OWN.{own}", b"{}")  # its own: carried
    finally:
        await nc.close()


async def test_forged_grade_is_refused_by_the_consumer_with_roles_off(nats_server: NatsServer, nc: Client,
                                                                      tmp_path: Path) -> None:
    """Roles off, anyone may publish: a grade on intake's subject is terminated by deadlines'
    consumer, never acted on; the same grade on grading's own subject is acted on."""
    js = nc.jetstream(timeout=5)
    at = datetime.now(UTC)

    def graded(incident: str) -> bytes:
        return ev.encode_event(ev.IncidentGraded(id=f"{incident}-g", incident_id=incident, at=at, actor="x",
                                                 grade="I", previous=None, reasons=[], source="rules"))

    def reported(incident: str) -> bytes:
        return ev.encode_event(ev.IncidentReported(id=f"{incident}-r", incident_id=incident, at=at, actor="m",
                                                   title="网传", mention=ev.Mention(platform="weibo")))

    async with running(build_deadlines(ConfigSource()), nats_server.url, tmp_path / "deadlines"):
        for incident in ("01FORGED", "01CONTROL"):
            await js.publish(f"wb.ev.intake.{incident}.incident.reported", reported(incident))
        await js.publish("wb.ev.intake.01FORGED.incident.graded", graded("01FORGED"))  # not intake's type
        await js.publish("wb.ev.grading.01CONTROL.incident.graded", graded("01CONTROL"))
        from tests.support import kv_get

        await eventually(lambda: kv_get(nc, "01CONTROL.clocks"), timeout=15, what="the control's clocks")
        assert await kv_get(nc, "01FORGED.clocks") is None  # handled in stream order: the forgery came first
        await js.publish("wb.ev.grading.01FORGED.incident.graded", graded("01FORGED"))
        await eventually(lambda: kv_get(nc, "01FORGED.clocks"), timeout=15, what="clocks from the owner's grade")


async def test_revoke_takes_effect_on_the_running_server(site: Site, tmp_path: Path) -> None:
    """A person added works at once (reload); revoked, their connection is dropped and the key
    refused, while the record keeps their name."""
    await admin_setup(site)
    person = site.auth.add_person("张三", "operator")
    seed_copy = tmp_path / "kept-by-zhang.nk"  # what a revoked person might still hold
    seed_copy.write_bytes(site.auth.creds("张三").read_bytes())
    os.kill(int(site.server.pid_file.read_text()), signal.SIGHUP)
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        zhang = await eventually(lambda: _try_connect(site.url, seed_copy), timeout=10, what="张三 let in")
        reply = await request(zhang, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
        assert reply["ok"] and reply["actor"] == "张三", reply
        site.auth.revoke("张三")
        site.server.reload()
        await eventually(lambda: _async(not zhang.is_connected), timeout=10, what="张三's connection dropped")
        await zhang.close()
        with pytest.raises(Refused):
            await connect(site.url, "zhang-again", retry_for=0.5, creds=Credentials(seed=seed_copy))
        operator = await site.client("operator")
        try:
            history = await load_history(operator, SUBJECTS, reply["incident_id"])
            assert [e.actor for e in history] == ["张三"]
        finally:
            await operator.close()
    assert person.nkey not in site.auth.conf.read_text()


async def _try_connect(url: str, seed: Path) -> Client | None:
    try:
        return await connect(url, "zhang", retry_for=0.5, creds=Credentials(seed=seed))
    except ConnectionError:
        return None


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[Site]:
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员", tls=True)
    server = NatsServer(tmp_path / "nats", port=0, include=auth.conf)
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield Site(server, auth, tmp_path / "none")
    finally:
        server.stop()


async def test_tls_clients_without_tls_a_key_or_a_trusted_certificate_are_refused(tls_site: Site,
                                                                                   tmp_path: Path) -> None:
    from watchboard.auth import certs

    site = tls_site
    good = await site.client("wall")  # verifies the server, presents its certificate and key
    await good.close()
    plain = Credentials(seed=site.auth.creds("wall"))  # the key, no TLS
    no_key_dir = tmp_path / "nokey"
    no_key_dir.mkdir()
    other = certs.make_ca("someone else")
    certs.save_pair(certs.issue(other, "wall"), tmp_path / "evil.crt", tmp_path / "evil.key")
    untrusted = Credentials(seed=site.auth.creds("wall"), ca=site.auth.path / "ca.crt", cert=tmp_path / "evil.crt",
                            key=tmp_path / "evil.key")
    wrong_server = Credentials(seed=site.auth.creds("wall"), ca=tmp_path / "evil.crt",
                               cert=site.auth.path / "wall.crt", key=site.auth.path / "wall.key")
    for creds in (plain, untrusted, wrong_server):
        with pytest.raises(Refused):
            await connect(site.url, "refused", retry_for=0.5, creds=creds)
    # The certificate but no key: TLS passes, the server then wants an nkey.
    ctx = resolve(site.auth.creds("wall")).tls_context()  # type: ignore[union-attr]
    with pytest.raises(Exception, match=r"(?i)authorization|reset|eof"):
        await asyncio.wait_for(nats.connect(site.url, tls=ctx, connect_timeout=2, allow_reconnect=False), 10)


async def test_the_wall_reads_the_board_live_without_jetstream(site: Site, tmp_path: Path) -> None:
    """The wall's account has no JetStream: the board's feed gets the snapshot, then each change,
    and the services' health, through the exports alone."""
    from watchboard.bus.connection import ConnectionWatch
    from watchboard.bus.feed import watch_board
    from watchboard.bus.feed_types import KVBatch, KVChange, ServiceHealth, SnapshotDone

    await admin_setup(site)
    async with running(build_intake(ConfigSource()), site.url, tmp_path / "intake", creds=site.creds("intake")):
        operator, wall = await site.client("operator"), await site.client("wall")
        try:
            first = await request(operator, SUBJECTS.submit, json.dumps(REPORT, ensure_ascii=False).encode())
            await eventually(lambda: load_view(operator, first["incident_id"]), what="the first incident stored")
            watch = ConnectionWatch(site.url)
            watch.set("connected")  # the board's link does this when it connects
            feed = watch_board(wall, watch, health_every=0.2)
            seen: list[object] = []

            async def read_until_second() -> None:
                second = ""
                async for item in feed:
                    seen.append(item)
                    if isinstance(item, SnapshotDone):
                        reply = await request(operator, SUBJECTS.submit,
                                              json.dumps({"title": "县道公交停运", "platform": "kuaishou"},
                                                         ensure_ascii=False).encode())
                        second = reply["incident_id"]
                    live = any(isinstance(i, KVChange) and i.key == f"{second}.core" for i in seen) if second else False
                    if live and any(isinstance(i, ServiceHealth) and i.services.get("intake") for i in seen):
                        return

            await asyncio.wait_for(read_until_second(), 20)
            await feed.aclose()
            snapshot_end = next(i for i, item in enumerate(seen) if isinstance(item, SnapshotDone))
            before = [c.key for item in seen[:snapshot_end]
                      for c in (item.changes if isinstance(item, KVBatch) else [item] if isinstance(item, KVChange) else [])]
            assert f"{first['incident_id']}.core" in before
        finally:
            await wall.close()
            await operator.close()
