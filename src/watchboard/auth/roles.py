"""Roles as NATS accounts: who lives where, what each user may publish and subscribe, what each
account imports from the services' account, and the nats-server config all that makes.

Pure: `server_config(registry, tls)` is a function of public keys and names, table-tested in
tests/unit/test_auth_roles.py and tried against a real server in tests/integration/test_trust.py.

Why accounts and not subject permissions alone: a user allowed to create a JetStream consumer
can have the server deliver onto any subject of its account, `wb.cmd.*` included (nats-server
issue 8274), and a pull request's reply subject is never checked against publish permissions.
So no person's identity lives in the JetStream account: the people's accounts have no
JetStream, and reach the services only through the imports below.

How the people read the board without JetStream API: the services' account exports

- the KV bucket's updates (`$KV.wb-board.>`) as a stream: live changes;
- the direct-get API of the bucket's stream (`$JS.API.DIRECT.GET.KV_wb-board`, answered by
  the server itself, read-only) for the snapshot and for one key;
- the direct-get API of the event stream (operators only) for an incident's timeline;
- the direct-get API of the evidence bucket's stream (`OBJ_wb-evidence`, operators only): an
  evidence file's meta and chunks, read-only;
- `$SRV.PING` and `$SRV.STATS` for the services' health (watchboard status).

Evidence files go in through intake: `wb.evidence.begin|chunk|end` (request/reply, shared like
the commands) carry a file in bounded chunks, and intake puts it in the bucket; monitors may
keep evidence too (`submit --evidence`), so MONITOR imports those and `wb.cmd.evidence_add`.

Commands and reports are imported with `share: true`: the server then sets the header
`Nats-Request-Info` on each request (account and nkey of the caller, overwriting whatever the
caller put there), and the services record that person as the actor (`watchboard.bus.trust`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from watchboard.bus.subjects import STREAM, Subjects
from watchboard.domain.commands import COMMANDS
from watchboard.domain.evidence import BUCKET as EVIDENCE_BUCKET
from watchboard.domain.views import KV_BUCKET as BUCKET

SERVICES_ACCOUNT = "SERVICES"
KV_STREAM = f"KV_{BUCKET}"
EVIDENCE_STREAM = f"OBJ_{EVIDENCE_BUCKET}"

SERVICE_NAMES = ("intake", "grading", "deadlines", "notify")
ADMIN = "admin"
# People's roles, each its own account. `operator`, `approver` and `leader` have the same
# rights today (commands and reads); they are separate accounts so the plans' approvals can
# narrow or widen one of them without touching the others.
COMMAND_ROLES = ("operator", "approver", "leader")
PERSON_ROLES = (*COMMAND_ROLES, "monitor", "wall")
REPORTING_ROLES = ("monitor", *COMMAND_ROLES)  # who may send `wb.intake.submit`
READING_ROLES = (*COMMAND_ROLES, "wall")  # who may read the board and the services' health
HISTORY_ROLES = COMMAND_ROLES  # who may read the event stream (timelines) and evidence files
EVIDENCE_ROLES = ("monitor", *COMMAND_ROLES)  # who may upload and keep an evidence file

ACCOUNT_OF_ROLE = {role: role.upper() for role in PERSON_ROLES}
ROLE_OF_ACCOUNT = {account: role for role, account in ACCOUNT_OF_ROLE.items()}

# Each service's durable consumers and the KV keys it writes (one writer per key).
DURABLES = {"intake": ("intake-record",), "grading": ("grading",), "deadlines": ("deadlines",),
            "notify": ("notify",)}
KV_KEYS = {"intake": ("*.core", "live.*", "sys.live"), "grading": ("*.grade",),
           "deadlines": ("*.clocks", "sys.sweep", "sys.calendar", "sys.supervision"),
           "notify": ("*.notices",)}
# The services that read the event stream directly (their outbox's recovery after a crash).
STREAM_READERS = ("grading", "deadlines", "notify")  # grading: its commands' outbox (issue 12)


def commands_of(service: str) -> tuple[str, ...]:
    return tuple(c.verb for c in COMMANDS if c.service == service)


EVIDENCE_BUCKET = "wb-evidence"  # watchboard.evidence_store.BUCKET
EVIDENCE_STREAM = f"OBJ_{EVIDENCE_BUCKET}"
KV_UPDATES = f"$KV.{BUCKET}.>"
KV_DIRECT = f"$JS.API.DIRECT.GET.{KV_STREAM}"  # batch and multi requests (the snapshot)
KV_DIRECT_KEY = f"$JS.API.DIRECT.GET.{KV_STREAM}.>"  # last value of one key
EVENTS_DIRECT = f"$JS.API.DIRECT.GET.{STREAM}"
EVIDENCE_DIRECT = f"$JS.API.DIRECT.GET.{EVIDENCE_STREAM}"  # batch requests (a file's chunks)
EVIDENCE_DIRECT_KEY = f"$JS.API.DIRECT.GET.{EVIDENCE_STREAM}.>"  # last message of a subject (its meta)
EVIDENCE_OBJECTS = f"$O.{EVIDENCE_BUCKET}"  # chunks `.C.<nuid>`, meta `.M.<name>`
PING = "$SRV.PING"
STATS = "$SRV.STATS"  # each instance's health and lag (watchboard status)
EVIDENCE_VERB = "evidence_add"


def service_permissions(name: str, s: Subjects) -> dict[str, Any]:
    """A service may publish its own events, put its own keys, use its own durable consumers,
    and answer its own requests; nothing else (not even another service's command)."""
    api = "$JS.API"
    publish = [s.from_service(name), *(f"$KV.{BUCKET}.{key}" for key in KV_KEYS[name]),
               f"{api}.STREAM.INFO.{STREAM}", f"{api}.STREAM.INFO.{KV_STREAM}",
               KV_DIRECT, KV_DIRECT_KEY]  # reading its own views back (reconcile), by direct get
    for durable in DURABLES[name]:
        publish += [f"{api}.CONSUMER.INFO.{STREAM}.{durable}", f"{api}.CONSUMER.CREATE.{STREAM}.{durable}",
                    f"{api}.CONSUMER.CREATE.{STREAM}.{durable}.>", f"{api}.CONSUMER.DURABLE.CREATE.{STREAM}.{durable}",
                    f"{api}.CONSUMER.MSG.NEXT.{STREAM}.{durable}", f"$JS.ACK.{STREAM}.{durable}.>"]
    # A new store's rebuild reads the stream through one ephemeral consumer (recovery/rebuild.py).
    rebuild = f"rebuild-{name}"
    publish += [f"{api}.CONSUMER.CREATE.{STREAM}.{rebuild}", f"{api}.CONSUMER.CREATE.{STREAM}.{rebuild}.>",
                f"{api}.CONSUMER.DELETE.{STREAM}.{rebuild}", f"{api}.CONSUMER.MSG.NEXT.{STREAM}.{rebuild}"]
    if name in STREAM_READERS:
        publish.append(EVENTS_DIRECT)
    if name == "intake":  # intake keeps the evidence bucket: it reads each object back before recording it
        publish += [f"{api}.STREAM.INFO.{EVIDENCE_STREAM}", f"{api}.CONSUMER.CREATE.{EVIDENCE_STREAM}",
                    f"{api}.CONSUMER.CREATE.{EVIDENCE_STREAM}.>", f"{api}.CONSUMER.DELETE.{EVIDENCE_STREAM}.>",
                    f"{api}.STREAM.MSG.GET.{EVIDENCE_STREAM}", f"{api}.DIRECT.GET.{EVIDENCE_STREAM}.>",
                    f"$O.{EVIDENCE_BUCKET}.>"]
    answers = [s.command(verb) for verb in commands_of(name)]
    if name == "intake":
        answers.insert(0, s.submit)
        answers.append(s.evidence("*"))
        # The evidence bucket: put an uploaded file (chunks, then its meta) and read it back.
        # No purge or delete: nothing kept is ever removed, and a failed put leaves only
        # chunks no meta names.
        publish += [f"{EVIDENCE_OBJECTS}.C.>", f"{EVIDENCE_OBJECTS}.M.>", f"{api}.STREAM.INFO.{EVIDENCE_STREAM}",
                    EVIDENCE_DIRECT, EVIDENCE_DIRECT_KEY]
    subscribe = ["_INBOX.>", *answers, "$SRV.*", f"$SRV.*.{name}", f"$SRV.*.{name}.*"]
    standby_publish, standby_subscribe = standby_permissions(name, s)
    publish += standby_publish
    subscribe += standby_subscribe
    # allow_responses: a reply goes to the requester's reply subject, once, whatever it is.
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}, "allow_responses": True}


