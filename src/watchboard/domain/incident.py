"""The incident record intake owns: a pure fold of intake's events, and the command deciders.

State is `CoreView` (the `<id>.core` value of the KV bucket). The projector `fold` applies
events one by one through the mutator `apply`; each command is a module-level `decide_*`
function that takes the current state and returns the one event to emit, or raises a
`DomainError` (`NotFound`, `Invalid`, `Conflict`). Nothing here reads the clock or makes
ids: `now` and `event_id` come from the caller.

What the view keeps (the stream keeps everything):
- `mentions`: the latest `MAX_MENTIONS_IN_VIEW`, in arrival order; `mention_count` counts all;
- `platforms`: distinct, in the order first seen;
- `notes`: the latest `MAX_NOTES_IN_VIEW` (from `incident.noted`, and the note given with a
  stage change);
- `evidence`: distinct items in the order first seen, the first `MAX_EVIDENCE_IN_VIEW` — the
  earliest evidence (the original post) matters most;
- `summary`, `region`, `topic`, `unit_hint`: from the first report; a later mention fills
  them in only while they are empty;
- statements, evidence files, tasks, meetings and supervisions: `domain/followthrough.py`.

Stages (`reported → assessing → handling → following → subsided → closed`, DOMAIN.md §1):
a person may move an open incident to any other open stage except back to `reported`
(which only marks "not yet looked at"). Moving back is allowed because incidents flare up
again: a subsided item returns to `handling`, a new fact sends it back to `assessing`
(研判). `closed` is reached only through `decide_close` (it records the closing summary);
a closed incident changes stage no more, and closing it twice is a conflict; closing needs a
summary (what was done and how it ended: the review reads it). Notes are accepted on a closed
incident: the review after closing (总结评估) writes them (intake's reply then warns that the
incident is closed, `watchboard.domain.hints`).

Redelivery: `apply` is not idempotent for mentions and notes (it would count one twice);
the service records processed event ids before folding. A second `incident.reported` for
an existing view is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from watchboard.board.i18n import named
from watchboard.domain import followthrough
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import (
    Event,
    IncidentClosed,
    IncidentReported,
    Mention,
    MentionAdded,
    NoteAdded,
    StageChanged,
)
from watchboard.domain.merge import MergeDecision
from watchboard.domain.report import STAGES, Metrics, Report
from watchboard.domain.views import (
    MAX_MENTIONS_IN_VIEW,
    MAX_NOTES_IN_VIEW,
    CoreView,
    MentionView,
    NoteView,
)

MAX_EVIDENCE_IN_VIEW = 100
NOTE_MAX = 2_000
CLOSE_SUMMARY_MAX = 5_000
ACTOR_MAX = 100
INTAKE_ACTOR = "intake"

# Stages a person may set with `decide_stage` (closed only via `decide_close`).
SETTABLE_STAGES: tuple[str, ...] = tuple(s for s in STAGES if s not in ("reported", "closed"))


# --- from a report to an event -----------------------------------------------------------


def mention_from_report(report: Report) -> Mention:
    """The facts of one sighting: the report without its routing fields (incident_id)."""
    return Mention(
        platform=report.platform, title=report.title, summary=report.summary, url=report.url,
        region=report.region, unit_hint=report.unit_hint, topic=report.topic,
        observed_at=report.observed_at,
        metrics=Metrics(reposts=report.metrics.reposts, comments=report.metrics.comments,
                        likes=report.metrics.likes, views=report.metrics.views),
        media_level=report.media_level, sentiment=report.sentiment,
        cross_region=report.cross_region, emergency=report.emergency,
        stability_risk=report.stability_risk, reporter=report.reporter,
        evidence=list(report.evidence), posted_at=report.posted_at,
    )


def decide_report(
    report: Report,
    decision: MergeDecision,
    *,
    now: datetime,
    event_id: str,
    new_incident_id: str,
    causation_id: str | None = None,
) -> IncidentReported | MentionAdded:
    """A new incident (`new_incident_id`) or a mention of the incident the merge chose."""
    actor = report.reporter or INTAKE_ACTOR
    mention = mention_from_report(report)
    if decision.incident_id is None:
        return IncidentReported(id=event_id, incident_id=new_incident_id, at=now, actor=actor,
                                causation_id=causation_id, title=report.title, mention=mention)
    return MentionAdded(id=event_id, incident_id=decision.incident_id, at=now, actor=actor,
                        causation_id=causation_id, mention=mention,
                        merged_by=decision.merged_by or "incident_id")


# --- the fold ----------------------------------------------------------------------------


def _mention_view(m: Mention) -> MentionView:
    return MentionView(platform=m.platform, url=m.url, observed_at=m.observed_at,
                       metrics=m.metrics, title=m.title, media_level=m.media_level, posted_at=m.posted_at)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _add_evidence(current: list[str], new: Iterable[str]) -> list[str]:
    if len(current) >= MAX_EVIDENCE_IN_VIEW:
        return current
    out = list(current)
    seen = set(out)
    for item in new:
        if item not in seen:
            out.append(item)
            seen.add(item)
            if len(out) >= MAX_EVIDENCE_IN_VIEW:
                break
    return out


def _add_note(notes: list[NoteView], note: NoteView) -> list[NoteView]:
    return [*notes, note][-MAX_NOTES_IN_VIEW:]


def start(event: IncidentReported) -> CoreView:
    """The view of a just-reported incident."""
    m = event.mention
    return CoreView(
        id=event.incident_id, title=event.title, summary=m.summary, stage="reported",
        reported_at=event.at, region=m.region, topic=m.topic, unit_hint=m.unit_hint,
        platforms=[m.platform], mention_count=1, mentions=[_mention_view(m)],
        evidence=_add_evidence([], m.evidence), updated_at=event.at,
        posted_at=m.posted_at, observed_at=m.observed_at,
    )


def apply(core: CoreView | None, event: Event) -> CoreView | None:
    """The view after `event` (a new value; `core` is not changed).

    Events of other services are ignored; an intake event before `incident.reported` leaves
    the view absent (None); an event of another incident is a caller's bug (ValueError).
    """
    if core is not None and event.incident_id != core.id:
        raise ValueError(f"event {event.id} is for incident {event.incident_id}, not {core.id}")
    replace = msgspec.structs.replace
    match event:
        case IncidentReported():
            return start(event) if core is None else core
        case _ if core is None:
            return None
        case MentionAdded(mention=m):
            platforms = core.platforms if m.platform in core.platforms else [*core.platforms, m.platform]
            return replace(
                core, platforms=platforms, mention_count=core.mention_count + 1,
                mentions=[*core.mentions, _mention_view(m)][-MAX_MENTIONS_IN_VIEW:],
                evidence=_add_evidence(core.evidence, m.evidence),
                summary=core.summary or m.summary, region=core.region or m.region,
                topic=core.topic or m.topic, unit_hint=core.unit_hint or m.unit_hint,
                updated_at=event.at, posted_at=_earliest(core.posted_at, m.posted_at),
                observed_at=_earliest(core.observed_at, m.observed_at),
            )
        case StageChanged(stage=stage, note=note):
            notes = _add_note(core.notes, NoteView(at=event.at, actor=event.actor, text=note)) if note else core.notes
            return replace(core, stage=stage, notes=notes, updated_at=event.at)
        case NoteAdded(text=text):
            return replace(core, notes=_add_note(core.notes, NoteView(at=event.at, actor=event.actor, text=text)),
                           updated_at=event.at)
        case IncidentClosed(summary=summary):
            return replace(core, stage="closed", closed_at=event.at, close_summary=summary, updated_at=event.at)
        case _ if isinstance(event, followthrough.FOLLOW_THROUGH):
            return followthrough.apply(core, event)
        case _:
            return core


def fold(events: Iterable[Event], core: CoreView | None = None) -> CoreView | None:
    """Replay `events` (oldest first) onto `core`."""
    for event in events:
        core = apply(core, event)
    return core


# --- command deciders --------------------------------------------------------------------


def _require(core: CoreView | None) -> CoreView:
    if core is None:
        raise NotFound("incident_id", "no such incident; check the id (`watchboard ls`)",
                       zh="未找到该舆情，请核对编号（可用 `watchboard ls` 查看）")
    return core


def _actor(actor: str) -> str:
    actor = actor.strip()
    if not actor:
        raise Invalid("actor", "actor is empty; say who does this (--actor NAME)",
                      zh="未填写操作人：请用 `--actor 姓名` 注明由谁办理")
    if len(actor) > ACTOR_MAX:
        raise Invalid("actor", f"actor is {len(actor)} characters; at most {ACTOR_MAX}",
                      zh=f"操作人共 {len(actor)} 个字符，超过上限 {ACTOR_MAX} 个字符")
    return actor


def _bounded(field: str, text: str, limit: int, name_zh: str, *, required: bool = False) -> str:
    """`text` stripped and within `limit`; `name_zh` is how the Chinese refusal names the field."""
    text = text.strip()
    if required and not text:
        raise Invalid(field, f"{field} is empty", zh=f"{name_zh}不能为空")
    if len(text) > limit:
        raise Invalid(field, f"{field} is {len(text):,} characters; at most {limit:,}",
                      zh=f"{name_zh}共 {len(text):,} 个字符，超过上限 {limit:,} 个字符")
    return text


def _stages_zh(stages: Iterable[str]) -> str:
    return "、".join(f"{named('stage', s, 'zh')}（`{s}`）" for s in stages)


def decide_stage(
    core: CoreView | None,
    stage: str,
    note: str,
    actor: str,
    now: datetime,
    event_id: str,
    *,
    causation_id: str | None = None,
) -> StageChanged:
    """Move an open incident to another open stage (see the module docstring for the rules)."""
    core = _require(core)
    actor = _actor(actor)
    if stage not in STAGES:
        raise Invalid("stage", f"unknown stage {stage[:40]!r}; one of: {', '.join(SETTABLE_STAGES)}",
                      zh=f"没有 {stage[:40]!r} 这一阶段；可选：{_stages_zh(SETTABLE_STAGES)}")
    if stage == "closed":
        raise Invalid("stage", "an incident is closed with `close` (it records the closing summary), "
                      "not by setting its stage",
                      zh="结案须用 `close` 办理（同时记录结案总结），不能直接改阶段")
    if stage == "reported":
        raise Invalid("stage", f"an incident cannot go back to 'reported'; one of: {', '.join(SETTABLE_STAGES)}",
                      zh=f"舆情不能退回“已接报”阶段；可选：{_stages_zh(SETTABLE_STAGES)}")
    note = _bounded("note", note, NOTE_MAX, "备注")
    if core.stage == "closed":
        raise Conflict("stage", f"incident {core.id} is closed; its stage no longer changes",
                       zh=f"舆情 {core.id} 已结案，阶段不再变更")
    if core.stage == stage:
        raise Conflict("stage", f"incident {core.id} is already at stage {stage!r}",
                       zh=f"舆情 {core.id} 已处于“{named('stage', stage, 'zh')}”阶段")
    return StageChanged(id=event_id, incident_id=core.id, at=now, actor=actor,
                        causation_id=causation_id, stage=stage, previous=core.stage,  # type: ignore[arg-type]
                        note=note)


def decide_note(
    core: CoreView | None,
    text: str,
    actor: str,
    now: datetime,
    event_id: str,
    *,
    causation_id: str | None = None,
) -> NoteAdded:
    """Add a note (allowed on a closed incident: the review writes them)."""
    core = _require(core)
    actor = _actor(actor)
    text = _bounded("text", text, NOTE_MAX, "备注", required=True)
    return NoteAdded(id=event_id, incident_id=core.id, at=now, actor=actor,
                     causation_id=causation_id, text=text)


def decide_close(
    core: CoreView | None,
    summary: str,
    actor: str,
    now: datetime,
    event_id: str,
    *,
    causation_id: str | None = None,
) -> IncidentClosed:
    """Close an open incident with its summary (required); closing twice is a conflict."""
    core = _require(core)
    actor = _actor(actor)
    if core.stage == "closed":
        raise Conflict("incident_id", f"incident {core.id} is already closed",
                       zh=f"舆情 {core.id} 已结案")
    if not summary.strip():
        raise Invalid("summary", "summary is empty: say what was done and how it ended (--summary \"…\")",
                      zh="结案总结不能为空：请写明处置经过和结果（`--summary \"…\"`）")
    summary = _bounded("summary", summary, CLOSE_SUMMARY_MAX, "结案总结")
    return IncidentClosed(id=event_id, incident_id=core.id, at=now, actor=actor,
                          causation_id=causation_id, summary=summary)
