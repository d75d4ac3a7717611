"""`passwords.json`: the web board's logins, one argon2id hash per person.

    {"version": 1, "people": {"张三": {"hash": "$argon2id$v=19$m=65536,t=3,p=4$…", "set_at": "…"}}}

Written by `watchboard auth set-password NAME` into the auth folder (0600, beside the
credentials), read by `watchboard board --web` on the host that serves the browser board. A
password only says who logs in; what that person may then do is their identity's (the board
the browser gets runs with their credentials, so the NATS server proves who acted). A revoked
person's hash is removed with their credentials. Never copied to the services' hosts: they do
not need it (identities.json is theirs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from watchboard.auth.keys import write_secret

FILE = "passwords.json"
MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps one login's work bounded

# argon2-cffi's defaults (RFC 9106 "low memory": 64 MiB, t=3, p=4): about 50 ms a login.
_HASHER = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs what a wrong password costs.
_DUMMY: list[str] = []  # a hash to verify against for an unknown name (made at first need:
# hashing at import cost every `watchboard` command, services' starts included, ~0.2 s)


def _dummy() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash("not a password of anyone"))
    return _DUMMY[0]


class Entry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    hash: str
    set_at: str


class Passwords(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    version: int = 1
    people: dict[str, Entry] = msgspec.field(default_factory=dict)


class PasswordError(Exception):
    """A password cannot be set, or the file cannot be read: the message says why."""


def check_password(password: str) -> str | None:
    """Why `password` may not be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password has at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if password != password.strip() or any(ord(c) < 32 for c in password):
        return "a password must not start or end with a space or hold control characters"
    return None


def load(path: Path) -> Passwords:
    """The file, or an empty one when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Passwords()
    except OSError as exc:
        raise PasswordError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        return msgspec.json.decode(raw, type=Passwords)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PasswordError(f"{path}: {exc}") from exc


def save(path: Path, passwords: Passwords) -> None:
    tmp = path.with_suffix(".tmp")
    write_secret(tmp, msgspec.json.format(msgspec.json.encode(passwords), indent=2) + b"\n")
    tmp.replace(path)  # a reader never sees half a file


def set_password(path: Path, name: str, password: str, now: datetime | None = None) -> None:
    if (why := check_password(password)) is not None:
        raise PasswordError(why)
    passwords = load(path)
    passwords.people[name] = Entry(hash=_HASHER.hash(password), set_at=(now or datetime.now(UTC)).isoformat())
    save(path, passwords)


def remove(path: Path, name: str) -> bool:
    """Forget `name`'s password (when they are revoked); whether there was one."""
    passwords = load(path)
    if passwords.people.pop(name, None) is None:
        return False
    save(path, passwords)
    return True


def verify(passwords: Passwords, name: str, password: str) -> bool:
    """Whether `password` is `name`'s; as slow for an unknown name as for a known one."""
    entry = passwords.people.get(name)
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(entry.hash if entry is not None else _dummy(), password) and entry is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
