"""Evidence files (保存、固定证据, seed 003 三(一)): what may be recorded, pure.

A file is put in the JetStream Object Store bucket `wb-evidence` under its SHA-256 (the
object's name is its digest, so the same screenshot kept for two incidents is stored once),
then `wb.cmd.evidence_add` asks intake to record it. intake reads the object back first and
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
