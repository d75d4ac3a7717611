"""grading's pure step: (state, event) → (new state, effect events). No I/O.

The service feeds intake's events through `step` and the operator commands through
`command_*`; both return the events to publish and the new state to store. Effect ids
derive from the cause (`effect_id`), so a redelivered event re-publishes identical
effects that JetStream and every consumer drop.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from watchboard.board.i18n import named
from watchboard.config.grading import GradingConfig
from watchboard.config.units import UnitsConfig
from watchboard.domain import events as ev
from watchboard.domain.commands import Assign, Ctx, Flag, Regrade, Release, Unflag
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.grading import (
    CurrentGrade,
    Decision,
    Features,
    apply_grade,
    decide,
    evaluate,
    fold_features,
    regrade,
    release,
)
from watchboard.domain.owners import (
    CurrentOwner,
    OwnerDecision,
    apply_owner,
    assign,
    decide_owner,
    route_owner,
    unit_name,
)
from watchboard.domain.views import GradeView


class IncidentState(msgspec.Struct, kw_only=True):
    """What grading keeps per incident (in SQLite, and in memory while running)."""

    id: str
    features: Features | None = None
    grade: CurrentGrade | None = None
    owner: CurrentOwner | None = None
    owner_reason: str = ""
    owner_reason_en: str = ""
    closed: bool = False
    updated_at: datetime | None = None
    flags: list[str] = msgspec.field(default_factory=list)  # rumour | illegal, in the order set




def _graded(cause: str, incident: str, at: datetime, d: Decision, tag: str = "graded") -> ev.IncidentGraded:
    return ev.IncidentGraded(id=ev.effect_id(cause, tag), incident_id=incident, at=at, actor=d.actor,
                             causation_id=cause, grade=d.grade, previous=d.previous,  # type: ignore[arg-type]
                             reasons=list(d.reasons), source=d.source, sentiment=d.sentiment, pinned=d.pinned,
                             reasons_en=list(d.reasons_en))


def _assigned(cause: str, incident: str, at: datetime, d: OwnerDecision) -> ev.IncidentAssigned:
    return ev.IncidentAssigned(id=ev.effect_id(cause, "assigned"), incident_id=incident, at=at, actor=d.actor,
                               causation_id=cause, owner=d.owner, previous=d.previous, reason=d.reason,
                               source=d.source, assisting=list(d.assisting), reason_en=d.reason_en)


def step(state: IncidentState | None, event: ev.Event, grading: GradingConfig, units: UnitsConfig,
         now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
    """Apply one of intake's events. Returns (new state or None if untouched, effects)."""
    match event:
        case ev.IncidentReported(mention=mention) | ev.MentionAdded(mention=mention):
            if isinstance(event, ev.IncidentReported):
                mention = msgspec.structs.replace(mention, title=mention.title or event.title)
            st = state or IncidentState(id=event.incident_id)
            features = fold_features(st.features, mention, mention.observed_at or event.at)
            new = msgspec.structs.replace(st, features=features, updated_at=now)
            effects: list[ev.Event] = []
            # The owner goes out before the grade: a reader of `incident.graded` (notify's
            # "grade II, owned by …") then already knows who is in charge.
            routing = route_owner(features, units)
            owner_decision = decide_owner(st.owner, routing)
            if owner_decision is not None:
                effects.append(_assigned(event.id, event.incident_id, now, owner_decision))
                new.owner = apply_owner(owner_decision)
                new.owner_reason, new.owner_reason_en = owner_decision.reason, owner_decision.reason_en
            decision = decide(st.grade, evaluate(features, grading))
            if decision is not None:
                effects.append(_graded(event.id, event.incident_id, now, decision))
                new.grade = apply_grade(decision)
            return new, effects
        case ev.IncidentClosed():
            if state is None:
                return None, []
            return msgspec.structs.replace(state, closed=True, updated_at=now), []
    return None, []


# --- rebuilt from the stream (recovery/rebuild.py) ---------------------------------------------


def learn(state: IncidentState | None, event: ev.Event) -> IncidentState | None:
    """What one of intake's events told grading, without deciding anything: the features of
    its mentions, and whether it is closed. (The decisions come from grading's own events.)"""
    match event:
        case ev.IncidentReported(mention=mention) | ev.MentionAdded(mention=mention):
            if isinstance(event, ev.IncidentReported):
                mention = msgspec.structs.replace(mention, title=mention.title or event.title)
            st = state or IncidentState(id=event.incident_id)
            features = fold_features(st.features, mention, mention.observed_at or event.at)
            return msgspec.structs.replace(st, features=features, updated_at=event.at)
        case ev.IncidentClosed():
            return msgspec.structs.replace(state, closed=True, updated_at=event.at) if state is not None else None
    return None


