"""The follow-through verbs of the CLI: `statement`, `evidence`, `task`, `meeting`, `supervise`.

Each sends one typed command to intake (the record's owner) and prints one line in the
reader's language, or reads the KV bucket (`evidence ls|get`, `task ls`, `supervise
--today`). Evidence files go to intake first, in chunks (a progress bar on stderr for large
files; an upload broken off resumes), which puts them in the Object Store bucket
`wb-evidence`; then intake is asked to record them. `evidence get` reads the bucket by direct
get and writes a file only once its digest is checked. Everything reads and writes the way a
person's account may — no JetStream API — so it works with roles on (`watchboard up`). The
words are in `WORDS` (zh and en, whole sentences).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchboard.bus.subjects import Subjects
from watchboard.client import load_view, load_views, request
from watchboard.domain.commands import MINUTES_MAX, STATEMENT_MAX, TEXT_MAX
from watchboard.domain.evidence import human_size, too_big, too_big_zh
from watchboard.domain.present import local, meeting_kind, statement_state, task_json
from watchboard.domain.sanitize import clean_line
from watchboard.domain.statements import normalize, statement_digest
from watchboard.domain.views import SUPERVISION_KEY, decode_supervision

COMMANDS = ("statement", "evidence", "task", "meeting", "supervise")
PROGRESS_FROM = 1024 * 1024  # files this large get a progress bar (on a terminal)

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "drafted": "通稿第 {version} 稿已提交审核（摘要 {digest}）",
        "approved": "已审核同意 {id} 的通稿第 {version} 稿（摘要 {digest}）",
        "rejected": "已退回 {id} 的通稿第 {version} 稿",
        "published": "{id} 的通稿第 {version} 稿已发布（{channel}）：{url}",
        "kept": "已固定证据 {name}（{size}，SHA-256 {digest}）",
        "already_stored": "（桶内已有同一文件，未重复上传）",
        "task_added": "已交办 {unit}：任务 {task}，{due} 前反馈",
        "provisional": "（日历尚未发布该年份，截止时间暂定）",
        "fed_back": "已记录任务 {task} 的反馈",
        "meeting": "已记录{kind} {meeting}（{n} 起舆情）",
        "meeting_task": "  交办 {unit}：任务 {task}，{due} 前反馈",
        "supervised": "已记录对 {id} 的督办",
        "no_incident": "没有编号为 {id} 的舆情",
        "no_file": "没有这个文件：{path}",
        "not_text": "{path} 不是 UTF-8 文本文件",
        "too_long": "{what} 有 {size:,} 个字符，超过上限 {limit:,}",
        "no_bucket": "证据库 wb-evidence 尚不存在：请确认 intake 服务正在运行",
        "no_evidence": "{id} 没有名为 {name} 的证据；已有：{names}",
        "none": "无",
        "exists": "{path} 已存在；用 -o 指定另一个文件",
        "saved": "已取出 {name} 到 {path}（SHA-256 校验一致）",
        "refused": "拒绝取出 {name}：{why}",
        "progress": "上传 {name}：{done}/{total}（{pct:.0f}%）",
        "no_tasks": "没有符合条件的任务",
        "no_files": "{id} 没有固定的证据文件",
        "col.task": "任务", "col.incident": "舆情", "col.unit": "单位", "col.due": "反馈期限",
        "col.status": "状态", "col.text": "内容", "col.name": "文件", "col.size": "大小", "col.type": "类型",
        "col.digest": "SHA-256", "col.by": "固定人", "col.at": "时间",
        "task.open": "待反馈", "task.fed_back": "已反馈", "task.late": "逾期反馈", "task.breached": "已超期",
        "task.cancelled": "已取消",
        "today.none": "今天（{day}）不是工作日，无需督办",
        "today.all": "今天（{day}）{n} 起 I/II 级舆情均已督办",
        "today.owed": "今天（{day}）尚未督办的 I/II 级舆情 {k}/{n} 起：",
        "today.unknown": "督办情况尚不可知：请确认 deadlines 服务正在运行",
        "need_id": "请给出舆情编号，或用 --today 查看今天尚未督办的舆情",
        "bad_task": "--task {value!r} 的格式应为 单位,期限,内容（会议涉及多起舆情时为 舆情编号,单位,期限,内容）",
        "sec.statements": "通稿", "sec.evidence": "固定证据", "sec.tasks": "交办任务", "sec.meetings": "会商",
        "sec.supervisions": "督办",
        "statement.line": "第 {version} 稿  {state}  {who}  摘要 {digest}",
        "by": "{who} {at}",
    },
    "en": {
        "drafted": "statement version {version} submitted for approval (digest {digest})",
        "approved": "approved statement version {version} of {id} (digest {digest})",
        "rejected": "sent back statement version {version} of {id}",
        "published": "statement version {version} of {id} published on {channel}: {url}",
        "kept": "kept as evidence: {name} ({size}, SHA-256 {digest})",
        "already_stored": " (the bucket already held this file; not uploaded again)",
        "task_added": "task {task} handed to {unit}; feedback due {due}",
        "provisional": " (the calendar of that year is not published yet: the due time is provisional)",
        "fed_back": "feedback on task {task} recorded",
        "meeting": "{kind} {meeting} recorded ({n} incidents)",
        "meeting_task": "  task {task} handed to {unit}; feedback due {due}",
        "supervised": "supervision of {id} recorded",
        "no_incident": "no incident {id}",
        "no_file": "no such file: {path}",
        "not_text": "{path} is not a UTF-8 text file",
        "too_long": "{what} is {size:,} characters; at most {limit:,}",
        "no_bucket": "the evidence bucket wb-evidence does not exist yet: is the intake service running?",
        "no_evidence": "{id} keeps no evidence named {name}; it keeps: {names}",
        "none": "none",
        "exists": "{path} exists; give another file with -o",
        "saved": "{name} written to {path} (SHA-256 checked)",
        "refused": "refused to give out {name}: {why}",
        "progress": "uploading {name}: {done}/{total} ({pct:.0f}%)",
        "no_tasks": "no tasks match",
        "no_files": "{id} keeps no evidence files",
        "col.task": "task", "col.incident": "incident", "col.unit": "unit", "col.due": "feedback due",
        "col.status": "status", "col.text": "text", "col.name": "file", "col.size": "size", "col.type": "type",
        "col.digest": "SHA-256", "col.by": "kept by", "col.at": "at",
        "task.open": "awaiting feedback", "task.fed_back": "fed back", "task.late": "fed back late",
        "task.breached": "overdue", "task.cancelled": "cancelled",
        "today.none": "today ({day}) is not a working day: no supervision is owed",
        "today.all": "today ({day}) all {n} grade I/II incidents have been supervised",
        "today.owed": "today ({day}) {k} of {n} grade I/II incidents are not yet supervised:",
        "today.unknown": "supervision is not known yet: is the deadlines service running?",
        "need_id": "give an incident id, or --today for the incidents not yet supervised today",
        "bad_task": "--task {value!r} must be UNIT,DUE,TEXT (INCIDENT,UNIT,DUE,TEXT when the meeting concerns "
                    "several incidents)",
        "sec.statements": "Statements", "sec.evidence": "Evidence", "sec.tasks": "Tasks", "sec.meetings": "Meetings",
        "sec.supervisions": "Supervision",
        "statement.line": "version {version}  {state}  {who}  digest {digest}",
        "by": "{who} {at}",
    },
}


def w(key: str, lang: str, **fields: object) -> str:
    text = WORDS.get(lang, WORDS["en"]).get(key) or WORDS["en"][key]
    return text.format(**fields) if fields else text


def add_parsers(sub: Any, common: Any, client: Any, actor: dict[str, Any]) -> None:
    """The follow-through verbs (`cli.build_parser` calls this)."""
    def verb(parent: Any, name: str, text: str, *, json_flag: bool = True, with_actor: bool = True) -> Any:
        p = parent.add_parser(name, help=text)
        common(p)
        client(p, json_flag=json_flag)
        if with_actor:
            p.add_argument("--actor", **actor)
        return p

    st = sub.add_parser("statement", help="statements (通稿): draft, approve, reject, publish").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = verb(st, "draft", "submit a statement for approval (a changed text is a new version)")
    p.add_argument("id")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="the statement as a UTF-8 text file")
    src.add_argument("--text", help="the statement's text")
    p = verb(st, "approve", "approve the latest version (people with role approver or leader_group)")
    p.add_argument("id")
    p.add_argument("--note", default="")
    p.add_argument("--sha256", default=None, help="the digest of the version you read (default: the latest shown)")
    p = verb(st, "reject", "send the latest version back")
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    p = verb(st, "publish", "record that the approved statement went out (meets the statement clock)")
    p.add_argument("id")
    p.add_argument("--url", required=True)
    p.add_argument("--channel", required=True, help="where it went out: 官方微博, 政府网站 …")
    p.add_argument("--file", default=None, help="the text published, checked against the approved one")

    evd = sub.add_parser("evidence", help="evidence files (保存、固定证据): add, ls, get").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = verb(evd, "add", "keep files as evidence of an incident (never deleted)")
    p.add_argument("id")
    p.add_argument("files", nargs="+", metavar="FILE")
    p = verb(evd, "ls", "the evidence files of an incident", with_actor=False)
    p.add_argument("id")
    p = verb(evd, "get", "write an evidence file out, after checking its digest", json_flag=False, with_actor=False)
    p.add_argument("id")
    p.add_argument("name")
    p.add_argument("-o", "--output", default=None, help="where to write it (default ./NAME; - for stdout)")

    tk = sub.add_parser("task", help="tasks from leaders' instructions and meetings: add, feedback, ls") \
        .add_subparsers(dest="action", metavar="ACTION", required=True)
    p = verb(tk, "add", "hand a task to a unit with a due time")
    p.add_argument("id")
    p.add_argument("--unit", required=True, help="unit id (units.toml)")
    p.add_argument("--text", required=True)
    p.add_argument("--due", required=True, help="'2wd' (working days), '3wh', '4h', '1d', or a time")
    origin = p.add_mutually_exclusive_group()
    origin.add_argument("--from", dest="source", default="", help="whose instruction, e.g. 县委书记批示")
    origin.add_argument("--meeting", default="", help="the meeting (id) that decided it")
    p = verb(tk, "feedback", "record the unit's feedback (meets the task)")
    p.add_argument("task")
    p.add_argument("--text", required=True)
    p = verb(tk, "ls", "tasks of every incident", with_actor=False)
    p.add_argument("--open", action="store_true", help="only tasks awaiting feedback")
    p.add_argument("--unit", default=None)

    mt = sub.add_parser("meeting", help="meetings (会商、联席会议)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = verb(mt, "add", "record a meeting and the tasks it hands out")
    p.add_argument("--kind", required=True, choices=("会商", "联席会议", "会办"))
    p.add_argument("--incidents", required=True, help="ID,ID")
    p.add_argument("--attendees", default="", help="names, comma-separated")
    p.add_argument("--minutes", default=None, help="the minutes as a UTF-8 text file")
    p.add_argument("--at", default="", help="when it was held (default now)")
    p.add_argument("--task", action="append", default=[],
                   help="a task it hands out: UNIT,DUE,TEXT (or INCIDENT,UNIT,DUE,TEXT); repeatable")

    p = verb(sub, "supervise", "record a daily supervision (督办) of an incident, or list today's owed")
    p.add_argument("id", nargs="?")
    p.add_argument("--note", default="")
    p.add_argument("--today", action="store_true", help="the open I/II incidents not yet supervised today")


# --- running them ----------------------------------------------------------------------------


async def run(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Any) -> int:
    action = getattr(args, "action", None)
    if args.command == "statement":
        return await _statement(nc, subjects, args, out)
    if args.command == "evidence":
        if action == "add":
            if not await _incident_known(nc, args.id):
                return _fail(out, w("no_incident", out.lang, id=args.id), 1)
            return await add_files(nc, subjects, args.id, [Path(f) for f in args.files], args.actor, out,
                                   as_json=args.json)
        if action == "ls":
            return await _evidence_ls(nc, args, out)
        return await _evidence_get(nc, args, out)
    if args.command == "task":
        if action == "ls":
            return await _task_ls(nc, args, out)
        if action == "add":
            payload = {"incident_id": args.id, "unit": args.unit, "text": args.text, "due": args.due,
                       "source": args.source, "meeting_id": args.meeting, "actor": args.actor}
            return await _send(nc, subjects, "task_add", payload, args, out, lambda r: _task_line(r, out))
        payload = {"task_id": args.task, "text": args.text, "actor": args.actor}
        return await _send(nc, subjects, "task_feedback", payload, args, out,
                           lambda r: w("fed_back", out.lang, task=args.task))
    if args.command == "meeting":
        return await _meeting(nc, subjects, args, out)
    if args.today:
        return await _supervise_today(nc, args, out)
    if not args.id:
        return _fail(out, w("need_id", out.lang), 2)
    payload = {"incident_id": args.id, "note": args.note, "actor": args.actor}
    return await _send(nc, subjects, "supervise", payload, args, out, lambda r: w("supervised", out.lang, id=args.id))


async def _incident_known(nc: Any, incident: str) -> bool:
    """Is there such an incident? A monitor may keep evidence but not read the board: then
    intake says so when the upload begins."""
    from watchboard.bus.errors import NotPermitted

    try:
        view = await load_view(nc, incident)
    except NotPermitted:
        return True
    return view is not None and view.core is not None


def _fail(out: Any, message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


async def _send(nc: Any, subjects: Subjects, verb: str, payload: dict[str, Any], args: argparse.Namespace,
                out: Any, text: Any) -> int:
    from watchboard.cli_ops import _print_ok

    reply = await request(nc, subjects.command(verb), json.dumps(payload, ensure_ascii=False).encode())
    if not reply.get("ok"):
        return out.error(reply)
    return _print_ok(reply, args, out, text(reply) if not getattr(args, "json", False) else "")


def _read_text(path: str, out: Any, what: str, limit: int) -> str | int:
    """A UTF-8 text file's content, or an exit code after saying why not."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return _fail(out, w("no_file", out.lang, path=path), 2)
    except UnicodeDecodeError:
        return _fail(out, w("not_text", out.lang, path=path), 2)
    except OSError as exc:
        return _fail(out, out.t("cli.cannot_read", path=path, why=exc.strerror), 2)
    if len(text) > limit:
        return _fail(out, w("too_long", out.lang, what=what, size=len(text), limit=limit), 2)
    return text