REPLICA_STREAM = "WB_REPLICA"  # watchboard.store.replica
SNAPSHOT_STREAM = "OBJ_wb-replica"  # its snapshots (Object Store wb-replica)
LEASE_STREAM = "KV_wb-lease"  # watchboard.bus.lease


def standby_permissions(name: str, s: Subjects) -> tuple[list[str], list[str]]:
    """(publish, subscribe) a service needs to run as several instances (bus/standby.py): its
    lease, its store's replica and snapshots, the hand-over of requests between its own
    instances, and recreating its own durables at their ack floor when it takes over."""
    api = "$JS.API"
    publish = [
        f"$KV.wb-lease.{name}", f"{api}.STREAM.INFO.{LEASE_STREAM}", f"{api}.DIRECT.GET.{LEASE_STREAM}.>",
        s.replica(name), f"{api}.STREAM.INFO.{REPLICA_STREAM}", f"{api}.DIRECT.GET.{REPLICA_STREAM}",
        f"{api}.DIRECT.GET.{REPLICA_STREAM}.{s.replica(name)}",
        # Snapshots: one object per service; the Object Store's own subjects cannot be split per
        # object, so the services (trusted alike, see "What stays trusted") share the bucket.
        "$O.wb-replica.>", f"{api}.STREAM.INFO.{SNAPSHOT_STREAM}", f"{api}.STREAM.PURGE.{SNAPSHOT_STREAM}",
        f"{api}.STREAM.MSG.GET.{SNAPSHOT_STREAM}", f"{api}.DIRECT.GET.{SNAPSHOT_STREAM}.>",
        f"{api}.CONSUMER.CREATE.{SNAPSHOT_STREAM}", f"{api}.CONSUMER.CREATE.{SNAPSHOT_STREAM}.>",
        f"{api}.CONSUMER.DELETE.{SNAPSHOT_STREAM}.>",
        f"{s.forwarded(name)}.>",
        *(f"{api}.CONSUMER.DELETE.{STREAM}.{durable}" for durable in DURABLES[name]),
    ]
    return publish, [f"{s.forwarded(name)}.>"]


