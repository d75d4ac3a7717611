"""Statements (通稿) that need approval: who may approve, and the deciders of draft, approve,
reject and publish. Pure: the record (`CoreView.statements`) comes in, one event goes out.

The plans' rule is "no release without approval": 000 第五步 (通稿经…同意后), 002 三.6 (the
head reviews and signs), 003 三(四) (审定再统一发布). Here:

- a draft is a **version** with the SHA-256 of its text (`statement_digest`); a changed text
  is a new version, and drafting the text the latest version already has is a conflict;
- only people whose role allows it approve or reject (`ApprovalPolicy`: the roles of
  intake.toml `statements.approver_roles`, by default `approver` and `leader_group`, held by
  a person of notify.toml's `[[people]]` whose id or name is the actor); anyone else is
  `forbidden`, told who may;
- an approval names the digest it approves; given the digest the approver read, a draft
  changed since is refused rather than approved unseen;
- only the latest version, approved, may be published: no statement, an unapproved or a
  rejected latest version, a draft changed since an earlier version's approval, or a
  published text whose digest is not the approved one — each is `forbidden` and says why.
  An approved version may be published on several channels (each once per URL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from watchboard.config.people import PeopleConfig, Person
from watchboard.domain.commands import (
    Ctx,
    StatementApprove,
    StatementDraft,
    StatementPublish,
    StatementReject,
)
from watchboard.domain.errors import Conflict, Forbidden, Invalid, NotFound
from watchboard.domain.events import (
    StatementApproved,
    StatementDrafted,
    StatementPublished,
    StatementRejected,
)
from watchboard.domain.views import CoreView, StatementView

DEFAULT_APPROVER_ROLES: tuple[str, ...] = ("approver", "leader_group")
HEX = frozenset("0123456789abcdef")
# How the Chinese refusals name a version's state and the two judgements.
_STATE_ZH = {"drafted": "待审核", "approved": "已审核同意", "rejected": "已退回", "published": "已发布"}
_VERB_ZH = {"approve": "审核同意", "reject": "退回"}


def normalize(text: str) -> str:
    """The text as stored and digested: Windows line ends folded, outer blank space dropped
    (a file saved on another machine is the same statement)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def statement_digest(text: str) -> str:
    """SHA-256 (hex) of the normalized text, UTF-8: what an approval names."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def check_digest(field: str, value: str) -> str:
    value = value.strip().lower()
    if value and (len(value) != 64 or not set(value) <= HEX):
        raise Invalid(field, f"`{field}` must be a SHA-256 in hex (64 characters 0-9a-f)",
                      zh=f"`{field}` 须为十六进制 SHA-256 摘要（64 位，0-9 与 a-f）")
    return value


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who may approve: people (notify.toml) holding one of `roles`."""

    people: PeopleConfig
    roles: tuple[str, ...] = DEFAULT_APPROVER_ROLES

    def approver(self, actor: str) -> tuple[Person, str] | None:
        """(the person, the role that allows it) for `actor`, matched by id, else by name."""
        person = self.people.find(actor)
        if person is None:
            return None
        role = next((r for r in self.roles if r in person.roles), None)
        return (person, role) if role is not None else None

    def refusal(self, actor: str, what: str) -> Forbidden:
        allowed = [p for p in self.people.people if any(r in p.roles for r in self.roles)]
        names = ", ".join(f"{p.name} ({p.id})" for p in allowed[:10]) or "nobody yet"
        names_zh = "、".join(f"{p.name}（`{p.id}`）" for p in allowed[:10]) or "尚无人员"
        person = self.people.find(actor)
        who = (f"{actor!r} ({person.id}, roles {', '.join(person.roles) or 'none'})" if person is not None
               else f"{actor!r} is not a person of notify.toml and")
        roles_zh = "、".join(f"`{r}`" for r in person.roles) if person is not None else ""
        who_zh = (f"{actor!r}（`{person.id}`，角色：{roles_zh or '无'}）" if person is not None
                  else f"{actor!r} 不在 notify.toml 的人员名单中，")
        return Forbidden("actor", f"{who} may not {what} statements: only people with the role "
                         f"{' or '.join(self.roles)} in notify.toml may ({names})",
                         zh=f"{who_zh}无权{_VERB_ZH.get(what, what)}通稿：只有 notify.toml 中角色为 "
                            f"{' 或 '.join(f'`{r}`' for r in self.roles)} 的人员可以办理（{names_zh}）")