# --- statements ------------------------------------------------------------------------------


async def _statement(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Any) -> int:
    action, incident = args.action, args.id

    def line(key: str) -> Any:
        return lambda r: w(key, out.lang, id=incident, version=r.get("version"), digest=str(r.get("sha256", ""))[:12],
                           channel=args.__dict__.get("channel"), url=args.__dict__.get("url"))

    if action == "draft":
        text = args.text if args.text is not None else _read_text(args.file, out, "--file", STATEMENT_MAX)
        if isinstance(text, int):
            return text
        if len(text) > STATEMENT_MAX:
            return _fail(out, w("too_long", out.lang, what="--text", size=len(text), limit=STATEMENT_MAX), 2)
        payload = {"incident_id": incident, "text": text, "actor": args.actor}
        return await _send(nc, subjects, "statement_draft", payload, args, out, line("drafted"))
    if action == "approve":
        digest = args.sha256 if args.sha256 is not None else await _latest_digest(nc, incident)
        payload = {"incident_id": incident, "sha256": digest, "note": args.note, "actor": args.actor}
        return await _send(nc, subjects, "statement_approve", payload, args, out, line("approved"))
    if action == "reject":
        payload = {"incident_id": incident, "reason": args.reason, "sha256": await _latest_digest(nc, incident),
                   "actor": args.actor}
        return await _send(nc, subjects, "statement_reject", payload, args, out, line("rejected"))
    digest = ""
    if args.file:
        text = _read_text(args.file, out, "--file", STATEMENT_MAX)
        if isinstance(text, int):
            return text
        digest = statement_digest(normalize(text))
    payload = {"incident_id": incident, "url": args.url, "channel": args.channel, "sha256": digest,
               "actor": args.actor}
    return await _send(nc, subjects, "statement_publish", payload, args, out, line("published"))


