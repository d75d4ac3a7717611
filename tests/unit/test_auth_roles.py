"""Roles as NATS accounts, as tables: each identity's permissions, each account's imports, the
proven caller from `Nats-Request-Info`, names, refusals, and events only from their owner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchboard.auth import roles
from watchboard.auth.folder import AuthFolder
from watchboard.auth.registry import check_name
from watchboard.bus.connection import refusal
from watchboard.bus.consumer import event_head, misplaced
from watchboard.bus.credentials import CredentialsError, resolve
from watchboard.bus.trust import REQUEST_INFO, Trust
from watchboard.domain import events as ev
from watchboard.domain.errors import Forbidden

S = roles.Subjects("wb")
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def allowed(subject: str, patterns: list[str]) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    want, have = subject.split("."), None
    for pattern in patterns:
        have = pattern.split(".")
        ok = True
        for i, token in enumerate(have):
            if token == ">":
                ok = len(want) > i
                break
            if i >= len(want) or (token != "*" and token != want[i]):
                ok = False
                break
        else:
            ok = len(want) == len(have)
        if ok:
            return True
    return False


@pytest.mark.parametrize(("service", "subject", "may"), [
    ("intake", "wb.ev.intake.01A.incident.reported", True),
    ("intake", "wb.ev.grading.01A.incident.graded", False),
    ("grading", "wb.ev.grading.01A.incident.graded", True),
    ("grading", "wb.ev.intake.01A.incident.reported", False),
    ("deadlines", "wb.ev.notify._.notice.sent", False),
    ("intake", "$KV.wb-board.01A.core", True),
    ("intake", "$KV.wb-board.01A.grade", False),
    ("grading", "$KV.wb-board.01A.grade", True),
    ("grading", "$KV.wb-board.01A.clocks", False),
    ("deadlines", "$KV.wb-board.sys.calendar", True),
    ("deadlines", "$KV.wb-board.sys.supervision", True),
    ("intake", "$KV.wb-board.sys.supervision", False),
    ("notify", "$KV.wb-board.sys.calendar", False),
    ("notify", "$KV.wb-board.01A.notices", True),
    ("grading", "wb.cmd.ack", False),  # no service sends commands (or forges their header)
    ("grading", "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.grading", True),
    ("grading", "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.notify", False),
    ("grading", "$JS.API.STREAM.PURGE.WATCHBOARD", False),
    ("grading", "$JS.API.STREAM.DELETE.KV_wb-board", False),
    ("deadlines", "$JS.API.DIRECT.GET.WATCHBOARD", True),
    ("grading", "$JS.API.DIRECT.GET.WATCHBOARD", True),  # its commands' outbox, checked at start
    ("intake", "$JS.API.DIRECT.GET.WATCHBOARD", False),
    # the evidence bucket: intake puts files and reads them back; never purges or deletes
    ("intake", "$O.wb-evidence.C.NUID1", True),
    ("intake", "$O.wb-evidence.M.ZmlsZQ==", True),
    ("intake", "$JS.API.DIRECT.GET.OBJ_wb-evidence", True),
    ("intake", "$JS.API.STREAM.INFO.OBJ_wb-evidence", True),
    ("intake", "$JS.API.STREAM.PURGE.OBJ_wb-evidence", False),
    ("intake", "$JS.API.STREAM.DELETE.OBJ_wb-evidence", False),
    ("grading", "$O.wb-evidence.C.NUID1", False),
    ("notify", "$JS.API.DIRECT.GET.OBJ_wb-evidence", False),
    # a new store's rebuild reads the stream through its own ephemeral consumer, nobody else's
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-grading.wb.ev.intake.>", True),
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.DELETE.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-notify", False),
    ("grading", "$JS.API.CONSUMER.DELETE.WATCHBOARD.notify", False),
    # Standby instances: each service its own lease, replica and durables, and its own hand-over.
    ("grading", "$KV.wb-lease.grading", True),
    ("grading", "$KV.wb-lease.deadlines", False),
    ("grading", "wb.replica.grading", True),
    ("grading", "wb.replica.notify", False),
    ("grading", "$JS.API.DIRECT.GET.WB_REPLICA.wb.replica.grading", True),
    ("grading", "$JS.API.DIRECT.GET.WB_REPLICA.wb.replica.intake", False),
    ("grading", "$JS.API.CONSUMER.DELETE.WATCHBOARD.grading", True),
    ("intake", "wb.active.intake.wb.intake.submit", True),
    ("grading", "wb.active.intake.wb.intake.submit", False),
    ("grading", "$JS.API.STREAM.PURGE.WB_REPLICA", False),
    # a new store's rebuild reads the stream through its own ephemeral consumer, nobody else's
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-grading.wb.ev.intake.>", True),
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.MSG.NEXT.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.DELETE.WATCHBOARD.rebuild-grading", True),
    ("grading", "$JS.API.CONSUMER.CREATE.WATCHBOARD.rebuild-notify", False),
    ("grading", "$JS.API.CONSUMER.DELETE.WATCHBOARD.notify", False),
])
def test_service_publishes_only_its_own(service: str, subject: str, may: bool) -> None:
    """Each service: its own events, keys and durable consumers; nothing of another's."""
    assert allowed(subject, roles.service_permissions(service, S)["publish"]["allow"]) is may


