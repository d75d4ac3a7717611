"""intake's store rebuilt from the stream (recovery/rebuild.py has the principle): intake has no
inputs on the stream, only its own events, and its record is their fold (`incident.apply`), so
the rebuild is that fold from the first event, every event recorded as processed for the
`intake-record` consumer. The merge index is made from the records as on any start, so the
same URL merges into the incident it already belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from watchboard.bus.consumer import Delivered
from watchboard.bus.runtime import Runtime
from watchboard.domain import incident
from watchboard.domain.views import CoreView
from watchboard.recovery.rebuild import Tally, plan, replay, report
from watchboard.store.sqlite import rebuilt
from watchboard.store.states import StateTable

DURABLE = "intake-record"


async def rebuild(rt: Runtime, cores: StateTable[CoreView]) -> Tally:
    assert rt.nc is not None
    own = rt.subjects.from_service("intake")
    p = await plan(rt.nc, DURABLE, own.removesuffix(">"))
    tx = cores.begin()

    def handle(batch: Sequence[Delivered]) -> None:
        for d in batch:
            tx.done(d.event.id, d.stream_seq)
            key = d.event.incident_id
            new = incident.apply(tx.get(key), d.event)
            if new is not None:
                tx.put(key, new)

    tally = await replay(rt.nc, rt.name, [own], p, handle)
    await rebuilt(cores.db)
    await tx.commit()
    tally.incidents = len(tx.overlay)
    report(rt.name, tally)
    return tally