async def _latest_digest(nc: Any, incident: str) -> str:
    """The digest of the latest version as the KV shows it: what the person could have read."""
    view = await load_view(nc, incident)
    statements = view.core.statements if view is not None and view.core is not None else []
    return statements[-1].sha256 if statements else ""


# --- evidence --------------------------------------------------------------------------------


def split_evidence(values: list[str] | None) -> tuple[list[str], list[Path]]:
    """`submit --evidence`: (texts, existing files). A value naming an existing file is a file."""
    texts: list[str] = []
    files: list[Path] = []
    for value in values or []:
        path = Path(value).expanduser()
        if value.strip() and path.is_file():
            files.append(path)
        else:
            texts.append(value)
    return texts, files


def check_files(files: list[Path], limit: int, out: Any) -> int | None:
    """Refuse before sending anything: a missing file, or one over the size limit (named)."""
    for path in files:
        if not path.is_file():
            return _fail(out, w("no_file", out.lang, path=path), 2)
        size = path.stat().st_size
        if size > limit:
            out.refuse("invalid", "size", too_big_zh(path.name, size, limit) if out.lang == "zh"
                       else too_big(path.name, size, limit))
            return 2
    return None


def _evidence_limit(out: Any) -> int:
    from watchboard.config.intake import load_intake

    return load_intake(out.source).evidence.max_bytes


