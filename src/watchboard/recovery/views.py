"""Putting views: each is fitted to one message (domain.bounds.fit_view) before the put, so a
view that outgrew `max_payload` is summarised rather than refused — a refused put would fail
its batch for ever, and the board would freeze on the last value that fitted."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec
from nats.aio.client import Client

from watchboard.bus.subjects import Subjects
from watchboard.domain.bounds import fit_view, room
from watchboard.store.outbox import Outbox

log = logging.getLogger("watchboard.views")


def view_limit(nc: Client | None) -> int:
    """The largest value the connected server takes (its max_payload, headers set aside)."""
    return room(nc.max_payload if nc is not None else 1024 * 1024)


def encode_fitted(views: Mapping[str, msgspec.Struct], limit: int, service: str = "") -> dict[str, bytes]:
    """Each view encoded, summarised where it would not fit in `limit` bytes (logged)."""
    out: dict[str, bytes] = {}
    for key, view in views.items():
        data, summarised = fit_view(view, limit)
        if summarised:
            log.info("%s: %s is too large for one message; put summarised (%s bytes)", service or "view", key,
                     f"{len(data):,}")
        out[key] = data
    return out


async def waiting(outbox: Outbox, subjects: Subjects) -> set[str]:
    """The incidents with effects still in the outbox: their views wait for those facts."""
    out = set()
    for subject in await outbox.subjects():
        parsed = subjects.parse_event(subject)
        if parsed is not None:
            out.add(parsed[1])
    return out