@pytest.mark.parametrize(("service", "subject", "may"), [
    ("intake", "wb.intake.submit", True),
    ("grading", "wb.intake.submit", False),  # nobody else joins intake's queue group
    ("grading", "wb.cmd.regrade", True),
    ("grading", "wb.cmd.stage", False),
    ("notify", "wb.cmd.ack", True),
    ("deadlines", "wb.cmd.ack", False),
    ("intake", "wb.ev.>", False),
    ("intake", "$SRV.PING", True),
    ("intake", "wb.evidence.chunk", True),
    ("grading", "wb.evidence.chunk", False),
    ("intake", "wb.active.intake.wb.intake.submit", True),  # what its standbys hand on
    ("grading", "wb.active.intake.wb.cmd.stage", False),
])
def test_service_answers_only_its_own(service: str, subject: str, may: bool) -> None:
    assert allowed(subject, roles.service_permissions(service, S)["subscribe"]["allow"]) is may


@pytest.mark.parametrize(("role", "subject", "may"), [
    ("wall", "wb.intake.submit", False),
    ("wall", "wb.cmd.ack", False),
    ("wall", "$KV.wb-board.01A.core", False),
    ("wall", "$JS.API.DIRECT.GET.KV_wb-board", True),
    ("wall", "$JS.API.DIRECT.GET.WATCHBOARD", False),
    ("wall", "$JS.API.STREAM.DELETE.WATCHBOARD", False),
    ("wall", "$SRV.PING", True),
    ("wall", "$SRV.STATS", True),  # each instance's health (watchboard status)
    ("monitor", "$SRV.STATS", False),
    ("wall", "_INBOX.abc", False),  # no spoofed replies to the other walls
    ("monitor", "wb.intake.submit", True),
    ("monitor", "wb.cmd.note", False),
    ("monitor", "$JS.API.DIRECT.GET.KV_wb-board", False),
    ("operator", "wb.cmd.note", True),
    ("operator", "wb.intake.submit", True),
    ("operator", "$JS.API.DIRECT.GET.WATCHBOARD", True),
    ("operator", "$JS.API.CONSUMER.CREATE.WATCHBOARD.x", False),
    ("leader", "wb.cmd.regrade", True),
    ("approver", "$KV.wb-board.01A.grade", False),
    # evidence: monitors and operators send files to intake; only operators read them back
    ("monitor", "wb.evidence.chunk", True),
    ("monitor", "wb.cmd.evidence_add", True),
    ("monitor", "wb.cmd.supervise", False),
    ("monitor", "$JS.API.DIRECT.GET.OBJ_wb-evidence", False),
    ("operator", "wb.evidence.begin", True),
    ("operator", "$JS.API.DIRECT.GET.OBJ_wb-evidence", True),
    ("operator", "$JS.API.DIRECT.GET.OBJ_wb-evidence.$O.wb-evidence.M.ZmlsZQ==", True),
    ("operator", "$O.wb-evidence.C.NUID1", False),
    ("wall", "wb.evidence.begin", False),
    ("wall", "$JS.API.DIRECT.GET.OBJ_wb-evidence", False),
])
def test_person_publishes_only_what_the_role_imports(role: str, subject: str, may: bool) -> None:
    assert allowed(subject, roles.person_permissions(role, S)["publish"]["allow"]) is may


