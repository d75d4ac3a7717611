"""The operator commands: the body of each `wb.cmd.<verb>` request, as frozen msgspec Structs.

These Structs are the documented contract (docs/architecture.md lists them, and a test keeps
that page equal to them). An endpoint decodes a request with the typed decoder of its
command (`decode_command`); what msgspec refuses — a missing or mistyped field, an unknown
field, a text over its limit — becomes `Invalid` naming the field, so a decider only ever
sees a well-formed command. Limits (issue "Nothing lost, nothing stuck": every input is
bounded) are part of the type: `actor` 100 characters, reasons and notes 2,000.

A command's `actor` is who asked; the service records it on the events it decides. With roles
on it is the person the NATS server authenticated: the endpoint writes that name over whatever
the body said before decoding (`watchboard.bus.trust`), so a decider never sees a claimed name.

To add a command: one Struct here (with `verb`), one pure decider `(state, command, ctx) →
(state, events)` beside the service's other rules, and one line of wiring in its service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar, TypeVar

import msgspec

from watchboard.domain.errors import Invalid

ACTOR_MAX = 100
TEXT_MAX = 2_000  # notes, reasons
SUMMARY_MAX = 5_000  # a closing summary
ID_MAX = 100
STATEMENT_MAX = 10_000  # a statement's text (通稿); the plans' are a page or two
MINUTES_MAX = 20_000  # a meeting's minutes
URL_MAX = 2_000
NAME_MAX = 255  # a file's name, as file systems allow

Actor = Annotated[str, msgspec.Meta(max_length=ACTOR_MAX)]
IncidentId = Annotated[str, msgspec.Meta(max_length=ID_MAX)]
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]
Word = Annotated[str, msgspec.Meta(max_length=40)]  # a grade, stage, clock, unit id, flag kind
Digest = Annotated[str, msgspec.Meta(max_length=64)]  # a SHA-256 in hex ("" where optional)


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every command names who asks. Unknown fields are refused: a typo must show."""

    verb: ClassVar[str] = ""
    service: ClassVar[str] = ""  # the service that answers it (one writer per fact)
    actor: Actor


class IncidentCommand(Command, frozen=True, kw_only=True):
    incident_id: IncidentId


# --- intake --------------------------------------------------------------------------------