def admin_permissions() -> dict[str, Any]:
    """Stream and bucket management through the JetStream API; no events, keys or commands."""
    return {"publish": {"allow": ["$JS.API.>"]}, "subscribe": {"allow": ["_INBOX.>"]}}


def person_permissions(role: str, s: Subjects) -> dict[str, Any]:
    """What a person's client may publish in its own account: only the subjects its account
    imports. Without this, one wall could publish forged `$KV.…` updates to the other walls of
    its account, or answer their requests on `_INBOX.…`."""
    publish: list[str] = []
    subscribe = ["_INBOX.>"]
    if role in REPORTING_ROLES:
        publish.append(s.submit)
    if role in COMMAND_ROLES:
        publish.append(s.command("*"))
    elif role in EVIDENCE_ROLES:
        publish.append(s.command(EVIDENCE_VERB))
    if role in EVIDENCE_ROLES:
        publish.append(s.evidence("*"))
    if role in READING_ROLES:
        publish += [KV_DIRECT, KV_DIRECT_KEY, PING, STATS]
        subscribe.append(KV_UPDATES)
    if role in HISTORY_ROLES:
        publish += [EVENTS_DIRECT, EVIDENCE_DIRECT, EVIDENCE_DIRECT_KEY]
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def _accounts_of(roles: tuple[str, ...]) -> list[str]:
    return [ACCOUNT_OF_ROLE[r] for r in roles]


def exports(s: Subjects) -> list[dict[str, Any]]:
    """What the services' account offers, and to which accounts only."""
    return [
        {"service": s.submit, "accounts": _accounts_of(REPORTING_ROLES)},
        {"service": s.command("*"), "accounts": _accounts_of(COMMAND_ROLES)},
        # Monitors keep evidence too: the one command of theirs (an export of its own; the server
        # matches an import to the export that names its subject).
        {"service": s.command(EVIDENCE_VERB), "accounts": _accounts_of(tuple(r for r in EVIDENCE_ROLES
                                                                             if r not in COMMAND_ROLES))},
        {"service": s.evidence("*"), "accounts": _accounts_of(EVIDENCE_ROLES)},
        {"service": PING, "response_type": "stream", "accounts": _accounts_of(READING_ROLES)},
        {"service": STATS, "response_type": "stream", "accounts": _accounts_of(READING_ROLES)},
        {"service": KV_DIRECT, "response_type": "stream", "accounts": _accounts_of(READING_ROLES)},
        {"service": KV_DIRECT_KEY, "accounts": _accounts_of(READING_ROLES)},
        {"service": EVENTS_DIRECT, "response_type": "stream", "accounts": _accounts_of(HISTORY_ROLES)},
        {"service": EVIDENCE_DIRECT, "response_type": "stream", "accounts": _accounts_of(HISTORY_ROLES)},
        {"service": EVIDENCE_DIRECT_KEY, "accounts": _accounts_of(HISTORY_ROLES)},
        {"stream": KV_UPDATES, "accounts": _accounts_of(READING_ROLES)},
    ]


