"""`identities.json`: the public half of every identity of one site.

    {"version": 1, "prefix": "wb", "tls_dir": "/etc/nats/watchboard",
     "services": {"intake": "U…", "grading": "U…", "deadlines": "U…", "notify": "U…", "admin": "U…"},
     "people": [{"name": "张三", "role": "operator", "nkey": "U…", "creds": "张三.nk", "added_at": "…",
                "revoked_at": null}]}

Written by `watchboard auth`, beside the server's include file and the credentials. The services
read it (a copy on each service's host) to name the person the server authenticated: the
server proves the nkey, this file says whose it is. A revoked person stays here, marked, so the
record keeps naming who did what; the server no longer lets that key in.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import msgspec

from watchboard.auth.roles import ADMIN, PERSON_ROLES, SERVICE_NAMES

NAME_MAX = 40
RESERVED = (*SERVICE_NAMES, ADMIN, "ca", "server", "identities", "auth", "web", "passwords")


class Person(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    role: str
    nkey: str
    creds: str  # its credentials file, in the auth folder
    added_at: str
    revoked_at: str | None = None


class Registry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    services: dict[str, str]
    version: int = 1
    prefix: str = "wb"
    # With TLS: the folder on the server's host that holds server.crt, server.key and ca.crt.
    tls_dir: str | None = None
    people: list[Person] = msgspec.field(default_factory=list)

    def by_key(self, nkey: str) -> Person | None:
        return next((p for p in self.people if p.nkey == nkey), None)

    def by_name(self, name: str) -> Person | None:
        return next((p for p in self.people if p.name == name), None)

    def active(self) -> list[Person]:
        return [p for p in self.people if p.revoked_at is None]


class RegistryError(Exception):
    """identities.json cannot be used: the message names the file and the problem."""


def check_name(name: str) -> str | None:
    """Why `name` cannot name a person (it names files and the record), or None."""
    if not name or name != name.strip():
        return "a name must not be empty or start or end with a space"
    if len(name) > NAME_MAX:
        return f"a name is at most {NAME_MAX} characters, this one {len(name)}"
    if any(unicodedata.category(c)[0] == "C" for c in name) or any(c in name for c in "/\\"):
        return "a name must not hold control characters or slashes"
    if name.startswith(".") or name.lower() in RESERVED or name.endswith((".nk", ".crt", ".key")):
        return f"{name!r} is reserved (a service, admin, or a file of the auth folder)"
    return None


def check_role(role: str) -> str | None:
    return None if role in PERSON_ROLES else f"{role!r} is not one of {', '.join(PERSON_ROLES)}"


def load_registry(path: Path) -> Registry:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"{path}: not found; it is written by `watchboard auth init` beside the "
                            "credentials (copy it with the service's credentials file)") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        registry = msgspec.json.decode(raw, type=Registry)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    missing = [name for name in (*SERVICE_NAMES, ADMIN) if name not in registry.services]
    if missing:
        raise RegistryError(f"{path}: key `services`: no key for {', '.join(missing)}")
    return registry


def save_registry(path: Path, registry: Registry) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(registry), indent=2) + b"\n")
    tmp.replace(path)  # a reader never sees half a file