def _require(core: CoreView | None) -> CoreView:
    if core is None:
        raise NotFound("incident_id", "no such incident; check the id (`watchboard ls`)",
                       zh="未找到该舆情，请核对编号（可用 `watchboard ls` 查看）")
    return core


def _open(core: CoreView) -> None:
    if core.stage == "closed":
        raise Conflict("incident_id", f"incident {core.id} is closed; its statements no longer change",
                       zh=f"舆情 {core.id} 已结案，通稿不再变更")


def _latest(core: CoreView) -> StatementView | None:
    return core.statements[-1] if core.statements else None


def _short(digest: str) -> str:
    return digest[:12] + "…"


def decide_draft(core: CoreView | None, cmd: StatementDraft, ctx: Ctx) -> StatementDrafted:
    core = _require(core)
    _open(core)
    text = normalize(cmd.text)
    if not text:
        raise Invalid("text", "the statement is empty: give its text (--text \"…\" or --file F)",
                      zh="通稿内容为空：请用 `--text \"…\"` 或 `--file 文件` 提供正文")
    digest = statement_digest(text)
    latest = _latest(core)
    if latest is not None and latest.sha256 == digest and latest.state != "rejected":
        raise Conflict("text", f"version {latest.version} already has this text ({latest.state}); "
                       "nothing changed",
                       zh=f"第 {latest.version} 稿已是这一内容（{_STATE_ZH.get(latest.state, latest.state)}），无需重复提交")
    return StatementDrafted(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                            causation_id=ctx.request_id, version=(latest.version + 1) if latest else 1,
                            text=text, sha256=digest)


def _to_judge(core: CoreView, sha256: str, verb: str) -> StatementView:
    """The latest version, which an approval or rejection is about, checked against the digest
    the person read."""
    latest = _latest(core)
    if latest is None:
        raise Conflict("incident_id", f"incident {core.id} has no statement to {verb}: draft one first "
                       f"(watchboard statement draft {core.id} --file F)",
                       zh=f"舆情 {core.id} 尚无可{_VERB_ZH.get(verb, verb)}的通稿：请先起草"
                          f"（`watchboard statement draft {core.id} --file 文件`）")
    if sha256 and sha256 != latest.sha256:
        raise Conflict("sha256", f"the statement changed since it was read: version {latest.version} has "
                       f"digest {_short(latest.sha256)}, not {_short(sha256)}; read it again "
                       f"(watchboard show {core.id}) before you {verb} it",
                       zh=f"通稿在您阅看后已有改动：第 {latest.version} 稿摘要为 {_short(latest.sha256)}，"
                          f"不是 {_short(sha256)}；请重新阅看（`watchboard show {core.id}`）后再"
                          f"{_VERB_ZH.get(verb, verb)}")
    return latest


def decide_approve(core: CoreView | None, cmd: StatementApprove, ctx: Ctx,
                   policy: ApprovalPolicy) -> StatementApproved:
    core = _require(core)
    who = policy.approver(cmd.actor.strip())
    if who is None:
        raise policy.refusal(cmd.actor.strip(), "approve")
    _open(core)
    latest = _to_judge(core, check_digest("sha256", cmd.sha256), "approve")
    if latest.state != "drafted":
        by = f" by {latest.approved_by}" if latest.state == "approved" and latest.approved_by else ""
        after = {"approved": "", "rejected": ": draft a new version",
                 "published": ": draft a new version for any change"}[latest.state]
        by_zh = f"（审核人：{latest.approved_by}）" if by else ""
        after_zh = {"approved": "", "rejected": "：请起草新稿",
                    "published": "：如需修改请起草新稿"}[latest.state]
        raise Conflict("incident_id", f"version {latest.version} is already {latest.state}{by}{after}",
                       zh=f"第 {latest.version} 稿{_STATE_ZH[latest.state]}{by_zh}{after_zh}")
    person, role = who
    return StatementApproved(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                             causation_id=ctx.request_id, version=latest.version, sha256=latest.sha256,
                             note=cmd.note.strip(), person=person.id, role=role)