class _Bar:
    """A progress line on stderr for a large upload (only on a terminal)."""

    def __init__(self, name: str, total: int, lang: str) -> None:
        self.name, self.total, self.lang = name, total, lang
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        pct = 100 * done / self.total if self.total else 100
        print("\r" + w("progress", self.lang, name=self.name, done=human_size(done), total=human_size(self.total),
                       pct=pct), end="", file=sys.stderr, flush=True)


async def add_files(nc: Any, subjects: Subjects, incident: str, files: list[Path], actor: str, out: Any, *,
                    as_json: bool = False, to_stderr: bool = False) -> int:
    """Send each file to intake (which puts it in the bucket under its digest), then ask intake
    to record it. (`submit` says what it kept on stderr: its stdout is the incident id alone,
    for scripts.)"""
    from watchboard.evidence_store import EvidenceError, file_digest, transfer_timeout, upload_file

    refused = check_files(files, _evidence_limit(out), out)
    if refused is not None:
        return refused
    code = 0
    for path in files:
        sha256, size = file_digest(path)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        bar = _Bar(path.name, size, out.lang) if size >= PROGRESS_FROM and sys.stderr.isatty() else None
        try:
            uploaded = await upload_file(nc, subjects, incident, path, sha256, size, media_type, bar)
        except EvidenceError as exc:
            code = out.error(exc.reply())
            continue
        finally:
            if bar is not None:
                print("", file=sys.stderr)
        payload = {"incident_id": incident, "name": path.name, "sha256": sha256, "size": size,
                   "media_type": media_type, "object": sha256, "actor": actor}
        # intake reads the whole object back before it answers: allow for its size.
        reply = await request(nc, subjects.command("evidence_add"), json.dumps(payload, ensure_ascii=False).encode(),
                              timeout=transfer_timeout(size))
        if not reply.get("ok"):
            code = out.error(reply)
            continue
        if as_json:
            print(json.dumps(reply, ensure_ascii=False), file=sys.stderr if to_stderr else sys.stdout)
            continue
        print(w("kept", out.lang, name=path.name, size=human_size(size), digest=sha256[:12])
              + ("" if uploaded else w("already_stored", out.lang)), file=sys.stderr if to_stderr else sys.stdout)
    return code


