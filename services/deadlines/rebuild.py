"""deadlines' store rebuilt from the stream (recovery/rebuild.py has the principle): each clock
as deadlines' own events recorded it (`clock.started` with its `period` and `arrived_at`,
warnings, breaches and the next reminder, slips and flags of units, `clock.met` with `met_at`,
extensions, cancellations) and the sweeps; the moments, owner, grade and closing from intake's
and grading's events (`logic.learn`, `logic.restore`, `logic.restore_sweep`). Due times and
slips come back as they were; timers that fell due meanwhile fire afterwards with their usual
ids."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import msgspec

from watchboard.bus.runtime import Runtime
from watchboard.domain import events as ev
from watchboard.recovery.rebuild import Tally, rebuild_states
from watchboard.services.deadlines.logic import (
    IncidentState,
    Rules,
    SweepState,
    learn,
    restore,
    restore_sweep,
    step,
)
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import set_meta
from watchboard.store.states import StateTable

DURABLE = "deadlines"


async def rebuild(rt: Runtime, states: StateTable[IncidentState], outbox: Outbox, rules: Rules) -> Tally:
    sweep = SweepState()

    def on_own(event: ev.Event) -> None:
        nonlocal sweep
        sweep = restore_sweep(sweep, event)

    async def save_sweep() -> None:  # in the rebuild's one transaction
        if sweep.checked_until is not None:
            await set_meta(states.db, "sweep", msgspec.to_builtins(sweep))

    def decide(st: IncidentState | None, e: ev.Event, now: datetime) -> tuple[IncidentState | None, list[ev.Event]]:
        return (None, []) if e.incident_id == ev.NO_INCIDENT else step(st, e, rules, now)

    inputs = [rt.subjects.from_service("intake"), rt.subjects.from_service("grading")]
    return await rebuild_states(rt, states, outbox, durable=DURABLE, inputs=inputs, learn=partial(learn, rules=rules),
                                restore=partial(restore, rules=rules), step=decide, on_own=on_own,
                                before_commit=save_sweep)