def restore(state: IncidentState | None, event: ev.Event) -> IncidentState | None:
    """What grading decided, from one of its own events: grade, owner, flags as recorded."""
    st = state or IncidentState(id=event.incident_id)
    replace = msgspec.structs.replace
    match event:
        case ev.IncidentGraded():
            grade = CurrentGrade(grade=event.grade, source=event.source, pinned=event.pinned,
                                 sentiment=event.sentiment, reasons=list(event.reasons),
                                 reasons_en=list(event.reasons_en))
            return replace(st, grade=grade, updated_at=event.at)
        case ev.IncidentAssigned():
            owner = CurrentOwner(owner=event.owner, source=event.source, assisting=list(event.assisting))
            return replace(st, owner=owner, owner_reason=event.reason, owner_reason_en=event.reason_en,
                           updated_at=event.at)
        case ev.IncidentFlagged():
            flags = st.flags if event.kind in st.flags else [*st.flags, event.kind]
            return replace(st, flags=flags, updated_at=event.at)
        case ev.IncidentUnflagged():
            return replace(st, flags=[f for f in st.flags if f != event.kind], updated_at=event.at)
    return None


def _require(state: IncidentState | None, incident_id: str) -> IncidentState:
    if state is None:
        raise NotFound("incident_id", f"no incident {incident_id!r}", zh=f"未找到舆情 {incident_id!r}")
    return state


def command_regrade(state: IncidentState | None, cmd: Regrade, ctx: Ctx,
                    grading: GradingConfig) -> tuple[IncidentState, list[ev.Event]]:
    incident_id, grade, reason, actor, request_id, now = cmd.incident_id, cmd.grade, cmd.reason, cmd.actor, \
        ctx.request_id, ctx.now
    st = _require(state, incident_id)
    if not reason.strip():
        raise Invalid("reason", "a regrade needs a reason (the assessment behind it)", zh="调整级别须写明理由（研判意见）")
    decision = regrade(st.grade, grade, reason, actor, grading)
    if decision is None:
        raise Conflict("grade", f"the incident already has grade {grade} set by a person",
                       zh=f"该舆情已由人工定为 {grade} 级")
    new = msgspec.structs.replace(st, grade=apply_grade(decision), updated_at=now)
    return new, [_graded(request_id, incident_id, now, decision)]


def command_release(state: IncidentState | None, cmd: Release, ctx: Ctx,
                    grading: GradingConfig) -> tuple[IncidentState, list[ev.Event]]:
    incident_id, actor, request_id, now = cmd.incident_id, cmd.actor, ctx.request_id, ctx.now
    st = _require(state, incident_id)
    if st.features is None:
        raise Conflict("incident_id", "no mentions graded yet", zh="该舆情尚无已定级的信息")
    decision = release(st.grade, evaluate(st.features, grading), actor)
    if decision is None:
        raise Conflict("grade", "the grade is not set by a person: nothing to release",
                       zh="该舆情的级别并非人工所定，无需解除")
    new = msgspec.structs.replace(st, grade=apply_grade(decision), updated_at=now)
    return new, [_graded(request_id, incident_id, now, decision)]


def command_assign(state: IncidentState | None, cmd: Assign, ctx: Ctx,
                   units: UnitsConfig) -> tuple[IncidentState, list[ev.Event]]:
    incident_id, owner, reason, actor, request_id, now = cmd.incident_id, cmd.owner, cmd.reason, cmd.actor, \
        ctx.request_id, ctx.now
    assisting = list(cmd.assisting)
    st = _require(state, incident_id)
    if not reason.strip():
        raise Invalid("reason", "an assignment needs a reason", zh="分派须写明理由")
    decision = assign(st.owner, owner, actor, reason, units, assisting)
    if decision is None:
        current = st.owner.owner if st.owner else owner
        raise Conflict("owner", f"the incident is already assigned to {owner}",
                       zh=f"该舆情已分派给{unit_name(current, units, 'zh')}")
    new = msgspec.structs.replace(st, owner=apply_owner(decision), owner_reason=decision.reason,
                                  owner_reason_en=decision.reason_en, updated_at=now)
    return new, [_assigned(request_id, incident_id, now, decision)]


# A person's judgement that an incident is a rumour (谣言) or illegal content: the plans refer
# it to the police (seed 004 第六篇 具体方法 5 "对诽谤、造谣等涉嫌违法违规信息,报请公安机关依法处置";
# seeds 000, 003). Grading only keeps the flag; notify routes flagged incidents.
FLAG_KINDS: tuple[str, ...] = ("rumour", "illegal")
FLAG_REASON_MAX = 2_000
ACTOR_MAX = 100  # as intake bounds the actor of its commands


