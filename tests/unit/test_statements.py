"""Statements (通稿): who may approve, versions and digests, when publishing is refused, and the
record's fold of the statement events. Pure; table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchboard.config.people import PeopleConfig, Person
from watchboard.domain import incident
from watchboard.domain.commands import (
    Ctx,
    StatementApprove,
    StatementDraft,
    StatementPublish,
    StatementReject,
)
from watchboard.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from watchboard.domain.events import Event, IncidentClosed, IncidentReported, Mention
from watchboard.domain.statements import (
    ApprovalPolicy,
    decide_approve,
    decide_draft,
    decide_publish,
    decide_reject,
    normalize,
    statement_digest,
)
from watchboard.domain.views import CoreView

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
ID = "INC"
PEOPLE = PeopleConfig(people=(
    Person(id="p-chen", name="陈主任", roles=("approver",)),
    Person(id="g-leaders", name="舆情工作领导小组", roles=("leader_group",)),
    Person(id="p-li", name="李值班", roles=("duty_officer",)),
    Person(id="p-office", name="办公室", roles=("office", "liaison")),
))
POLICY = ApprovalPolicy(PEOPLE)
TEXT_1 = "关于网传某中学食堂使用过期食材的情况通报\n经核查……"
TEXT_2 = "关于网传某中学食堂使用过期食材的情况通报（修改稿）\n经核查……"


def ctx(minutes: int = 0, request: str = "R") -> Ctx:
    return Ctx(now=T0 + timedelta(minutes=minutes), request_id=f"{request}{minutes}")


def record() -> CoreView:
    core = incident.apply(None, IncidentReported(id="E0", incident_id=ID, at=T0, actor="m", title="食堂过期食材",
                                                 mention=Mention(platform="weibo")))
    assert core is not None
    return core


def then(core: CoreView, *events: Event) -> CoreView:
    out = incident.fold(events, core)
    assert out is not None
    return out


def draft(core: CoreView, text: str = TEXT_1, minutes: int = 1) -> CoreView:
    return then(core, decide_draft(core, StatementDraft(incident_id=ID, text=text, actor="李值班"), ctx(minutes)))


def approve(core: CoreView, actor: str = "陈主任", minutes: int = 2, sha256: str = "") -> CoreView:
    cmd = StatementApprove(incident_id=ID, actor=actor, sha256=sha256)
    return then(core, decide_approve(core, cmd, ctx(minutes), POLICY))


def reject(core: CoreView, minutes: int = 2) -> CoreView:
    cmd = StatementReject(incident_id=ID, actor="陈主任", reason="口径不准确")
    return then(core, decide_reject(core, cmd, ctx(minutes), POLICY))


def publish_cmd(url: str = "https://weibo.com/gov/1", sha256: str = "") -> StatementPublish:
    return StatementPublish(incident_id=ID, actor="李值班", url=url, channel="官方微博", sha256=sha256)


def publish(core: CoreView, url: str = "https://weibo.com/gov/1", minutes: int = 3) -> CoreView:
    return then(core, decide_publish(core, publish_cmd(url), ctx(minutes)))


# --- who may approve ------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "allowed", "role"), [
    ("p-chen", True, "approver"),          # by id
    ("陈主任", True, "approver"),            # by name
    ("g-leaders", True, "leader_group"),   # the leadership group, by default
    ("舆情工作领导小组", True, "leader_group"),
    ("p-li", False, None),                 # a duty officer drafts and publishes, never approves
    ("办公室", False, None),
    ("王五", False, None),                   # not a person of notify.toml
    ("", False, None),
])
def test_who_may_approve(actor: str, allowed: bool, role: str | None) -> None:
    """A person whose role is approver or leader_group approves; anyone else is forbidden, told who may."""
    core = draft(record())
    cmd = StatementApprove(incident_id=ID, actor=actor)
    if allowed:
        event = decide_approve(core, cmd, ctx(2), POLICY)
        assert (event.version, event.sha256, event.role) == (1, statement_digest(TEXT_1), role)
        return
    with pytest.raises(Forbidden) as info:
        decide_approve(core, cmd, ctx(2), POLICY)
    assert info.value.field == "actor"
    assert "陈主任 (p-chen)" in info.value.message and "approver or leader_group" in info.value.message


def test_the_roles_that_approve_are_configurable() -> None:
    """intake.toml `statements.approver_roles`: with only `approver`, the leadership group may not."""
    policy = ApprovalPolicy(PEOPLE, ("approver",))
    core = draft(record())
    with pytest.raises(Forbidden):
        decide_approve(core, StatementApprove(incident_id=ID, actor="g-leaders"), ctx(2), policy)
    assert decide_approve(core, StatementApprove(incident_id=ID, actor="p-chen"), ctx(2), policy).person == "p-chen"


def test_rejecting_needs_the_same_role_and_a_reason() -> None:
    core = draft(record())
    with pytest.raises(Forbidden):
        decide_reject(core, StatementReject(incident_id=ID, actor="p-li", reason="x"), ctx(2), POLICY)
    with pytest.raises(Invalid) as info:
        decide_reject(core, StatementReject(incident_id=ID, actor="p-chen", reason=" "), ctx(2), POLICY)
    assert info.value.field == "reason"


# --- versions and digests ---------------------------------------------------------------------


def test_a_changed_text_is_a_new_version_and_the_same_text_is_refused() -> None:
    """Version 1, then 2 with its own digest; drafting the latest version's text again changes nothing."""
    core = draft(record())
    assert [(s.version, s.state, s.sha256) for s in core.statements] == [(1, "drafted", statement_digest(TEXT_1))]
    with pytest.raises(Conflict) as info:
        decide_draft(core, StatementDraft(incident_id=ID, text=TEXT_1 + "\r\n", actor="li"), ctx(2))
    assert info.value.field == "text"
    core = draft(core, TEXT_2, minutes=3)
    assert [(s.version, s.state) for s in core.statements] == [(1, "drafted"), (2, "drafted")]
    assert core.statements[0].text == "" and core.statements[1].text == normalize(TEXT_2)  # only the latest keeps it