@pytest.mark.parametrize(("role", "imported"), [
    ("wall", {roles.PING, roles.STATS, roles.KV_DIRECT, roles.KV_DIRECT_KEY, roles.KV_UPDATES}),
    ("monitor", {"wb.intake.submit", "wb.cmd.evidence_add", "wb.evidence.*"}),
    ("operator", {"wb.intake.submit", "wb.cmd.*", "wb.evidence.*", roles.PING, roles.STATS, roles.KV_DIRECT, roles.KV_DIRECT_KEY,
                  roles.KV_UPDATES, roles.EVENTS_DIRECT, roles.EVIDENCE_DIRECT, roles.EVIDENCE_DIRECT_KEY}),
])
def test_accounts_import_exactly_their_role(role: str, imported: set[str]) -> None:
    got = {(i.get("service") or i.get("stream"))["subject"] for i in roles.imports(role, S)}
    assert got == imported
    shared = {i["service"]["subject"] for i in roles.imports(role, S) if i.get("share")}
    # who asks is told to the service
    assert shared == imported & {"wb.intake.submit", "wb.cmd.*", "wb.cmd.evidence_add", "wb.evidence.*"}


def test_every_import_has_an_export_for_its_account() -> None:
    """nats-server refuses a config whose import no export allows: each role's imports are
    offered to its account (so `auth init` writes a config the server loads)."""
    exports = roles.exports(S)
    for role in roles.PERSON_ROLES:
        for item in roles.imports(role, S):
            subject = (item.get("service") or item.get("stream"))["subject"]
            kind = "service" if "service" in item else "stream"
            assert any(e.get(kind) == subject and roles.ACCOUNT_OF_ROLE[role] in e["accounts"] for e in exports), \
                (role, subject)


def test_exports_name_their_accounts_and_people_have_no_jetstream() -> None:
    """Only the services' account has JetStream; each export lists the accounts that may take it."""
    block = roles.accounts_block({n: f"U{n}" for n in roles.SERVICE_NAMES}, "Uadmin",
                                 [("张三", "operator", "Uz"), ("墙", "wall", "Uw")])
    assert [name for name, acc in block.items() if "jetstream" in acc] == ["SERVICES"]
    events_export = next(e for e in block["SERVICES"]["exports"] if e.get("service") == roles.EVENTS_DIRECT)
    assert "WALL" not in events_export["accounts"] and "MONITOR" not in events_export["accounts"]
    assert [u["nkey"] for u in block["OPERATOR"]["users"]] == ["Uz"]
    assert block["MONITOR"]["users"] == []


@pytest.mark.parametrize(("name", "ok"), [
    ("张三", True), ("wang.li", True), ("", False), (" x", False), ("a/b", False), ("x\x1b[31m", False),
    ("intake", False), ("admin", False), ("ca", False), (".hidden", False), ("长" * 41, False),
])
def test_person_names(name: str, ok: bool) -> None:
    """A name names files and the record: bounded, no control characters, no reserved word."""
    assert (check_name(name) is None) is ok


@pytest.mark.parametrize(("reason", "kind"), [
    ("nats: 'Authorization Violation'", "credentials"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "tls"),
    ("[Errno 104] Connection reset by peer", "reset"),
    ("[Errno 111] Connect call failed", None),
])
def test_refusals(reason: str, kind: str | None) -> None:
    assert refusal(reason) == kind