def decide_reject(core: CoreView | None, cmd: StatementReject, ctx: Ctx,
                  policy: ApprovalPolicy) -> StatementRejected:
    """Send the latest version back (also an approved one not yet published: a leader may
    change their mind before it goes out)."""
    core = _require(core)
    who = policy.approver(cmd.actor.strip())
    if who is None:
        raise policy.refusal(cmd.actor.strip(), "reject")
    _open(core)
    if not cmd.reason.strip():
        raise Invalid("reason", "say why the statement is sent back (--reason \"…\")",
                      zh="请说明退回理由（`--reason \"…\"`）")
    latest = _to_judge(core, check_digest("sha256", cmd.sha256), "reject")
    if latest.state not in ("drafted", "approved"):
        raise Conflict("incident_id", f"version {latest.version} is already {latest.state}",
                       zh=f"第 {latest.version} 稿{_STATE_ZH.get(latest.state, latest.state)}")
    person, role = who
    return StatementRejected(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                             causation_id=ctx.request_id, version=latest.version, sha256=latest.sha256,
                             reason=cmd.reason.strip(), person=person.id, role=role)


def _approved_before(statements: Iterable[StatementView]) -> StatementView | None:
    return next((s for s in reversed(list(statements)) if s.state in ("approved", "published")), None)


def decide_publish(core: CoreView | None, cmd: StatementPublish, ctx: Ctx) -> StatementPublished:
    core = _require(core)
    _open(core)
    url, channel = cmd.url.strip(), cmd.channel.strip()
    if not url.startswith(("http://", "https://")):
        raise Invalid("url", "give the address where the statement is published (--url https://…)",
                      zh="请给出通稿发布的网址（`--url https://…`）")
    if not channel:
        raise Invalid("channel", "say where it went out (--channel NAME: the official Weibo account, the government website …)",
                      zh="请说明发布渠道（`--channel` 官方微博、政府网站等）")
    sha256 = check_digest("sha256", cmd.sha256)
    latest = _latest(core)
    if latest is None:
        raise Forbidden("statement", f"incident {core.id} has no statement: draft one "
                        f"(watchboard statement draft {core.id} --file F) and have it approved before publishing",
                        zh=f"舆情 {core.id} 尚无通稿：请先起草（`watchboard statement draft {core.id} --file 文件`），"
                           "经审核同意后方可发布")
    if latest.state == "rejected":
        raise Forbidden("statement", f"version {latest.version} was rejected ({latest.rejected_reason}): "
                        "draft a new version and have it approved before publishing",
                        zh=f"第 {latest.version} 稿已被退回（{latest.rejected_reason}）：请起草新稿，经审核同意后方可发布")
    if latest.state == "drafted":
        earlier = _approved_before(core.statements[:-1])
        if earlier is not None:
            raise Forbidden("statement", f"the statement changed since its approval: version {latest.version} "
                            f"(digest {_short(latest.sha256)}) is not version {earlier.version} approved by "
                            f"{earlier.approved_by} (digest {_short(earlier.sha256)}); have version "
                            f"{latest.version} approved before publishing",
                            zh=f"通稿在审核同意后又有改动：第 {latest.version} 稿（摘要 {_short(latest.sha256)}）"
                               f"不是 {earlier.approved_by} 审核同意的第 {earlier.version} 稿（摘要 "
                               f"{_short(earlier.sha256)}）；第 {latest.version} 稿须经审核同意后方可发布")
        raise Forbidden("statement", f"version {latest.version} is not approved: only an approved statement "
                        f"may be published (an approver runs: watchboard statement approve {core.id})",
                        zh=f"第 {latest.version} 稿尚未审核同意：只有审核同意的通稿方可发布"
                           f"（由审核人运行 `watchboard statement approve {core.id}`）")
    if sha256 and sha256 != latest.sha256:
        raise Forbidden("sha256", f"the text being published (digest {_short(sha256)}) is not the approved "
                        f"version {latest.version} (digest {_short(latest.sha256)}): publish exactly the "
                        "approved text, or draft the change and have it approved",
                        zh=f"拟发布的文本（摘要 {_short(sha256)}）不是审核同意的第 {latest.version} 稿"
                           f"（摘要 {_short(latest.sha256)}）：请原文发布审核同意的文本，或将改动起草为新稿并经审核同意")
    if any(step.action == "published" and step.url == url for step in latest.history):
        raise Conflict("url", f"version {latest.version} is already recorded as published at {url}",
                       zh=f"第 {latest.version} 稿已登记在 {url} 发布")
    return StatementPublished(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                              causation_id=ctx.request_id, version=latest.version, sha256=latest.sha256,
                              url=url, channel=channel)