@pytest.mark.parametrize(("a", "b", "same"), [
    ("通稿\r\n第二行", "通稿\n第二行", True),
    ("  通稿\n", "通稿", True),
    ("通稿。", "通稿", False),
])
def test_digest_of_the_normalized_text(a: str, b: str, same: bool) -> None:
    """Line ends and outer spaces do not change a statement; a character does."""
    assert (statement_digest(a) == statement_digest(b)) is same
    assert len(statement_digest(a)) == 64


def test_approving_what_was_read() -> None:
    """The approver names the digest read: a draft changed since is refused, not approved unseen."""
    core = draft(record())
    stale = core.statements[-1].sha256
    core = draft(core, TEXT_2, minutes=2)
    with pytest.raises(Conflict) as info:
        approve(core, sha256=stale, minutes=3)
    assert info.value.field == "sha256" and "changed since it was read" in info.value.message
    assert approve(core, sha256=core.statements[-1].sha256, minutes=3).statements[-1].state == "approved"


@pytest.mark.parametrize(("steps", "error", "field"), [
    ((), Conflict, "incident_id"),                 # nothing drafted
    (("approve",), Conflict, "incident_id"),        # approved twice
    (("reject",), Conflict, "incident_id"),         # a rejected version needs a new draft
    (("approve", "publish"), Conflict, "incident_id"),
])
def test_approve_refusals(steps: tuple[str, ...], error: type[DomainError], field: str) -> None:
    core = draft(record()) if steps else record()
    for n, step in enumerate(steps):
        core = {"approve": approve, "reject": reject, "publish": publish}[step](core, minutes=10 + n)  # type: ignore[operator]
    with pytest.raises(error) as info:
        approve(core, minutes=30)
    assert info.value.field == field


