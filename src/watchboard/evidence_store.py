"""The evidence bucket: a JetStream Object Store, `wb-evidence`, with the stream's replicas.

Files are stored under their SHA-256 (hex), so an object's name says what it must hold. The
CLI puts a file (`put_file`, never over an existing object: nothing kept is replaced), intake
reads it back before recording it (`observe`), and `evidence get` checks the digest on the
way out (`fetch_verified`). Every wait is bounded: nats-py's object reads wait for chunks
without a limit of their own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, DigestMismatchError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from watchboard.bus.errors import map_nats_error
from watchboard.config import WatchboardConfig
from watchboard.domain.evidence import BUCKET, Observed

SET_UP_TIMEOUT = 5.0
CHUNK = 128 * 1024


class EvidenceError(Exception):
    """An evidence object is missing, altered or could not be moved in time (worded in English
    and, `zh`, in Chinese, as the domain's refusals are)."""

    def __init__(self, code: str, message: str, zh: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.message_zh = code, message, zh or message

    def to_dict(self, field: str) -> dict[str, str]:
        return {"code": self.code, "field": field, "message": self.message, "message_zh": self.message_zh}


def transfer_timeout(size: int) -> float:
    """Seconds allowed to move `size` bytes: generous for a slow link, never unbounded."""
    return 30.0 + size / (1024 * 1024) * 2.0


async def ensure_store(js: JetStreamContext, cfg: WatchboardConfig) -> ObjectStore:
    """Open the bucket, or create it with the stream's replicas (file storage, no expiry)."""
    try:
        return await asyncio.wait_for(js.object_store(BUCKET), SET_UP_TIMEOUT)
    except BucketNotFoundError:
        pass
    except Exception as exc:
        raise map_nats_error(exc) from exc
    config = api.ObjectStoreConfig(description="watchboard: evidence files, named by their SHA-256",
                                   replicas=cfg.stream.replicas, storage=api.StorageType.FILE)
    try:
        return await asyncio.wait_for(js.create_object_store(BUCKET, config=config), SET_UP_TIMEOUT)
    except Exception as exc:
        raise map_nats_error(exc) from exc


async def open_store(js: JetStreamContext) -> ObjectStore | None:
    """The bucket, or None when no intake has created it yet."""
    try:
        return await asyncio.wait_for(js.object_store(BUCKET), SET_UP_TIMEOUT)
    except BucketNotFoundError:
        return None


def hex_of(nats_digest: str | None) -> str:
    """nats' `SHA-256=<base64url>` → hex ("" if absent)."""
    if not nats_digest:
        return ""
    raw = nats_digest.split("=", 1)[1] if nats_digest.upper().startswith("SHA-256=") else nats_digest
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()
    except ValueError:
        return ""


async def info(obs: ObjectStore, name: str) -> api.ObjectInfo | None:
    try:
        return await asyncio.wait_for(obs.get_info(name), SET_UP_TIMEOUT)
    except (ObjectNotFoundError, NotFoundError):
        return None


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _Counting(io.RawIOBase):
    """A file reader that reports how many bytes have been read (the progress bar)."""

    def __init__(self, f: BinaryIO, progress: Callable[[int], None]) -> None:
        self.f, self.progress, self.done = f, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.f.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.done += n
            self.progress(self.done)
        return n or 0


async def put_file(obs: ObjectStore, path: Path, sha256: str, size: int,
                   progress: Callable[[int], None] | None = None) -> bool:
    """Store `path` under its digest; False if an object of that digest was already there.
    An object under that name holding something else is left alone and refused."""
    existing = await info(obs, sha256)
    if existing is not None:
        if hex_of(existing.digest) != sha256 or existing.size != size:
            raise EvidenceError("conflict", f"the bucket {BUCKET} holds an object named {sha256[:12]}… whose "
                                "content is not that file: it was altered; it is left as it is for inspection",
                                zh=f"证据库 `{BUCKET}` 中名为 {sha256[:12]}… 的对象内容与该文件不符：已被改动，"
                                   "现原样保留以备核查")
        return False
    meta = api.ObjectMeta(name=sha256, description=path.name[:200],
                          options=api.ObjectMetaOptions(max_chunk_size=CHUNK))
    with path.open("rb") as f:
        reader: Any = _Counting(f, progress) if progress is not None else f
        try:
            await asyncio.wait_for(obs.put(sha256, reader, meta=meta), transfer_timeout(size))
        except TimeoutError:
            raise EvidenceError("unavailable", f"storing {path.name} did not finish within "
                                f"{transfer_timeout(size):.0f}s",
                                zh=f"{path.name} 未能在 {transfer_timeout(size):.0f} 秒内存入证据库") from None
    return True


class _Sink:
    """Where nats-py writes an object's chunks: hashed, counted, and copied to `out` if given."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.h, self.size, self.out = hashlib.sha256(), 0, out

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)


async def _read(obs: ObjectStore, name: str, size: int, sink: _Sink) -> None:
    try:
        await asyncio.wait_for(obs.get(name, writeinto=sink), transfer_timeout(size))  # type: ignore[arg-type]
    except TimeoutError:
        raise EvidenceError("unavailable", f"reading object {name[:12]}… did not finish within "
                            f"{transfer_timeout(size):.0f}s",
                            zh=f"对象 {name[:12]}… 未能在 {transfer_timeout(size):.0f} 秒内读出") from None


async def observe(obs: ObjectStore, name: str, limit: int) -> Observed | None:
    """What the object `name` holds (digest and size), read back in full; an object over
    `limit` is not read (its stated size is returned, with no digest)."""
    found = await info(obs, name)
    if found is None:
        return None
    if (found.size or 0) > limit:
        return Observed(sha256="", size=found.size or 0)
    sink = _Sink()
    try:
        await _read(obs, name, found.size or 0, sink)
    except DigestMismatchError:
        return Observed(sha256="", size=sink.size)  # chunks differ from the object's own record
    return Observed(sha256=sink.h.hexdigest(), size=sink.size)


async def fetch_verified(obs: ObjectStore, name: str, sha256: str, size: int, out: BinaryIO) -> None:
    """Copy the object to `out` and check it is exactly the file recorded (`sha256`, `size`);
    EvidenceError("conflict") when its digest no longer matches (the caller discards `out`)."""
    sink = _Sink(out)
    try:
        if await info(obs, name) is None:
            raise EvidenceError("not_found", f"object {name[:12]}… is missing from bucket {BUCKET}",
                                zh=f"证据库 `{BUCKET}` 中缺少对象 {name[:12]}…")
        await _read(obs, name, size, sink)
    except DigestMismatchError:
        raise EvidenceError("conflict", f"object {name[:12]}… is damaged: its chunks do not match its own "
                            "digest; refused",
                            zh=f"对象 {name[:12]}… 已损坏：分块与其自身摘要不符，拒绝取出") from None
    got = sink.h.hexdigest()
    if got != sha256 or sink.size != size:
        raise EvidenceError("conflict", f"the stored file no longer matches what was recorded: digest "
                            f"{got[:12]}… ({sink.size:,} bytes), recorded {sha256[:12]}… ({size:,} bytes); refused",
                            zh=f"库存文件与登记不符：摘要 {got[:12]}…（{sink.size:,} 字节），登记为 {sha256[:12]}…"
                               f"（{size:,} 字节），拒绝取出")