async def _evidence_ls(nc: Any, args: argparse.Namespace, out: Any) -> int:
    from watchboard.domain.present import follow_through_json

    view = await load_view(nc, args.id)
    if view is None or view.core is None:
        return _fail(out, w("no_incident", out.lang, id=args.id), 1)
    files = follow_through_json(view, out.zone)["evidence"]
    if args.json:
        print(json.dumps(files, ensure_ascii=False, indent=2))
        return 0
    if not files:
        print(w("no_files", out.lang, id=args.id))
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for key in ("col.name", "col.size", "col.type", "col.digest", "col.by", "col.at"):
        table.add_column(w(key, out.lang), no_wrap=True)
    now = datetime.now(out.zone)
    for f in files:
        table.add_row(Text(clean_line(f["name"], 80)), human_size(f["size"]), f["media_type"], f["sha256"][:16],
                      Text(clean_line(f["added_by"], 30)), _when(f["added_at"], out.zone, now))
    Console(width=max(Console().width, 120)).print(table)
    return 0


async def _evidence_get(nc: Any, args: argparse.Namespace, out: Any) -> int:
    from watchboard.bus.errors import NoResponders
    from watchboard.evidence_store import EvidenceError, fetch_verified

    view = await load_view(nc, args.id)
    if view is None or view.core is None:
        return _fail(out, w("no_incident", out.lang, id=args.id), 1)
    kept = next((f for f in view.core.evidence_files if f.name == args.name), None)
    if kept is None:
        names = "、".join(f.name for f in view.core.evidence_files) if out.lang == "zh" else \
            ", ".join(f.name for f in view.core.evidence_files)
        return _fail(out, w("no_evidence", out.lang, id=args.id, name=args.name, names=names or w("none", out.lang)), 1)
    to_stdout = args.output == "-"
    target = Path(args.output or kept.name)
    if not to_stdout and _exists(target):
        return _fail(out, w("exists", out.lang, path=target), 2)
    fd, tmp = _temporary(target, to_stdout)
    try:
        with os.fdopen(fd, "wb") as f:
            await fetch_verified(nc, kept.object, kept.sha256, kept.size, f)
    except NoResponders:
        _discard(tmp)
        return _fail(out, w("no_bucket", out.lang), 3)
    except EvidenceError as exc:
        _discard(tmp)
        why = exc.message_zh if out.lang == "zh" else exc.message
        out.refuse(exc.code, "sha256", w("refused", out.lang, name=kept.name, why=why))
        return 1
    except BaseException:
        _discard(tmp)
        raise
    _deliver(tmp, None if to_stdout else target)
    if not to_stdout:
        print(w("saved", out.lang, name=kept.name, path=target), file=sys.stderr)
    return 0


