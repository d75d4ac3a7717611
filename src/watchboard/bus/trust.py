"""The proven caller of a request, when roles are on.

A person's request reaches a service only through a service import of the services' account
with `share: true`; the NATS server then puts `Nats-Request-Info` on it — the caller's account
and nkey — replacing any header of that name the caller sent — and gives it a reply subject
`_R_.…` of its own, a prefix no client may use. Nobody inside the services' account may
publish on a request subject (their permissions); even so, a request whose reply is not the
server's `_R_.…` did not come through an import and is refused whatever its headers say. `Trust.caller` turns the header into the person, by the public key,
through `identities.json`, and refuses (`Forbidden`) anything else.

`stamp` then writes the person into the body (`actor` of a command, `reporter` of a report)
before any handler sees it: the record says who the server authenticated, whatever the body
claimed. Roles off (no credentials: tests, a loopback set-up) leaves requests as they come.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from watchboard.auth.registry import Registry, RegistryError, load_registry
from watchboard.auth.roles import (
    COMMAND_ROLES,
    EVIDENCE_ROLES,
    EVIDENCE_VERB,
    REPORTING_ROLES,
    ROLE_OF_ACCOUNT,
)
from watchboard.domain.errors import Forbidden

log = logging.getLogger("watchboard.trust")

REQUEST_INFO = "Nats-Request-Info"
IMPORTED_REPLY = "_R_."  # nats-server's reply prefix for requests through a service import


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    account: str
    nkey: str


@dataclass(frozen=True)
class Rule:
    roles: tuple[str, ...]
    field: str  # the body's field that names the person ("": the body is not JSON, left as sent)


def rules(prefix: str) -> dict[str, Rule]:
    """Who may call what, keyed by subject ('*' ends a family; an exact subject wins over its
    family); mirrors the server's imports."""
    return {f"{prefix}.intake.submit": Rule(REPORTING_ROLES, "reporter"),
            f"{prefix}.cmd.*": Rule(COMMAND_ROLES, "actor"),
            f"{prefix}.cmd.{EVIDENCE_VERB}": Rule(EVIDENCE_ROLES, "actor"),
            # An evidence file's chunks: raw bytes; the caller is checked, nothing is stamped.
            f"{prefix}.evidence.*": Rule(EVIDENCE_ROLES, "")}


class Trust:
    """Checks callers against `identities.json` (read again when the file changes)."""

    def __init__(self, registry_path: Path, prefix: str = "wb") -> None:
        self.path = registry_path
        self.rules = rules(prefix)
        self._registry: Registry = load_registry(registry_path)  # a bad file stops the start
        self._mtime = self._stat()

    def _stat(self) -> float:
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    @property
    def registry(self) -> Registry:
        """The registry, re-read when the file changed (a person added or revoked)."""
        mtime = self._stat()
        if mtime != self._mtime:
            try:
                self._registry = load_registry(self.path)
                self._mtime = mtime
                log.info("identities reloaded from %s (%d people)", self.path, len(self._registry.people))
            except RegistryError as exc:  # keep the last good copy; say why once per change
                self._mtime = mtime
                log.error("%s; keeping the identities read before", exc)
        return self._registry

    def rule(self, subject: str) -> Rule | None:
        if subject in self.rules:
            return self.rules[subject]
        family = subject.rsplit(".", 1)[0] + ".*"
        return self.rules.get(family)

    def caller(self, subject: str, headers: Mapping[str, str] | None, reply: str = IMPORTED_REPLY) -> Caller:
        """The person the server says sent this request, allowed on `subject`; else Forbidden."""
        rule = self.rule(subject)
        if rule is None:
            raise Forbidden(None, f"{subject} takes no requests from people",
                            zh=f"{subject} 不接受人员的请求")
        raw = (headers or {}).get(REQUEST_INFO)
        if not raw or not reply.startswith(IMPORTED_REPLY):
            raise Forbidden(None, "roles are on: a request must come from a person the NATS server "
                            "authenticated (connect with that person's credentials, --creds FILE)",
                            zh="已启用角色：请求须来自 `NATS` 服务器认证的人员（用此人的凭据连接，`--creds FILE`）")
        try:
            info = json.loads(raw)
        except ValueError:
            raise Forbidden(None, f"unreadable {REQUEST_INFO} header",
                            zh=f"无法读取请求头 `{REQUEST_INFO}`") from None
        account, nkey = str(info.get("acc", "")), str(info.get("user", ""))
        role = ROLE_OF_ACCOUNT.get(account)
        if role is None or role not in rule.roles:
            raise Forbidden(None, f"account {account or '?'} may not send {subject}",
                            zh=f"账户 `{account or '?'}` 无权发送 {subject}")
        person = self.registry.by_key(nkey)
        if person is None:
            raise Forbidden(None, f"key {nkey[:12]}… is in the server's config but not in {self.path}: "
                            "copy identities.json from the auth folder to this service",
                            zh=f"密钥 `{nkey[:12]}…` 在服务器配置中，但不在 {self.path} 中："
                            "请把认证目录中的 `identities.json` 复制到此服务")
        if person.revoked_at is not None:
            raise Forbidden(None, f"{person.name}'s credentials were revoked at {person.revoked_at}",
                            zh=f"{person.name} 的凭据已于 {person.revoked_at} 吊销")
        if person.role != role:
            raise Forbidden(None, f"{person.name} is {person.role} in {self.path.name} but came "
                            f"through account {account}: the server's config and the registry differ",
                            zh=f"{person.name} 在 `{self.path.name}` 中的角色是 `{person.role}`，却经账户 "
                            f"`{account}` 而来：服务器配置与登记不一致")
        return Caller(name=person.name, role=role, account=account, nkey=nkey)

    def stamp(self, subject: str, body: bytes, caller: Caller) -> bytes:
        """The body with the caller in its person field; a body that is no JSON object is left
        as it is (the handler refuses it, naming the problem)."""
        rule = self.rule(subject)
        if rule is None or not rule.field:
            return body
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body
        if not isinstance(value, dict):
            return body
        value[rule.field] = caller.name
        return json.dumps(value, ensure_ascii=False).encode()
