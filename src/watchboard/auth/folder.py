"""An auth folder: what `watchboard auth init|add-person|revoke` write and change.

    auth.conf          the include for nats-server: accounts, nkey users, exports, imports (and tls)
    identities.json    name ↔ public key ↔ role of every identity (the services read a copy)
    <name>.nk          one credentials file per identity (an nkey seed; 0600)
    ca.crt ca.key      with --tls: the site's CA (ca.key never leaves this folder)
    server.crt/.key    with --tls: the server's certificate
    <name>.crt/.key    with --tls: each identity's client certificate, beside its credentials
    web.crt/.key       with --tls: an HTTPS certificate for the web board and notify's ack link
    passwords.json     the web board's logins (argon2id hashes; `auth set-password`; 0600)

Services: intake, grading, deadlines, notify (their own account, with admin); built-in people:
`operator` (named after the person who runs `auth init`, or --operator NAME), `monitor`, `wall`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watchboard.auth import certs, passwords
from watchboard.auth.keys import new_user, write_secret
from watchboard.auth.registry import (
    Person,
    Registry,
    check_name,
    check_role,
    load_registry,
    save_registry,
)
from watchboard.auth.roles import ADMIN, SERVICE_NAMES, TlsFiles, server_config

CONF = "auth.conf"
REGISTRY = "identities.json"
WEB_CERT = "web"  # web.crt, web.key: HTTPS for `board --web` and notify's acknowledgement link
BUILTIN_PEOPLE = (("operator", "operator"), ("monitor", "monitor"), ("wall", "wall"))  # (file stem, role)


class AuthError(Exception):
    """A refusal of `watchboard auth`: says what is wrong and what to do."""


def login_name() -> str:
    try:
        name = getpass.getuser()
    except Exception:
        return "operator"
    return name if check_name(name) is None else "operator"


@dataclass
class AuthFolder:
    path: Path

    @property
    def conf(self) -> Path:
        return self.path / CONF

    @property
    def registry_path(self) -> Path:
        return self.path / REGISTRY

    def creds(self, stem: str) -> Path:
        return self.path / f"{stem}.nk"

    @property
    def passwords_path(self) -> Path:
        return self.path / passwords.FILE

    def exists(self) -> bool:
        return self.conf.exists() and self.registry_path.exists()

    def registry(self) -> Registry:
        return load_registry(self.registry_path)

    def init(self, *, prefix: str = "wb", operator: str | None = None, tls: bool = False,
             hosts: list[str] | None = None, tls_dir: str | None = None,
             web_hosts: list[str] | None = None) -> Registry:
        """Make every identity, the registry and the server's include; refuse to overwrite."""
        if self.registry_path.exists() or self.conf.exists():
            raise AuthError(f"{self.path} already holds an auth folder ({REGISTRY}); add people with "
                            "`watchboard auth add-person`, or choose another --out")
        operator = operator or login_name()
        if (why := check_name(operator)) is not None:
            raise AuthError(f"--operator {operator!r}: {why}")
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)  # seeds and the CA's key live here
        services: dict[str, str] = {}
        for name in (*SERVICE_NAMES, ADMIN):
            seed, public = new_user()
            write_secret(self.creds(name), seed + "\n")
            services[name] = public
        now = datetime.now(UTC).isoformat()
        people = []
        for stem, role in BUILTIN_PEOPLE:
            seed, public = new_user()
            write_secret(self.creds(stem), seed + "\n")
            people.append(Person(name=operator if stem == "operator" else stem, role=role, nkey=public,
                                 creds=f"{stem}.nk", added_at=now))
        registry = Registry(services=services, prefix=prefix, people=people,
                            tls_dir=(tls_dir or str(self.path.resolve())) if tls else None)
        if tls:
            self._make_tls(hosts or ["127.0.0.1", "localhost"],
                           [*SERVICE_NAMES, ADMIN, *(stem for stem, _ in BUILTIN_PEOPLE)],
                           web_hosts or hosts or ["127.0.0.1", "localhost"])
        save_registry(self.registry_path, registry)
        self.write_conf(registry)
        return registry

    def _make_tls(self, hosts: list[str], stems: list[str], web_hosts: list[str]) -> None:
        ca = certs.make_ca()
        certs.save_ca(ca, self.path / "ca.crt", self.path / "ca.key")
        certs.save_pair(certs.issue(ca, hosts[0], server_hosts=hosts), self.path / "server.crt",
                        self.path / "server.key")
        # Browsers trust it once ca.crt is installed on the wall PCs; a public link behind the
        # office's reverse proxy uses the proxy's own certificate instead (docs/deploy.md).
        certs.save_pair(certs.issue(ca, web_hosts[0], server_hosts=web_hosts), self.path / f"{WEB_CERT}.crt",
                        self.path / f"{WEB_CERT}.key")
        for stem in stems:
            certs.save_pair(certs.issue(ca, stem), self.path / f"{stem}.crt", self.path / f"{stem}.key")

    def add_person(self, name: str, role: str) -> Person:
        registry = self.registry()
        if (why := check_name(name)) is not None:
            raise AuthError(f"name {name!r}: {why}")
        if (why := check_role(role)) is not None:
            raise AuthError(f"--role: {why}")
        if registry.by_name(name) is not None:
            raise AuthError(f"{name} is already in {self.registry_path}; a revoked person's name is not "
                            "given again, so the record keeps meaning one person: choose another name")
        seed, public = new_user()
        write_secret(self.creds(name), seed + "\n")
        if registry.tls_dir is not None:
            ca = certs.load_ca(self.path / "ca.crt", self.path / "ca.key")
            certs.save_pair(certs.issue(ca, name), self.path / f"{name}.crt", self.path / f"{name}.key")
        person = Person(name=name, role=role, nkey=public, creds=f"{name}.nk", added_at=datetime.now(UTC).isoformat())
        registry.people.append(person)
        save_registry(self.registry_path, registry)
        self.write_conf(registry)
        return person

    def revoke(self, name: str) -> Person:
        registry = self.registry()
        person = registry.by_name(name)
        if person is None:
            known = ", ".join(p.name for p in registry.active()) or "nobody"
            raise AuthError(f"{name} is not in {self.registry_path} (people: {known})")
        if person.revoked_at is not None:
            raise AuthError(f"{name} was already revoked at {person.revoked_at}")
        revoked = Person(name=person.name, role=person.role, nkey=person.nkey, creds=person.creds,
                         added_at=person.added_at, revoked_at=datetime.now(UTC).isoformat())
        registry.people = [revoked if p.name == name else p for p in registry.people]
        save_registry(self.registry_path, registry)
        self.write_conf(registry)
        for leftover in (self.path / person.creds, self.path / f"{Path(person.creds).stem}.key"):
            leftover.unlink(missing_ok=True)  # the seed is worthless now; nobody should keep using it
        passwords.remove(self.passwords_path, name)  # nor can they log in to the web board
        return revoked

    def set_password(self, name: str, password: str) -> Person:
        """A person's web-board password (hashed); only an active person of this folder has one."""
        person = self.registry().by_name(name)
        if person is None:
            known = ", ".join(p.name for p in self.registry().active()) or "nobody"
            raise AuthError(f"{name} is not a person of {self.registry_path} (people: {known}); "
                            "add them first with `watchboard auth add-person`")
        if person.revoked_at is not None:
            raise AuthError(f"{name} was revoked at {person.revoked_at}: no password is set for them")
        try:
            passwords.set_password(self.passwords_path, name, password)
        except passwords.PasswordError as exc:
            raise AuthError(f"password for {name}: {exc}") from exc
        return person

    def write_conf(self, registry: Registry) -> None:
        tls = None
        if registry.tls_dir is not None:
            base = registry.tls_dir.rstrip("/")
            tls = TlsFiles(cert=f"{base}/server.crt", key=f"{base}/server.key", ca=f"{base}/ca.crt")
        people = [(p.name, p.role, p.nkey) for p in registry.active()]
        text = server_config(registry.services, registry.services[ADMIN], people, prefix=registry.prefix, tls=tls)
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.conf)
