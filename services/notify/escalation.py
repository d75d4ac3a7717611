"""Escalation of an unacknowledged major incident (pure).

Tier n is due `tiers[n-1].after` after the incident became a grade of `escalation.grades`
(I or II by default). A tier is sent once; an acknowledgement stops every tier not yet
sent. The service keeps `since`, the acknowledgement and the tiers done in its database
and asks, on each tick, which tiers are due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from watchboard.services.notify.settings import Escalation, seconds


def escalates(policy: Escalation, grade: str | None) -> bool:
    return grade is not None and grade in policy.grades and bool(policy.tiers)


def due_tiers(policy: Escalation, *, since: datetime | None, now: datetime,
              acknowledged: bool, done: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Tier numbers (1-based) due at `now` and not yet done; [] once acknowledged."""
    if since is None or acknowledged:
        return []
    return [n for n, tier in enumerate(policy.tiers, start=1)
            if n not in done and since + timedelta(seconds=seconds(tier.after)) <= now]


def next_due_at(policy: Escalation, *, since: datetime | None, acknowledged: bool,
                done: set[int] | frozenset[int] = frozenset()) -> datetime | None:
    """When the next tier not yet done falls due; None when nothing is left."""
    if since is None or acknowledged:
        return None
    times = [since + timedelta(seconds=seconds(t.after))
             for n, t in enumerate(policy.tiers, start=1) if n not in done]
    return min(times) if times else None