def _flag_input(kind: str, reason: str, actor: str, verb: str, verb_zh: str) -> tuple[str, str, str]:
    """The checked (kind, reason, actor) of a flag or unflag; `Invalid` names the field.
    `verb`/`verb_zh` say what the reason is for, in English and Chinese."""
    if kind not in FLAG_KINDS:
        raise Invalid("kind", f"{kind[:40]!r} is not a flag; one of {', '.join(FLAG_KINDS)}",
                      zh=f"{kind[:40]!r} 不是有效标记；可选：{_kinds_zh()}")
    reason = reason.strip()
    if not reason:
        raise Invalid("reason", f"a reason is required: why {verb} (the police referral cites it)",
                      zh=f"须写明{verb_zh}的理由（移送公安机关时引用）")
    if len(reason) > FLAG_REASON_MAX:
        raise Invalid("reason", f"reason is {len(reason):,} characters; at most {FLAG_REASON_MAX:,}",
                      zh=f"理由共 {len(reason):,} 个字符，超过上限 {FLAG_REASON_MAX:,} 个字符")
    actor = actor.strip()
    if not actor:
        raise Invalid("actor", "actor is empty; say who does this (--actor NAME)",
                      zh="未填写操作人：请用 `--actor 姓名` 注明由谁办理")
    if len(actor) > ACTOR_MAX:
        raise Invalid("actor", f"actor is {len(actor)} characters; at most {ACTOR_MAX}",
                      zh=f"操作人共 {len(actor)} 个字符，超过上限 {ACTOR_MAX} 个字符")
    return kind, reason, actor


def _kinds_zh() -> str:
    return "、".join(f"{named('flag', k, 'zh')}（`{k}`）" for k in FLAG_KINDS)


def command_flag(state: IncidentState | None, cmd: Flag, ctx: Ctx) -> tuple[IncidentState, list[ev.Event]]:
    """Mark the incident a rumour or illegal content (`incident.flagged`, with the actor)."""
    incident_id, kind, reason, actor, request_id, now = cmd.incident_id, cmd.kind, cmd.reason, cmd.actor, \
        ctx.request_id, ctx.now
    st = _require(state, incident_id)
    kind, reason, actor = _flag_input(kind, reason, actor, f"it is flagged {kind}",
                                      f"标记为{named('flag', kind, 'zh')}")
    if kind in st.flags:
        raise Conflict("kind", f"the incident is already flagged {kind}",
                       zh=f"该舆情已标记为{named('flag', kind, 'zh')}")
    event = ev.IncidentFlagged(id=ev.effect_id(request_id, "flagged"), incident_id=incident_id, at=now, actor=actor,
                               causation_id=request_id, kind=kind, reason=reason)
    return msgspec.structs.replace(st, flags=[*st.flags, kind], updated_at=now), [event]


def command_unflag(state: IncidentState | None, cmd: Unflag, ctx: Ctx) -> tuple[IncidentState, list[ev.Event]]:
    """Take a flag off (`incident.unflagged`, with the actor): it was not a rumour after all."""
    incident_id, kind, reason, actor, request_id, now = cmd.incident_id, cmd.kind, cmd.reason, cmd.actor, \
        ctx.request_id, ctx.now
    st = _require(state, incident_id)
    kind, reason, actor = _flag_input(kind, reason, actor, f"the {kind} flag comes off",
                                      f"取消{named('flag', kind, 'zh')}标记")
    if kind not in st.flags:
        flags_zh = "、".join(named("flag", f, "zh") for f in st.flags) or "无"
        raise Conflict("kind", f"the incident is not flagged {kind}; flags: {', '.join(st.flags) or 'none'}",
                       zh=f"该舆情未标记为{named('flag', kind, 'zh')}；现有标记：{flags_zh}")
    event = ev.IncidentUnflagged(id=ev.effect_id(request_id, "unflagged"), incident_id=incident_id, at=now,
                                 actor=actor, causation_id=request_id, kind=kind, reason=reason)
    return msgspec.structs.replace(st, flags=[f for f in st.flags if f != kind], updated_at=now), [event]


def view_of(state: IncidentState, units: UnitsConfig | None = None,
            labels: dict[str, dict[str, str]] | None = None) -> GradeView | None:
    """`<id>.grade`; `labels` are the profile's grade names (`grade_labels`), so a board without
    the config shows the profile's grades."""
    if state.grade is None:
        return None
    owner = state.owner.owner if state.owner else None
    names = {"owner_name": unit_name(owner, units, "zh"), "owner_name_en": unit_name(owner, units, "en")} \
        if owner and units is not None else {}
    return GradeView(grade=state.grade.grade, reasons=list(state.grade.reasons), source=state.grade.source,
                     pinned=state.grade.pinned, sentiment=state.grade.sentiment,
                     owner=state.owner.owner if state.owner else None, owner_reason=state.owner_reason,
                     owner_reason_en=state.owner_reason_en,
                     assisting=list(state.owner.assisting) if state.owner else [], updated_at=state.updated_at,
                     flags=list(state.flags), reasons_en=list(state.grade.reasons_en),
                     grade_labels=dict(labels or {}), **names)
