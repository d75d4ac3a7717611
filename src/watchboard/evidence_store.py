"""The evidence bucket: a JetStream Object Store, `wb-evidence`, with the stream's replicas.

Files are stored under their SHA-256 (hex), so an object's name says what it must hold. The
layout is JetStream's Object Store (`nats object`, nats-py read it as theirs): an object's
chunks on `$O.wb-evidence.C.<nuid>`, its meta (name, nuid, size, chunks, digest) on
`$O.wb-evidence.M.<base64url(name)>`, in the stream `OBJ_wb-evidence`.

Who does what, and why this way: people's accounts have no JetStream (docs/architecture.md
"Trust"), so

- a file goes in through intake: the CLI sends it in chunks (`upload_file`, over
  `wb.evidence.begin|chunk|end`, bounded chunks, resumable) and intake puts it (`put_object`:
  never over an existing object, no purge — nothing kept is removed);
- a file comes out by direct get (`stat` its meta, then its chunks page by page), which the
  services' account exports read-only to the operators' accounts — the same code serves intake
  reading an object back (`observe`) and `evidence get` (`fetch_verified`), roles on or off.

Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.nuid import NUID

from watchboard.bus.errors import BusError, map_nats_error
from watchboard.bus.reader import each, last
from watchboard.bus.subjects import Subjects
from watchboard.config import WatchboardConfig
from watchboard.domain.evidence import BUCKET, CHUNK, Observed

STREAM = f"OBJ_{BUCKET}"
SET_UP_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 5.0
PAGE = 16  # chunks per direct-get page: 2 MiB in flight at most
ROLLUP = {"Nats-Rollup": "sub"}  # a new meta replaces the subject's old one (as nats' object store does)


class EvidenceError(Exception):
    """An evidence object is missing, altered or could not be moved in time (or intake refused
    an upload: `code` and `field` are its reply's)."""

    def __init__(self, code: str, message: str, field: str = "", raw: dict[str, Any] | None = None, *,
                 zh: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.raw = code, message, field, raw
        self.message_zh = zh or message

    def reply(self, field: str = "file") -> dict[str, Any]:
        """As an error reply (intake's own, when it refused), for the CLI's one way of printing them."""
        if self.raw is not None:
            return self.raw
        return {"ok": False, "error": {"code": self.code, "field": self.field or field, "message": self.message,
                                       "message_zh": self.message_zh}}


def transfer_timeout(size: int) -> float:
    """Seconds allowed to move `size` bytes: generous for a slow link, never unbounded."""
    return 30.0 + size / (1024 * 1024) * 2.0


# --- the bucket itself -------------------------------------------------------------------------


async def ensure_store(js: JetStreamContext, cfg: WatchboardConfig) -> None:
    """Create the bucket with the stream's replicas (file storage, no expiry), or let an
    existing one answer direct gets. Roles off: intake at start; roles on: the admin's setup."""
    try:
        info = await asyncio.wait_for(js.stream_info(STREAM), SET_UP_TIMEOUT)
    except NotFoundError:
        info = None
    except Exception as exc:
        raise map_nats_error(exc) from exc
    try:
        if info is None:
            config = api.ObjectStoreConfig(description="watchboard: evidence files, named by their SHA-256",
                                           replicas=cfg.stream.replicas, storage=api.StorageType.FILE)
            await asyncio.wait_for(js.create_object_store(BUCKET, config=config), SET_UP_TIMEOUT)
        elif not info.config.allow_direct:  # made by hand or by an older tool
            info.config.allow_direct = True
            await asyncio.wait_for(js.update_stream(info.config), SET_UP_TIMEOUT)
    except BucketNotFoundError:
        raise BusError(f"could not create the evidence bucket {BUCKET}") from None
    except Exception as exc:
        raise map_nats_error(exc) from exc


async def store_exists(js: JetStreamContext) -> bool:
    """Roles on, intake only checks that the admin made the bucket."""
    try:
        await asyncio.wait_for(js.stream_info(STREAM), SET_UP_TIMEOUT)
    except NotFoundError:
        return False
    except Exception as exc:
        raise map_nats_error(exc) from exc
    return True


# --- names, meta ---------------------------------------------------------------------------------


def meta_subject(name: str) -> str:
    return f"$O.{BUCKET}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def chunk_subject(nuid: str) -> str:
    return f"$O.{BUCKET}.C.{nuid}"


def hex_of(nats_digest: str | None) -> str:
    """nats' `SHA-256=<base64url>` → hex ("" if absent)."""
    if not nats_digest:
        return ""
    raw = nats_digest.split("=", 1)[1] if nats_digest.upper().startswith("SHA-256=") else nats_digest
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()
    except ValueError:
        return ""


def nats_digest(hex_digest: str) -> str:
    return "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).decode()


@dataclass(frozen=True)
class ObjectMeta:
    """An object as its meta describes it (`sha256`: what its chunks must hash to)."""

    name: str
    nuid: str
    size: int
    chunks: int
    sha256: str
    deleted: bool = False


def decode_meta(data: bytes) -> ObjectMeta | None:
    try:
        raw: dict[str, Any] = json.loads(data)
        return ObjectMeta(name=str(raw["name"]), nuid=str(raw["nuid"]), size=int(raw.get("size") or 0),
                          chunks=int(raw.get("chunks") or 0), sha256=hex_of(raw.get("digest")),
                          deleted=bool(raw.get("deleted")))
    except (ValueError, KeyError, TypeError):
        return None


async def stat(nc: Client, name: str) -> ObjectMeta | None:
    """The object's meta (None: no such object, or deleted)."""
    stored = await last(nc, STREAM, meta_subject(name), timeout=SET_UP_TIMEOUT)
    if stored is None or not stored.data:
        return None
    meta = decode_meta(stored.data)
    if meta is None:
        raise EvidenceError("conflict", f"object {name[:12]}…: its meta in {BUCKET} is unreadable",
                            zh=f"对象 {name[:12]}…：其在 `{BUCKET}` 中的元数据无法读取")
    return None if meta.deleted else meta


# --- reading (any account that may direct-get the bucket) ----------------------------------------


class _Sink:
    """Where an object's chunks go: hashed, counted, and copied to `out` if given."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.h, self.size, self.out = hashlib.sha256(), 0, out

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)


async def _read(nc: Client, meta: ObjectMeta, sink: _Sink) -> bool:
    """Every chunk of the object into `sink`; whether they are the chunks its meta describes."""
    if meta.size == 0:
        return meta.sha256 in ("", hashlib.sha256(b"").hexdigest())
    timeout = transfer_timeout(meta.size)
    chunks = 0
    try:
        async for stored in each(nc, STREAM, chunk_subject(meta.nuid), batch=PAGE, timeout=timeout):
            chunks += 1
            sink.write(stored.data)
            if sink.size > meta.size:
                return False  # more than it should hold: damaged; stop reading
    except BusError as exc:
        raise EvidenceError("unavailable", f"reading object {meta.name[:12]}… failed: {exc}",
                            zh=f"读取对象 {meta.name[:12]}… 失败：{exc}") from exc
    return chunks == meta.chunks and sink.size == meta.size and sink.h.hexdigest() == meta.sha256


async def observe(nc: Client, name: str, limit: int) -> Observed | None:
    """What the object `name` holds (digest and size), read back in full; an object over
    `limit` is not read (its stated size is returned, with no digest), nor is a damaged one
    given a digest."""
    meta = await stat(nc, name)
    if meta is None:
        return None
    if meta.size > limit:
        return Observed(sha256="", size=meta.size)
    sink = _Sink()
    if not await _read(nc, meta, sink):
        return Observed(sha256="", size=sink.size)  # chunks differ from the object's own record
    return Observed(sha256=sink.h.hexdigest(), size=sink.size)


async def fetch_verified(nc: Client, name: str, sha256: str, size: int, out: BinaryIO) -> None:
    """Copy the object to `out` and check it is exactly the file recorded (`sha256`, `size`);
    EvidenceError("conflict") when its digest no longer matches (the caller discards `out`)."""
    meta = await stat(nc, name)
    if meta is None:
        raise EvidenceError("not_found", f"object {name[:12]}… is missing from bucket {BUCKET}",
                            zh=f"证据库 `{BUCKET}` 中缺少对象 {name[:12]}…")
    sink = _Sink(out)
    if not await _read(nc, meta, sink):
        raise EvidenceError("conflict", f"object {name[:12]}… is damaged: its chunks do not match its own "
                            "digest; refused", zh=f"对象 {name[:12]}… 已损坏：分块与其自身摘要不符，拒绝取出")
    got = sink.h.hexdigest()
    if got != sha256 or sink.size != size:
        raise EvidenceError("conflict", f"the stored file no longer matches what was recorded: digest "
                            f"{got[:12]}… ({sink.size:,} bytes), recorded {sha256[:12]}… ({size:,} bytes); refused",
                            zh=f"库存文件与登记不符：摘要 {got[:12]}…（{sink.size:,} 字节），登记为 "
                               f"{sha256[:12]}…（{size:,} 字节）；拒绝取出")


# --- writing (intake) ----------------------------------------------------------------------------


async def put_object(nc: Client, path: Path, sha256: str, size: int, description: str = "") -> bool:
    """Store the file at `path` under its digest; False if an object of that digest was
    already there. An object under that name holding something else is left alone and
    refused. The meta goes last, so a put cut short leaves only chunks nothing names."""
    existing = await stat(nc, sha256)
    if existing is not None:
        if existing.sha256 != sha256 or existing.size != size:
            raise EvidenceError("conflict", f"the bucket {BUCKET} holds an object named {sha256[:12]}… whose "
                                "content is not that file: it was altered; it is left as it is for inspection",
                                zh=f"证据库 `{BUCKET}` 中名为 {sha256[:12]}… 的对象内容与该文件不符：已被改动，"
                                   "现原样保留以备核查")
        return False
    js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
    nuid = NUID().next().decode()
    h, written, chunks = hashlib.sha256(), 0, 0
    try:
        with path.open("rb") as f:
            while data := f.read(CHUNK):
                h.update(data)
                written += len(data)
                chunks += 1
                await asyncio.wait_for(js.publish(chunk_subject(nuid), data), PUBLISH_TIMEOUT + 1)
        if h.hexdigest() != sha256 or written != size:
            raise EvidenceError("conflict", f"{path.name} changed while it was stored; not kept",
                                zh=f"{path.name} 在存入过程中发生变化，未予保存")
        meta = {"name": sha256, "bucket": BUCKET, "nuid": nuid, "size": written, "chunks": chunks,
                "digest": nats_digest(sha256), "mtime": datetime.now(UTC).isoformat(),
                "description": description[:200], "options": {"max_chunk_size": CHUNK}}
        await asyncio.wait_for(js.publish(meta_subject(sha256), json.dumps(meta).encode(), headers=ROLLUP),
                               PUBLISH_TIMEOUT + 1)
    except EvidenceError:
        raise
    except Exception as exc:
        raise EvidenceError("unavailable", f"storing {sha256[:12]}… in {BUCKET} failed: {map_nats_error(exc)}",
                            zh=f"将 {sha256[:12]}… 存入 `{BUCKET}` 失败：{map_nats_error(exc)}") from exc
    return True


# --- uploading (any account that may send wb.evidence.*) -----------------------------------------


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


RESUMES = 3  # a chunk refused for its offset, or lost, is sent again from where intake is


async def upload_file(nc: Client, subjects: Subjects, incident: str, path: Path, sha256: str, size: int,
                      media_type: str, progress: Callable[[int], None] | None = None) -> bool:
    """Send the file to intake in chunks; True when it was stored now, False when the bucket
    already held it. intake keeps what it received, so an upload broken off (or sent again
    after a failure) carries on from there. EvidenceError with intake's code on a refusal."""
    begin = {"incident_id": incident, "name": path.name, "sha256": sha256, "size": size,
             "media_type": media_type}
    reply = await _ask(nc, subjects.evidence("begin"), json.dumps(begin, ensure_ascii=False).encode())
    if reply.get("stored"):
        if progress is not None:
            progress(size)
        return False
    offset = int(reply.get("offset", 0))
    resumes = 0
    with path.open("rb") as f:
        while offset < size:
            f.seek(offset)
            data = f.read(CHUNK)
            headers = {"Wb-Upload": sha256, "Wb-Offset": str(offset)}
            try:
                reply = await _ask(nc, subjects.evidence("chunk"), data, headers)
            except EvidenceError as exc:
                if exc.code not in ("conflict", "unavailable") or resumes >= RESUMES:
                    raise
                resumes += 1  # intake says where it is (begin again): carry on from there
                reply = await _ask(nc, subjects.evidence("begin"), json.dumps(begin, ensure_ascii=False).encode())
            offset = int(reply.get("offset", offset))
            if progress is not None:
                progress(offset)
    await _ask(nc, subjects.evidence("end"), json.dumps({"sha256": sha256}).encode(), timeout=transfer_timeout(size))
    return True


async def _ask(nc: Client, subject: str, body: bytes, headers: dict[str, str] | None = None,
               timeout: float = 30.0) -> dict[str, Any]:
    from watchboard.client import request

    reply = await request(nc, subject, body, timeout=timeout, headers=headers)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        raise EvidenceError(str(error.get("code", "unavailable")), str(error.get("message", reply)),
                            str(error.get("field", "")), raw=reply,
                            zh=str(error.get("message_zh") or error.get("message", reply)))
    return reply