# --- publishing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "field", "words"), [
    ((), "statement", "has no statement"),
    (("draft",), "statement", "version 1 is not approved"),
    (("draft", "reject"), "statement", "version 1 was rejected (口径不准确)"),
    (("draft", "approve", "draft2"), "statement", "changed since its approval: version 2"),
    (("draft", "approve", "publish", "draft2"), "statement", "changed since its approval"),
    (("draft", "approve", "reject"), "statement", "was rejected"),
])
def test_publishing_without_approval_is_forbidden(steps: tuple[str, ...], field: str, words: str) -> None:
    """No statement, an unapproved or rejected latest version, or a draft changed since an
    approval: `forbidden`, saying why."""
    core = record()
    for n, step in enumerate(steps):
        if step == "draft":
            core = draft(core, minutes=n)
        elif step == "draft2":
            core = draft(core, TEXT_2, minutes=n)
        elif step == "approve":
            core = approve(core, minutes=n)
        elif step == "reject":
            core = reject(core, minutes=n)
        else:
            core = publish(core, minutes=n)
    with pytest.raises(Forbidden) as info:
        decide_publish(core, publish_cmd("https://gov.cn/2"), ctx(30))
    assert info.value.field == field and words in info.value.message


def test_publishing_a_text_other_than_the_approved_one_is_forbidden() -> None:
    """Given the digest of what is actually published, it must be the approved version's."""
    core = approve(draft(record()))
    with pytest.raises(Forbidden) as info:
        decide_publish(core, publish_cmd(sha256=statement_digest(TEXT_2)), ctx(5))
    assert info.value.field == "sha256"
    event = decide_publish(core, publish_cmd(sha256=statement_digest(TEXT_1 + "\n")), ctx(5))
    assert (event.version, event.sha256, event.url, event.channel) == (
        1, statement_digest(TEXT_1), "https://weibo.com/gov/1", "官方微博")


def test_an_approved_version_goes_out_on_several_channels_once_each() -> None:
    core = publish(approve(draft(record())))
    assert core.statements[-1].state == "published" and core.statements[-1].url == "https://weibo.com/gov/1"
    core = publish(core, "https://www.gov.cn/notice/1", minutes=5)
    assert [h.action for h in core.statements[-1].history] == ["drafted", "approved", "published", "published"]
    with pytest.raises(Conflict) as info:
        decide_publish(core, publish_cmd("https://www.gov.cn/notice/1"), ctx(6))
    assert info.value.field == "url"


@pytest.mark.parametrize(("url", "channel", "field"), [
    ("weibo.com/gov/1", "官方微博", "url"),
    ("https://weibo.com/gov/1", " ", "channel"),
])
def test_publish_needs_a_link_and_a_channel(url: str, channel: str, field: str) -> None:
    core = approve(draft(record()))
    with pytest.raises(Invalid) as info:
        decide_publish(core, StatementPublish(incident_id=ID, actor="li", url=url, channel=channel), ctx(5))
    assert info.value.field == field


@pytest.mark.parametrize("decide", ["draft", "approve", "publish"])
def test_statements_of_a_closed_or_missing_incident(decide: str) -> None:
    """A closed incident's statements no longer change; a missing incident is not found."""
    core = approve(draft(record()))
    closed = then(core, IncidentClosed(id="C", incident_id=ID, at=T0 + timedelta(hours=1), actor="li", summary="结"))
    calls = {
        "draft": lambda c: decide_draft(c, StatementDraft(incident_id=ID, text=TEXT_2, actor="li"), ctx(70)),
        "approve": lambda c: decide_approve(c, StatementApprove(incident_id=ID, actor="p-chen"), ctx(70), POLICY),
        "publish": lambda c: decide_publish(c, publish_cmd(), ctx(70)),
    }
    with pytest.raises(Conflict):
        calls[decide](closed)
    with pytest.raises(NotFound):
        calls[decide](None)


def test_the_record_keeps_the_history_and_the_published_text() -> None:
    """Each version's steps with actor and time; a published version keeps its text when a new one is drafted."""
    core = publish(approve(draft(record())))
    core = draft(core, TEXT_2, minutes=10)
    first, second = core.statements
    assert first.text == normalize(TEXT_1) and second.text == normalize(TEXT_2)
    assert [(h.action, h.actor) for h in first.history] == [("drafted", "李值班"), ("approved", "陈主任"),
                                                             ("published", "李值班")]
    assert first.approved_by == "陈主任" and first.published_at == T0 + timedelta(minutes=3)
