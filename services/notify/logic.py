"""notify's decisions (pure): (memo, event) → (memo, notices, events). No I/O, no clock.

    step(memo, event, ctx, on_duty, now)        an event of intake, grading or deadlines
    escalate(memo, ctx, on_duty, now)           the escalation tiers due at `now`
    acknowledge(memo, person, via, now, cause)  the first acknowledgement stops escalation
    view_of(memo, rows, now)                    the KV value `<id>.notices`
    delivery_events(attempts, now)              `notice.sent` / `notice.failed` of deliveries

Each decision runs the first two stages of delivery: route (routing.py: who hears of it) and
render (render.py: one keyed notice per person × contact); notifier.py queues what they give
(the dedup stage). Effect ids derive from their cause (`effect_id`), so a decision made again
after a crash gives the same events, which JetStream's duplicate window drops.

`on_duty` is the roster at `now` (roster.py), given by the caller because it depends on every
open incident (24-hour duty while one of a major grade is open), not only on this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from msgspec.structs import replace

from watchboard.domain.events import (
    NO_INCIDENT,
    ClockBreached,
    ClockWarning,
    Event,
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentClosed,
    IncidentFlagged,
    IncidentGraded,
    IncidentReported,
    IncidentUnflagged,
    NoticeEscalated,
    NoticeFailed,
    NoticeSent,
    SweepMissed,
    UnitFlagged,
    UnitReminded,
    effect_id,
    event_type,
)
from watchboard.domain.views import NoticesView, NoticeView
from watchboard.services.notify import escalation, render, roster, routing
from watchboard.services.notify.delivery import Attempt
from watchboard.services.notify.model import Context, IncidentMemo, NoticeRow
from watchboard.services.notify.templates import Outgoing, clean

ACTOR = "notify"

# The events notify acts on: keep in step with the cases of `step`. Anything else its consumer
# receives (clock.started, mention.added, …) is acked without a lookup.
HANDLED = (IncidentReported, IncidentGraded, IncidentAssigned, IncidentFlagged, IncidentUnflagged,
           ClockWarning, ClockBreached, UnitReminded, UnitFlagged, SweepMissed, IncidentClosed)


class Decision(NamedTuple):
    memo: IncidentMemo | None  # the new memo, None when unchanged
    notices: list[Outgoing]  # to queue
    events: list[Event]  # to publish (through the outbox)
    missing: list[str]  # roles that reached nobody, in words (for the log)


NOTHING = Decision(None, [], [], [])


def on_duty(ctx: Context, now: datetime, *, major_open: bool) -> list[str]:
    """Who is on duty at `now` on the working calendar; `major_open` switches to 24-hour duty."""
    return roster.on_duty(ctx.cfg.roster, now, major_open=major_open, is_working_day=ctx.calendar.is_working_day)


def step(memo: IncidentMemo | None, event: Event, ctx: Context, on_duty: list[str], now: datetime) -> Decision:
    """Remember what the event says of its incident and render the notices its routes ask for."""
    m = memo or IncidentMemo(id=event.incident_id)
    unit = m.owner
    values: dict[str, str] = {}
    match event:
        case IncidentReported():
            m = replace(m, title=event.title)
        case IncidentGraded():
            major = escalation.escalates(ctx.cfg.escalation, event.grade)
            since = (m.major_since or event.at) if major else None
            m = replace(m, grade=event.grade, major_since=since, sentiment=event.sentiment,
                        tiers_done=m.tiers_done if major else frozenset())
        case IncidentAssigned():
            m = replace(m, owner=event.owner)
            unit = event.owner
        case IncidentFlagged() | IncidentUnflagged():
            # `kind` is put in words in each recipient's language by render.py.
            values = {"kind": event.kind, "reason": clean(event.reason, render.MAX_REASON_CHARS) or "-"}
        case ClockWarning():
            unit = event.unit or unit  # a task's clock warns the task's unit, not the incident's owner
            values = {"clock": event.clock, "due_at": ctx.local(event.due_at), "point": event.point}
        case ClockBreached():
            unit = event.unit or unit
            values = {"clock": event.clock, "due_at": ctx.local(event.due_at), "late": "yes" if event.late else ""}
        case UnitReminded():
            unit = event.unit
            values = {"unit": event.unit, "clock": event.clock, "count": str(event.count)}
        case UnitFlagged():
            unit = event.unit
            values = {"unit": event.unit, "count": str(event.count)}
        case SweepMissed():
            values = {"window": event.window}
        case IncidentClosed():
            m = replace(m, closed=True)
        case _:
            return NOTHING
    kind = event_type(event)
    resolution = routing.route(ctx.cfg, kind, m.grade, unit=unit, on_duty=on_duty, profile=ctx.profile,
                               sentiment=m.sentiment)
    notices = render.notices(ctx, event.id, kind, m, resolution.recipients, values, now)
    # An event of no incident (a missed sweep) is routed but remembered nowhere.
    changed = event.incident_id != NO_INCIDENT and (memo is None or m != memo)
    return Decision(m if changed else None, notices, [], resolution.missing)


def escalate(memo: IncidentMemo, ctx: Context, on_duty: list[str], now: datetime) -> Decision:
    """The tiers due at `now` and not sent yet: their notices, one `notice.escalated` each."""
    policy = ctx.cfg.escalation
    if memo.closed or not escalation.escalates(policy, memo.grade):
        return NOTHING
    tiers = escalation.due_tiers(policy, since=memo.major_since, now=now, acknowledged=memo.acked_by is not None,
                                 done=memo.tiers_done)
    if not tiers:
        return NOTHING
    since = memo.major_since.timestamp() if memo.major_since else 0
    notices: list[Outgoing] = []
    events: list[Event] = []
    missing: list[str] = []
    for n in tiers:
        eid = effect_id(f"{memo.id}\x00escalate\x00{since}", f"tier{n}")
        resolution = routing.resolve(ctx.cfg, policy.tiers[n - 1].roles, unit=memo.owner, on_duty=on_duty)
        notices += render.notices(ctx, eid, "notice.escalated", memo, resolution.recipients, {"tier": str(n)}, now)
        missing += resolution.missing
        events.append(NoticeEscalated(id=eid, incident_id=memo.id, at=now, actor=ACTOR, causation_id=None, tier=n,
                                      to=[r.person_id for r in resolution.recipients]))
    return Decision(replace(memo, tiers_done=memo.tiers_done | set(tiers)), notices, events, missing)


def acknowledge(memo: IncidentMemo, person_id: str, via: str, now: datetime, cause: str | None = None) -> Decision:
    """The first acknowledgement is recorded (it stops escalation); a later one changes nothing."""
    if memo.acked_by is not None:
        return NOTHING
    ack = IncidentAcknowledged(id=effect_id(f"{memo.id}\x00ack", person_id), incident_id=memo.id, at=now,
                               actor=person_id, causation_id=cause, by=person_id, via=via)
    return Decision(replace(memo, acked_by=person_id, acked_at=now), [], [ack], [])


_SHOWN = {"sent": "sent", "failed": "failed"}  # every other queue status shows as pending


def view_of(memo: IncidentMemo, rows: Iterable[NoticeRow], now: datetime) -> NoticesView:
    """The KV value `<incident_id>.notices`: the incident's notices, acknowledgement, tier."""
    notices = [NoticeView(to=r.person_id, channel=r.contact, status=_SHOWN.get(r.status, "pending"), cause=r.cause,
                          reason=r.last_error, at=r.sent_at or r.created_at) for r in rows]
    return NoticesView(notices=notices, acknowledged_by=memo.acked_by, acknowledged_at=memo.acked_at,
                       escalation_tier=max(memo.tiers_done, default=0), updated_at=now)


def delivery_events(attempts: Iterable[Attempt], now: datetime) -> list[Event]:
    """`notice.sent` / `notice.failed` events for deliveries (one per incident notice a digest
    carried). A retryable failure gives `final=False`; ids are deterministic per attempt."""
    events: list[Event] = []
    for a in attempts:
        for m in a.notices:
            if a.status == "sent":
                events.append(NoticeSent(id=effect_id(m.key, "sent"), incident_id=m.incident_id, at=now,
                                         actor=ACTOR, causation_id=m.event_id, to=m.person_id,
                                         channel=m.contact, cause=m.cause, key=m.key))
            else:
                events.append(NoticeFailed(id=effect_id(m.key, f"failed{a.attempts}"), incident_id=m.incident_id,
                                           at=now, actor=ACTOR, causation_id=m.event_id, to=m.person_id,
                                           channel=m.contact, cause=m.cause, reason=a.result.reason,
                                           final=a.final, key=m.key))
    return events
