"""intake's command deciders: `(record, command, ctx) → (None, [event])`, pure.

The record itself is folded from intake's own events by the projector (domain/incident.py);
a command only decides the one event to emit, so the new state is None here (the request
path puts the event on the wire; the projector records it).
"""

from __future__ import annotations

from watchboard.domain import incident
from watchboard.domain.commands import Close, Ctx, Note, Stage
from watchboard.domain.events import Event
from watchboard.domain.views import CoreView


def command_stage(core: CoreView | None, cmd: Stage, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_stage(core, cmd.stage, cmd.note, cmd.actor, ctx.now, ctx.request_id)]


def command_note(core: CoreView | None, cmd: Note, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_note(core, cmd.text, cmd.actor, ctx.now, ctx.request_id)]


def command_close(core: CoreView | None, cmd: Close, ctx: Ctx) -> tuple[None, list[Event]]:
    return None, [incident.decide_close(core, cmd.summary, cmd.actor, ctx.now, ctx.request_id)]