def imports(role: str, s: Subjects) -> list[dict[str, Any]]:
    """What one person's account takes from the services' account: exactly its role's subjects."""

    def service(subject: str, *, share: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {"service": {"account": SERVICES_ACCOUNT, "subject": subject}}
        if share:  # the server tells the service who asks (Nats-Request-Info)
            item["share"] = True
        return item

    out: list[dict[str, Any]] = []
    if role in REPORTING_ROLES:
        out.append(service(s.submit, share=True))
    if role in COMMAND_ROLES:
        out.append(service(s.command("*"), share=True))
    elif role in EVIDENCE_ROLES:
        out.append(service(s.command(EVIDENCE_VERB), share=True))
    if role in EVIDENCE_ROLES:
        out.append(service(s.evidence("*"), share=True))
    if role in READING_ROLES:
        out += [service(PING), service(STATS), service(KV_DIRECT), service(KV_DIRECT_KEY),
                {"stream": {"account": SERVICES_ACCOUNT, "subject": KV_UPDATES}}]
    if role in HISTORY_ROLES:
        out += [service(EVENTS_DIRECT), service(EVIDENCE_DIRECT), service(EVIDENCE_DIRECT_KEY)]
    return out


@dataclass(frozen=True)
class TlsFiles:
    """Where the server reads its certificate, key and the CA it checks clients against."""

    cert: str
    key: str
    ca: str


def accounts_block(services: dict[str, str], admin: str, people: list[tuple[str, str, str]],
                   prefix: str = "wb") -> dict[str, Any]:
    """The `accounts` value: `services` name → nkey, `admin` nkey, `people` (name, role, nkey)
    of those not revoked."""
    s = Subjects(prefix)
    svc_users = [{"nkey": services[name], "permissions": service_permissions(name, s)} for name in SERVICE_NAMES]
    svc_users.append({"nkey": admin, "permissions": admin_permissions()})
    block: dict[str, Any] = {SERVICES_ACCOUNT: {"jetstream": "enabled", "users": svc_users, "exports": exports(s)}}
    for role in PERSON_ROLES:
        users = [{"nkey": nkey, "permissions": person_permissions(role, s)}
                 for _name, r, nkey in people if r == role]
        # An account with no user yet still exists, so adding its first person is a reload.
        block[ACCOUNT_OF_ROLE[role]] = {"users": users, "imports": imports(role, s)}
    return block


def server_config(services: dict[str, str], admin: str, people: list[tuple[str, str, str]], *,
                  prefix: str = "wb", tls: TlsFiles | None = None) -> str:
    """The text of the include file for nats-server (its syntax takes JSON values)."""
    missing = [name for name in SERVICE_NAMES if name not in services]
    if missing:
        raise ValueError(f"no key for service(s) {', '.join(missing)}")
    names = {nkey: name for name, _role, nkey in people}
    lines = ["# watchboard: accounts, users (nkeys), exports and imports. Written by `watchboard auth`;",
             "# edits here are lost on the next `auth add-person` or `auth revoke`.",
             "# people: " + ", ".join(f"{names[n]}={n[:8]}…" for _, _, n in people) if people else "# people: none",
             f"accounts: {json.dumps(accounts_block(services, admin, people, prefix), indent=2, ensure_ascii=False)}"]
    if tls is not None:
        # verify: every client must present a certificate of our CA, besides its nkey.
        lines.append("tls: " + json.dumps({"cert_file": tls.cert, "key_file": tls.key, "ca_file": tls.ca,
                                            "verify": True, "timeout": 5}, indent=2))
    return "\n".join(lines) + "\n"
