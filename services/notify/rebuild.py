"""notify's store rebuilt from the stream (recovery/rebuild.py has the principle).

- memos: what intake's, grading's and deadlines' events said of each incident (title, grade,
  owner, sentiment, since when it escalates, closed) — `logic.step` with its notices dropped —
  and what notify decided: the tiers sent (`notice.escalated`), the acknowledgement;
- the delivery queue: one row per notice the stream says was sent or failed (`notice.sent`,
  `notice.failed`, by their key), so none is sent again: a notice queued again for the same
  event and person has the same key and is ignored;
- inputs the old store had not handled (above the durable consumer's ack floor) are handled
  as the consumer would: their notices queued (those already sent ignored by key).

A notice that was queued but not yet delivered when the store was lost leaves no trace in the
stream and is not sent: a duplicate to a person is worse than the gap, which the review shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from watchboard.bus.consumer import Delivered
from watchboard.bus.runtime import Runtime
from watchboard.domain import events as ev
from watchboard.recovery.rebuild import Effects, Tally, plan, replay, report
from watchboard.services.notify import logic
from watchboard.services.notify.model import IncidentMemo, major_open
from watchboard.services.notify.notifier import Notifier
from watchboard.services.notify.templates import Outgoing
from watchboard.store.outbox import Outbox
from watchboard.store.sqlite import rebuilt

DURABLE = "notify"
_enc = msgspec.json.Encoder()


class Restored(NamedTuple):
    """A notice as its last `notice.sent` / `notice.failed` says."""

    key: str
    incident_id: str
    event_id: str
    cause: str
    person_id: str
    contact: str
    status: str  # sent | failed
    at: float
    reason: str


def restore_memo(memo: IncidentMemo | None, event: ev.Event) -> IncidentMemo | None:
    """What notify decided about an incident, from one of its own events."""
    m = memo or IncidentMemo(id=event.incident_id)
    match event:
        case ev.NoticeEscalated():
            return msgspec.structs.replace(m, tiers_done=m.tiers_done | {event.tier})
        case ev.IncidentAcknowledged() if m.acked_by is None:
            return msgspec.structs.replace(m, acked_by=event.by, acked_at=event.at)
    return None


def restore_notice(event: ev.Event) -> Restored | None:
    match event:
        case ev.NoticeSent() if event.key:
            return Restored(event.key, event.incident_id, event.causation_id or "", event.cause, event.to,
                            event.channel, "sent", event.at.timestamp(), "")
        case ev.NoticeFailed() if event.key:
            return Restored(event.key, event.incident_id, event.causation_id or "", event.cause, event.to,
                            event.channel, "failed", event.at.timestamp(), event.reason[:500])
    return None


async def rebuild(rt: Runtime, notifier: Notifier, outbox: Outbox) -> Tally:
    assert rt.nc is not None and rt.publisher is not None
    own = rt.subjects.from_service("notify")
    p = await plan(rt.nc, DURABLE, own.removesuffix(">"))
    inputs = [rt.subjects.from_service(s) for s in ("intake", "grading", "deadlines")]
    ctx, cfg = notifier.ctx, notifier.cfg
    tx = notifier.states.begin()
    effects = Effects()
    notices: dict[str, Restored] = {}
    queued: list[Outgoing] = []
    majors: set[str] = set()
    closed_at: dict[str, float] = {}  # when each closed, by the stream (a memo does not say)

    def one(d: Delivered) -> None:
        e, key = d.event, d.event.incident_id
        if d.subject.startswith(p.own):
            effects.seen(e.id)
            if (row := restore_notice(e)) is not None:
                notices[row.key] = row
            new = restore_memo(tx.get(key), e) if key != ev.NO_INCIDENT else None
        else:
            tx.done(e.id, d.stream_seq)
            if not isinstance(e, logic.HANDLED):
                return
            if d.stream_seq <= p.floor:
                new = logic.step(tx.get(key), e, ctx, [], e.at).memo
            else:
                now = rt.now()
                decision = logic.step(tx.get(key), e, ctx, logic.on_duty(ctx, now, major_open=bool(majors)), now)
                new = decision.memo
                queued.extend(decision.notices)
                effects.add(decision.events)
        if new is not None:
            tx.put(key, new)
            (majors.add if major_open(new, cfg) else majors.discard)(key)
            if not new.closed:
                closed_at.pop(key, None)
            elif key not in closed_at:
                closed_at[key] = e.at.timestamp()

    def handle(batch: Sequence[Delivered]) -> None:
        for d in batch:
            one(d)

    tally = await replay(rt.nc, rt.name, [own, *inputs], p, handle)
    db = notifier.db
    async with notifier.lock:
        await db.executemany(
            "INSERT OR REPLACE INTO notices(key, incident_id, event_id, cause, person_id, contact, payload, status, "
            "attempts, next_attempt_at, created_at, sent_at, last_error) VALUES (?,?,?,?,?,?,?,?,1,?,?,?,?)",
            [(r.key, r.incident_id, r.event_id, r.cause, r.person_id, r.contact, _payload(r), r.status, r.at, r.at,
              r.at if r.status == "sent" else None, r.reason) for r in notices.values()])
        await notifier.queue.enqueue(queued, rt.now(), commit=False)  # keys already there are ignored
        left = effects.left()
        await outbox.add((x.id, rt.publisher.subject_of(x), ev.encode_event(x)) for x in left)
        await rebuilt(db)
        # Stamped with the close's own time, not the rebuild's: the history keeps an incident
        # closed a year ago off the board and out of memory (states.py keeps a stamp it has).
        notifier.states.closed_at.update(closed_at)
        changed = await tx.commit()  # one transaction: memos, notices, outbox, processed ids, the mark
    notifier._index(changed)
    tally.incidents, tally.effects, tally.dropped = len(tx.overlay), len(left), effects.dropped
    report(rt.name, tally)
    return tally


def _payload(r: Restored) -> bytes:
    """The stored form of a notice known only from its record (never sent again)."""
    return _enc.encode(Outgoing(key=r.key, incident_id=r.incident_id, event_id=r.event_id, cause=r.cause,
                                person_id=r.person_id, person_name=r.person_id, contact=r.contact, subject="",
                                body=""))