@pytest.fixture
def folder(tmp_path: Path) -> AuthFolder:
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员")
    return auth


def info(account: str, nkey: str) -> dict[str, str]:
    return {REQUEST_INFO: json.dumps({"acc": account, "user": nkey, "name": "claims-to-be-anyone"})}


def test_proven_caller(folder: AuthFolder) -> None:
    """The person is the one whose key the server saw, in the account the role is in."""
    trust = Trust(folder.registry_path)
    operator = folder.registry().by_name("值班员")
    assert operator is not None
    caller = trust.caller("wb.cmd.note", info("OPERATOR", operator.nkey))
    assert (caller.name, caller.role) == ("值班员", "operator")
    body = trust.stamp("wb.cmd.note", b'{"actor": "\\u53bf\\u59d4\\u4e66\\u8bb0", "text": "x"}', caller)
    assert json.loads(body) == {"actor": "值班员", "text": "x"}
    monitor = folder.registry().by_name("monitor")
    assert monitor is not None
    report = trust.stamp("wb.intake.submit", b'{"title": "t", "reporter": "someone"}',
                         trust.caller("wb.intake.submit", info("MONITOR", monitor.nkey)))
    assert json.loads(report)["reporter"] == "monitor"
    assert trust.stamp("wb.cmd.note", b"not json", caller) == b"not json"  # the handler says what is wrong
    # A monitor may keep evidence: the command and the chunks (raw bytes, never rewritten).
    keeps = trust.caller("wb.cmd.evidence_add", info("MONITOR", monitor.nkey))
    assert json.loads(trust.stamp("wb.cmd.evidence_add", b'{"actor": "x"}', keeps))["actor"] == "monitor"
    chunk = b'{"actor": "x"}'  # a chunk of a JSON file is still only bytes of the file
    assert trust.stamp("wb.evidence.chunk", chunk, trust.caller("wb.evidence.chunk", info("MONITOR", monitor.nkey))) \
        == chunk


@pytest.mark.parametrize(("subject", "headers", "says"), [
    ("wb.cmd.note", None, "roles are on"),
    ("wb.cmd.note", {REQUEST_INFO: "{not json"}, "unreadable"),
    ("wb.cmd.note", "SERVICES:intake", "account SERVICES may not"),
    ("wb.cmd.note", "WALL:wall", "account WALL may not"),
    ("wb.cmd.note", "MONITOR:monitor", "account MONITOR may not"),
    ("wb.cmd.note", "OPERATOR:UNKNOWNKEY", "not in"),
    ("wb.cmd.note", "LEADER:值班员", "the server's config and the registry differ"),
    ("wb.intake.submit", "WALL:wall", "account WALL may not"),
    ("wb.evidence.chunk", "WALL:wall", "account WALL may not"),
    ("wb.cmd.evidence_add", "WALL:wall", "account WALL may not"),
    ("wb.other", "OPERATOR:值班员", "takes no requests"),
    ("wb.cmd.note", "OPERATOR:值班员:_INBOX.x", "roles are on"),  # a forged header, not through an import
])
def test_refused_callers(folder: AuthFolder, subject: str, headers: object, says: str) -> None:
    """Anything but a known, unrevoked person in an account their role may use is forbidden."""
    registry = folder.registry()
    reply = "_R_.abc.def"
    if isinstance(headers, str):
        account, who, *rest = headers.split(":")
        reply = rest[0] if rest else reply
        person = registry.by_name(who)
        key = person.nkey if person else registry.services.get(who, who)
        headers = info(account, key)
    with pytest.raises(Forbidden, match=says):
        Trust(folder.registry_path).caller(subject, headers, reply)  # type: ignore[arg-type]


