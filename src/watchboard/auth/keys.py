"""nkeys and secret files: a user's seed is its credentials file (nats-py `nkeys_seed=`)."""

from __future__ import annotations

import os
from pathlib import Path

import nkeys


def new_user() -> tuple[str, str]:
    """A fresh user nkey: (seed `SU…`, public key `U…`)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode(), public_key(seed.decode())


def public_key(seed: str) -> str:
    pair = nkeys.from_seed(bytearray(seed.strip().encode()))
    try:
        return str(pair.public_key.decode())
    finally:
        pair.wipe()


def read_seed(path: Path) -> str:
    """The seed in a credentials file; ValueError naming the file when it is not one."""
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        public_key(text)
    except Exception as exc:  # nkeys raises its own family for every kind of bad seed
        raise ValueError(f"{path}: not an nkey seed (a credentials file holds one line `SU…`)") from exc
    return text


def write_secret(path: Path, data: str | bytes) -> None:
    """Write a file only its owner can read (0600), created so from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
