"""Evidence files (保存、固定证据, seed 003 三(一)): what may be uploaded and recorded, pure.

A file goes to intake in chunks (`wb.evidence.begin|chunk|end`: people's accounts have no
JetStream, so they cannot write the bucket themselves): `check_upload` bounds the upload
before a byte is taken, `accept_chunk` each chunk against what intake already holds (so an
upload broken off resumes where it stopped), `check_complete` the whole before intake puts it
in the JetStream Object Store bucket `wb-evidence` under its SHA-256 (the object's name is its
digest, so the same screenshot kept for two incidents is stored once). Then
`wb.cmd.evidence_add` asks intake to record it. intake reads the object back first and
hands what it found (`Observed`) to `decide_add`: only a file whose digest and size are the
ones claimed, within the size limit, is recorded (`evidence.added`). Nothing is ever deleted
or replaced by a command; `evidence get` checks the digest again on the way out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchboard.domain.commands import Ctx, EvidenceAdd
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import EvidenceAdded
from watchboard.domain.statements import check_digest
from watchboard.domain.views import CoreView, EvidenceFileView

BUCKET = "wb-evidence"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_FILES_PER_INCIDENT = 200
# One chunk of an upload, and of an object in the bucket: well under NATS' default
# max_payload (1 MB), so no site has to raise it for evidence.
CHUNK = 128 * 1024
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class Observed:
    """What intake found reading the object back: its digest and size (None: no such object).
    `size` may stop just over the limit: intake stops reading there."""

    sha256: str
    size: int


def human_size(n: int, lang: str = "en") -> str:
    """`52,428,800` → "50 MB" (binary units, as file managers show them)."""
    if n < 1024:
        return f"{n:,} 字节" if lang == "zh" else f"{n:,} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def too_big(name: str, size: int, limit: int) -> str:
    return (f"{name} is {human_size(size)}; evidence files may be at most {human_size(limit)} "
            f"(evidence.max_bytes in intake.toml)")


def too_big_zh(name: str, size: int, limit: int) -> str:
    return (f"{name} 大小为 {human_size(size, 'zh')}，证据文件不得超过 {human_size(limit, 'zh')}"
            f"（见 intake.toml 的 `evidence.max_bytes`）")


def file_name(name: str) -> str:
    """The name a file is kept under: its base name, no control characters or separators."""
    name = name.strip()
    if not name or name in (".", "..") or _BAD_NAME.search(name):
        raise Invalid("name", f"{name[:60]!r} is not a file name (no folders, no control characters)",
                      zh=f"{name[:60]!r} 不是有效的文件名（不得含目录或控制字符）")
    return name


def find(core: CoreView | None, name: str) -> EvidenceFileView | None:
    return next((f for f in core.evidence_files if f.name == name), None) if core is not None else None


def decide_add(core: CoreView | None, cmd: EvidenceAdd, ctx: Ctx, observed: Observed | None,
               max_bytes: int = DEFAULT_MAX_BYTES) -> EvidenceAdded:
    if core is None:
        raise NotFound("incident_id", "no such incident; check the id (`watchboard ls`)",
                       zh="未找到该舆情，请核对编号（可用 `watchboard ls` 查看）")
    name = file_name(cmd.name)
    sha256 = check_digest("sha256", cmd.sha256)
    if not sha256:
        raise Invalid("sha256", "`sha256` is required: the file's SHA-256 in hex",
                      zh="缺少文件的 SHA-256 摘要（十六进制）")
    media_type = cmd.media_type.strip().lower()
    if not _MEDIA_TYPE.match(media_type):
        raise Invalid("media_type", f"{cmd.media_type[:60]!r} is not a media type like 'image/png'",
                      zh=f"{cmd.media_type[:60]!r} 不是有效的文件类型（应形如 'image/png'）")
    if cmd.size > max_bytes:
        raise Invalid("size", too_big(name, cmd.size, max_bytes), zh=too_big_zh(name, cmd.size, max_bytes))
    obj = cmd.object.strip() or sha256
    if observed is None:
        raise NotFound("object", f"no object {obj!r} in bucket {BUCKET}: put the file first "
                       "(`watchboard evidence add` does)",
                       zh=f"证据库 `{BUCKET}` 中没有对象 {obj!r}：请先上传文件（`watchboard evidence add` 会先上传）")
    if observed.size > max_bytes:
        raise Invalid("size", too_big(name, observed.size, max_bytes), zh=too_big_zh(name, observed.size, max_bytes))
    if observed.sha256 != sha256 or observed.size != cmd.size:
        raise Conflict("sha256", f"object {obj!r} in {BUCKET} holds {observed.size:,} bytes with digest "
                       f"{observed.sha256[:12]}…, not the {cmd.size:,} bytes with digest {sha256[:12]}… claimed: "
                       "it was altered or not fully stored; not recorded",
                       zh=f"证据库 `{BUCKET}` 中的对象 {obj!r} 为 {observed.size:,} 字节、摘要 {observed.sha256[:12]}…，"
                          f"与申报的 {cmd.size:,} 字节、摘要 {sha256[:12]}… 不符：文件已被改动或未完整存入，未予登记")
    for kept in core.evidence_files:
        if kept.sha256 == sha256:
            raise Conflict("sha256", f"this file is already kept for incident {core.id} as {kept.name!r} "
                           f"(added by {kept.added_by})",
                           zh=f"该文件已作为舆情 {core.id} 的证据 {kept.name!r} 固定（固定人：{kept.added_by}）")
        if kept.name == name:
            raise Conflict("name", f"another file named {name!r} is already kept for incident {core.id}; "
                           "rename this one (nothing kept is ever replaced)",
                           zh=f"舆情 {core.id} 已有同名证据文件 {name!r}：请改名后再固定（已固定的文件一律不替换）")
    if len(core.evidence_files) >= MAX_FILES_PER_INCIDENT:
        raise Conflict("incident_id", f"incident {core.id} keeps {MAX_FILES_PER_INCIDENT} files already",
                       zh=f"舆情 {core.id} 已固定 {MAX_FILES_PER_INCIDENT} 个证据文件，达到上限")
    return EvidenceAdded(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                         causation_id=ctx.request_id, name=name, sha256=sha256, size=observed.size,
                         media_type=media_type, object=obj, bucket=BUCKET)


# --- uploads -----------------------------------------------------------------------------------


def check_upload(sha256: str, size: object, max_bytes: int, name: str = "the file") -> tuple[str, int]:
    """(digest, size) of an upload that may begin; `Invalid` naming the field otherwise."""
    digest = check_digest("sha256", sha256 if isinstance(sha256, str) else "")
    if not digest:
        raise Invalid("sha256", "`sha256` is required: the file's SHA-256 in hex",
                      zh="须给出 `sha256`：文件的 SHA-256 摘要（十六进制）")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Invalid("size", f"`size` must be the file's size in bytes, got {str(size)[:40]!r}",
                      zh=f"`size` 须为文件的字节数，收到 {str(size)[:40]!r}")
    if size > max_bytes:
        raise Invalid("size", too_big(name, size, max_bytes), zh=too_big_zh(name, size, max_bytes))
    return digest, size


def accept_chunk(held: int, offset: int, length: int, size: int) -> bool:
    """Whether a chunk of `length` bytes at `offset` is new (True: append it) or one intake
    already holds (False: a retry; answered with the offset reached). Refused: a chunk over
    `CHUNK`, one past the end of the declared size, or one that would leave a gap or overlap
    part of what is held (`Conflict` on `offset`: the client resumes from `held`)."""
    if length > CHUNK:
        raise Invalid("chunk", f"a chunk may be at most {CHUNK:,} bytes, this one is {length:,}",
                      zh=f"每块至多 {CHUNK:,} 字节，此块为 {length:,} 字节")
    if offset < 0:
        raise Invalid("offset", f"offset {offset} is negative", zh=f"偏移量 {offset} 为负数")
    if offset + length > size:
        raise Invalid("size", f"a chunk at {offset:,} of {length:,} bytes runs past the declared size {size:,}",
                      zh=f"位于 {offset:,} 处、长 {length:,} 字节的分块超出了声明的大小 {size:,} 字节")
    if offset == held:
        if length == 0 and held < size:
            raise Invalid("chunk", "an empty chunk before the end of the file", zh="文件结束前出现空分块")
        return length > 0
    if offset + length <= held and offset < held:
        return False
    raise Conflict("offset", f"intake holds {held:,} bytes of this file; send from offset {held:,}, not {offset:,}",
                   zh=f"接报服务已收到此文件 {held:,} 字节；请从偏移量 {held:,} 续传，而非 {offset:,}")


def check_complete(held: int, size: int, digest: str, sha256: str) -> None:
    """The whole upload is the file declared: every byte arrived and the digest matches."""
    if held != size:
        raise Conflict("size", f"intake holds {held:,} of the {size:,} bytes declared; send the rest first",
                       zh=f"接报服务只收到声明的 {size:,} 字节中的 {held:,} 字节；请先传完其余部分")
    if digest != sha256:
        raise Conflict("sha256", f"the {size:,} bytes received have digest {digest[:12]}…, not the "
                       f"{sha256[:12]}… declared: the upload is discarded; send the file again",
                       zh=f"收到的 {size:,} 字节摘要为 {digest[:12]}…，与声明的 {sha256[:12]}… 不符："
                       "本次上传已丢弃，请重新发送文件")
