"""Evidence uploads: a file carried to intake in chunks, then put in the bucket `wb-evidence`.

People's accounts have no JetStream, so they cannot write the Object Store; intake does it for
them (wiring only: what is accepted is decided by `watchboard.domain.evidence`):

- `wb.evidence.begin` `{incident_id, name, sha256, size, media_type}` → `{offset, chunk}`: how
  much of this file intake already holds from this caller (0, or more after a broken upload),
  or `{stored: true}` when the bucket already holds the file;
- `wb.evidence.chunk`, headers `Wb-Upload: <sha256>` and `Wb-Offset: <n>`, body the bytes
  (≤ 128 KiB) → `{offset}` reached;
- `wb.evidence.end` `{sha256}` → the whole is checked (size and digest) and put in the bucket
  → `{stored}`. Recording it is then `wb.cmd.evidence_add`, as before.

What was received is kept in `<data>/uploads/` (one spool file per file and caller — a person
cannot disturb another's upload — named by the digest), so an upload cut off by a lost
connection or a restart of intake resumes where it stopped. Spools untouched for a day are
removed. At most `MAX_ACTIVE` uploads at once, so the spool folder holds at most that many
files of `evidence.max_bytes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from watchboard.bus.endpoints import Call, ok, parse_json_object
from watchboard.domain.errors import Conflict, Invalid, NotFound, Unavailable
from watchboard.domain.evidence import CHUNK, accept_chunk, check_complete, check_upload, file_name
from watchboard.evidence_store import EvidenceError, file_digest, put_object, stat

log = logging.getLogger("watchboard.intake")

MAX_ACTIVE = 16
STALE_AFTER = 24 * 3600.0  # seconds an unfinished upload is kept


@dataclass
class Upload:
    sha256: str
    size: int
    name: str
    path: Path
    touched: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def held(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


class Uploads:
    """The three endpoints' handlers, and the spools they keep."""

    def __init__(self, nc: Client, folder: Path, max_bytes: int, knows: Callable[[str], bool]) -> None:
        self.nc, self.folder, self.max_bytes, self.knows = nc, folder, max_bytes, knows
        self.folder.mkdir(parents=True, exist_ok=True)
        self.active: dict[str, Upload] = {}

    def _path(self, sha256: str, call: Call) -> Path:
        # Per caller: two people sending the same file never write into one spool.
        owner = call.caller.nkey if call.caller is not None else "local"
        return self.folder / f"{sha256}.{hashlib.sha256(owner.encode()).hexdigest()[:16]}.part"

    def _upload(self, sha256: str, call: Call) -> Upload:
        path = self._path(sha256, call)
        upload = self.active.get(path.name)
        if upload is None:
            raise Conflict("upload", "no upload of this file is under way: begin it first "
                           "(`wb.evidence.begin`; `watchboard evidence add` does)",
                           zh="此文件没有进行中的上传：请先开始上传（`wb.evidence.begin`；`watchboard evidence add` 会这样做）")
        upload.touched = time.monotonic()
        return upload

    async def begin(self, call: Call) -> dict[str, Any]:
        body = parse_json_object(call.data)
        incident = str(body.get("incident_id", "")).strip()
        if not self.knows(incident):
            raise NotFound("incident_id", f"no incident {incident[:100]!r}; check the id (`watchboard ls`)",
                           zh=f"没有舆情 {incident[:100]!r}；请核对编号（`watchboard ls`）")
        name = file_name(str(body.get("name", "")))
        sha256, size = check_upload(str(body.get("sha256", "")), body.get("size"), self.max_bytes, name)
        existing = await stat(self.nc, sha256)
        if existing is not None and existing.sha256 == sha256 and existing.size == size:
            return ok(stored=True, offset=size)
        path = self._path(sha256, call)
        upload = self.active.get(path.name)
        if upload is None:
            if len(self.active) >= MAX_ACTIVE:
                raise Unavailable("upload", f"intake is receiving {MAX_ACTIVE} files already; try again shortly",
                                  zh=f"接报服务正在接收 {MAX_ACTIVE} 个文件；请稍后再试")
            upload = self.active[path.name] = Upload(sha256, size, name, path)
        async with upload.lock:
            upload.touched = time.monotonic()
            if upload.size != size or upload.held() > size:
                # The same digest with another size is a wrong claim: start that spool afresh.
                upload.size = size
                path.unlink(missing_ok=True)
            return ok(offset=upload.held(), chunk=CHUNK)

    async def chunk(self, call: Call) -> dict[str, Any]:
        sha256 = call.headers.get("Wb-Upload", "").strip().lower()
        try:
            offset = int(call.headers.get("Wb-Offset", ""))
        except ValueError:
            raise Invalid("offset", "header Wb-Offset must be the chunk's offset in bytes",
                          zh="请求头 `Wb-Offset` 须为该分块的字节偏移量") from None
        upload = self._upload(sha256, call)
        async with upload.lock:
            held = upload.held()
            if accept_chunk(held, offset, len(call.data), upload.size):
                with upload.path.open("ab") as f:
                    f.write(call.data)
                held += len(call.data)
            return ok(offset=held)

    async def end(self, call: Call) -> dict[str, Any]:
        body = parse_json_object(call.data)
        upload = self._upload(str(body.get("sha256", "")).strip().lower(), call)
        async with upload.lock:
            held = upload.held()
            digest = await asyncio.to_thread(file_digest, upload.path) if held == upload.size else ("", held)
            try:
                check_complete(held, upload.size, digest[0], upload.sha256)
            except Conflict as exc:
                if exc.field == "sha256":  # all of it arrived and it is not the file: useless
                    self._drop(upload)
                raise
            try:
                stored = await put_object(self.nc, upload.path, upload.sha256, upload.size, upload.name)
            except EvidenceError as exc:
                raise (Conflict if exc.code == "conflict" else Unavailable)("sha256", exc.message,
                                                                            zh=exc.message_zh) from exc
            self._drop(upload)
        log.info("evidence %s… (%d bytes) %s", upload.sha256[:12], upload.size, "stored" if stored else "already held")
        return ok(stored=stored, sha256=upload.sha256, size=upload.size)

    def _drop(self, upload: Upload) -> None:
        self.active.pop(upload.path.name, None)
        upload.path.unlink(missing_ok=True)

    async def prune(self) -> None:
        """Forget uploads untouched for a day, and spools nobody began since a restart."""
        now = time.monotonic()
        for upload in [u for u in self.active.values() if now - u.touched > STALE_AFTER and not u.lock.locked()]:
            log.info("evidence upload %s… abandoned (%d of %d bytes); removed", upload.sha256[:12],
                     upload.held(), upload.size)
            self._drop(upload)
        for path in self.folder.glob("*.part"):
            with contextlib.suppress(OSError):
                if path.name not in self.active and time.time() - path.stat().st_mtime > STALE_AFTER:
                    path.unlink()