def test_revoked_person_is_refused_once_the_registry_changes(folder: AuthFolder) -> None:
    trust = Trust(folder.registry_path)
    person = folder.add_person("李四", "leader")
    assert trust.caller("wb.cmd.ack", info("LEADER", person.nkey)).name == "李四"
    folder.revoke("李四")
    import os

    os.utime(folder.registry_path, (1, 1))  # the same second as the last write: make the change seen
    with pytest.raises(Forbidden, match="revoked"):
        trust.caller("wb.cmd.ack", info("LEADER", person.nkey))
    assert not folder.creds("李四").exists()
    assert person.nkey not in folder.conf.read_text()  # the server no longer lets the key in


def test_credentials_find_their_tls_files(tmp_path: Path) -> None:
    auth = AuthFolder(tmp_path / "auth")
    auth.init(tls=True)
    creds = resolve(auth.creds("wall"))
    assert creds is not None and creds.ca == auth.path / "ca.crt"
    assert creds.cert == auth.path / "wall.crt" and creds.key == auth.path / "wall.key"
    assert creds.tls_context() is not None
    assert oct(auth.creds("wall").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(CredentialsError, match="no such credentials file"):
        resolve(tmp_path / "missing.nk")
    (tmp_path / "bad.nk").write_text("not a seed")
    with pytest.raises(CredentialsError, match="not an nkey seed"):
        resolve(tmp_path / "bad.nk")


def _graded(incident: str = "01A") -> ev.IncidentGraded:
    return ev.IncidentGraded(id="e1", incident_id=incident, at=AT, actor="grading", grade="I", previous=None,
                             reasons=[], source="rules")


@pytest.mark.parametrize(("subject", "problem"), [
    ("wb.ev.grading.01A.incident.graded", None),
    ("wb.ev.intake.01A.incident.graded", "belongs to grading, but came on intake's subject"),
    ("wb.ev.deadlines.01A.incident.graded", "belongs to grading"),
    ("wb.ev.grading.01A.incident.assigned", "the subject says incident.assigned"),
    ("wb.ev.grading.01B.incident.graded", "names incident 01B"),
    ("wb.ev.grading", "is not wb.ev."),
    ("other.ev.grading.01A.incident.graded", "not an event subject"),
])
def test_events_only_from_their_owner(subject: str, problem: str | None) -> None:
    found = misplaced(event_head(["wb.ev.intake.>"]), subject, _graded())
    assert found == problem if problem is None else problem in (found or "")


@pytest.mark.parametrize(("argv", "identity"), [
    (["ls"], "operator.nk"), (["note", "X", "t"], "operator.nk"), (["board"], "operator.nk"),
    (["board", "--wall"], "wall.nk"), (["board", "--web", "8080"], "wall.nk"),
    (["board", "--web", "8080", "--operator"], "operator.nk"), (["setup"], "admin.nk"), (["serve", "intake"], None),
])
def test_default_credentials_are_the_least_a_command_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           argv: list[str], identity: str | None) -> None:
    """Without --creds, a command on `up`'s machine takes the identity of its data folder that
    it needs; a service none (roles off unless told)."""
    from watchboard.cli import build_parser, credentials_of

    AuthFolder(tmp_path / "auth").init()
    monkeypatch.setenv("WATCHBOARD_DATA", str(tmp_path))
    monkeypatch.delenv("WATCHBOARD_CREDS", raising=False)
    found = credentials_of(build_parser().parse_args(argv))
    assert (found.seed.name if found else None) == identity


def test_every_sys_key_has_a_writer_allowed_to_put_it() -> None:
    """Each `sys.*` KV key the views define is in exactly one service's allowed keys (roles on,
    a key nobody may put times out for ever)."""
    from watchboard.auth.roles import KV_KEYS
    from watchboard.domain import views

    keys = {v for k, v in vars(views).items() if k.endswith("_KEY") and isinstance(v, str) and v.startswith("sys.")}
    assert keys, "no sys.* keys found in views"
    for key in keys:
        owners = [s for s, allowed in KV_KEYS.items() if key in allowed]
        assert len(owners) == 1, (key, owners)