class Stage(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "stage"
    service: ClassVar[str] = "intake"
    stage: Word
    note: Text = ""


class Note(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "note"
    service: ClassVar[str] = "intake"
    text: Text


class Close(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "close"
    service: ClassVar[str] = "intake"
    summary: Annotated[str, msgspec.Meta(max_length=SUMMARY_MAX)] = ""


# --- intake: follow-through (statements, evidence, tasks, meetings, supervision) -------------


class StatementDraft(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "statement_draft"
    service: ClassVar[str] = "intake"
    text: Annotated[str, msgspec.Meta(max_length=STATEMENT_MAX)]


class StatementApprove(IncidentCommand, frozen=True, kw_only=True):
    """`sha256`, when given, is the digest of the text the approver read: a draft changed
    since is refused rather than approved unseen."""

    verb: ClassVar[str] = "statement_approve"
    service: ClassVar[str] = "intake"
    sha256: Digest = ""
    note: Text = ""


class StatementReject(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "statement_reject"
    service: ClassVar[str] = "intake"
    reason: Text
    sha256: Digest = ""


class StatementPublish(IncidentCommand, frozen=True, kw_only=True):
    """`sha256`, when given, is the digest of the text actually published: it must be the
    approved one."""

    verb: ClassVar[str] = "statement_publish"
    service: ClassVar[str] = "intake"
    url: Annotated[str, msgspec.Meta(max_length=URL_MAX)]
    channel: Annotated[str, msgspec.Meta(max_length=100)]
    sha256: Digest = ""


class EvidenceAdd(IncidentCommand, frozen=True, kw_only=True):
    """A file already put in the evidence bucket under `object`; intake reads it back and
    records it only if its digest and size are these."""

    verb: ClassVar[str] = "evidence_add"
    service: ClassVar[str] = "intake"
    name: Annotated[str, msgspec.Meta(max_length=NAME_MAX)]
    sha256: Digest
    size: Annotated[int, msgspec.Meta(ge=0)]
    media_type: Annotated[str, msgspec.Meta(max_length=100)] = "application/octet-stream"
    object: Annotated[str, msgspec.Meta(max_length=NAME_MAX)] = ""  # default: the digest


class TaskAdd(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "task_add"
    service: ClassVar[str] = "intake"
    unit: Word
    text: Text
    due: Annotated[str, msgspec.Meta(max_length=60)]  # "2wd", "4h", or a time with an offset
    source: Annotated[str, msgspec.Meta(max_length=200)] = ""  # e.g. "县委书记批示"
    meeting_id: IncidentId = ""


class TaskFeedback(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "task_feedback"
    service: ClassVar[str] = "intake"
    task_id: IncidentId
    text: Text


class MeetingTask(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A task a meeting hands out; `incident_id` may be left out when the meeting concerns one."""

    unit: Word
    text: Text
    due: Annotated[str, msgspec.Meta(max_length=60)]
    incident_id: IncidentId = ""


class MeetingAdd(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "meeting_add"
    service: ClassVar[str] = "intake"
    kind: Word  # 会商 | 联席会议
    incidents: Annotated[list[IncidentId], msgspec.Meta(max_length=20)]
    attendees: Annotated[list[Actor], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    minutes: Annotated[str, msgspec.Meta(max_length=MINUTES_MAX)] = ""
    held_at: Annotated[str, msgspec.Meta(max_length=60)] = ""  # ISO 8601 with an offset; "" = now
    tasks: Annotated[list[MeetingTask], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


class Supervise(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "supervise"
    service: ClassVar[str] = "intake"
    note: Text


# --- grading -------------------------------------------------------------------------------


class Regrade(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "regrade"
    service: ClassVar[str] = "grading"
    grade: Word
    reason: Text = ""


class Release(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "release"
    service: ClassVar[str] = "grading"
    reason: Text = ""


class Assign(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "assign"
    service: ClassVar[str] = "grading"
    owner: Word
    reason: Text = ""
    assisting: Annotated[list[Word], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


class Flag(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "flag"
    service: ClassVar[str] = "grading"
    kind: Word
    reason: Text = ""


class Unflag(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "unflag"
    service: ClassVar[str] = "grading"
    kind: Word
    reason: Text = ""


# --- deadlines -----------------------------------------------------------------------------


class Done(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "done"
    service: ClassVar[str] = "deadlines"
    clock: Word
    note: Text = ""


class Extend(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "extend"
    service: ClassVar[str] = "deadlines"
    clock: Word
    due_at: Annotated[str, msgspec.Meta(max_length=60)] = ""  # ISO 8601 with an offset
    reason: Text = ""


class Sweep(Command, frozen=True, kw_only=True):
    verb: ClassVar[str] = "sweep"
    service: ClassVar[str] = "deadlines"
    note: Text = ""


# --- notify --------------------------------------------------------------------------------


class Ack(IncidentCommand, frozen=True, kw_only=True):
    verb: ClassVar[str] = "ack"
    service: ClassVar[str] = "notify"
    via: Word = "cli"


COMMANDS: tuple[type[Command], ...] = (Stage, Note, Close, StatementDraft, StatementApprove, StatementReject,
                                       StatementPublish, EvidenceAdd, TaskAdd, TaskFeedback, MeetingAdd, Supervise,
                                       Regrade, Release, Assign, Flag, Unflag, Done, Extend, Sweep, Ack)
BY_VERB: dict[str, type[Command]] = {c.verb: c for c in COMMANDS}


@dataclass(frozen=True)
class Ctx:
    """What a decider gets besides the state and the command: when, and the request's id."""

    now: datetime
    request_id: str


# --- decoding ------------------------------------------------------------------------------

C = TypeVar("C", bound=Command)
_decoders: dict[type, msgspec.json.Decoder] = {}
_WHERE = re.compile(r" - at `\$\.?([^`]*)`$")
_TYPE_WORDS = {"str": "a string", "int": "a whole number", "bool": "true or false", "array": "a list",
               "object": "an object", "null": "null", "float": "a number"}
_TYPE_WORDS_ZH = {"str": "文本", "int": "整数", "bool": "布尔值（`true` 或 `false`）", "array": "列表",
                  "object": "对象", "null": "空值 `null`", "float": "数字"}


def decode_command(type_: type[C], raw: bytes) -> C:
    """The request body as `type_`, or `Invalid` naming the field (never a Python type name)."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None
    except msgspec.DecodeError as exc:
        detail = str(exc).removeprefix("JSON is malformed: ")
        raise Invalid("body", f"the body is not a JSON object: {detail[:1].lower() + detail[1:]}",
                      zh=f"请求内容不是合法的 JSON 对象{_where_zh(detail)}") from None


def _where_zh(detail: str) -> str:
    """msgspec's "… (byte 12)" as a Chinese aside; '' when it names no byte."""
    m = re.search(r"\(byte (\d+)\)", detail)
    return f"（第 {m.group(1)} 字节处有误）" if m else ""


def _invalid(exc: msgspec.ValidationError) -> Invalid:
    text = str(exc)
    m = _WHERE.search(text)
    field = m.group(1).replace("[", ".").rstrip("]").replace("].", ".") if m else ""
    problem = text[: m.start()] if m else text
    if (missing := re.fullmatch(r"Object missing required field `(.+)`", problem)):
        name = f"{field}.{missing.group(1)}" if field else missing.group(1)
        return Invalid(name, f"`{name}` is required", zh=f"缺少必填字段 `{name}`")
    if (unknown := re.fullmatch(r"Object contains unknown field `(.+)`", problem)):
        name = unknown.group(1)[:40]
        return Invalid(name, f"unknown field `{name}`", zh=f"无法识别的字段 `{name}`")
    if (length := re.fullmatch(r"Expected `(?:str|array)` of length <= (\d+)", problem)):
        return Invalid(field, f"`{field}` is too long: at most {int(length.group(1)):,} "
                       f"{'items' if 'array' in problem else 'characters'}",
                       zh=f"`{field}` 过长：最多 {int(length.group(1)):,} "
                          f"{'项' if 'array' in problem else '个字符'}")
    if (kind := re.fullmatch(r"Expected `(.+?)`, got `(.+?)`", problem)):
        got, got_zh = _TYPE_WORDS.get(kind.group(2), kind.group(2)), _TYPE_WORDS_ZH.get(kind.group(2), kind.group(2))
        if not field:
            return Invalid("body", f"the body must be a JSON object, got {got}",
                           zh=f"请求内容须为 JSON 对象，收到的是{got_zh}")
        want = _TYPE_WORDS.get(kind.group(1), kind.group(1))
        want_zh = _TYPE_WORDS_ZH.get(kind.group(1), kind.group(1))
        return Invalid(field, f"`{field}` must be {want}, got {got}",
                       zh=f"`{field}` 须为{want_zh}，收到的是{got_zh}")
    # What msgspec says otherwise (a rare constraint) has no Chinese wording of its own: the
    # Chinese names the field; the English keeps msgspec's detail.
    return Invalid(field or "body", problem[:1].lower() + problem[1:200],
                   zh=f"`{field or 'body'}` 的值不符合要求")