def _exists(path: Path) -> bool:
    return path.exists()


def _temporary(target: Path, to_stdout: bool) -> tuple[int, Path]:
    """A file beside the target (so the final rename is atomic), or in the temp folder."""
    folder = Path(tempfile.gettempdir()) if to_stdout else (target.parent if str(target.parent) else Path("."))
    fd, name = tempfile.mkstemp(prefix=".wb-evidence-", dir=folder)
    return fd, Path(name)


def _discard(tmp: Path) -> None:
    tmp.unlink(missing_ok=True)


def _deliver(tmp: Path, target: Path | None) -> None:
    """The checked file to its place, or to stdout (target None)."""
    if target is not None:
        os.replace(tmp, target)
        return
    with tmp.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    tmp.unlink(missing_ok=True)


# --- tasks and meetings -----------------------------------------------------------------------


def _task_line(reply: dict[str, Any], out: Any) -> str:
    units = _units(out)
    due = datetime.fromisoformat(reply["due_at"]) if reply.get("due_at") else None
    text = w("task_added", out.lang, unit=units.get(reply.get("unit", ""), reply.get("unit", "")),
             task=reply.get("task_id", "?"), due=local(due, out.zone, year=True))
    return text + (w("provisional", out.lang) if reply.get("provisional") else "")


def _units(out: Any) -> dict[str, str]:
    from watchboard.cli_ops import _unit_names

    return _unit_names(out)


