"""intake's command deciders: `(record, command, ctx) → (None, [event])`, pure.

The record itself is folded from intake's own events by the projector (domain/incident.py);
a command only decides the one event to emit, so the new state is None here (the request
path puts the event on the wire; the projector records it).
"""

from __future__ import annotations

from collections.abc import Mapping

from watchboard.domain import evidence, incident, statements, supervision, tasks
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import (
    Close,
    Ctx,
    EvidenceAdd,
    MeetingAdd,
    Note,
    Stage,
    StatementApprove,
    StatementDraft,
    StatementPublish,
    StatementReject,
    Supervise,
    TaskAdd,
    TaskFeedback,
)
from watchboard.domain.events import Event
from watchboard.domain.views import CoreView


def command_stage(core: CoreView | None, cmd: Stage, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_stage(core, cmd.stage, cmd.note, cmd.actor, ctx.now, ctx.request_id)]


def command_note(core: CoreView | None, cmd: Note, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_note(core, cmd.text, cmd.actor, ctx.now, ctx.request_id)]


def command_close(core: CoreView | None, cmd: Close, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_close(core, cmd.summary, cmd.actor, ctx.now, ctx.request_id)]


# --- follow-through (issue 14): statements, evidence, tasks, meetings, supervision -------------
# Each is a decider of the domain module named, run on the record the request path sees; the
# config it needs (who may approve, the calendar, the units, the size limit) is bound by the
# service with functools.partial.


def command_statement_draft(core: CoreView | None, cmd: StatementDraft, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [statements.decide_draft(core, cmd, ctx)]


def command_statement_approve(core: CoreView | None, cmd: StatementApprove, ctx: Ctx, *,
                              policy: statements.ApprovalPolicy) -> tuple[None, list[Event]]:
    return None, [statements.decide_approve(core, cmd, ctx, policy)]


def command_statement_reject(core: CoreView | None, cmd: StatementReject, ctx: Ctx, *,
                             policy: statements.ApprovalPolicy) -> tuple[None, list[Event]]:
    return None, [statements.decide_reject(core, cmd, ctx, policy)]


def command_statement_publish(core: CoreView | None, cmd: StatementPublish, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [statements.decide_publish(core, cmd, ctx)]


def command_evidence_add(core: CoreView | None, cmd: EvidenceAdd, ctx: Ctx, *, observed: evidence.Observed | None,
                         max_bytes: int) -> tuple[None, list[Event]]:
    return None, [evidence.decide_add(core, cmd, ctx, observed, max_bytes)]


def command_task_add(core: CoreView | None, cmd: TaskAdd, ctx: Ctx, *, cal: WorkCalendar,
                     unit_ids: frozenset[str] | None) -> tuple[None, list[Event]]:
    return None, [tasks.decide_task(core, cmd, ctx, cal, unit_ids)]


def command_task_feedback(core: CoreView | None, cmd: TaskFeedback, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [tasks.decide_feedback(core, cmd, ctx)]


def command_meeting_add(cores: Mapping[str, CoreView | None], cmd: MeetingAdd, ctx: Ctx, *, cal: WorkCalendar,
                        unit_ids: frozenset[str] | None) -> tuple[None, list[Event]]:
    return None, tasks.decide_meeting(cores, cmd, ctx, cal, unit_ids)


def command_supervise(core: CoreView | None, cmd: Supervise, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [supervision.decide_supervise(core, cmd, ctx)]