def parse_task(value: str, incidents: list[str]) -> dict[str, str] | None:
    """`UNIT,DUE,TEXT`, or `INCIDENT,UNIT,DUE,TEXT` when the first item is one of the meeting's
    incidents (a text may hold commas; a Chinese comma is never a separator)."""
    first, sep, rest = value.partition(",")
    incident = ""
    if sep and first.strip() in incidents and (len(incidents) > 1 or rest.count(",") >= 2):
        incident, value = first.strip(), rest
    parts = [p.strip() for p in value.split(",", 2)]
    if len(parts) != 3 or not all(parts):
        return None
    return {"incident_id": incident, "unit": parts[0], "due": parts[1], "text": parts[2]}


async def _meeting(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Any) -> int:
    incidents = [i.strip() for i in args.incidents.replace("，", ",").split(",") if i.strip()]
    attendees = [a.strip() for a in args.attendees.replace("，", ",").replace("、", ",").split(",") if a.strip()]
    minutes = ""
    if args.minutes:
        text = _read_text(args.minutes, out, "--minutes", MINUTES_MAX)
        if isinstance(text, int):
            return text
        minutes = text
    tasks = []
    for value in args.task:
        task = parse_task(value, incidents)
        if task is None:
            return _fail(out, w("bad_task", out.lang, value=value), 2)
        if len(task["text"]) > TEXT_MAX:
            return _fail(out, w("too_long", out.lang, what="--task", size=len(task["text"]), limit=TEXT_MAX), 2)
        tasks.append(task)
    payload = {"kind": args.kind, "incidents": incidents, "attendees": attendees, "minutes": minutes,
               "held_at": args.at, "tasks": tasks, "actor": args.actor}

    def text(reply: dict[str, Any]) -> str:
        units = _units(out)
        lines = [w("meeting", out.lang, kind=meeting_kind(args.kind, out.lang), meeting=reply.get("meeting_id", "?"),
                   n=len(incidents))]
        for task in reply.get("tasks", []):
            due = datetime.fromisoformat(task["due_at"])
            lines.append(w("meeting_task", out.lang, unit=units.get(task["unit"], task["unit"]), task=task["task_id"],
                           due=local(due, out.zone, year=True)))
        return "\n".join(lines)

    return await _send(nc, subjects, "meeting_add", payload, args, out, text)


async def task_rows(nc: Any, out: Any) -> list[dict[str, Any]]:
    """Every task of every incident, with its clock, soonest due first."""
    rows = []
    for view in (await load_views(nc)).values():
        if view.core is None:
            continue
        clocks = {c.name: c for c in view.clocks.tasks} if view.clocks else {}
        slips = list(view.clocks.slips) if view.clocks else []
        for task in view.core.tasks:
            name = f"task:{task.id}"
            rows.append(task_json(task, clocks.get(name), [s for s in slips if s.clock == name], out.zone, view.id))
    return sorted(rows, key=lambda r: r["due_at"] or "")


def task_status(row: dict[str, Any], lang: str) -> str:
    if row["status"] == "fed_back":
        return w("task.late" if row.get("late") else "task.fed_back", lang)
    if row.get("clock") in ("breached", "cancelled"):
        return w(f"task.{row['clock']}", lang)
    return w("task.open", lang)


async def _task_ls(nc: Any, args: argparse.Namespace, out: Any) -> int:
    rows = await task_rows(nc, out)
    if args.open:
        rows = [r for r in rows if r["status"] == "open" and r.get("clock") != "cancelled"]
    if args.unit:
        rows = [r for r in rows if r["unit"] == args.unit]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(w("no_tasks", out.lang))
        return 0
    units = _units(out)
    now = datetime.now(out.zone)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for key in ("col.task", "col.incident", "col.unit", "col.due", "col.status"):
        table.add_column(w(key, out.lang), no_wrap=True)
    table.add_column(w("col.text", out.lang), no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    for r in rows:
        slips = f" ×{r['slips']}" if r.get("slips") else ""
        table.add_row(r["id"], r["incident_id"], Text(clean_line(units.get(r["unit"], r["unit"]), 30)),
                      _when(r["due_at"], out.zone, now), task_status(r, out.lang) + slips,
                      Text(clean_line(r["text"], 200)))
    Console(width=max(Console().width, 120)).print(table)
    return 0


# --- supervision -----------------------------------------------------------------------------


async def _supervise_today(nc: Any, args: argparse.Namespace, out: Any) -> int:
    from watchboard.bus.reader import board_exists, kv_get

    # By direct get, like the board: a person's account has no JetStream API.
    value = await kv_get(nc, SUPERVISION_KEY) if await board_exists(nc) else None
    day = decode_supervision(value) if value else None
    if day is None:
        return _fail(out, w("today.unknown", out.lang), 1)
    if args.json:
        print(json.dumps({"day": day.day.isoformat(), "working_day": day.working_day, "due": day.due,
                          "unsupervised": day.unsupervised}, ensure_ascii=False, indent=2))
        return 0
    if not day.working_day:
        print(w("today.none", out.lang, day=day.day.isoformat()))
        return 0
    if not day.unsupervised:
        print(w("today.all", out.lang, day=day.day.isoformat(), n=len(day.due)))
        return 0
    print(w("today.owed", out.lang, day=day.day.isoformat(), k=len(day.unsupervised), n=len(day.due)))
    views = await load_views(nc)
    for incident in day.unsupervised:
        view = views.get(incident)
        title = view.core.title if view is not None and view.core is not None else ""
        grade = view.grade.grade if view is not None and view.grade is not None else "-"
        print(f"  {grade:3} {incident}  {clean_line(title, 80)}")
    return 0


# --- `show` ----------------------------------------------------------------------------------


def _when(iso: str | None, zone: ZoneInfo, now: datetime) -> str:
    return local(datetime.fromisoformat(iso), zone, now) if iso else "-"


def show_lines(data: dict[str, Any], lang: str, zone: ZoneInfo, units: dict[str, str]) -> list[tuple[str, bool]]:
    """The follow-through sections of `watchboard show` as (line, is_heading)."""
    now = datetime.now(zone)
    lines: list[tuple[str, bool]] = []
    if data.get("statements"):
        lines.append((w("sec.statements", lang), True))
        for s in data["statements"]:
            who = s["approved_by"] or s["drafted_by"]
            lines.append(("  " + w("statement.line", lang, version=s["version"],
                                   state=statement_state(s["state"], lang), who=clean_line(who or "", 30),
                                   digest=s["sha256"][:12]), False))
            if s.get("url"):
                lines.append((f"    {clean_line(s['channel'], 40)}  {clean_line(s['url'], 120)}", False))
            elif s.get("rejected_reason"):
                lines.append((f"    {clean_line(s['rejected_reason'], 160)}", False))
    if data.get("evidence"):
        lines.append((w("sec.evidence", lang), True))
        for f in data["evidence"]:
            lines.append((f"  {clean_line(f['name'], 60)}  {human_size(f['size'])}  {f['sha256'][:16]}  "
                          f"{w('by', lang, who=clean_line(f['added_by'], 30), at=_when(f['added_at'], zone, now))}",
                          False))
    if data.get("tasks"):
        lines.append((w("sec.tasks", lang), True))
        for r in data["tasks"]:
            lines.append((f"  {r['id']}  {clean_line(units.get(r['unit'], r['unit']), 30)}  "
                          f"{_when(r['due_at'], zone, now)}  {task_status(r, lang)}  {clean_line(r['text'], 120)}",
                          False))
    if data.get("meetings"):
        lines.append((w("sec.meetings", lang), True))
        for m in data["meetings"]:
            sep = "、" if lang == "zh" else ", "
            lines.append((f"  {_when(m['held_at'], zone, now)}  {meeting_kind(m['kind'], lang)}  "
                          f"{clean_line(sep.join(m['attendees']), 120)}", False))
    if data.get("supervisions"):
        lines.append((w("sec.supervisions", lang), True))
        for n in data["supervisions"][-5:]:
            lines.append((f"  {_when(n['at'], zone, now)}  {clean_line(n['actor'], 20)}  {clean_line(n['note'], 160)}",
                          False))
    return lines
